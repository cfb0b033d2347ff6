"""Argument checks shared by every actlab module, with one error grammar.

Every message reads ``"<where>: <name>: expected <what>, received <value>"`` (``where`` is the
function or class that was called and may be omitted), so a user learns what was wrong, what
would have been accepted, and what actually arrived. Each check returns the cleaned value (a
Python ``int`` or ``float``, a NumPy array, a JAX array) so that callers use what was checked.

Example:
  >>> from actlab import checks
  >>> checks.integer(3, "depth", minimum=1)
  3
  >>> checks.number(-1.0, "sigma_w2", low=0.0, low_open=True, where="MLP")
  Traceback (most recent call last):
  ...
  ValueError: MLP: sigma_w2: expected a finite number > 0, received -1.0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "floating_batch",
    "integer",
    "interval",
    "message",
    "number",
    "one_of",
    "positive_numbers",
    "prng_key",
    "seed",
    "show",
]


def show(value: Any, limit: int = 80) -> str:
    """``repr(value)``, shortened to ``limit`` characters; arrays as ``dtype[shape]``."""
    if isinstance(value, jax.Array | np.ndarray) and value.ndim > 0:
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def message(name: str, expected: str, received: str, *, where: str | None = None) -> str:
    """The one error grammar: ``"where: name: expected ..., received ..."``.

    ``received`` is written as given: pass ``show(value)`` for a value, or a phrase such as
    ``"shape (3, 2)"``.
    """
    prefix = f"{where}: " if where else ""
    return f"{prefix}{name}: expected {expected}, received {received}"


def interval(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    """Where a value must lie, to follow a noun: ``'in [0, 1]'``, ``'> 0'``, ``'<= 6'``; empty
    when both ends are infinite."""
    if math.isinf(low) and math.isinf(high):
        return ""
    if math.isinf(high):
        return f"{'>' if low_open else '>='} {low:g}"
    if math.isinf(low):
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def integer(value: Any, name: str, *, minimum: int | None = None, where: str | None = None) -> int:
    """``value`` as a Python ``int``, at least ``minimum`` if given.

    Raises:
      TypeError: not an integer (a bool or a float is not one).
      ValueError: an integer below ``minimum``.
    """
    what = "an int" if minimum is None else f"an int >= {minimum}"
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(message(name, what, show(value), where=where))
    if minimum is not None and value < minimum:
        raise ValueError(message(name, what, show(value), where=where))
    return int(value)


def number(
    value: Any,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    where: str | None = None,
) -> float:
    """``value`` (a Python, NumPy or 0-d array real number) as a finite ``float`` in the interval.

    Raises:
      TypeError: not a real scalar (a bool or a string is not one).
      ValueError: not finite, or outside ``[low, high]`` (ends open if asked).
    """
    what = f"a finite number {interval(low, high, low_open, high_open)}".rstrip()
    scalar = None
    if not isinstance(value, bool | str | bytes) and np.ndim(value) == 0:
        array = np.asarray(value)
        if array.dtype.kind in "iuf":
            scalar = float(array)
    if scalar is None:
        raise TypeError(message(name, what, show(value), where=where))
    above = scalar > low if low_open else scalar >= low
    below = scalar < high if high_open else scalar <= high
    if not (math.isfinite(scalar) and above and below):
        raise ValueError(message(name, what, show(value), where=where))
    return scalar


def positive_numbers(values: Any, name: str, *, where: str | None = None) -> np.ndarray:
    """A non-empty 1-D sequence of finite numbers ``> 0``, as a float64 array."""
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.size and np.all(np.isfinite(array) & (array > 0)):
        return array
    raise ValueError(
        message(name, "a non-empty sequence of finite numbers > 0", show(values), where=where)
    )


def one_of(value: Any, name: str, options: Collection[Any], *, where: str | None = None) -> Any:
    """``value`` if it is one of ``options``."""
    try:
        if value in options:
            return value
    except TypeError:  # unhashable value tested against a set
        pass
    listed = ", ".join(repr(o) for o in options)
    raise ValueError(message(name, f"one of {listed}", show(value), where=where))


def seed(value: Any, name: str = "seed", *, where: str | None = None) -> int:
    """A seed: an ``int >= 0``."""
    return integer(value, name, minimum=0, where=where)


def prng_key(value: Any, name: str = "key", *, where: str | None = None) -> jax.Array:
    """A single ``jax.random`` key from an ``int >= 0``, a typed key or a raw ``uint32[2]`` key."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0:
        return jax.random.key(int(value))
    if (
        isinstance(value, jax.Array)
        and value.shape == ()
        and (jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key))
    ):
        return value
    if isinstance(value, jax.Array) and value.dtype == jnp.uint32 and value.shape == (2,):
        return jax.random.wrap_key_data(value)
    raise ValueError(
        message(name, "an int >= 0 or a single jax.random key", show(value), where=where)
    )


def floating_batch(
    x: Any, name: str = "x", *, features: int | None = None, where: str | None = None
) -> jax.Array:
    """A non-empty batch ``(B, features)`` of floating-point inputs, as a JAX array.

    Raises:
      TypeError: the dtype is not floating point.
      ValueError: not two-dimensional, empty, or with another number of features.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(message(name, "a floating-point array", f"dtype {x.dtype}", where=where))
    if x.ndim != 2 or x.shape[0] == 0 or (features is not None and x.shape[1] != features):
        shape = f"(batch >= 1, {features if features is not None else 'features'})"
        raise ValueError(message(name, f"shape {shape}", f"shape {x.shape}", where=where))
    return x
