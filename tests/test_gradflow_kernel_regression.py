"""Infinite-width predictors (actlab.gradflow.nngp_posterior_mean, ntk_predictor, ...).

Evidence: the closed-form solution of kernel gradient flow against a direct integration of the
ODE, the limits t = 0 and t = inf, interpolation of the training data, and classification as
regression on a real task.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from actlab import data
from actlab.gradflow import (
    infinite_width_predict,
    kernels,
    nngp_posterior_mean,
    ntk_predictor,
    one_hot_targets,
)


@pytest.fixture
def problem(x64):
    x = jax.random.normal(jax.random.key(0), (12, 3), jnp.float64)
    y = jnp.sin(x[:, 0]) + x[:, 1] * x[:, 2]
    train, test = (
        kernels("tanh", x[:8], depth=2, sigma_w2=1.5, sigma_b2=0.1),
        kernels("tanh", x[8:], x[:8], depth=2, sigma_w2=1.5, sigma_b2=0.1),
    )
    return train, test, y[:8], y[8:]


def test_ntk_predictor_solves_the_gradient_flow_ode(problem):
    # df/dt = -Theta (f(X) - y) / n on train and test points alike, from f = f_0; RK4 steps.
    train, test, y, _ = problem
    theta = jnp.concatenate([train.ntk, test.ntk])  # (n + n_test, n)
    f0 = jnp.linspace(-0.5, 0.5, 12)

    def velocity(f):
        return -theta @ (f[:8] - y) / 8

    f, dt, steps = f0, 0.01, 300
    for _ in range(steps):
        k1 = velocity(f)
        k2 = velocity(f + dt / 2 * k1)
        k3 = velocity(f + dt / 2 * k2)
        k4 = velocity(f + dt * k3)
        f = f + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    predicted = ntk_predictor(train.ntk, test.ntk, y, t=dt * steps, f0_train=f0[:8],
                              f0_test=f0[8:])  # fmt: skip
    np.testing.assert_allclose(predicted, f[8:], rtol=1e-9, atol=1e-10)
    on_train = ntk_predictor(train.ntk, train.ntk, y, t=dt * steps, f0_train=f0[:8],
                             f0_test=f0[:8])  # fmt: skip
    np.testing.assert_allclose(on_train, f[:8], rtol=1e-9, atol=1e-10)
    # an array of times with initial outputs: one prediction per time, each the scalar one
    times = jnp.array([0.0, dt * steps])
    both = ntk_predictor(train.ntk, test.ntk, y, t=times, f0_train=f0[:8], f0_test=f0[8:])
    assert both.shape == (2, 4)
    np.testing.assert_allclose(both[0], f0[8:], atol=1e-12)
    np.testing.assert_allclose(both[1], predicted, rtol=1e-12)


def test_ntk_predictor_limits(problem):
    train, test, y, _ = problem
    times = jnp.array([0.0, 1e7, jnp.inf])
    paths = ntk_predictor(train.ntk, test.ntk, y, t=times)
    assert paths.shape == (3, 4)
    np.testing.assert_array_equal(paths[0], 0.0)  # f_0 = 0 before training
    converged = test.ntk @ jnp.linalg.solve(train.ntk, y)  # kernel regression with the NTK
    np.testing.assert_allclose(paths[2], converged, rtol=1e-8)
    np.testing.assert_allclose(paths[1], converged, rtol=1e-6)
    # at t = inf the training data are fitted exactly
    fitted = ntk_predictor(train.ntk, train.ntk, y)
    np.testing.assert_allclose(fitted, y, atol=1e-9)


def test_nngp_posterior_mean_interpolates_and_regularises(problem):
    train, test, y, _ = problem
    np.testing.assert_allclose(nngp_posterior_mean(train.nngp, train.nngp, y), y, atol=1e-9)
    smoothed = nngp_posterior_mean(train.nngp, test.nngp, y, diag_reg=0.3)
    expected = test.nngp @ jnp.linalg.solve(train.nngp + 0.3 * jnp.eye(8), y)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-10)
    # many outputs: each column is regressed on its own
    two = jnp.stack([y, -2.0 * y], axis=1)
    both = nngp_posterior_mean(train.nngp, test.nngp, two, diag_reg=0.3)
    np.testing.assert_allclose(both, jnp.stack([smoothed, -2.0 * smoothed], axis=1), rtol=1e-10)


def test_infinite_width_networks_classify_digits_as_regression():
    train, test = data.digits(seed=0)
    x_train, x_test = jnp.asarray(train.x[:300]), jnp.asarray(test.x[:200])
    targets = one_hot_targets(train.y[:300], 10)
    p = infinite_width_predict("relu", x_train, targets, x_test, depth=2, sigma_w2=2.0,
                               sigma_b2=0.1, diag_reg=1e-4)  # fmt: skip
    assert p.nngp.shape == p.ntk.shape == (200, 10)
    for prediction in p:
        accuracy = float(jnp.mean(jnp.argmax(prediction, axis=1) == jnp.asarray(test.y[:200])))
        assert accuracy > 0.9


def test_bad_shapes_and_times_are_refused():
    k = jnp.eye(3)
    with pytest.raises(ValueError, match=r"k_train: expected a square \(n, n\) kernel"):
        ntk_predictor(jnp.ones((3, 2)), k, jnp.ones(3))
    with pytest.raises(ValueError, match=r"k_test: expected shape \(n_test, 3\)"):
        nngp_posterior_mean(k, jnp.ones((2, 4)), jnp.ones(3))
    with pytest.raises(ValueError, match=r"y_train: expected shape \(3,\) or \(3, k\)"):
        nngp_posterior_mean(k, k, jnp.ones(4))
    with pytest.raises(ValueError, match=r"t: expected times >= 0"):
        ntk_predictor(k, k, jnp.ones(3), t=-1.0)
    with pytest.raises(ValueError, match=r"f0_train: expected shape \(3,\)"):
        ntk_predictor(k, k, jnp.ones(3), f0_train=jnp.ones(2))
