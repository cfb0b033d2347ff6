"""A piecewise-linear activation reduced to what region counting needs: kinks and affine pieces."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from actlab import activations as A
from actlab.checks import message, show


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


def resolve(activation: Any) -> PiecewiseLinear:
    """The pieces of a piecewise-linear activation.

    Args:
      activation: a registry name (``"relu"``), an activation from
        :func:`actlab.activations.get` (``get("leaky_relu", negative_slope=0.1)``), or a learnable
        module that computes one (an :class:`actlab.models.PReLU` with a shared slope).

    Returns:
      Its :class:`PiecewiseLinear` description.

    Raises:
      TypeError: a plain callable or another object (no registry activation behind it).
      ValueError: an unknown name, or an activation that is not piecewise linear.
    """
    if isinstance(activation, str):  # a name's pieces never change: look them up once
        return _resolve_name(activation)
    return _resolve(activation)


@functools.lru_cache(maxsize=64)
def _resolve_name(name: str) -> PiecewiseLinear:
    return _resolve(name)


def _resolve(activation: Any) -> PiecewiseLinear:
    registered = A.describe(activation)
    linear = ", ".join(n for n in A.names() if A.spec(n).piecewise_linear)
    expected = f"a piecewise-linear activation ({linear}) or activations.get(...) of one"
    if registered is None:
        raise TypeError(message("activation", expected, show(activation)))
    spec = A.spec(registered.name)
    if not spec.piecewise_linear:
        raise ValueError(message("activation", expected, repr(registered)))
    kink_keyword = spec.kink_keyword
    shape = {k: v for k, v in registered.params.items() if k != kink_keyword}
    pieces = spec.pieces(**shape)
    return PiecewiseLinear(
        name=registered.name,
        kinks=tuple(float(k) for k in spec.kinks),
        slopes=tuple(float(slope) for slope, _ in pieces),
        intercepts=tuple(float(intercept) for _, intercept in pieces),
    )
