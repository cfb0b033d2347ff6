"""Trace-time checks shared by every activation: input dtype and parameter ranges.

Checks run in Python when a function is called or traced. A parameter that is a tracer (for example
under ``vmap`` over ``negative_slope``) has no concrete value and is not range-checked.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

LOW_PRECISION = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def floating_array(x: ArrayLike, fn: str) -> jax.Array:
    """``x`` as a JAX array; ``TypeError`` unless its dtype is floating point."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{fn}: expected a floating-point array, got dtype {x.dtype}")
    return x


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """The dtype that smooth activations compute in: float32 for float16/bfloat16, else ``dtype``."""
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype) in LOW_PRECISION else jnp.dtype(dtype)


def concrete(value: ArrayLike) -> np.ndarray | None:
    """The value as a NumPy array, or ``None`` when it is a tracer (no value at trace time)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


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
        bad = v[~inside] if v.ndim else v
        raise ValueError(
            f"{fn}: {name} must be finite and in {_interval(low, high, low_open, high_open)}, "
            f"got {np.ravel(bad)[0]:g}"
        )


def check_kink_grad(
    fn: str, name: str, value: ArrayLike, left: ArrayLike, right: ArrayLike
) -> None:
    """``ValueError`` unless ``value`` lies between the one-sided derivatives (the Clarke interval)."""
    v, lo, hi = concrete(value), concrete(left), concrete(right)
    if v is None or lo is None or hi is None:
        return
    low, high = np.minimum(lo, hi), np.maximum(lo, hi)
    if not np.all(np.isfinite(v) & (v >= low) & (v <= high)):
        raise ValueError(
            f"{fn}: {name} must lie in the subdifferential "
            f"[{np.min(low):g}, {np.max(high):g}] (between the one-sided derivatives), got "
            f"{np.ravel(v)[0]:g}"
        )
