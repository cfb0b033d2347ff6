"""Networks padded to a few shapes, so that the jitted counters compile once per shape bucket.

:func:`actlab.regions.count_lines` (``method="walk"``) and :func:`actlab.regions.count_sampled`
run as compiled JAX programs whose shapes are the layers' shapes: counting hundreds of small
networks of different widths would compile hundreds of times (a third of a second each on a CPU).
Padding every width (and the input dimension) up to a :func:`bucket` leaves a handful of shapes.

A padded unit has no weights and a constant pre-activation ``z0`` strictly inside a piece, where
the activation is zero if it can be (``-1`` for ReLU, ``0`` for hard tanh): it never meets a kink,
so it changes no pattern and adds no region, and the rows that read it in the next layer are zero.
"""

from __future__ import annotations

import numpy as np

from actlab.regions._activation import PiecewiseLinear
from actlab.regions._validate import Layers


def bucket(size: int) -> int:
    """The padded size: the next power of two up to 64 (at least 2), then the next multiple of 16
    (at most a quarter more work for a large layer)."""
    if size > 64:
        return -(-size // 16) * 16
    return max(2, 1 << (size - 1).bit_length())


def constant_preactivation(pwl: PiecewiseLinear) -> float:
    """A pre-activation strictly inside a piece, where the activation is 0 when it can be."""
    edges = [-np.inf, *pwl.kinks, np.inf]
    for p, (slope, intercept) in enumerate(zip(pwl.slopes, pwl.intercepts, strict=True)):
        low, high = edges[p], edges[p + 1]
        if slope == 0 and intercept == 0:
            return float(high - 1 if np.isfinite(high) else (low + 1 if np.isfinite(low) else 0.0))
        if slope != 0 and low < -intercept / slope < high:
            return float(-intercept / slope)
    return float(pwl.kinks[0] - 1) if pwl.kinks else 0.0


def pad_layers(layers: Layers, pwl: PiecewiseLinear, *, inputs: bool) -> Layers:
    """``layers`` with every width, and the input dimension if ``inputs``, padded to
    :func:`bucket` (the padded inputs must then be zeros)."""
    z0 = constant_preactivation(pwl)
    padded, fan_in = [], bucket(layers[0][0].shape[0]) if inputs else layers[0][0].shape[0]
    for weight, bias in layers:
        width = bucket(weight.shape[1])
        w = np.zeros((fan_in, width))
        w[: weight.shape[0], : weight.shape[1]] = weight
        b = np.full(width, z0)
        b[: bias.shape[0]] = bias
        padded.append((w, b))
        fan_in = width
    return tuple(padded)
