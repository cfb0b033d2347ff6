"""Infinite-width kernels (actlab.gradflow.nngp, ntk, kernels).

Evidence: closed forms against the quadrature (plain callables have no closed form, so they are
integrated), the layer map against the mean-field correlation map, and the structure every
kernel has (symmetric, positive semi-definite, consistent shapes and dtypes).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from actlab import activations as A
from actlab.gradflow import correlation_map, kernels, nngp, ntk, q_star


def inputs(n, d, seed, dtype=jnp.float64):
    return jax.random.normal(jax.random.key(seed), (n, d), dtype)


def plain(fn):
    """``fn`` as an anonymous callable: the kernels integrate it by quadrature."""
    return lambda x: fn(x)


# ------------------------------------------------------------------ closed forms vs quadrature
@pytest.mark.parametrize(
    "closed, integrated",
    [
        ("relu", plain(lambda x: jnp.maximum(x, 0.0))),
        (A.get("leaky_relu", negative_slope=0.2), plain(lambda x: jnp.where(x > 0, x, 0.2 * x))),
        (A.get("leaky_relu", negative_slope=-0.5), plain(lambda x: jnp.where(x > 0, x, -0.5 * x))),
        ("identity", plain(lambda x: x)),
        (jax.scipy.special.erf, plain(jax.scipy.special.erf)),
    ],
    ids=["relu", "leaky_0.2", "leaky_-0.5", "identity", "erf"],
)
def test_closed_forms_equal_the_quadrature(x64, closed, integrated):
    x1, x2 = inputs(3, 4, 0), 2.0 * inputs(2, 4, 1)  # unequal variances across inputs
    for args in ((x1, x2), (x1,)):
        exact = kernels(closed, *args, depth=2, sigma_w2=1.6, sigma_b2=0.3)
        numeric = kernels(integrated, *args, depth=2, sigma_w2=1.6, sigma_b2=0.3)
        scale = float(jnp.max(jnp.abs(exact.ntk)))
        np.testing.assert_allclose(numeric.nngp, exact.nngp, rtol=0, atol=1e-13 * scale)
        np.testing.assert_allclose(numeric.ntk, exact.ntk, rtol=0, atol=1e-13 * scale)


def test_relu_he_kernels_match_the_arc_cosine_recursion(x64):
    # Unit-variance inputs at sigma_w2 = 2, sigma_b2 = 0 keep q = 1: K^{l+1} = k_1(K^l) and
    # Theta^{l+1} = K^{l+1} + (pi - arccos K^l) / pi * Theta^l, scalar by scalar.
    x = jnp.array([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0]])
    k = kernels("relu", x, depth=3, sigma_w2=2.0, sigma_b2=0.0)
    for i in range(3):
        for j in range(3):
            c = min(1.0, max(-1.0, float(x[i] @ x[j])))
            theta = c
            for _ in range(3):
                new = (math.sqrt(max(0.0, 1 - c * c)) + (math.pi - math.acos(c)) * c) / math.pi
                theta = new + (math.pi - math.acos(c)) / math.pi * theta
                c = new
            assert float(k.nngp[i, j]) == pytest.approx(c, abs=1e-14)
            assert float(k.ntk[i, j]) == pytest.approx(theta, abs=1e-14)


# ------------------------------------------------------------------ the mean-field correlation map
@pytest.mark.parametrize("act, sigma_w2, sigma_b2", [("tanh", 1.5, 0.1), ("selu", 1.0, 0.05),
                                                     ("relu", 1.2, 0.3), ("gelu", 1.5, 0.1)])  # fmt: skip
def test_one_layer_of_the_kernel_is_the_correlation_map(x64, act, sigma_w2, sigma_b2):
    # Two inputs whose first-layer variance is q* and correlation c: K^2 / q* = C(c).
    q = q_star(act, sigma_w2, sigma_b2)
    d = 2
    radius = math.sqrt(d * (q - sigma_b2) / sigma_w2)
    tested = 0
    for c in (-0.6, 0.0, 0.3, 0.95):
        # first-layer correlation (sigma_w2 r^2 cos / d + sigma_b2) / q = c
        cosine = (c * q - sigma_b2) / (q - sigma_b2)
        if abs(cosine) > 1.0:  # unreachable: the bias keeps correlations high
            continue
        tested += 1
        x = radius * jnp.array([[1.0, 0.0], [cosine, math.sqrt(1 - cosine**2)]])
        k = nngp(act, x, depth=1, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
        assert float(k[0, 0]) == pytest.approx(q, rel=1e-12)
        expected = correlation_map(act, c, sigma_w2, sigma_b2)
        assert float(k[0, 1]) / q == pytest.approx(expected, abs=1e-12)
    assert tested >= 2


# ------------------------------------------------------------------ structure
@pytest.mark.parametrize("act", ["relu", "tanh", "elu"])
def test_kernels_are_symmetric_and_positive_semidefinite(x64, act):
    x = inputs(5, 3, 2)
    k = kernels(act, x, depth=2, sigma_w2=1.4, sigma_b2=0.2)
    for matrix in k:
        np.testing.assert_array_equal(matrix, matrix.T)
        eigenvalues = np.linalg.eigvalsh(np.asarray(matrix))
        assert eigenvalues.min() > -1e-12 * eigenvalues.max()
    # the NTK dominates the NNGP kernel (Theta = K + a PSD term)
    assert np.linalg.eigvalsh(np.asarray(k.ntk - k.nngp)).min() > -1e-12


def test_swapping_the_inputs_transposes_the_kernels(x64):
    x1, x2 = inputs(2, 2, 3), inputs(3, 2, 4)
    forward = kernels("softplus", x1, x2, depth=2, sigma_w2=1.1, sigma_b2=0.1)
    backward = kernels("softplus", x2, x1, depth=2, sigma_w2=1.1, sigma_b2=0.1)
    for a, b in zip(forward, backward, strict=True):
        np.testing.assert_allclose(a, b.T, rtol=1e-14)


def test_shapes_and_dtypes():
    x1, x2 = inputs(3, 5, 0, jnp.float32), inputs(2, 5, 1, jnp.float32)
    k = kernels("relu", x1, x2, depth=4, sigma_w2=2.0, sigma_b2=0.1)
    assert k.nngp.shape == k.ntk.shape == (3, 2)
    assert k.nngp.dtype == k.ntk.dtype == jnp.float32
    assert nngp("relu", x1, depth=1, sigma_w2=2.0, sigma_b2=0.0).shape == (3, 3)
    with jax.enable_x64(True):
        k64 = ntk("relu", x1.astype(jnp.float64), x2, depth=4, sigma_w2=2.0, sigma_b2=0.1)
        assert k64.dtype == jnp.float64
        np.testing.assert_allclose(k64, k.ntk, rtol=1e-5)


def test_kernels_trace_under_jit_and_vmap():
    x = inputs(2, 3, 5, jnp.float32)

    def fn(batch):
        return ntk("gelu", batch, depth=1, sigma_w2=1.5, sigma_b2=0.0)

    eager = fn(x)
    np.testing.assert_allclose(jax.jit(fn)(x), eager, rtol=1e-6)
    stacked = jax.vmap(fn)(jnp.stack([x, 2.0 * x]))
    assert stacked.shape == (2, 2, 2)
    np.testing.assert_allclose(stacked[0], eager, rtol=1e-6)


# ------------------------------------------------------------------ bad input
def test_bad_input_says_what_was_expected():
    x = jnp.ones((3, 2))
    good = {"depth": 2, "sigma_w2": 2.0, "sigma_b2": 0.0}
    with pytest.raises(ValueError, match=r"depth: expected an int >= 1, received 0"):
        nngp("relu", x, **{**good, "depth": 0})
    with pytest.raises(ValueError, match=r"x2: expected shape \(batch >= 1, 2\), received shape"):
        ntk("relu", x, jnp.ones((4, 3)), **good)
    with pytest.raises(ValueError, match=r"x1: expected shape \(batch >= 1, features\)"):
        ntk("relu", jnp.ones(3), **good)
    with pytest.raises(TypeError, match=r"x1: expected a floating-point array, received dtype"):
        ntk("relu", jnp.ones((2, 2), jnp.int32), **good)
    with pytest.raises(ValueError, match=r"sigma_w2: expected a finite number > 0, received 0.0"):
        ntk("relu", x, **{**good, "sigma_w2": 0.0})
    with pytest.raises(ValueError, match=r"activation: expected one of"):
        ntk("no_such_activation", x, **good)


@pytest.mark.slow  # 129 bivariate quadratures per layer: about 13 s per activation
@pytest.mark.parametrize("act, sigma_w2, sigma_b2", [("hard_tanh", 1.5, 0.05), ("selu", 1.0, 0.0),
                                                     ("gelu", 1.6, 0.1)])  # fmt: skip
def test_interpolated_layer_maps_equal_the_pair_quadrature_on_a_sphere(
    x64, act, sigma_w2, sigma_b2
):
    x = inputs(5, 4, 6)
    x = 2.0 * x / jnp.linalg.norm(x, axis=1, keepdims=True)
    x2 = x[:3] * jnp.array([[1.0, -1.0, 1.0, 1.0]])
    for args in ((x,), (x, x2)):
        network = {"depth": 2, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2}
        pairs = kernels(act, *args, **network, method="pairs")
        interpolated = kernels(act, *args, **network, method="interpolate")
        for a, b in zip(pairs, interpolated, strict=True):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * float(jnp.max(a)))


def test_interpolated_relu6_layer_map_equals_the_pair_quadrature(x64):
    # kinks at 0 and 6: the angle interpolation stays accurate across both
    x = inputs(4, 3, 8)
    x = 2.0 * x / jnp.linalg.norm(x, axis=1, keepdims=True)
    network = {"depth": 1, "sigma_w2": 1.8, "sigma_b2": 0.1}
    # (x[:2], x[2:]): a row in both sets would have c = 1 - 1e-16, where the NTK of a kinked
    # activation moves by 1e-8 (slope ~ 1 / sqrt(1 - c)); x2=None gives exactly c = 1 instead
    pairs = kernels("relu6", x[:2], x[2:], **network, method="pairs")
    interpolated = kernels("relu6", x[:2], x[2:], **network, method="interpolate")
    for a, b in zip(pairs, interpolated, strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * float(jnp.max(a)))


def test_auto_interpolates_only_inputs_of_equal_variance():
    from actlab.gradflow._kernels import _equal_variances

    sphere = inputs(20, 3, 7, jnp.float32)
    sphere = sphere / jnp.linalg.norm(sphere, axis=1, keepdims=True)
    assert _equal_variances(sphere, sphere, 1.5, 0.1)
    assert not _equal_variances(sphere.at[0].multiply(1.01), sphere, 1.5, 0.1)
    assert not _equal_variances(sphere[:5], sphere[:5], 1.5, 0.1)  # too few pairs to pay
    with pytest.raises(ValueError, match=r"method: expected one of 'auto', 'pairs', 'interpolate'"):
        kernels("tanh", sphere, depth=1, sigma_w2=1.0, sigma_b2=0.0, method="fast")
