"""Trace-time checks shared by every activation: input dtype and parameter ranges.

Checks run in Python when a function is called or traced. A parameter that is a tracer (for example
under ``vmap`` over ``negative_slope``) has no concrete value and is not range-checked.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from actlab.checks import interval, message

LOW_PRECISION = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def floating_array(x: ArrayLike, fn: str) -> jax.Array:
    """``x`` as a floating-point JAX array, promoting integer and bool input as ``jax.nn`` does.

    Integer and bool arrays become the default floating dtype (float32, or float64 with x64
    enabled), as ``jax.nn.gelu(jnp.arange(3))`` does. Complex input raises ``TypeError``: the
    kink conventions and tail formulas here are for real arguments (``jax.nn`` accepts it).
    """
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x
    if jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_:
        return x.astype(jnp.result_type(float))
    raise TypeError(
        message("x", "a real array (floating, integer or bool)", f"dtype {x.dtype}", where=fn)
    )


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """The dtype that smooth activations compute in: float32 for float16/bfloat16, else ``dtype``."""
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype) in LOW_PRECISION else jnp.dtype(dtype)


def concrete(value: ArrayLike) -> np.ndarray | None:
    """The value as a NumPy array, or ``None`` when it is a tracer (no value at trace time)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def _first(v: np.ndarray, bad: np.ndarray) -> str:
    return f"{np.ravel(v[bad] if v.ndim else v)[0]:g}"


def check_range(
    fn: str,
    name: str,
    value: ArrayLike,
    low: float = -np.inf,
    high: float = np.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """``ValueError`` unless every element of a concrete ``value`` is finite and in the interval."""
    v = concrete(value)
    if v is None:
        return
    inside = (
        np.isfinite(v)
        & (v > low if low_open else v >= low)
        & (v < high if high_open else v <= high)
    )
    if not np.all(inside):
        what = f"finite values {interval(low, high, low_open, high_open)}".rstrip()
        raise ValueError(message(name, what, _first(v, ~inside), where=fn))


def check_kink_grad(
    fn: str, name: str, value: ArrayLike, left: ArrayLike, right: ArrayLike
) -> None:
    """``ValueError`` unless ``value`` lies between the one-sided derivatives (the Clarke interval)."""
    v, lo, hi = concrete(value), concrete(left), concrete(right)
    if v is None or lo is None or hi is None:
        return
    low, high = np.minimum(lo, hi), np.maximum(lo, hi)
    inside = np.isfinite(v) & (v >= low) & (v <= high)
    if not np.all(inside):
        what = (
            f"a value in the subdifferential [{np.min(low):g}, {np.max(high):g}] (between the "
            "one-sided derivatives)"
        )
        raise ValueError(
            message(name, what, _first(np.broadcast_to(v, inside.shape), ~inside), where=fn)
        )
