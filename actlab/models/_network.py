"""A network is an :class:`actlab.models.MLP` or hidden layers given as arrays: one type, one
check of the arrays, and one forward pass (:func:`forward`) for both."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.checks import message, show
from actlab.models._mlp import MLP
from actlab.models._trace import Layer, Trace, run

Layers = Sequence[tuple[ArrayLike, ArrayLike]]
"""Hidden layers ``[(W_1, b_1), ...]``: ``W_l`` of shape ``(in, out)``, ``b_l`` of ``(out,)``,
``h -> h @ W_l + b_l`` (the Flax convention, as :func:`actlab.models.hidden_layers` returns)."""

Network = MLP | Layers
"""What functions that measure a network accept: an MLP, or hidden layers (with ``activation=``)."""

Pair = tuple[Any, Any]


def _check_pair(
    layer: Any, name: str, fan_in: int | None, source: str, where: str | None, convert: Callable
) -> Pair:
    """One ``(W, b)``, converted; ``fan_in`` (from ``source``) is the number of input rows."""
    if not isinstance(layer, Sequence) or isinstance(layer, str | bytes) or len(layer) != 2:
        raise ValueError(message(name, "a pair (W, b)", show(layer), where=where))
    w, b = convert(layer[0]), convert(layer[1])
    w_shape, b_shape = np.shape(w), np.shape(b)
    if len(w_shape) != 2 or 0 in w_shape:
        raise ValueError(
            message(f"{name} W", "a non-empty matrix of shape (in, out)", f"shape {w_shape}",
                    where=where)
        )  # fmt: skip
    if b_shape != (w_shape[1],):
        raise ValueError(
            message(f"{name} b", f"shape ({w_shape[1]},) to match W of shape {w_shape}",
                    f"shape {b_shape}", where=where)
        )  # fmt: skip
    if fan_in is not None and w_shape[0] != fan_in:
        raise ValueError(
            message(f"{name} W", f"{fan_in} input rows ({source})", f"shape {w_shape}",
                    where=where)
        )  # fmt: skip
    return w, b


def check_layers(
    layers: Any,
    *,
    name: str = "layers",
    where: str | None = None,
    inputs: int | None = None,
    allow_empty: bool = False,
    convert: Callable[[Any], Any] = jnp.asarray,
) -> tuple[Pair, ...]:
    """``layers`` as a tuple of ``(W, b)`` pairs, each converted by ``convert``, after checking
    shapes: ``W`` a non-empty ``(in, out)`` matrix, ``b`` of shape ``(out,)``, consecutive layers
    chained, the first taking ``inputs`` features when given. Works on tracers.

    Raises:
      TypeError: ``layers`` is not a sequence.
      ValueError: a layer that is not a pair, a shape that does not fit, or no layer at all
        (unless ``allow_empty``).
    """
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence):
        raise TypeError(message(name, "a sequence of (W, b) pairs", show(layers), where=where))
    if not layers and not allow_empty:
        raise ValueError(message(name, "at least one hidden layer (W, b)", "none", where=where))
    checked: list[Pair] = []
    fan_in = inputs
    for l, layer in enumerate(layers):
        source = f"the width of {name}[{l - 1}]" if l else "the input dimension"
        checked.append(_check_pair(layer, f"{name}[{l}]", fan_in, source, where, convert))
        fan_in = np.shape(checked[-1][0])[1]
    return tuple(checked)


def check_readout(
    readout: Any, *, inputs: int, where: str | None = None, convert: Callable = jnp.asarray
) -> Pair:
    """The read-out ``(W_out, b_out)`` of a network whose last hidden layer has ``inputs``
    units, checked as :func:`check_layers` checks a layer."""
    return _check_pair(readout, "readout", inputs, "the width of the last hidden layer", where,
                       convert)  # fmt: skip


def layer_activations(
    activation: Any, count: int, *, where: str | None = None
) -> tuple[Callable[[jax.Array], jax.Array], ...]:
    """One elementwise activation per layer: ``activation`` for all, or a sequence of one per
    layer (see :func:`actlab.activations.resolve`)."""
    if activation is None:
        raise ValueError(
            message("activation", "an activation to apply after each (W, b) layer", "None",
                    where=where)
        )  # fmt: skip
    if isinstance(activation, Sequence) and not isinstance(activation, str):
        if len(activation) != count:
            raise ValueError(
                message("activation", f"one activation per layer ({count}), or one for all",
                        f"{len(activation)} activations", where=where)
            )  # fmt: skip
        return tuple(A.resolve(a, where=where) for a in activation)
    return (A.resolve(activation, where=where),) * count


def affine(w: Any, b: Any) -> Callable[[jax.Array], jax.Array]:
    """``h -> h @ w + b`` for ``h`` of shape ``(..., in)`` (without rank promotion)."""

    def apply(h: jax.Array) -> jax.Array:
        z = h @ w
        return z + jnp.reshape(b, (1,) * (z.ndim - 1) + (-1,))

    return apply


def trace_layers(
    layers: Sequence[Pair],
    activations: Sequence[Callable[[jax.Array], jax.Array]],
    x: jax.Array,
    *,
    readout: Pair | None = None,
    perturb: Sequence[jax.Array] | None = None,
) -> Trace:
    """:func:`actlab.models.forward` for checked layers and resolved activations."""
    steps = [Layer(affine(w, b), act) for (w, b), act in zip(layers, activations, strict=True)]
    return run(steps, None if readout is None else affine(*readout), x, perturb)


def is_mlp(network: Any, *, activation: Any = None, readout: Any = None, where: str) -> bool:
    """Whether ``network`` is an :class:`MLP` (``False``: hidden layers as arrays).

    Raises:
      ValueError: an ``activation`` or ``readout`` given with an MLP (it has its own).
      TypeError: another ``nnx.Module``.
    """
    if isinstance(network, MLP):
        given = [
            name for name, v in (("activation", activation), ("readout", readout)) if v is not None
        ]
        if given:
            raise ValueError(
                message(" and ".join(given), "None with an MLP (it has its own)", "a value",
                        where=where)
            )  # fmt: skip
        return True
    if isinstance(network, nnx.Module):
        raise TypeError(
            message("network", "an actlab.models.MLP or (W, b) layers", type(network).__name__,
                    where=where)
        )  # fmt: skip
    return False


def forward(
    network: Network,
    x: ArrayLike,
    *,
    activation: Any = None,
    readout: Pair | None = None,
    perturb: Sequence[jax.Array] | None = None,
) -> Trace:
    """Every hidden layer's pre-activations and activations, and the output, on inputs ``x``.

    Args:
      network: an :class:`MLP` (evaluated in its current train or eval mode), or hidden layers
        ``[(W, b), ...]``.
      x: inputs ``(..., in_features)``.
      activation: only with layers: the activation after every layer, or one per layer (see
        :func:`actlab.activations.resolve`).
      readout: only with layers: the read-out ``(W_out, b_out)``; without one, the output is the
        last layer's activation.
      perturb: arrays added to each layer's pre-activations (see :meth:`MLP.trace`).

    Returns:
      A :class:`Trace`.

    Example:
      >>> layers = [(jnp.eye(2), jnp.array([0.0, -1.0]))]
      >>> forward(layers, jnp.array([[0.5, 2.0]]), activation="relu").activations[0]
      Array([[0.5, 1. ]], dtype=float32)
    """
    where = "forward"
    if is_mlp(network, activation=activation, readout=readout, where=where):
        return network.trace(x, perturb=perturb)
    x = jnp.asarray(x)
    inputs = x.shape[-1] if x.ndim else None
    layers = check_layers(network, where=where, inputs=inputs, allow_empty=readout is not None)
    width = np.shape(layers[-1][0])[1] if layers else inputs
    out = None if readout is None else check_readout(readout, inputs=width, where=where)
    return trace_layers(layers, layer_activations(activation, len(layers), where=where), x,
                        readout=out, perturb=perturb)  # fmt: skip
