"""Behaviour of every activation: shapes, dtypes, transforms, kinks, parameters and bad input."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from actlab import activations as A

ELEMENTWISE = [n for n in A.names() if A.spec(n).elementwise]
DTYPES = [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64]
# Points away from every kink and inside sbaf's domain.
SMOOTH_POINTS = jnp.array([0.13, 0.41, 0.77, -0.35, -1.7, 2.3])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("name", A.names())
def test_output_has_input_shape_and_dtype(name, dtype, x64):
    x = jnp.linspace(-3, 3, 24, dtype=dtype).reshape(2, 3, 4)
    y = A.get(name)(x)
    chex.assert_shape(y, x.shape if name != "glu" else (2, 3, 2))  # glu halves the last axis
    chex.assert_type(y, dtype)


@pytest.mark.parametrize("name", A.names())
def test_jit_and_vmap_agree_with_eager(name):
    act = A.get(name)
    x = jax.random.normal(jax.random.key(0), (5, 8))
    eager = act(x)
    chex.assert_trees_all_close(jax.jit(act)(x), eager)
    chex.assert_trees_all_close(jax.vmap(act)(x), eager)


MATCHES_JAX_NN = {
    "relu": jax.nn.relu, "relu6": jax.nn.relu6, "leaky_relu": jax.nn.leaky_relu,
    "hard_tanh": jax.nn.hard_tanh, "hard_sigmoid": jax.nn.hard_sigmoid, "elu": jax.nn.elu,
    "selu": jax.nn.selu, "celu": jax.nn.celu, "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "silu": jax.nn.silu, "mish": jax.nn.mish, "softplus": jax.nn.softplus, "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh, "softsign": jax.nn.soft_sign, "softmax": jax.nn.softmax,
    "log_softmax": jax.nn.log_softmax, "identity": lambda x: x, "log_sigmoid": jax.nn.log_sigmoid,
    "squareplus": jax.nn.squareplus, "sparse_plus": jax.nn.sparse_plus,
    "sparse_sigmoid": jax.nn.sparse_sigmoid, "hard_silu": jax.nn.hard_silu, "glu": jax.nn.glu,
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MATCHES_JAX_NN))
def test_values_and_gradients_match_jax_nn_at_ordinary_points(name, x64):
    x = jnp.linspace(-6, 6, 50, dtype=jnp.float64) + 0.01  # avoids the kinks
    ours, theirs = A.get(name), MATCHES_JAX_NN[name]
    value_and_grad = lambda f: jax.jit(jax.value_and_grad(lambda v: jnp.sum(jnp.sin(f(v)))))  # noqa: E731
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(
        value_and_grad(ours)(x)[1], value_and_grad(theirs)(x)[1], rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_gradients_match_finite_differences(name, x64):
    check_grads(jax.jit(A.get(name)), (jnp.asarray(SMOOTH_POINTS, jnp.float64),), order=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if not A.spec(n).piecewise_linear])
def test_second_order_gradients_match_finite_differences(name, x64):
    check_grads(jax.jit(A.get(name)), (jnp.asarray(SMOOTH_POINTS, jnp.float64),), order=2)


@pytest.mark.parametrize(
    "name", ["sigmoid", "tanh", "softplus", "silu", "mish", "gelu", "elu", "softsign"]
)
def test_hessian_and_jacfwd_of_grad_agree(name, x64):
    act = A.get(name)
    x = jnp.float64(0.37)
    second = jax.jit(jax.jacfwd(jax.grad(act)))(x)
    assert np.isfinite(second)
    np.testing.assert_allclose(jax.jit(jax.hessian(act))(x), second, rtol=1e-12)


@pytest.mark.parametrize(
    "name", ["relu", "leaky_relu", "relu6", "hard_tanh", "hard_sigmoid", "prelu", "sparse_sigmoid"]
)
def test_second_derivative_of_piecewise_linear_is_zero(name):
    act = A.get(name)
    assert float(jax.hessian(act)(0.5)) == 0.0 and float(jax.hessian(act)(0.0)) == 0.0


# ---- kinks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("g", [0.0, 0.3, 1.0])
def test_relu_derivative_at_zero_is_the_chosen_value(g):
    slope = jax.vmap(jax.grad(lambda x: A.relu(x, grad_at_zero=g)))(jnp.array([0.0, -0.0]))
    np.testing.assert_array_equal(slope, np.float32(g))


def test_relu_default_derivative_at_zero_matches_jax_nn():
    assert float(jax.grad(A.relu)(0.0)) == float(jax.grad(jax.nn.relu)(0.0)) == 0.0


def test_leaky_relu_default_derivative_at_zero_is_the_left_slope():
    assert float(jax.grad(A.leaky_relu)(0.0)) == np.float32(0.01)
    assert float(jax.grad(lambda x: A.leaky_relu(x, 0.2, grad_at_zero=1.0))(0.0)) == 1.0


@pytest.mark.parametrize(
    "name, kinks, pair",
    [("relu6", (0.0, 6.0), (0.25, 0.75)), ("hard_tanh", (-1.0, 1.0), (1.0, 0.5)),
     ("hard_sigmoid", (-3.0, 3.0), (1 / 6, 0.0))],
)  # fmt: skip
def test_two_kink_functions_use_the_chosen_derivative_at_each_kink(name, kinks, pair):
    default = jax.vmap(jax.grad(A.get(name)))(jnp.array(kinks))
    chosen = jax.vmap(jax.grad(A.get(name, grad_at_kinks=pair)))(jnp.array(kinks))
    np.testing.assert_array_equal(default, [0.0, 0.0])
    np.testing.assert_allclose(chosen, pair, rtol=1e-7)


def test_elu_and_selu_derivative_at_zero_defaults_to_the_left_derivative():
    assert float(jax.grad(lambda x: A.elu(x, 2.0))(0.0)) == 2.0
    assert float(jax.grad(lambda x: A.elu(x, 2.0, grad_at_zero=1.5))(0.0)) == 1.5
    np.testing.assert_allclose(
        float(jax.grad(A.selu)(0.0)), 1.0507009873554805 * 1.6732632423543772
    )


def test_arelu_with_unit_exponent_is_a_scaled_relu_with_a_kink():
    act = A.get("arelu", k=2.0, n=1.0, grad_at_zero=1.5)
    np.testing.assert_allclose(act(jnp.array([-1.0, 3.0])), [0.0, 6.0])
    assert float(jax.grad(act)(0.0)) == 1.5


def test_a_subnormal_input_takes_the_kink_convention_on_cpu():
    """XLA on CPU reads subnormals as zero (DAZ): relu'(1e-40) is relu'(0), not 1."""
    assert float(jax.grad(lambda x: A.relu(x, grad_at_zero=0.5))(jnp.float32(1e-40))) == 0.5


# ---- parameters: traced, vmapped, differentiated -----------------------------------------------


@pytest.mark.parametrize(
    "name, param, values",
    [("leaky_relu", "negative_slope", [0.0, 0.1, 0.3]), ("elu", "alpha", [0.5, 1.0, 2.0]),
     ("celu", "alpha", [0.5, 1.0, 2.0]), ("sbaf", "k", [0.5, 1.0, 2.0]),
     ("sbaf", "alpha", [0.2, 0.5, 0.8]), ("arelu", "n", [1.1, 1.5, 2.0])],
)  # fmt: skip
def test_vmap_over_a_parameter_matches_a_loop(name, param, values):
    fn = A.spec(name).fn
    x = jnp.linspace(-2, 2, 9) if name != "sbaf" else jnp.linspace(0.05, 0.95, 9)
    swept = jax.vmap(lambda v: fn(x, **{param: v}))(jnp.array(values))
    looped = jnp.stack([fn(x, **{param: v}) for v in values])
    chex.assert_trees_all_close(swept, looped, rtol=1e-6)


@pytest.mark.parametrize(
    "name, param, value, x",
    [("leaky_relu", "negative_slope", 0.2, -1.3), ("prelu", "slope", 0.3, -0.7), ("elu", "alpha", 1.5, -0.8),
     ("celu", "alpha", 1.5, -0.8), ("sbaf", "k", 1.3, 0.3), ("sbaf", "alpha", 0.4, 0.3),
     ("arelu", "k", 1.2, 0.9), ("arelu", "n", 1.7, 0.9)],
)  # fmt: skip
def test_parameter_gradient_matches_finite_differences(name, param, value, x, x64):
    fn = A.spec(name).fn
    check_grads(jax.jit(lambda v: fn(jnp.float64(x), **{param: v})), (jnp.float64(value),), order=1)


def test_prelu_takes_a_per_unit_slope_and_differentiates_it():
    x = jnp.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 0.5]])
    slope = jnp.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(A.prelu(x, slope), [[-0.1, 2.0, -0.9], [4.0, -1.0, 0.5]], rtol=1e-6)
    grad = jax.grad(lambda s: A.prelu(x, s).sum())(slope)
    np.testing.assert_allclose(grad, [-1.0, -5.0, -3.0])


# ---- softmax -----------------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_sums_to_one_and_log_softmax_is_its_log(axis):
    x = jax.random.normal(jax.random.key(1), (4, 6)) * 30
    y = A.softmax(x, axis=axis)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-6)
    np.testing.assert_allclose(jnp.exp(A.log_softmax(x, axis=axis)), y, rtol=1e-5, atol=1e-30)


def test_softmax_infinities_take_their_limits():
    x = jnp.array([[1.0, jnp.inf, 3.0, jnp.inf], [-jnp.inf, 0.0, 0.0, -jnp.inf]])
    np.testing.assert_allclose(A.softmax(x), [[0, 0.5, 0, 0.5], [0, 0.5, 0.5, 0]])
    np.testing.assert_allclose(A.log_softmax(x)[1], [-np.inf, -np.log(2), -np.log(2), -np.inf])


def test_softmax_gradients_match_finite_differences(x64):
    x = jnp.array([[0.3, -1.2, 2.0], [0.0, 0.5, -0.5]], dtype=jnp.float64)
    check_grads(jax.jit(A.softmax), (x,), order=1)
    check_grads(jax.jit(A.log_softmax), (x,), order=1)


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [(lambda: A.relu(1.0, grad_at_zero=1.5), r"relu: grad_at_zero: expected finite values in \[0, 1\], received 1.5"),
     (lambda: A.relu(1.0, grad_at_zero=-0.1), r"grad_at_zero"),
     (lambda: A.leaky_relu(1.0, 0.2, grad_at_zero=0.1), r"subdifferential \[0.2, 1\].*received 0.1"),
     (lambda: A.hard_sigmoid(1.0, grad_at_kinks=0.5), r"grad_at_kinks: expected finite values in \[0, 0.166667\]"),
     (lambda: A.elu(1.0, alpha=-1.0), r"alpha: expected finite values >= 0, received -1"),
     (lambda: A.celu(1.0, alpha=0.0), r"alpha: expected finite values > 0"),
     (lambda: A.sbaf(0.5, alpha=1.5), r"sbaf: alpha: expected finite values in \[0, 1\]"),
     (lambda: A.arelu(1.0, n=0.5), r"arelu: n: expected finite values >= 1"),
     (lambda: A.arelu(1.0, n=1.5, grad_at_zero=0.5), r"subdifferential \[0, 0\]"),
     (lambda: A.leaky_relu(1.0, jnp.nan), r"negative_slope: expected finite values"),
     (lambda: A.leaky_relu(jnp.ones(3), jnp.ones(3)), r"negative_slope: expected a scalar"),
     (lambda: A.prelu(jnp.ones((2, 3)), jnp.ones(2)), r"slope: expected a shape that broadcasts to x.s shape \(2, 3\), received shape \(2,\)"),
     (lambda: A.softmax(jnp.ones((2, 3)), axis=2), r"axis: expected an int in \[-2, 2\)")],
)  # fmt: skip
def test_invalid_parameters_raise_value_error_naming_range_and_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("name", A.names())
def test_complex_input_raises_type_error(name):
    with pytest.raises(
        TypeError,
        match=f"{name}: x: expected a real array \\(floating, integer or bool\\), received dtype complex64",
    ):
        A.get(name)(jnp.ones(2, jnp.complex64))


def test_invalid_parameters_are_caught_at_trace_time_inside_jit():
    with pytest.raises(ValueError, match="grad_at_zero"):
        jax.jit(lambda x: A.relu(x, grad_at_zero=2.0))(jnp.ones(2))
