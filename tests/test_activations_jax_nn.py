"""actlab.activations as a drop-in for jax.nn: input promotion, softmax masks, the namespace.

The cases JAX's own ``tests/nn_test.py`` checks and actlab relies on, restated as our tests, and
the documented places where actlab deliberately differs from jax.nn (each pinned here).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src import ad_checkpoint
from jax.test_util import check_grads

from actlab import activations as A

# ---- input dtypes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype", [jnp.int8, jnp.uint32, jnp.bool_], ids=lambda d: jnp.dtype(d).name
)
@pytest.mark.parametrize("name", A.names())
def test_integer_and_bool_input_is_promoted_to_the_default_float(name, dtype):
    x = jnp.array([[1, 0], [1, 1]], dtype)
    y = A.get(name)(x)
    assert y.dtype == jnp.float32
    np.testing.assert_array_equal(y, A.get(name)(x.astype(jnp.float32)))


def test_promotion_follows_x64_like_jax_nn(x64):
    assert A.gelu(jnp.arange(3)).dtype == jax.nn.gelu(jnp.arange(3)).dtype == jnp.float64


@pytest.mark.parametrize("dtype", [int, float, jnp.int8, jnp.int32, jnp.uint8, jnp.float16])
def test_softplus_of_zero_is_log_two_for_every_input_type(dtype):
    assert A.softplus(dtype(0)) == jnp.log(dtype(2))


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_of_an_int_equals_gelu_of_the_float(approximate):
    assert A.gelu(jnp.array(-1), approximate) == A.gelu(jnp.array(-1.0), approximate)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
@pytest.mark.parametrize(
    "fn",
    [
        A.mish,
        A.relu,
        A.identity,
        A.softplus,
        A.sigmoid,
        functools.partial(A.gelu, approximate=True),
    ],
)
def test_zero_dimensional_input_keeps_its_dtype(fn, dtype):
    out = fn(jnp.zeros((), dtype))
    assert out.dtype == dtype and out.shape == ()


# ---- softmax and log_softmax: where, initial, axes, empty input ----------------------------------

X = jnp.array([5.5, 1.3, -4.2, 0.9])
MASK = jnp.array([True, False, True, True])


@pytest.mark.parametrize("fn, fill", [(A.softmax, 0.0), (A.log_softmax, -np.inf)])
def test_masked_entries_take_no_part(fn, fill):
    out = fn(X, where=MASK)
    np.testing.assert_allclose(out[MASK], fn(X[MASK]), rtol=1e-6)
    assert float(out[1]) == fill
    probs = out if fn is A.softmax else jnp.exp(out)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("fn, fill", [(A.softmax, 0.0), (A.log_softmax, -np.inf)])
def test_a_slice_with_nothing_selected_is_all_fill(fn, fill):
    out = fn(X, where=jnp.zeros(4, bool))
    np.testing.assert_array_equal(out, np.full(4, fill, np.float32))
    assert np.all(np.asarray(jax.grad(lambda v: fn(v, where=jnp.zeros(4, bool)).sum())(X)) == 0)


@pytest.mark.parametrize("fn", [A.softmax, A.log_softmax])
def test_a_huge_masked_entry_gives_no_gradient(fn):
    x = jnp.array([36.0, 10000.0])
    grad = jax.grad(lambda v: fn(v, where=v < 1000)[0])(x)
    np.testing.assert_array_equal(grad, [0.0, 0.0])


@pytest.mark.parametrize("fn", [A.softmax, A.log_softmax])
def test_mask_broadcasts_and_matches_jax_nn(fn):
    x = jax.random.normal(jax.random.key(0), (3, 5)) * 4
    mask = jnp.array([True, True, False, True, False])
    ours, theirs = fn(x, where=mask), getattr(jax.nn, fn.__name__)(x, where=mask)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_masked_softmax_second_derivatives_match_finite_differences(x64):
    g = lambda v: jnp.take(A.softmax(v, where=MASK, initial=-jnp.inf), jnp.array([0, 2, 3]))  # noqa: E731
    check_grads(g, (X.astype(jnp.float64),), order=2)
    check_grads(A.softmax, (X.astype(jnp.float64),), order=2)


def test_initial_only_bounds_the_shift():
    np.testing.assert_allclose(A.softmax(X, initial=0.0), A.softmax(X), rtol=1e-6)
    # jax.nn's semantics: the shift is max(max(x), initial), so a huge initial underflows
    assert np.all(np.isnan(np.asarray(A.softmax(X, initial=1e4))))
    with pytest.raises(ValueError, match="softmax: initial: expected a scalar"):
        A.softmax(X, initial=jnp.zeros(2))


@pytest.mark.parametrize("axis", [(0, 1), None, (-1,), (1, 0)])
def test_several_axes_normalise_together(axis):
    x = jax.random.normal(jax.random.key(2), (2, 3)) * 3
    np.testing.assert_allclose(A.softmax(x, axis=axis), jax.nn.softmax(x, axis=axis), rtol=1e-6)
    np.testing.assert_allclose(
        A.log_softmax(x, axis=axis), jax.nn.log_softmax(x, axis=axis), rtol=1e-5
    )


@pytest.mark.parametrize("fn", [A.softmax, A.log_softmax])
@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3)])
def test_empty_input_gives_an_empty_result(fn, shape):
    x = jnp.zeros(shape)
    out = fn(x)
    assert out.shape == shape and out.dtype == x.dtype


@pytest.mark.parametrize(
    "call, error, match",
    [(lambda: A.softmax(X, where=jnp.ones(3, bool)), ValueError, r"softmax: where: expected a shape that broadcasts"),
     (lambda: A.softmax(X, where=jnp.ones(4)), TypeError, r"softmax: where: expected a bool array, received dtype float32"),
     (lambda: A.log_softmax(jnp.ones((2, 3)), axis=(0, 0)), ValueError, r"axis: expected distinct ints in \[-2, 2\)"),
     (lambda: A.softmax(X, axis=1.5), TypeError, r"axis: expected an int, a sequence of ints or None")],
)  # fmt: skip
def test_bad_masks_and_axes_raise_naming_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_softmax_saves_only_its_output_whatever_the_custom_jvp_flag():
    """A documented difference: jax.nn saves 3 arrays (6 numbers here) with the flag off."""
    for flag in (False, True):
        with jax.softmax_custom_jvp(flag):
            residuals = ad_checkpoint.saved_residuals(A.softmax, X)
        assert [r.shape for r, _ in residuals] == [(4,)]
    with jax.softmax_custom_jvp(False):
        assert len(ad_checkpoint.saved_residuals(jax.nn.softmax, X)) == 3


# ---- transforms ----------------------------------------------------------------------------------


def test_no_tracer_leaks_from_a_scanned_activation():
    @jax.jit
    def run():
        return jax.lax.scan(lambda h, _: (A.sigmoid(h + 1.0), None), jnp.float32(0), None, length=2)

    with jax.checking_leaks():
        run()


@pytest.mark.parametrize("name", ["elu", "hard_tanh", "softplus", "gelu"])
def test_tracing_a_huge_input_allocates_nothing(name):
    with jax.enable_checks(False):
        jax.make_jaxpr(lambda: A.get(name)(jnp.ones((10**12,))))


@pytest.mark.parametrize("name", ["softplus", "mish"])
def test_fourth_derivatives_near_zero_match_finite_differences(name, x64):
    check_grads(A.get(name), (1e-8,), order=4)


@pytest.mark.parametrize("name", ["softplus", "mish"])
def test_derivative_at_minus_infinity_and_nan(name):
    assert float(jax.grad(A.get(name))(-jnp.inf)) == 0.0
    assert np.isnan(float(jax.grad(A.get(name))(jnp.nan)))


def test_large_values_pass_through():
    np.testing.assert_allclose([A.softplus(89.0), A.mish(1e3), A.elu(1e4)], [89.0, 1e3, 1e4])


# ---- documented convention differences -----------------------------------------------------------


def test_leaky_relu_derivative_at_zero_is_the_left_slope_where_jax_nn_gives_one():
    assert float(jax.grad(A.leaky_relu)(0.0)) == np.float32(0.01)
    assert float(jax.grad(jax.nn.leaky_relu)(0.0)) == 1.0
    assert float(jax.grad(lambda x: A.leaky_relu(x, grad_at_zero=1.0))(0.0)) == 1.0


def test_gelu_defaults_to_the_exact_form_where_jax_nn_defaults_to_tanh():
    x = jnp.array([-1.5, 0.5, 2.0])
    np.testing.assert_allclose(A.gelu(x), jax.nn.gelu(x, approximate=False), rtol=1e-6)
    assert not np.allclose(A.gelu(x), jax.nn.gelu(x), rtol=1e-5)
    np.testing.assert_allclose(A.gelu(x, approximate=True), jax.nn.gelu(x), rtol=1e-6)


def test_softmax_of_infinities_is_the_limit_where_jax_nn_gives_nan():
    x = jnp.array([1.0, jnp.inf, jnp.inf])
    np.testing.assert_array_equal(A.softmax(x), [0.0, 0.5, 0.5])
    assert np.all(np.isnan(np.asarray(jax.nn.softmax(x))))


def test_integer_relu_is_float_where_jax_nn_keeps_the_integer_dtype():
    assert A.relu(jnp.arange(3)).dtype == jnp.float32
    assert jax.nn.relu(jnp.arange(3)).dtype == jnp.int32


def test_hard_tanh_derivative_at_its_kinks_is_zero_where_jax_nn_gives_one():
    kinks = jnp.array([-1.0, 1.0])
    np.testing.assert_array_equal(jax.vmap(jax.grad(A.hard_tanh))(kinks), [0.0, 0.0])
    np.testing.assert_array_equal(jax.vmap(jax.grad(jax.nn.hard_tanh))(kinks), [1.0, 1.0])
    chosen = jax.vmap(jax.grad(lambda x: A.hard_tanh(x, grad_at_kinks=1.0)))(kinks)
    np.testing.assert_array_equal(chosen, [1.0, 1.0])
