r"""Bounds on the number of linear regions of a ReLU network, as exact Python integers.

A network with ``n0`` inputs and hidden widths ``widths = (n_1, ..., n_L)`` of ReLU units splits
its input space into activation regions. These functions give the classical bounds on the *largest*
number of regions any choice of weights can reach:

- :func:`zaslavsky`: ``n`` hyperplanes in ``R^d`` (one layer) make at most
  :math:`\sum_{j=0}^{d} \binom{n}{j}` regions, reached in general position (Zaslavsky 1975).
- :func:`montufar_upper`: :math:`\prod_l \sum_{j=0}^{d_l} \binom{n_l}{j}` with
  :math:`d_l = \min(n_0, n_1, \dots, n_l)` (Montufar 2017).
- :func:`serra_upper`: Theorem 1 of Serra, Tjandraatmadja and Ramalingam (2018), tighter than
  :func:`montufar_upper`.
- :func:`montufar_lower`: Montufar, Pascanu, Cho and Bengio (2014), for widths ``>= n0``.
- :func:`serra_lower`: Serra et al. (2018), Theorem 6, for widths ``>= 3 n0``.

They hold for ReLU (two pieces per unit); exact counts of a particular network
(:func:`actlab.regions.count_plane`, :func:`actlab.regions.count_line`) lie below the upper bounds,
with ``n0 = 2`` for a plane and ``n0 = 1`` for a line.

References:
  T. Zaslavsky, Facing up to arrangements, Mem. AMS 154 (1975).
  G. Montufar, R. Pascanu, K. Cho, Y. Bengio, On the number of linear regions of deep neural
  networks, NeurIPS 2014.
  G. Montufar, Notes on the number of linear regions of deep neural networks, SampTA 2017.
  T. Serra, C. Tjandraatmadja, S. Ramalingam, Bounding and counting linear regions of deep neural
  networks, ICML 2018.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb, prod

from actlab.checks import integer, message, show

__all__ = ["montufar_lower", "montufar_upper", "serra_lower", "serra_upper", "zaslavsky"]


def _check_widths(n0: object, widths: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    n0 = integer(n0, "n0", minimum=1)
    if isinstance(widths, str | bytes) or not isinstance(widths, Sequence):
        raise TypeError(message("widths", "a sequence of layer widths", show(widths)))
    if len(widths) == 0:
        raise ValueError(message("widths", "at least one hidden layer", "an empty sequence"))
    return n0, tuple(integer(w, f"widths[{i}]", minimum=1) for i, w in enumerate(widths))


def _sum_binomials(n: int, d: int) -> int:
    """:math:`\\sum_{j=0}^{d} \\binom{n}{j}` (terms with ``j > n`` are zero)."""
    return sum(comb(n, j) for j in range(min(n, d) + 1))


def zaslavsky(n: int, d: int) -> int:
    r"""Largest number of regions cut from ``R^d`` by ``n`` hyperplanes: one layer of ``n`` units.

    .. math:: r(n, d) = \sum_{j=0}^{d} \binom{n}{j}

    reached exactly when the hyperplanes are in general position; ``2^n`` when ``d >= n``.

    Args:
      n: number of hyperplanes (units), ``>= 0``.
      d: dimension of the space (inputs), ``>= 0``.

    Returns:
      The bound as a Python ``int``.

    Example:
      >>> zaslavsky(3, 2)  # three lines in the plane, e.g. x = 0, y = 0, x + y = 1
      7
    """
    return _sum_binomials(integer(n, "n", minimum=0), integer(d, "d", minimum=0))


def montufar_upper(n0: int, widths: Sequence[int]) -> int:
    r"""Upper bound of Montufar (2017): each layer cuts a space of dimension at most ``d_l``.

    .. math:: \prod_{l=1}^{L} \sum_{j=0}^{d_l} \binom{n_l}{j}, \qquad
              d_l = \min(n_0, n_1, \dots, n_l)

    Args:
      n0: input dimension, ``>= 1``.
      widths: hidden widths ``(n_1, ..., n_L)``, each ``>= 1``.

    Returns:
      The bound as a Python ``int``; at most ``2 ** sum(widths)``.

    Example:
      >>> montufar_upper(2, [3, 3])
      49
    """
    n0, widths = _check_widths(n0, widths)
    dims = [min(n0, *widths[: l + 1]) for l in range(len(widths))]
    return prod(_sum_binomials(n, d) for n, d in zip(widths, dims, strict=True))


def serra_upper(n0: int, widths: Sequence[int]) -> int:
    r"""Upper bound of Serra, Tjandraatmadja and Ramalingam (2018), Theorem 1.

    .. math:: \sum_{(j_1, \dots, j_L) \in J} \prod_{l=1}^{L} \binom{n_l}{j_l}, \quad
              J = \{ j \in \mathbb{Z}^L : 0 \le j_l \le
                     \min(n_0, n_1 - j_1, \dots, n_{l-1} - j_{l-1}, n_l) \}

    Computed as a dynamic programme over the running dimension cap
    :math:`c_l = \min(n_0, n_1 - j_1, \dots, n_l - j_l)` (a region's dimension after layer ``l``
    cannot exceed it): the weight of each cap is summed over the ways to reach it, so the cost is
    ``O(L * n0 * max(widths))`` instead of the size of ``J``. Exact for ``L = 1`` (it equals
    :func:`zaslavsky`) and for ``n0 = 1`` with widths ``>= 3`` (it equals ``prod(n_l + 1)``).

    Args:
      n0: input dimension, ``>= 1``.
      widths: hidden widths ``(n_1, ..., n_L)``, each ``>= 1``.

    Returns:
      The bound as a Python ``int``; never above :func:`montufar_upper`.

    Example:
      >>> serra_upper(1, [3, 3, 3])  # (n + 1) ** L for a one-dimensional input
      64
    """
    n0, widths = _check_widths(n0, widths)
    weight_by_cap = {n0: 1}  # ways (weighted by binomials) to reach each running cap
    for n in widths:
        following: dict[int, int] = {}
        for cap, weight in weight_by_cap.items():
            for j in range(min(cap, n) + 1):
                next_cap = min(cap, n - j)
                following[next_cap] = following.get(next_cap, 0) + weight * comb(n, j)
        weight_by_cap = following
    return sum(weight_by_cap.values())


def montufar_lower(n0: int, widths: Sequence[int]) -> int:
    r"""Lower bound of Montufar, Pascanu, Cho and Bengio (2014): some network reaches this many.

    .. math:: \left(\prod_{l=1}^{L-1} \lfloor n_l / n_0 \rfloor^{n_0}\right)
              \sum_{j=0}^{n_0} \binom{n_L}{j}

    Args:
      n0: input dimension, ``>= 1``.
      widths: hidden widths ``(n_1, ..., n_L)``, each ``>= n0`` (the theorem's condition).

    Returns:
      The bound as a Python ``int``.

    Raises:
      ValueError: if a width is below ``n0``.

    Example:
      >>> montufar_lower(1, [3, 3])
      12
    """
    n0, widths = _check_widths(n0, widths)
    for l, n in enumerate(widths):
        if n < n0:
            raise ValueError(
                message(f"widths[{l}]", f"a width >= n0 = {n0}", str(n), where="montufar_lower")
            )
    return prod((n // n0) ** n0 for n in widths[:-1]) * _sum_binomials(widths[-1], n0)


def serra_lower(n0: int, widths: Sequence[int]) -> int:
    r"""Lower bound of Serra, Tjandraatmadja and Ramalingam (2018), Theorem 6.

    .. math:: \left(\prod_{l=1}^{L-1} (\lfloor n_l / n_0 \rfloor + 1)^{n_0}\right)
              \sum_{j=0}^{n_0} \binom{n_L}{j}

    Args:
      n0: input dimension, ``>= 1``.
      widths: hidden widths ``(n_1, ..., n_L)``, each ``>= 3 * n0`` (the theorem's condition).

    Returns:
      The bound as a Python ``int``; never below :func:`montufar_lower`.

    Raises:
      ValueError: if a width is below ``3 * n0``.

    Example:
      >>> serra_lower(1, [3, 3])  # equals serra_upper(1, [3, 3]): tight in one dimension
      16
    """
    n0, widths = _check_widths(n0, widths)
    for l, n in enumerate(widths):
        if n < 3 * n0:
            raise ValueError(
                message(
                    f"widths[{l}]", f"a width >= 3 * n0 = {3 * n0}", str(n), where="serra_lower"
                )
            )
    return prod((n // n0 + 1) ** n0 for n in widths[:-1]) * _sum_binomials(widths[-1], n0)
