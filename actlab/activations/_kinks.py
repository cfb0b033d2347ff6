"""The derivative of a piecewise-linear function, with a chosen value at each kink.

At a kink the derivative does not exist; any value between the one-sided derivatives is a valid
element of the Clarke subdifferential. actlab makes that value an explicit argument.

On XLA's CPU backend subnormal inputs compare equal to zero (flushed), so they take the value
chosen at a kink at 0, whatever their sign (float16, computed in float32, is exact).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp


def piecewise_slope(
    x: jax.Array,
    kinks: Sequence[float],
    slopes: Sequence[jax.Array | float],
    at_kinks: Sequence[jax.Array | float],
) -> jax.Array:
    """Derivative of a continuous piecewise-linear function of ``x``.

    Args:
      x: input array.
      kinks: the ``m`` kink locations, increasing.
      slopes: the ``m + 1`` slopes, on ``(-inf, k_1), (k_1, k_2), ..., (k_m, inf)``.
      at_kinks: the ``m`` values used exactly at each kink.

    Returns:
      An array like ``x``: the slope of the piece holding each element, the chosen value at a
      kink, and NaN where ``x`` is NaN.
    """
    slope = jnp.asarray(slopes[0], x.dtype)
    for kink, right, at_kink in zip(kinks, slopes[1:], at_kinks, strict=True):
        slope = jnp.where(x > kink, right, jnp.where(x == kink, at_kink, slope))
    return jnp.where(jnp.isnan(x), jnp.nan, slope).astype(x.dtype)
