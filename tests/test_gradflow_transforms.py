"""DKS and TAT activation transforms: the published conditions checked by independent
computations (mpmath quadrature, actlab's mean-field maps, closed forms, a wide random network),
the transformed activation as an ordinary activation, and the errors."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

from actlab import activations as A
from actlab import gradflow as G
from actlab.models import MLP
from tests.mpmath_reference import REFERENCE

SMOOTH = ("tanh", "softplus", "gelu", "silu", "elu")
DEPTH, ZETA = 50, 1.5


@functools.cache
def dks(name: str, depth: int = DEPTH, zeta: float = ZETA) -> G.DKSTransform:
    return G.dks_transform(name, depth, zeta=zeta)


def _gaussian_mean(fn, kinks=()) -> float:
    """``E[fn(z)]``, ``z ~ N(0, 1)``, by mpmath's tanh-sinh quadrature split at ``kinks``."""
    with mp.workdps(30):
        density = lambda z: mp.exp(-(z**2) / 2) / mp.sqrt(2 * mp.pi)  # noqa: E731
        edges = [-mp.inf, *sorted(mp.mpf(k) for k in kinks), mp.inf]
        return float(mp.quad(lambda z: fn(z) * density(z), edges))


def _mp_conditions(name: str, t: G.DKSTransform) -> dict[str, float]:
    """Q(1), E[phi_hat], Q'(1), C'(1) of the transform, from mpmath values of ``phi`` alone."""
    f, df = REFERENCE[name]
    alpha, beta, gamma, delta = (mp.mpf(v) for v in (t.alpha, t.beta, t.gamma, t.delta))
    h = lambda z: gamma * (f(alpha * z + beta) + delta)  # noqa: E731
    dh = lambda z: gamma * alpha * df(alpha * z + beta)  # noqa: E731
    kinks = [(k - t.beta) / t.alpha for k in A.spec(name).kinks]
    return {
        "q_value": _gaussian_mean(lambda z: h(z) ** 2, kinks),
        "mean": _gaussian_mean(h, kinks),
        "q_slope": _gaussian_mean(lambda z: h(z) * dh(z) * z, kinks),
        "c_slope": _gaussian_mean(lambda z: dh(z) ** 2, kinks),
    }


# ----------------------------------------------------------------------------- DKS conditions


@pytest.mark.parametrize("name", SMOOTH)
def test_dks_conditions_hold_to_1e_8_by_independent_mpmath_quadrature(name):
    t = dks(name)
    got = _mp_conditions(name, t)
    assert got["q_value"] == pytest.approx(1.0, abs=1e-8)  # Q(1) = 1
    assert got["mean"] ** 2 == pytest.approx(0.0, abs=1e-8)  # C(0) = E[phi_hat]^2 = 0
    assert abs(got["mean"]) < 1e-8
    assert got["q_slope"] == pytest.approx(1.0, abs=1e-8)  # Q'(1) = 1
    assert got["c_slope"] ** DEPTH == pytest.approx(ZETA, abs=1e-8)  # C_f'(1) = zeta


@pytest.mark.parametrize("name", SMOOTH)
def test_dks_reported_conditions_are_the_targets(name):
    c = dks(name).conditions
    assert c["q_value"] == pytest.approx(1.0, abs=1e-12)
    assert c["c_zero"] == pytest.approx(0.0, abs=1e-12)
    assert c["q_slope"] == pytest.approx(1.0, abs=1e-12)
    assert c["c_slope"] == pytest.approx(ZETA ** (1 / DEPTH), abs=1e-12)
    assert c["network_c_slope"] == pytest.approx(ZETA, abs=1e-10)
    assert dks(name).alpha > 0 and dks(name).gamma > 0


@pytest.mark.parametrize("name", ["tanh", "elu"])
def test_dks_transform_meets_other_targets(name):
    t = G.dks_transform(name, 4, zeta=3.0, q_slope=1.2)
    got = _mp_conditions(name, t)
    assert got["q_value"] == pytest.approx(1.0, abs=1e-8)
    assert abs(got["mean"]) < 1e-8
    assert got["q_slope"] == pytest.approx(1.2, abs=1e-8)
    assert got["c_slope"] ** 4 == pytest.approx(3.0, abs=1e-8)


@pytest.mark.parametrize("name", ["tanh", "elu"])
def test_mean_field_maps_of_the_transformed_activation_fix_q_at_1_and_compose_to_zeta(name):
    t = dks(name, depth=10)
    mf = G.MeanField(t.activation)
    assert mf.length_map(1.0, 1.0, 0.0) == pytest.approx(1.0, abs=1e-10)
    assert mf.q_star(1.0, 0.0) == pytest.approx(1.0, abs=1e-8)
    assert mf.chi_c(1.0, 0.0, c=1.0) ** 10 == pytest.approx(ZETA, abs=1e-8)
    assert mf.correlation_map(0.0, 1.0, 0.0) == pytest.approx(0.0, abs=1e-10)  # C(0) = 0
    # the composed map: slope zeta at c = 1, by a finite difference through 10 layers
    eps, c = 1e-5, 1.0 - 1e-5
    for _ in range(10):
        c = mf.correlation_map(c, 1.0, 0.0)
    assert (1.0 - c) / eps == pytest.approx(ZETA, rel=1e-3)


def test_elu_transform_moves_the_kink_and_mean_field_uses_it():
    t = dks("elu")
    assert t.activation.kinks == pytest.approx(((0.0 - t.beta) / t.alpha,))
    assert G.MeanField(t.activation).kinks.tolist() == sorted([0.0, t.activation.kinks[0]])


# ----------------------------------------------------------------------------- TAT


def _relu_deep_c0(depth: int) -> float:
    c = 0.0
    for _ in range(depth):
        c = float((mp.sqrt(1 - c**2) + (mp.pi - mp.acos(c)) * c) / mp.pi)
    return c


@pytest.mark.parametrize(("depth", "eta"), [(50, 0.9), (10, 0.5), (3, 0.2)])
def test_tat_deep_c_map_at_zero_is_eta_by_mean_field_quadrature(depth, eta):
    t = G.tat_transform(depth, eta=eta)
    assert 0.0 < t.negative_slope < 1.0
    assert t.gamma == pytest.approx(np.sqrt(2.0 / (1.0 + t.negative_slope**2)), rel=1e-15)
    assert t.conditions["network_c_zero"] == pytest.approx(eta, abs=1e-12)
    # independently: actlab's Gauss-Legendre C map of the activation as a plain callable
    act = t.activation
    plain = lambda x: act(x)  # noqa: E731  (no closed form: quadrature)
    mf = G.MeanField(plain)
    c = 0.0
    for _ in range(depth):
        c = mf.correlation_map(c, 1.0, 0.0)
    assert c == pytest.approx(eta, abs=1e-8)


def test_tat_q_map_is_the_identity_and_c_map_slope_at_1_is_1():
    t = G.tat_transform(20, eta=0.8)
    mf = G.MeanField(lambda x: t.activation(x))
    for q in (0.25, 1.0, 4.0):
        assert mf.length_map(q, 1.0, 0.0) == pytest.approx(q, rel=1e-12)
    assert mf.chi_c(1.0, 0.0, c=1.0) == pytest.approx(1.0, abs=1e-10)
    assert t.conditions["q_value"] == pytest.approx(1.0, abs=1e-15)
    assert t.conditions["network_c_slope"] == pytest.approx(1.0, abs=1e-15)


def test_leaky_relu_c_map_matches_mpmath_and_mean_field():
    for a in (0.0, 0.2, 0.7):
        for c in (-0.5, 0.0, 0.3, 0.99):
            mf = G.MeanField(A.get("leaky_relu", negative_slope=a))
            expected = mf.correlation_map(c, 2.0 / (1.0 + a * a), 0.0)
            assert G.leaky_relu_c_map(c, a) == pytest.approx(expected, abs=1e-12)
    assert G.leaky_relu_c_map(0.0, 0.0) == pytest.approx(1 / np.pi, abs=1e-15)
    assert G.leaky_relu_c_map(0.4, 1.0) == pytest.approx(0.4, abs=1e-15)  # linear


# ----------------------------------------------------------------------------- wide network


def _output_correlation(act, depth: int, c0: float, width: int, seed: int, pairs: int = 32):
    """Mean correlation and mean squared length of ``pairs`` input pairs (correlation ``c0``,
    ``q = 1``) after ``depth`` layers of one random width-``width`` network, ``W ~ N(0, 1 /
    fan_in)``."""
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    x1 = jax.random.normal(k1, (pairs, width))
    x2 = c0 * x1 + np.sqrt(1 - c0**2) * jax.random.normal(k2, (pairs, width))
    x = jnp.concatenate([x1, x2])
    z = x / jnp.sqrt(jnp.mean(x**2, axis=1, keepdims=True))  # q = 1 exactly
    for i, key in enumerate(jax.random.split(k3, depth + 1)):
        h = z if i == 0 else act(z)
        z = h @ (jax.random.normal(key, (width, width)) / np.sqrt(width))
    q = jnp.mean(z**2, axis=1)
    corr = jnp.mean(z[:pairs] * z[pairs:], axis=1) / jnp.sqrt(q[:pairs] * q[pairs:])
    return float(jnp.mean(corr)), float(jnp.mean(q))


@pytest.mark.parametrize("kind", ["dks_tanh", "tat"])
def test_wide_random_network_output_correlation_matches_the_deep_c_map(kind):
    depth, c0, width = 8, 0.3, 1024
    if kind == "tat":
        t = G.tat_transform(depth, eta=0.6)
        predicted = c0
        for _ in range(depth):
            predicted = G.leaky_relu_c_map(predicted, t.negative_slope)
    else:
        t = G.dks_transform("tanh", depth, zeta=2.0)
        mf = G.MeanField(t.activation)
        predicted = c0
        for _ in range(depth):
            predicted = mf.correlation_map(predicted, 1.0, 0.0)
    measured = np.array(
        [_output_correlation(t.activation, depth, c0, width, 10 * s) for s in range(8)]
    )
    mean, sem = measured.mean(0), measured.std(0, ddof=1) / np.sqrt(len(measured))
    # the correlation: within 3 standard errors of the seed mean (plus 0.01 for the finite-width
    # bias), with standard errors small enough for that to mean something
    assert sem[0] < 0.015, sem
    assert abs(mean[0] - predicted) < 3 * sem[0] + 0.01, (measured[:, 0], predicted)
    # the length: E[q] = 1 exactly, but its distribution is skewed (log-normal-like, a heavy
    # right tail in the rectifier networks), so a fixed band
    assert abs(mean[1] - 1.0) < 0.15, measured[:, 1]
    assert abs(predicted - c0) > 0.1  # the deep map is far from the identity: the check bites


# ----------------------------------------------------------------------------- as an activation


def test_transformed_activation_under_jit_vmap_grad():
    act = dks("tanh").activation
    x = jnp.linspace(-3.0, 3.0, 11)
    expected = act.gamma * (jnp.tanh(act.alpha * x + act.beta) + act.delta)
    np.testing.assert_allclose(act(x), expected, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(act)(x), act(x), rtol=1e-5)
    np.testing.assert_allclose(jax.vmap(act)(x), act(x), rtol=1e-5)
    slope = jax.vmap(jax.grad(act))(x)
    np.testing.assert_allclose(
        slope, act.gamma * act.alpha / jnp.cosh(act.alpha * x + act.beta) ** 2, rtol=1e-5
    )
    with jax.enable_x64(True):
        check_grads(act, (jnp.array([-1.3, 0.2, 2.5], jnp.float64),), order=2, modes=["fwd", "rev"])
        tat = G.tat_transform(10, eta=0.5).activation
        check_grads(tat, (jnp.array([-1.3, 0.2, 2.5], jnp.float64),), order=2)


def test_transformed_activation_keeps_the_dtype_and_is_hashable():
    act = dks("softplus").activation
    for dtype in (jnp.float32, jnp.bfloat16, jnp.float16):
        assert act(jnp.ones(3, dtype)).dtype == dtype
    assert hash(act) == hash(dks("softplus").activation)
    assert act == G.dks_transform("softplus", DEPTH, zeta=ZETA).activation
    assert "softplus" in act.__name__


def test_transformed_activation_in_an_mlp():
    act = G.tat_transform(6, eta=0.7).activation
    model = MLP(5, [16] * 6, 3, activation=act, init="lecun", rngs=nnx.Rngs(0))
    y = model(jnp.ones((4, 5)))
    assert y.shape == (4, 3) and bool(jnp.all(jnp.isfinite(y)))
    dks_act = dks("gelu").activation
    model = MLP(5, [16] * 3, 3, activation=dks_act, init="lecun", rngs=nnx.Rngs(0))
    assert model(jnp.ones((4, 5))).shape == (4, 3)


# ----------------------------------------------------------------------------- errors


def test_dks_rejects_bad_targets():
    with pytest.raises(ValueError, match=r"dks_transform: depth: expected an int >= 1, received 0"):
        G.dks_transform("tanh", 0)
    with pytest.raises(ValueError, match=r"dks_transform: zeta: expected a finite number > 1"):
        G.dks_transform("tanh", 10, zeta=1.0)
    with pytest.raises(ValueError, match=r"dks_transform: zeta: expected"):
        G.dks_transform("tanh", 10, zeta=0.5)
    with pytest.raises(ValueError, match=r"dks_transform: q_slope: expected a finite number > 0"):
        G.dks_transform("tanh", 10, q_slope=0.0)
    with pytest.raises(ValueError, match=r"dks_transform: activation: expected an elementwise"):
        G.dks_transform("softmax", 10)


@pytest.mark.parametrize("name", ["identity", "relu"])
def test_dks_without_a_solution_says_so(name):
    # identity: C'(1) = 1 whatever the transform; relu: the input scale is absorbed by gamma,
    # leaving one parameter for two conditions
    with pytest.raises(ValueError, match=rf"dks_transform: act: expected .*received {name}, for "):
        G.dks_transform(name, 10)


def test_tat_rejects_unreachable_eta():
    ceiling = _relu_deep_c0(5)
    with pytest.raises(ValueError, match=r"tat_transform: eta: expected a value in \(0, 0\.7359"):
        G.tat_transform(5, eta=ceiling + 1e-6)
    with pytest.raises(ValueError, match=r"tat_transform: eta: expected a value in \(0, "):
        G.tat_transform(5, eta=0.0)
    with pytest.raises(ValueError, match=r"tat_transform: eta: expected a value in \(0, 0\.318"):
        G.tat_transform(1, eta=0.5)  # one ReLU layer reaches at most 1 / pi
    with pytest.raises(ValueError, match=r"tat_transform: depth: expected an int >= 1"):
        G.tat_transform(0)
    assert G.tat_transform(5, eta=ceiling - 1e-3).negative_slope < 0.05
