"""Run a smooth activation in float32 when its input is float16 or bfloat16."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from actlab.activations._validate import compute_dtype


def upcast(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """Wrap ``fn(x, *params)`` to compute in float32 for half-precision ``x``, returning ``x.dtype``.

    Parameters are converted to the compute dtype directly (never rounded to half precision).

    Half precision has too little range for intermediate values such as ``x**3`` or ``exp(x)``;
    computing in float32 and rounding once at the end keeps results within half an ulp of the
    float32 result and never overflows where the true value is finite.
    """

    def wrapped(x: jax.Array, *params: ArrayLike) -> jax.Array:
        dtype = compute_dtype(x.dtype)
        out = fn(x.astype(dtype), *(jnp.asarray(p, dtype) for p in params))
        return out.astype(x.dtype)

    return wrapped
