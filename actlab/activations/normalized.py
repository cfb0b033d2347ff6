"""Softmax and log-softmax along an axis, with ``+inf`` entries sharing the mass equally."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from actlab.activations._precision import upcast
from actlab.activations._validate import floating_array
from actlab.checks import message, show


def _shifted(x: jax.Array, axis: int) -> jax.Array:
    """``x - max(x)`` along ``axis``; where the max is ``+inf``, 0 at the ``+inf`` entries, else ``-inf``."""
    top = jnp.max(x, axis=axis, keepdims=True)
    at_inf = jnp.where(x == jnp.inf, 0, -jnp.inf).astype(x.dtype)
    return jnp.where(jnp.isposinf(top), at_inf, x - top)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _softmax(x, axis):
    e = jnp.exp(_shifted(x, axis))
    return e / jnp.sum(e, axis=axis, keepdims=True)


@_softmax.defjvp
def _softmax_jvp(axis, primals, tangents):
    (x,), (x_dot,) = primals, tangents
    y = _softmax(x, axis)
    return y, y * (x_dot - jnp.sum(y * x_dot, axis=axis, keepdims=True))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _log_softmax(x, axis):
    shifted = _shifted(x, axis)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


@_log_softmax.defjvp
def _log_softmax_jvp(axis, primals, tangents):
    (x,), (x_dot,) = primals, tangents
    y = _softmax(x, axis)
    return _log_softmax(x, axis), x_dot - jnp.sum(y * x_dot, axis=axis, keepdims=True)


@functools.partial(jax.jit, static_argnames="axis")
def _softmax_call(x, axis):
    return upcast(lambda v: _softmax(v, axis))(x)


@functools.partial(jax.jit, static_argnames="axis")
def _log_softmax_call(x, axis):
    return upcast(lambda v: _log_softmax(v, axis))(x)


def _checked_axis(fn: str, x: jax.Array, axis: int) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(message("axis", "an int", show(axis), where=fn))
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            message(
                "axis",
                f"an int in [{-x.ndim}, {x.ndim}) for a {x.ndim}-d input",
                str(axis),
                where=fn,
            )
        )
    return axis % x.ndim


def softmax(x: ArrayLike, axis: int = -1) -> jax.Array:
    r"""Softmax :math:`e^{x_i} / \sum_j e^{x_j}` along ``axis`` (not elementwise).

    Computed from ``x - max(x)``, so no entry overflows. If some entries are ``+inf``, they share
    the mass equally (the limit); ``-inf`` entries get 0. A slice that is entirely ``-inf`` has no
    limit and gives NaN, as does a NaN entry.

    Args:
      x: input array with at least one dimension, floating dtype.
      axis: the axis to normalise over.

    Returns:
      An array of the shape and dtype of ``x``, non-negative, summing to 1 along ``axis``.
    """
    x = floating_array(x, "softmax")
    return _softmax_call(x, _checked_axis("softmax", x, axis))


def log_softmax(x: ArrayLike, axis: int = -1) -> jax.Array:
    r"""Log-softmax :math:`x_i - \log\sum_j e^{x_j}` along ``axis`` (not elementwise).

    Args:
      x: input array with at least one dimension, floating dtype.
      axis: the axis to normalise over.

    Returns:
      An array of the shape and dtype of ``x``; ``+inf`` entries share the mass as in ``softmax``.
    """
    x = floating_array(x, "log_softmax")
    return _log_softmax_call(x, _checked_axis("log_softmax", x, axis))
