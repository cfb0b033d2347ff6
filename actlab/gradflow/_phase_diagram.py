r"""The order-to-chaos phase diagram: ``chi_1`` over ``(sigma_w2, sigma_b2)``, critical line solved.

Poole et al. (2016) and Schoenholz et al. (2017) draw, for tanh networks, the plane of weight and
bias variances split by the critical line ``chi_1 = 1`` into an ordered phase (vanishing
gradients) and a chaotic phase (exploding gradients). :func:`phase_diagram` computes ``chi_1`` on
a grid for any activations; :func:`actlab.plot.phase_diagram` draws it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from actlab import activations as A
from actlab.checks import integer, message, show
from actlab.gradflow._meanfield import DivergenceError, MeanField
from actlab.io import floats, jsonable

DEFAULT_SIGMA_W2 = tuple(np.linspace(0.5, 4.0, 36).tolist())
"""The default weight-variance grid."""
DEFAULT_SIGMA_B2 = tuple(np.linspace(0.0, 0.5, 26).tolist())
"""The default bias-variance grid."""


@dataclass(frozen=True)
class PhaseDiagram:
    """The numbers behind a phase-diagram figure.

    Attributes:
      sigma_w2: ``(n_w,)`` weight variances (the x axis).
      sigma_b2: ``(n_b,)`` bias variances (the y axis).
      chi1: activation name -> ``(n_b, n_w)`` array of ``chi_1``; ``nan`` where ``q*`` diverges
        and ``chi_1`` is undefined.
      diverges: activation name -> ``(n_b, n_w)`` bool, ``True`` where ``q*`` diverges.
      critical_sigma_b2: ``(k,)`` bias variances at which the critical line was solved.
      critical_sigma_w2: activation name -> ``(k,)`` critical ``sigma_w2`` (``chi_1 = 1``, from
        ``MeanField.critical_sigma_w2``); ``nan`` where there is none inside the ``sigma_w2`` range.
    """

    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    chi1: dict[str, np.ndarray]
    diverges: dict[str, np.ndarray]
    critical_sigma_b2: np.ndarray
    critical_sigma_w2: dict[str, np.ndarray]

    def to_dict(self) -> dict:
        """JSON-ready nested lists (:func:`actlab.io.jsonable`: ``nan`` becomes ``None``)."""
        return jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> PhaseDiagram:
        """Inverse of :meth:`to_dict`."""
        return cls(
            sigma_w2=floats(d["sigma_w2"]),
            sigma_b2=floats(d["sigma_b2"]),
            chi1={k: floats(v) for k, v in d["chi1"].items()},
            diverges={k: np.asarray(v, dtype=bool) for k, v in d["diverges"].items()},
            critical_sigma_b2=floats(d["critical_sigma_b2"]),
            critical_sigma_w2={k: floats(v) for k, v in d["critical_sigma_w2"].items()},
        )


def _grid(name: str, values: Sequence[float] | np.ndarray, *, positive: bool) -> np.ndarray:
    grid = np.asarray(values, dtype=float)
    bound = "> 0" if positive else ">= 0"
    ok = grid.ndim == 1 and grid.size >= 2 and np.all(np.isfinite(grid))
    ok = ok and np.all(np.diff(grid) > 0) and (grid[0] > 0 if positive else grid[0] >= 0)
    if not ok:
        raise ValueError(
            message(name, f"a strictly increasing grid of at least 2 finite values {bound}",
                    show(values), where="phase_diagram")
        )  # fmt: skip
    return grid


def phase_diagram(
    acts: Sequence[A.ActivationLike] = ("tanh", "relu"),
    sigma_w2: Sequence[float] | np.ndarray = DEFAULT_SIGMA_W2,
    sigma_b2: Sequence[float] | np.ndarray = DEFAULT_SIGMA_B2,
    *,
    n_critical: int = 6,
) -> PhaseDiagram:
    """``chi_1`` on the grid and the critical line at ``n_critical`` bias variances.

    Args:
      acts: activations (names, ``actlab.activations.get`` results or callables).
      sigma_w2: ``(n_w,)`` increasing weight variances, ``> 0``.
      sigma_b2: ``(n_b,)`` increasing bias variances, ``>= 0``.
      n_critical: number of evenly spaced bias variances (spanning ``sigma_b2``) at which the
        critical ``sigma_w2`` is solved exactly.

    Returns:
      A ``PhaseDiagram``, keyed by ``MeanField(act).name`` (``"tanh"``,
      ``"leaky_relu(negative_slope=0.2)"``).
    """
    if not acts:
        raise ValueError(message("acts", "at least one activation", "none", where="phase_diagram"))
    sigma_w2 = _grid("sigma_w2", sigma_w2, positive=True)
    sigma_b2 = _grid("sigma_b2", sigma_b2, positive=False)
    integer(n_critical, "n_critical", minimum=1, where="phase_diagram")
    critical_b2 = np.linspace(sigma_b2[0], sigma_b2[-1], n_critical)
    chi1, diverges, critical = {}, {}, {}
    for act in acts:
        mf = MeanField(act)
        if mf.name in chi1:
            raise ValueError(
                message("acts", "distinct activations", f"{mf.name!r} twice", where="phase_diagram")
            )
        values = np.full((sigma_b2.size, sigma_w2.size), np.nan)
        divergent = np.zeros(values.shape, dtype=bool)
        for i, b2 in enumerate(sigma_b2):
            for j, w2 in enumerate(sigma_w2):
                try:
                    q = mf.q_star(float(w2), float(b2))
                except DivergenceError:  # chi_1 may still exist (ReLU: sigma_w2 / 2)
                    divergent[i, j] = True
                    values[i, j] = _chi1_or_nan(mf, float(w2), float(b2))
                else:
                    values[i, j] = mf.chi1(float(w2), float(b2), q=q)
        line = np.full(critical_b2.size, np.nan)
        for k, b2 in enumerate(critical_b2):
            try:
                value = mf.critical_sigma_w2(float(b2), bracket=(sigma_w2[0], sigma_w2[-1]))
            except ValueError:  # chi_1 does not cross 1 inside the range (or q* diverges first)
                continue
            if sigma_w2[0] <= value <= sigma_w2[-1]:  # closed forms ignore the bracket
                line[k] = value
        chi1[mf.name], diverges[mf.name], critical[mf.name] = values, divergent, line
    return PhaseDiagram(sigma_w2, sigma_b2, chi1, diverges, critical_b2, critical)


def _chi1_or_nan(mf: MeanField, sigma_w2: float, sigma_b2: float) -> float:
    try:
        return mf.chi1(sigma_w2, sigma_b2)
    except DivergenceError:
        return math.nan
