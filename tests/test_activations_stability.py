"""Stability: every finite input gives a finite value and gradient wherever the true one is finite.

Exhaustive over all finite float16 and bfloat16 numbers; hypothesis-drawn for float32/float64.
The truth for a low-precision input is actlab's own float64 result (itself checked against mpmath
in test_activations_accuracy), rounded to the input dtype.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from actlab import activations as A

ELEMENTWISE = [n for n in A.names() if A.spec(n).elementwise]
HALF = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def _all_finite(dtype) -> np.ndarray:
    values = np.arange(2**16, dtype=np.uint16).view(dtype)
    with np.errstate(invalid="ignore"):
        return values[np.isfinite(values.astype(np.float64))]


# XLA on CPU flushes float32 subnormals; bfloat16 shares float32's exponent range, so its
# subnormal inputs and results are flushed too (float16's subnormals are normal in float32).
FLUSHED_BELOW = {"float16": 0.0, "bfloat16": float(np.finfo(np.float32).tiny)}


@functools.cache
def _value_and_slope(name: str):
    act = A.get(name)
    return jax.jit(lambda x: (act(x), jax.vmap(jax.grad(act))(x)))


def _truth(name: str, xs: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """float64 value and slope at the (exactly representable) inputs, rounded to ``dtype``."""
    with jax.enable_x64(True):
        value, slope = _value_and_slope(name)(jnp.asarray(xs.astype(np.float64)))
    with np.errstate(over="ignore"):
        return np.asarray(value).astype(dtype), np.asarray(slope).astype(dtype)


@pytest.mark.parametrize("dtype_name", sorted(HALF))
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_exhaustive_half_precision_is_finite_and_correctly_rounded(name, dtype_name):
    dtype = HALF[dtype_name]
    xs = _all_finite(dtype)
    value, slope = (np.asarray(v) for v in _value_and_slope(name)(jnp.asarray(xs)))
    true_value, true_slope = _truth(name, xs, dtype)
    assert value.dtype == dtype and slope.dtype == dtype
    flushed_input = np.abs(xs.astype(np.float64)) < FLUSHED_BELOW[dtype_name]
    for got, truth in ((value, true_value), (slope, true_slope)):
        got64, truth64 = got.astype(np.float64), truth.astype(np.float64)
        # a result just above tiny may round up from a flushed float32 intermediate
        flushed = flushed_input | (
            (np.abs(truth64) < 2 * FLUSHED_BELOW[dtype_name]) & (truth64 != 0)
        )
        finite = np.isfinite(truth64) & ~flushed
        assert np.all(np.isfinite(got64[finite])), (
            f"non-finite where the truth is finite: {xs[finite & ~np.isfinite(got64)][:5]}"
        )
        # Half precision computes in float32 and rounds once: within one half-precision ulp.
        with np.errstate(over="ignore"):
            spacing = np.spacing(np.abs(truth[finite])).astype(np.float64)
        bad = np.abs(got64[finite] - truth64[finite]) > spacing
        assert not np.any(bad), (
            xs[finite][bad][:4],
            got64[finite][bad][:4],
            truth64[finite][bad][:4],
        )


finite_floats = {
    "float32": st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    "float64": st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False),
}


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_drawn_inputs_give_finite_values_and_gradients(name, dtype_name, x64):
    dtype = np.dtype(dtype_name)

    @settings(max_examples=25, deadline=None, database=None)
    @given(hnp.arrays(dtype, 32, elements=finite_floats[dtype_name]))
    def check(xs):
        # Where the true value exceeds the largest float, inf is the correct result.
        growth = {"arelu": np.finfo(dtype).max ** (2 / 3) / 2, "selu": np.finfo(dtype).max / 2}
        xs = np.clip(xs, None, growth.get(name))
        value, slope = _value_and_slope(name)(jnp.asarray(xs))
        assert value.dtype == dtype and slope.dtype == dtype
        assert np.all(np.isfinite(np.asarray(value))), xs[~np.isfinite(np.asarray(value))]
        assert np.all(np.isfinite(np.asarray(slope))), xs[~np.isfinite(np.asarray(slope))]

    check()


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if n != "identity"])
def test_nan_propagates_to_value_and_gradient(name):
    """(identity's derivative is the constant 1, NaN input or not.)"""
    value, slope = _value_and_slope(name)(jnp.array([jnp.nan, 1.0]))
    assert np.isnan(value[0]) and np.isnan(slope[0]) and np.isfinite(value[1])


LIMITS = {  # name: (f(-inf), f(+inf), f'(-inf), f'(+inf))
    "identity": (-np.inf, np.inf, 1, 1), "relu": (0, np.inf, 0, 1), "relu6": (0, 6, 0, 0),
    "leaky_relu": (-np.inf, np.inf, 0.01, 1), "prelu": (-np.inf, np.inf, 0.25, 1),
    "hard_tanh": (-1, 1, 0, 0), "hard_sigmoid": (0, 1, 0, 0), "elu": (-1, np.inf, 0, 1),
    "selu": (-A.exponential.SELU_SCALE * A.exponential.SELU_ALPHA, np.inf, 0, A.exponential.SELU_SCALE),
    "celu": (-1, np.inf, 0, 1), "gelu": (0, np.inf, 0, 1), "silu": (0, np.inf, 0, 1),
    "mish": (0, np.inf, 0, 1), "softplus": (0, np.inf, 0, 1), "sigmoid": (0, 1, 0, 0),
    "tanh": (-1, 1, 0, 0), "softsign": (-1, 1, 0, 0), "sbaf": (1, 1, 0, 0), "arelu": (0, np.inf, 0, np.inf),
    "log_sigmoid": (-np.inf, 0, 1, 0), "squareplus": (0, np.inf, 0, 1), "sparse_plus": (0, np.inf, 0, 1),
    "sparse_sigmoid": (0, 1, 0, 0), "hard_silu": (0, np.inf, 0, 1),
}  # fmt: skip


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_infinities_give_the_limits(name):
    value, slope = _value_and_slope(name)(jnp.array([-jnp.inf, jnp.inf]))
    low, high, dlow, dhigh = LIMITS[name]
    np.testing.assert_allclose(np.asarray(value), [low, high], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(slope), [dlow, dhigh], rtol=1e-6)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_huge_and_tiny_inputs_are_finite(name):
    xs = jnp.array(
        [-1e30, -1e-30, 1e-30, 1e30] if name != "arelu" else [-1e30, -1e-30, 1e-30, 1e20]
    )
    value, slope = _value_and_slope(name)(xs)
    assert np.all(np.isfinite(np.asarray(value))) and np.all(np.isfinite(np.asarray(slope)))
