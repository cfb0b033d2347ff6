"""The forward pass of a fully connected network, written once.

Every network actlab computes with (an :class:`actlab.models.MLP`, or hidden layers given as
``(W, b)`` arrays) is a sequence of hidden layers, each an affine map (with normalisation, for an
MLP), an activation and optionally dropout, followed by a read-out. :func:`run` applies them and
keeps what every measurement needs: each layer's pre-activations and activations. An optional
perturbation added to the pre-activations makes ``dL/dz`` a plain gradient (with respect to the
perturbation, at zero), which is how the backward signal is measured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax

Map = Callable[[jax.Array], jax.Array]


class Trace(NamedTuple):
    """One forward pass, layer by layer (``L`` hidden layers; a pytree, so ``vmap`` adds axes).

    Attributes:
      preactivations: ``L`` arrays ``z^l`` of shape ``(..., n_l)``: what each activation
        receives (after normalisation, perturbation included).
      activations: ``L`` arrays ``phi_l(z^l)``, before dropout.
      output: the read-out ``(..., out)``; the last hidden layer's output (after dropout) for a
        network without a read-out.
    """

    preactivations: tuple[jax.Array, ...]
    activations: tuple[jax.Array, ...]
    output: jax.Array


class Layer(NamedTuple):
    """One hidden layer as three maps: ``h -> z``, ``z -> phi(z)``, and what follows (dropout)."""

    affine: Map
    activation: Map
    after: Map | None = None


def run(
    layers: Sequence[Layer],
    readout: Map | None,
    x: jax.Array,
    perturb: Sequence[jax.Array] | None = None,
) -> Trace:
    """Apply ``layers`` then ``readout`` to ``x``, adding ``perturb[l]`` to layer ``l``'s
    pre-activations when given (arrays shaped like them)."""
    if perturb is not None and len(perturb) != len(layers):
        raise ValueError(
            f"perturb: expected one array per hidden layer ({len(layers)}), received {len(perturb)}"
        )
    zs, hs, h = [], [], x
    for l, layer in enumerate(layers):
        z = layer.affine(h)
        if perturb is not None:
            z = z + perturb[l]
        a = layer.activation(z)
        zs.append(z)
        hs.append(a)
        h = a if layer.after is None else layer.after(a)
    return Trace(tuple(zs), tuple(hs), h if readout is None else readout(h))
