"""The order-to-chaos phase diagram of :func:`actlab.gradflow.phase_diagram`, drawn."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from actlab.gradflow import PhaseDiagram


def phase_diagram(
    data: PhaseDiagram,
    *,
    levels: Sequence[float] = (0.5, 0.75, 0.9, 1.1, 1.5, 2.0),
    points: Sequence[tuple[float, float, str]] = (),
) -> Figure:
    r"""``chi_1`` over ``(sigma_w2, sigma_b2)``, one panel per activation.

    Colour is ``log2 chi_1`` (blue: ordered, gradients vanish; red: chaotic, gradients explode);
    thin lines are ``chi_1`` contours at ``levels``; the thick black line is ``chi_1 = 1``
    contoured from the grid, and the markers are critical points solved exactly; hatching marks
    where ``q*`` diverges (unbounded activations).

    Args:
      data: from :func:`actlab.gradflow.phase_diagram`.
      levels: ``chi_1`` contour levels.
      points: ``(sigma_w2, sigma_b2, label)`` to mark on every panel (networks of interest).

    Returns:
      The figure.

    Example:
      >>> from actlab import gradflow
      >>> fig = phase_diagram(gradflow.phase_diagram(["tanh"], [0.5, 1.5, 2.5], [0.0, 0.1]))
      >>> len(fig.axes)  # one panel and the colour bar
      2
    """
    fig = Figure(figsize=(4.6 * len(data.chi1) + 0.8, 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(data.chi1), sharey=True, squeeze=False)[0])
    norm = Normalize(vmin=-2.0, vmax=2.0)
    mesh = None
    for ax, name in zip(axes, data.chi1, strict=True):
        mesh = _draw_panel(ax, data, name, norm, sorted(levels), points)
    colorbar = fig.colorbar(mesh, ax=list(axes), label=r"$\chi_1$ (log scale)")
    ticks = np.arange(-2, 3)
    colorbar.set_ticks(ticks, labels=[f"{2.0**t:g}" for t in ticks])
    axes[0].set_ylabel(r"$\sigma_b^2$")
    return fig


def _draw_panel(
    ax, data: PhaseDiagram, name: str, norm: Normalize, levels: list[float],
    points: Sequence[tuple[float, float, str]],
):  # fmt: skip
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
    for k, (sigma_w2, sigma_b2, label) in enumerate(points):
        ax.plot(sigma_w2, sigma_b2, "*", markersize=11, color=f"C{k + 1}",
                markeredgecolor="black", label=label)  # fmt: skip
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], loc="upper left", fontsize=7)
    ax.set_title(name)
    ax.set_xlabel(r"$\sigma_w^2$")
    return mesh


def _line_handle(label: str) -> Line2D:
    return Line2D([], [], color="black", linewidth=2.2, label=label)
