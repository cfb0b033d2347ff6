"""A registry activation reduced to what region counting needs: kinks and affine pieces."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from actlab import activations as A


@dataclasses.dataclass(frozen=True)
class PiecewiseLinear:
    """A continuous piecewise-linear activation ``sigma``, piece by piece.

    Piece ``p`` (``0 <= p <= m``) holds ``kinks[p - 1] < z <= kinks[p]`` (with
    ``kinks[-1] = -inf`` and ``kinks[m] = +inf``): the piece index of ``z`` is the number of kinks
    below ``z``, and there ``sigma(z) = slopes[p] * z + intercepts[p]``.

    Attributes:
      name: registry name.
      kinks: the ``m`` kink locations, increasing.
      slopes: the ``m + 1`` slopes, left to right.
      intercepts: the ``m + 1`` intercepts, left to right.
    """

    name: str
    kinks: tuple[float, ...]
    slopes: tuple[float, ...]
    intercepts: tuple[float, ...]

    def piece_index(self, z: np.ndarray) -> np.ndarray:
        """Piece index (``int8``) of each pre-activation: the number of kinks below it."""
        index = np.zeros(np.shape(z), dtype=np.int8)
        for kink in self.kinks:
            index += z > kink
        return index


def resolve(activation: str, params: Mapping[str, float] | None = None) -> PiecewiseLinear:
    """Look ``activation`` up in :mod:`actlab.activations` and return its pieces.

    Args:
      activation: a registry name, e.g. ``"relu"`` or ``"leaky_relu"``.
      params: the activation's shape parameters, e.g. ``{"negative_slope": 0.1}``; defaults when
        ``None``.

    Returns:
      The activation's :class:`PiecewiseLinear` description.

    Raises:
      TypeError: if ``activation`` is not a string.
      ValueError: if the name is unknown or the activation is not piecewise linear.
    """
    if not isinstance(activation, str):
        raise TypeError(
            "activation: expected a registry name (str), e.g. 'relu', received "
            f"{type(activation).__name__}"
        )
    if activation not in A.names():
        raise ValueError(f"activation: expected one of {A.names()}, received {activation!r}")
    spec = A.spec(activation)
    if not spec.piecewise_linear:
        linear = tuple(n for n in A.names() if A.spec(n).piecewise_linear)
        raise ValueError(
            f"activation: expected a piecewise-linear activation, one of {linear}; received "
            f"{activation!r}, which is not piecewise linear (spec(...).piecewise_linear is False)"
        )
    pieces = spec.pieces(**dict(params or {}))
    kinks = tuple(float(k) for k in spec.kinks)
    if len(pieces) != len(kinks) + 1:
        raise ValueError(
            f"activation {activation!r}: expected {len(kinks) + 1} pieces for {len(kinks)} kinks, "
            f"received {len(pieces)} from spec(...).pieces"
        )
    return PiecewiseLinear(
        name=activation,
        kinks=kinks,
        slopes=tuple(float(slope) for slope, _ in pieces),
        intercepts=tuple(float(intercept) for _, intercept in pieces),
    )
