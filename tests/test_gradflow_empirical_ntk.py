"""The empirical NTK of a finite MLP (actlab.gradflow.empirical_ntk).

Evidence: the parameter Jacobian computed by ``jax.jacrev`` (independent of the back-propagated
signals the kernel uses), and convergence to the analytic kernel as the width grows, at the rate
``1 / sqrt(width)`` of the kernel's fluctuations.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from actlab.gradflow import empirical_ntk, ntk
from actlab.models import MLP


def jacobian_ntk(model, x1, x2, output, weight_scale=None, bias_scale=1.0):
    """``sum_p s_p J_p(x1) J_p(x2)``: the parameter Jacobian by ``jax.jacrev``, each kernel's
    entries weighted by ``weight_scale(fan_in)`` (1 if None) and each bias' by ``bias_scale``."""
    graphdef, params = nnx.split(model, nnx.Param)

    def f(p, x):
        return nnx.merge(graphdef, p)(x)[:, output]

    j1, j2 = jax.jacrev(f)(params, x1), jax.jacrev(f)(params, x2)
    leaves1 = jax.tree_util.tree_leaves_with_path(j1)
    leaves2 = jax.tree.leaves(j2)
    theta = jnp.zeros((len(x1), len(x2)))
    for (path, a), b in zip(leaves1, leaves2, strict=True):
        is_kernel = "kernel" in jax.tree_util.keystr(path)
        scale = bias_scale if not is_kernel else 1.0
        if is_kernel and weight_scale is not None:
            scale = weight_scale(a.shape[1])
        theta = theta + scale * a.reshape(len(x1), -1) @ b.reshape(len(x2), -1).T
    return theta


@pytest.mark.parametrize("act", ["relu", "tanh", "gelu"])
def test_signals_give_the_parameter_jacobian_kernel(act):
    model = MLP(3, [5, 4], 2, activation=act, init="he", sigma_b2=0.3, rngs=nnx.Rngs(1))
    x1 = jax.random.normal(jax.random.key(0), (4, 3))
    x2 = jax.random.normal(jax.random.key(1), (3, 3))
    standard = empirical_ntk(model, x1, x2, output=1, batch_size=3)
    np.testing.assert_allclose(standard, jacobian_ntk(model, x1, x2, 1), rtol=1e-5, atol=1e-6)
    scaled = empirical_ntk(model, x1, x2, sigma_w2=1.7, sigma_b2=0.3, output=1)
    reference = jacobian_ntk(model, x1, x2, 1, weight_scale=lambda fan: 1.7 / fan, bias_scale=0.3)
    np.testing.assert_allclose(scaled, reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(empirical_ntk(model, x1), empirical_ntk(model, x1, x1), rtol=1e-6)


def test_a_wide_network_is_near_the_analytic_kernel():
    x = jax.random.normal(jax.random.key(0), (4, 3))
    model = MLP(3, [2048, 2048], 1, init="he", sigma_w2=2.0, sigma_b2=0.1, rngs=nnx.Rngs(0))
    measured = empirical_ntk(model, x, sigma_w2=2.0, sigma_b2=0.1)
    exact = ntk("relu", x, depth=2, sigma_w2=2.0, sigma_b2=0.1)
    assert float(jnp.linalg.norm(measured - exact) / jnp.linalg.norm(exact)) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("act, sigma_w2, sigma_b2", [("relu", 2.0, 0.1), ("tanh", 1.5, 0.2),
                                                     ("selu", 1.0, 0.0)])  # fmt: skip
def test_empirical_ntk_converges_like_one_over_sqrt_width(act, sigma_w2, sigma_b2):
    x = jax.random.normal(jax.random.key(0), (6, 3))
    exact = ntk(act, x, depth=2, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    widths = np.array([128, 256, 512, 1024, 2048, 4096])
    errors = []
    for width in widths:
        per_seed = []
        for seed in range(8):
            model = MLP(3, [int(width)] * 2, 1, activation=act, init="he", sigma_w2=sigma_w2,
                        sigma_b2=sigma_b2, rngs=nnx.Rngs(seed))  # fmt: skip
            measured = empirical_ntk(model, x, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
            per_seed.append(float(jnp.linalg.norm(measured - exact) / jnp.linalg.norm(exact)))
        errors.append(np.mean(per_seed))
    slope = np.polyfit(np.log(widths), np.log(errors), 1)[0]
    assert -0.65 < slope < -0.35, (slope, errors)
    assert errors[-1] < 0.05


def test_bad_models_and_arguments_are_refused():
    x = jnp.ones((2, 3))
    with pytest.raises(ValueError, match=r"model: expected an MLP without normalisation"):
        empirical_ntk(MLP(3, [4], 1, norm="layer", rngs=nnx.Rngs(0)), x)
    model = MLP(3, [4], 2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"expected both \(NTK parameterisation\) or neither"):
        empirical_ntk(model, x, sigma_w2=2.0)
    with pytest.raises(
        ValueError, match=r"output: expected an output unit in \[0, 2\), received 2"
    ):
        empirical_ntk(model, x, output=2)
    with pytest.raises(ValueError, match=r"x2: expected shape \(batch >= 1, 3\), received shape"):
        empirical_ntk(model, x, jnp.ones((2, 4)))
    with pytest.raises(TypeError, match=r"model: expected an actlab.models.MLP"):
        empirical_ntk([(jnp.ones((3, 4)), jnp.zeros(4))], x)
