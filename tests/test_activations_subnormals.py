"""What a user gets for subnormal inputs on the CPU, where XLA flushes them to zero.

XLA's CPU backend computes with subnormals flushed to zero (inputs read as zero, results that
would be subnormal written as zero). For float32, float64 and bfloat16 (float32's exponent range)
a subnormal ``x`` is therefore the point ``x = 0`` (or ``-0``): every activation returns its
value at zero and its derivative at zero, which at a kink is the chosen ``grad_at_zero``, for
either sign of ``x`` (a value that a ``select`` passes through unchanged, such as XLA's float32
``tanh`` of a tiny input, stays subnormal). float16 is computed in float32, where its subnormals are normal numbers:
they are exact. These tests pin that; on another backend they are skipped.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from actlab import activations as A

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA CPU behaviour")

SUBNORMAL = {  # dtype name -> (dtype, a subnormal magnitude)
    "float32": (np.float32, 1e-40),
    "float64": (np.float64, 1e-310),
    "bfloat16": (ml_dtypes.bfloat16, 1e-39),
}
KINKED_AT_ZERO = [  # (name, params, derivative choices at 0: default first)
    ("relu", {}, [None, 0.5, 1.0]),
    ("leaky_relu", {"negative_slope": 0.2}, [None, 0.6, 1.0]),
    ("elu", {"alpha": 2.0}, [None, 1.5, 1.0]),
    ("selu", {}, [None, 1.2]),
    ("arelu", {"n": 1.0}, [None, 0.5]),
]


def _subnormals(dtype_name: str) -> list[jax.Array]:
    dtype, magnitude = SUBNORMAL[dtype_name]
    values = [np.array(s * magnitude).astype(dtype) for s in (1, -1)]
    assert all(0 < abs(float(v)) < float(ml_dtypes.finfo(dtype).tiny) for v in values)
    return [jnp.asarray(v) for v in values]


def _derivative(name: str, params: dict, grad_at_zero: float | None):
    kwargs = params if grad_at_zero is None else params | {"grad_at_zero": grad_at_zero}
    act = A.get(name, **kwargs)
    return act, jax.jit(jax.grad(lambda x: act(x)))


@pytest.mark.parametrize("dtype_name", sorted(SUBNORMAL))
@pytest.mark.parametrize(
    "name, params, choices", KINKED_AT_ZERO, ids=[k[0] for k in KINKED_AT_ZERO]
)
def test_a_subnormal_input_gets_the_derivative_chosen_at_zero(
    name, params, choices, dtype_name, x64
):
    for grad_at_zero in choices:
        act, derivative = _derivative(name, params, grad_at_zero)
        at_zero = float(derivative(jnp.zeros((), SUBNORMAL[dtype_name][0])))
        for x in _subnormals(dtype_name):
            assert float(derivative(x)) == at_zero, (name, grad_at_zero, float(x))
            assert float(act(x)) == 0.0  # the value at zero, not x
        if grad_at_zero is not None:
            assert at_zero == pytest.approx(grad_at_zero, rel=1e-2)  # bfloat16 rounds the choice


@pytest.mark.parametrize("dtype_name", sorted(SUBNORMAL))
@pytest.mark.parametrize(
    "name", ["sigmoid", "tanh", "softplus", "silu", "gelu", "mish", "hard_tanh"]
)
def test_a_smooth_activation_at_a_subnormal_is_its_value_and_slope_at_zero(name, dtype_name, x64):
    act = A.get(name)
    value_and_slope = jax.jit(jax.value_and_grad(lambda x: act(x)))
    zero = value_and_slope(jnp.zeros((), SUBNORMAL[dtype_name][0]))
    for x in _subnormals(dtype_name):
        got = value_and_slope(x)
        # XLA's float32 tanh returns tiny inputs themselves (a select, which does not flush)
        passes_through = name == "tanh" and dtype_name != "float64"
        assert abs(float(got[0])) == abs(float(x if passes_through else zero[0]))
        assert float(got[1]) == float(zero[1])


def test_float16_subnormals_are_exact():
    tiny = jnp.float16(2.0**-24)  # the smallest float16 subnormal, normal in float32
    assert float(A.relu(tiny)) == 2.0**-24
    assert float(jax.grad(A.relu)(tiny)) == 1.0 and float(jax.grad(A.relu)(-tiny)) == 0.0
    assert float(jax.grad(lambda x: A.relu(x, grad_at_zero=0.5))(-tiny)) == 0.0
    assert float(A.elu(-tiny, 2.0)) == -(2.0**-23)


def test_in_a_batch_only_the_subnormals_move_to_the_kink():
    x = jnp.array([1e-40, -1e-40, 1e-30, -1e-30, 0.0], jnp.float32)
    slopes = jax.vmap(jax.grad(lambda v: A.relu(v, grad_at_zero=0.5)))(x)
    np.testing.assert_array_equal(slopes, [0.5, 0.5, 1.0, 0.0, 0.5])


def test_jax_nn_leaky_relu_passes_a_subnormal_through_where_actlab_reads_zero():
    x = jnp.asarray(np.float32(1e-40))
    assert float(jax.nn.leaky_relu(x)) == float(x) and float(jax.grad(jax.nn.leaky_relu)(x)) == 1.0
    assert float(A.leaky_relu(x)) == 0.0 and float(jax.grad(A.leaky_relu)(x)) == np.float32(0.01)
