"""Softmax and log-softmax along axes, with ``jax.nn``'s ``where=`` mask and ``+inf`` limits.

``+inf`` entries share the mass equally (the limit; ``jax.nn`` gives NaN). Entries masked out by
``where`` take no part: they get 0 (softmax) or ``-inf`` (log-softmax) and no gradient, and a
slice with nothing selected gives all 0 (all ``-inf``), as in ``jax.nn``.

Both have custom JVPs that save only the output for the backward pass, whatever JAX's
``jax.softmax_custom_jvp`` flag says: ``jax.nn.softmax`` does the same with the flag on, and with
it off (JAX 0.10's default) differentiates its formula, saving three arrays.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from actlab.activations._validate import compute_dtype, floating_array
from actlab.checks import message, show

Axes = tuple[int, ...]


def _shifted(x: jax.Array, axes: Axes, where: jax.Array, initial: jax.Array) -> jax.Array:
    """``x - max(max(x[where]), initial)`` along ``axes``, ``-inf`` where masked out.

    Where the max is ``+inf``: 0 at the ``+inf`` entries and ``-inf`` elsewhere (the limit).
    """
    x = jnp.where(where, x, -jnp.inf)
    top = jnp.maximum(jnp.max(x, axis=axes, initial=-jnp.inf, keepdims=True), initial)
    at_inf = jnp.where(x == jnp.inf, 0, -jnp.inf).astype(x.dtype)
    return jnp.where(jnp.isposinf(top), at_inf, x - top)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _softmax(x, where, initial, axes):
    e = jnp.exp(_shifted(x, axes, where, initial))
    return jnp.where(where, e / jnp.sum(e, axis=axes, keepdims=True), 0)


@_softmax.defjvp
def _softmax_jvp(axes, primals, tangents):
    x, where, initial = primals
    x_dot = tangents[0]
    y = _softmax(x, where, initial, axes)
    return y, y * (x_dot - jnp.sum(y * x_dot, axis=axes, keepdims=True))


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _log_softmax(x, where, initial, axes):
    shifted = _shifted(x, axes, where, initial)
    out = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axes, keepdims=True))
    return jnp.where(where, out, -jnp.inf)


@_log_softmax.defjvp
def _log_softmax_jvp(axes, primals, tangents):
    x, where, initial = primals
    x_dot = tangents[0]
    y = _softmax(x, where, initial, axes)
    y_dot = x_dot - jnp.sum(y * x_dot, axis=axes, keepdims=True)
    return _log_softmax(x, where, initial, axes), jnp.where(where, y_dot, 0)


def _compute(fn, x, where, initial, axes):
    """``fn`` in the compute dtype (float32 for half precision), rounded back to ``x.dtype``."""
    dtype = compute_dtype(x.dtype)
    where = jnp.broadcast_to(where, x.shape)
    return fn(x.astype(dtype), where, jnp.asarray(initial, dtype), axes).astype(x.dtype)


@functools.partial(jax.jit, static_argnames="axes")
def _softmax_call(x, where, initial, axes):
    return _compute(_softmax, x, where, initial, axes)


@functools.partial(jax.jit, static_argnames="axes")
def _log_softmax_call(x, where, initial, axes):
    return _compute(_log_softmax, x, where, initial, axes)


def _checked_axes(fn: str, x: jax.Array, axis: int | Sequence[int] | None) -> Axes:
    """``axis`` (an int, a sequence of distinct ints, or ``None`` for all) as sorted axes."""
    if axis is None:
        return tuple(range(x.ndim))
    many = isinstance(axis, Sequence) and not isinstance(axis, str)
    items = tuple(axis) if many else (axis,)
    if not all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in items):
        raise TypeError(message("axis", "an int, a sequence of ints or None", show(axis), where=fn))
    bad = [a for a in items if not -x.ndim <= a < x.ndim]
    if bad or len({a % max(x.ndim, 1) for a in items}) != len(items):
        expected = f"distinct ints in [{-x.ndim}, {x.ndim}) for a {x.ndim}-d input"
        if not many:
            expected = f"an int in [{-x.ndim}, {x.ndim}) for a {x.ndim}-d input"
        raise ValueError(message("axis", expected, str(axis), where=fn))
    return tuple(sorted(int(a) % x.ndim for a in items))


def _checked_where(fn: str, x: jax.Array, where: ArrayLike | None) -> jax.Array:
    if where is None:
        return jnp.ones((), bool)
    mask = jnp.asarray(where)
    if mask.dtype != jnp.bool_:
        raise TypeError(message("where", "a bool array", f"dtype {mask.dtype}", where=fn))
    try:
        shape = np.broadcast_shapes(mask.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            message(
                "where",
                f"a shape that broadcasts to x's shape {x.shape}",
                f"shape {mask.shape}",
                where=fn,
            )
        )
    return mask


def _checked_initial(fn: str, initial: ArrayLike) -> ArrayLike:
    if jnp.ndim(initial) != 0:
        raise ValueError(message("initial", "a scalar", f"shape {jnp.shape(initial)}", where=fn))
    return initial


def softmax(
    x: ArrayLike,
    axis: int | Sequence[int] | None = -1,
    where: ArrayLike | None = None,
    *,
    initial: ArrayLike = -math.inf,
) -> jax.Array:
    r"""Softmax :math:`e^{x_i} / \sum_j e^{x_j}` along ``axis`` (not elementwise).

    Computed from ``x - max(x)``, so no entry overflows. If some entries are ``+inf``, they share
    the mass equally (the limit); ``-inf`` entries get 0. A slice that is entirely ``-inf`` has no
    limit and gives NaN, as does a NaN entry.

    Args:
      x: input array with at least one dimension, any shape ``(..., n)``; integer and bool input
        is promoted to the default float dtype (as ``jax.nn``).
      axis: the axis to normalise over, a sequence of axes, or ``None`` for all.
      where: bool mask broadcastable to ``x.shape``, the entries to include; the others get 0
        and no gradient (``jax.nn``'s ``where``). Default: all.
      initial: ``jax.nn``'s lower bound on the shift ``max(x)`` (keyword only). The result does
        not depend on it, except that ``exp(x - initial)`` underflows for ``initial >> max(x)``.

    Returns:
      An array of the shape and dtype of ``x``, non-negative, summing to 1 along ``axis`` (to 0
      on a slice where ``where`` selects nothing). An empty ``x`` gives an empty result.

    Example:
      >>> softmax(jnp.array([1.0, 2.0, 3.0]), where=jnp.array([True, False, True]))
      Array([0.11920291, 0.        , 0.880797  ], dtype=float32)
    """
    x = floating_array(x, "softmax")
    axes = _checked_axes("softmax", x, axis)
    mask = _checked_where("softmax", x, where)
    initial = _checked_initial("softmax", initial)
    return _softmax_call(x, mask, initial, axes)


def log_softmax(
    x: ArrayLike,
    axis: int | Sequence[int] | None = -1,
    where: ArrayLike | None = None,
    *,
    initial: ArrayLike = -math.inf,
) -> jax.Array:
    r"""Log-softmax :math:`x_i - \log\sum_j e^{x_j}` along ``axis`` (not elementwise).

    Its JVP is the custom rule :math:`\dot x - \sum_j \mathrm{softmax}(x)_j \dot x_j`, computed
    in float32 for half-precision input, so gradients stay finite on large float16 arrays.

    Args:
      x: input array with at least one dimension; integer and bool input is promoted.
      axis: the axis to normalise over, a sequence of axes, or ``None`` for all.
      where: bool mask of the entries to include; the others get ``-inf`` and no gradient.
      initial: as in :func:`softmax`.

    Returns:
      An array of the shape and dtype of ``x``; ``+inf`` entries share the mass as in ``softmax``.
    """
    x = floating_array(x, "log_softmax")
    axes = _checked_axes("log_softmax", x, axis)
    mask = _checked_where("log_softmax", x, where)
    initial = _checked_initial("log_softmax", initial)
    return _log_softmax_call(x, mask, initial, axes)
