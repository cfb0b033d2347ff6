r"""ReLU networks with known region counts: the tent map and the sawtooth (Telgarsky 2015).

The sawtooth with ``n`` teeth, :math:`g(x) = \sum_{i<n} a_i\,\mathrm{relu}(x - i/n)` with
:math:`a_0 = n` and :math:`a_i = 2n(-1)^i`, maps each of the ``n`` intervals
:math:`[i/n, (i+1)/n]` linearly onto ``[0, 1]``. Composed ``L`` times it has ``n^L`` linear pieces
on ``(0, 1)``, and a network of ``L`` hidden layers of ``n`` ReLUs computes it: layer ``l`` holds
:math:`\mathrm{relu}(g^{l-1}(x) - i/n)`. Every unit but the first of each layer crosses zero
inside each piece of :math:`g^{l-1}`; the first touches zero at the valleys without crossing.
So the network has exactly ``n^L`` activation regions on ``(0, 1)``: depth multiplies regions.
The tent map is ``n = 2``; on an interval containing ``[-1, 2]`` it has ``2^L + 2`` regions for
``L >= 2`` (all units off left of 0, the first layer on right of 1).

References:
  M. Telgarsky, Representation benefits of deep feedforward networks, arXiv:1509.08101 (2015).
"""

from __future__ import annotations

import numpy as np

from actlab.checks import integer

__all__ = ["sawtooth", "tent_map"]


def sawtooth(teeth: int, depth: int, *, inputs: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Hidden layers computing the ``depth``-fold composition of the ``teeth``-tooth sawtooth.

    Args:
      teeth: teeth per layer (the width), ``>= 2``.
      depth: number of hidden layers, ``>= 1``.
      inputs: input dimension; only the first input is used (the others get zero weights).

    Returns:
      ``[(W, b), ...]`` float64, ``W`` of shape ``(in, teeth)``; the sawtooth itself is
      ``h @ a`` of the last layer's output ``h`` with ``a`` as in the module docstring.

    Example:
      >>> from actlab.regions import count_line
      >>> count_line(sawtooth(3, 2), np.array([0.0]), np.array([1.0]))
      9
    """
    for name, value, low in (("teeth", teeth, 2), ("depth", depth, 1), ("inputs", inputs, 1)):
        integer(value, name, minimum=low, where="sawtooth")
    shifts = -np.arange(teeth) / teeth
    first = np.zeros((inputs, teeth))
    first[0] = 1.0
    coefficients = 2.0 * teeth * (-1.0) ** np.arange(teeth)
    coefficients[0] = teeth
    hidden = np.outer(coefficients, np.ones(teeth))
    return [(first, shifts)] + [(hidden.copy(), shifts.copy()) for _ in range(depth - 1)]


def tent_map(depth: int, *, inputs: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Hidden layers (width 2) computing the ``depth``-fold tent map: ``sawtooth(2, depth)``.

    Example:
      >>> from actlab.regions import count_line
      >>> count_line(tent_map(4), np.array([0.0]), np.array([1.0]))
      16
    """
    return sawtooth(2, depth, inputs=inputs)
