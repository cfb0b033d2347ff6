r"""The order-to-chaos phase diagram: ``chi_1`` over ``(sigma_w2, sigma_b2)``, critical line drawn.

Poole et al. (2016) and Schoenholz et al. (2017) draw, for tanh networks, the plane of weight and
bias variances split by the critical line ``chi_1 = 1`` into an ordered phase (vanishing
gradients) and a chaotic phase (exploding gradients). ``phase_diagram`` computes ``chi_1`` on a
grid for any activations and draws one panel per activation; the caller saves the figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from actlab.gradflow.theory import ActivationLike, DivergenceError, MeanField


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
        """JSON-ready nested lists; ``nan`` becomes ``None``."""

        def plain(x: np.ndarray) -> list:
            return np.where(np.isnan(x), None, x).tolist() if x.dtype.kind == "f" else x.tolist()

        return {
            "sigma_w2": plain(self.sigma_w2),
            "sigma_b2": plain(self.sigma_b2),
            "chi1": {k: plain(v) for k, v in self.chi1.items()},
            "diverges": {k: plain(v) for k, v in self.diverges.items()},
            "critical_sigma_b2": plain(self.critical_sigma_b2),
            "critical_sigma_w2": {k: plain(v) for k, v in self.critical_sigma_w2.items()},
        }


def _grid(name: str, values: Sequence[float] | np.ndarray, *, positive: bool) -> np.ndarray:
    grid = np.asarray(values, dtype=float)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(f"{name} must be a 1D grid of at least 2 values, got shape {grid.shape}")
    if not (np.all(np.isfinite(grid)) and np.all(np.diff(grid) > 0)):
        raise ValueError(f"{name} must be finite and strictly increasing, got {grid}")
    if grid[0] < 0.0 or (positive and grid[0] == 0.0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {grid[0]}")
    return grid


def compute_phase_diagram(
    acts: Sequence[ActivationLike],
    sigma_w2: Sequence[float] | np.ndarray,
    sigma_b2: Sequence[float] | np.ndarray,
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
    sigma_w2 = _grid("sigma_w2", sigma_w2, positive=True)
    sigma_b2 = _grid("sigma_b2", sigma_b2, positive=False)
    if n_critical < 1:
        raise ValueError(f"n_critical must be >= 1, got {n_critical}")
    critical_b2 = np.linspace(sigma_b2[0], sigma_b2[-1], n_critical)
    chi1, diverges, critical = {}, {}, {}
    for act in acts:
        mf = MeanField(act)
        if mf.name in chi1:
            raise ValueError(f"acts must have distinct names; {mf.name!r} appears twice")
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


def phase_diagram(
    acts: Sequence[ActivationLike] = ("tanh", "relu"),
    *,
    sigma_w2: Sequence[float] | np.ndarray | None = None,
    sigma_b2: Sequence[float] | np.ndarray | None = None,
    levels: Sequence[float] = (0.5, 0.75, 0.9, 1.1, 1.5, 2.0),
    n_critical: int = 6,
) -> tuple[Figure, PhaseDiagram]:
    r"""Draw ``chi_1`` over ``(sigma_w2, sigma_b2)``, one panel per activation.

    Colour is ``log2 chi_1`` (blue: ordered, gradients vanish; red: chaotic, gradients explode);
    thin lines are ``chi_1`` contours at ``levels``; the thick black line is ``chi_1 = 1``
    contoured from the grid, and the markers are critical points solved exactly; hatching marks
    where ``q*`` diverges (unbounded activations).

    Args:
      acts: activations to draw.
      sigma_w2: weight-variance grid; default ``linspace(0.5, 4, 36)``.
      sigma_b2: bias-variance grid; default ``linspace(0, 0.5, 26)``.
      levels: ``chi_1`` contour levels.
      n_critical: number of exactly solved critical points per activation.

    Returns:
      ``(figure, data)``: a ``matplotlib.figure.Figure`` (not attached to pyplot; save it with
      ``figure.savefig``) and the ``PhaseDiagram`` it shows.

    Example:
      >>> fig, data = phase_diagram(["tanh"], sigma_w2=[0.5, 1.5, 2.5], sigma_b2=[0.0, 0.1])
      >>> data.chi1["tanh"].shape
      (2, 3)
    """
    if not acts:
        raise ValueError("acts must name at least one activation")
    data = compute_phase_diagram(
        acts,
        np.linspace(0.5, 4.0, 36) if sigma_w2 is None else sigma_w2,
        np.linspace(0.0, 0.5, 26) if sigma_b2 is None else sigma_b2,
        n_critical=n_critical,
    )
    fig = Figure(figsize=(4.6 * len(data.chi1) + 0.8, 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(data.chi1), sharey=True, squeeze=False)[0])
    norm = Normalize(vmin=-2.0, vmax=2.0)
    mesh = None
    for ax, name in zip(axes, data.chi1, strict=True):
        mesh = _draw_panel(ax, data, name, norm, sorted(levels))
    colorbar = fig.colorbar(mesh, ax=list(axes), label=r"$\chi_1$ (log scale)")
    ticks = np.arange(-2, 3)
    colorbar.set_ticks(ticks, labels=[f"{2.0**t:g}" for t in ticks])
    axes[0].set_ylabel(r"$\sigma_b^2$")
    return fig, data


def _draw_panel(ax, data: PhaseDiagram, name: str, norm: Normalize, levels: list[float]):
    w2, b2 = np.meshgrid(data.sigma_w2, data.sigma_b2)
    chi1 = np.ma.masked_invalid(data.chi1[name])
    with np.errstate(divide="ignore"):
        mesh = ax.pcolormesh(w2, b2, np.ma.log2(chi1), cmap="RdBu_r", norm=norm, shading="auto")
    inside = [lv for lv in levels if chi1.min() < lv < chi1.max()] if chi1.count() else []
    if inside:
        lines = ax.contour(w2, b2, chi1, levels=inside, colors="0.25", linewidths=0.8)
        ax.clabel(lines, fmt="%g", fontsize=7)
    handles = []
    if chi1.count() and chi1.min() < 1.0 < chi1.max():
        ax.contour(w2, b2, chi1, levels=[1.0], colors="black", linewidths=2.2)
        handles.append(_line_handle(r"$\chi_1 = 1$ (grid)"))
    found = np.isfinite(data.critical_sigma_w2[name])
    if found.any():
        ax.plot(
            data.critical_sigma_w2[name][found],
            data.critical_sigma_b2[found],
            "o",
            color="black",
            markerfacecolor="white",
            markersize=5,
            label="critical point (solved)",
        )
    if data.diverges[name].any():
        ax.contourf(
            w2,
            b2,
            data.diverges[name].astype(float),
            levels=[0.5, 1.5],
            colors="none",
            hatches=["///"],
        )
        handles.append(Patch(facecolor="none", hatch="///", edgecolor="0.3", label="q* diverges"))
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], loc="upper left", fontsize=7)
    ax.set_title(name)
    ax.set_xlabel(r"$\sigma_w^2$")
    return mesh


def _line_handle(label: str) -> Line2D:
    return Line2D([], [], color="black", linewidth=2.2, label=label)
