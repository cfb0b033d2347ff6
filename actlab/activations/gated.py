"""Gated linear unit: one half of an axis gated by the sigmoid of the other."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from actlab.activations._precision import upcast
from actlab.activations._validate import floating_array
from actlab.activations.smooth import _logistic, _times_sigmoid
from actlab.checks import message


@jax.custom_jvp
def _gate(a, b):
    return _times_sigmoid(a, b)


@_gate.defjvp
def _gate_jvp(primals, tangents):
    a, b = primals
    a_dot, b_dot = tangents
    s, s_neg = _logistic(b)
    return _gate(a, b), s * a_dot + _times_sigmoid(a * s_neg, b) * b_dot  # a s(b) s(-b)


@functools.partial(jax.jit, static_argnames="axis")
def _glu_call(x, axis):
    a, b = jnp.split(x, 2, axis=axis)
    return upcast(_gate)(a, b)


def glu(x: ArrayLike, axis: int = -1) -> jax.Array:
    r"""Gated linear unit :math:`a \, \sigma(b)`, where ``x`` splits in halves ``a, b`` along ``axis``.

    ``a * sigmoid(b)`` and its derivative :math:`a\,\sigma(b)\sigma(-b)` are computed so that no
    intermediate underflows before the result does (as :func:`silu`, which is ``glu`` of
    ``concatenate([x, x])``).

    Args:
      x: input array whose size along ``axis`` is even; integer and bool input is promoted.
      axis: the axis to split.

    Returns:
      An array of ``x``'s dtype, with the size along ``axis`` halved.

    Example:
      >>> glu(jnp.array([1.0, 0.0]))
      Array([0.5], dtype=float32)

    References:
      Dauphin et al., "Language modeling with gated convolutional networks", ICML 2017.
    """
    x = floating_array(x, "glu")
    if not isinstance(axis, int) or isinstance(axis, bool) or not -x.ndim <= axis < x.ndim:
        raise ValueError(
            message(
                "axis",
                f"an int in [{-x.ndim}, {x.ndim}) for a {x.ndim}-d input",
                str(axis),
                where="glu",
            )
        )
    if x.shape[axis] % 2:
        raise ValueError(
            message("x", f"an even size along axis {axis}", f"shape {x.shape}", where="glu")
        )
    return _glu_call(x, axis % x.ndim)
