"""The two figures: counts against depth, and counts against the number of neurons."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, NullLocator, StrMethodFormatter

from actlab import regions
from actlab.experiments.regions_vs_depth._config import CONDITIONS, ZERO_BIAS, Config

_STYLE = {
    "init_2d": {"color": "#4c72b0", "ls": "-", "label": "init (moons)"},
    "trained_2d": {"color": "#dd8452", "ls": "-", "label": "trained on moons"},
    "init_digits": {"color": "#55a868", "ls": "--", "label": "init (digits)"},
    "trained_digits": {"color": "#c44e52", "ls": "--", "label": "trained on digits"},
    ZERO_BIAS: {"color": "0.5", "ls": ":", "label": "init, zero biases (moons)"},
}
_WIDTH_MARKERS = ("o", "s", "^", "D", "v", "P")


def _series(rows: list[dict[str, Any]], condition: str, width: int) -> list[dict[str, Any]]:
    return sorted(
        (r for r in rows if r["condition"] == condition and r["width"] == width),
        key=lambda r: r["depth"],
    )


def depth_figure(result: dict[str, Any], cfg: Config) -> Figure:
    rows, bounds, tent = result["rows"], result["bounds"], result["tent_map"]
    cols = len(cfg.widths)
    fig = Figure(figsize=(4.2 * max(cols, 2), 7.6), layout="constrained")
    axes = fig.subplots(2, cols, sharey="row", squeeze=False)
    depths = np.asarray(cfg.depths)
    for col, width in enumerate(cfg.widths):
        for row, what in enumerate(("line", "plane")):
            ax = axes[row, col]
            for condition in CONDITIONS:
                series = _series(rows, condition, width)
                if not series:
                    continue
                style = _STYLE[condition]
                d = [r["depth"] for r in series]
                mean = [r[what]["mean"] for r in series]
                low = [r[what]["p10" if what == "line" else "min"] for r in series]
                high = [r[what]["p90" if what == "line" else "max"] for r in series]
                ax.plot(d, mean, marker="o", ms=3.5, color=style["color"], ls=style["ls"],
                        label=style["label"])  # fmt: skip
                ax.fill_between(d, low, high, color=style["color"], alpha=0.15, lw=0)
                if what == "plane":
                    sampled = [np.mean(r["sampled_counts"]) for r in series]
                    ax.plot(d, sampled, ls="none", marker="x", ms=5, color=style["color"])
            serra, montufar = (
                [float(bounds[f"{width}x{d}"][f"{name}_{what}"]) for d in depths]
                for name in ("serra_upper", "montufar_upper")
            )
            if serra == montufar:  # equal widths well above the input dimension
                ax.plot(
                    depths, serra, color="k", ls="--", lw=1.1, label="serra_upper = montufar_upper"
                )
            else:
                ax.plot(depths, serra, color="k", ls="--", lw=1.1, label="serra_upper")
                ax.plot(depths, montufar, color="k", ls=":", lw=1.1, label="montufar_upper")
            ax.plot(tent["depths"], tent[what], color="0.45", marker="^", ms=3.5, lw=1,
                    label="tent map (width 2): $2^L$")  # fmt: skip
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(numticks=7))  # the bounds span ~30 decades
            ax.yaxis.set_minor_locator(NullLocator())
            ax.set_xticks(depths)
            ax.grid(alpha=0.3, which="major")
            if row == 1:
                ax.set_xlabel("hidden layers L")
            if col == 0:
                ax.set_ylabel(
                    "regions on a segment (mean, 10-90%)"
                    if what == "line"
                    else "regions on a plane (x: grid estimate)"
                )
            ax.set_title(f"width {width}: {'segments' if what == 'line' else 'planes'}", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Regions against depth: exact counts, grid estimates, upper bounds and the tent map",
        fontsize=10,
    )
    return fig


def _fitted(ax, neurons, counts, slope: float, **style) -> None:
    """The line ``c N^slope`` through ``(neurons, counts)`` (least squares in ``log c``)."""
    n = np.asarray(neurons, dtype=float)
    intercept = np.mean(np.log(counts) - slope * np.log(n))
    grid = np.unique(n)
    ax.plot(grid, np.exp(intercept) * grid**slope, lw=1.2, **style)


def neuron_figure(result: dict[str, Any], cfg: Config) -> Figure:
    rows, slopes = result["rows"], result["slopes"]
    fig = Figure(figsize=(10.5, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, what in zip(axes, ("line", "plane"), strict=True):
        for condition in ("init_2d", "init_digits", ZERO_BIAS, "trained_2d", "trained_digits"):
            picked = [r for r in rows if r["condition"] == condition]
            if not picked:
                continue
            style = _STYLE[condition]
            faint = condition.startswith("trained")
            for k, width in enumerate(cfg.widths):
                series = [r for r in picked if r["width"] == width]
                ax.plot(
                    [r["neurons"] for r in series],
                    [r[what]["mean"] for r in series],
                    ls="none",
                    marker=_WIDTH_MARKERS[k % len(_WIDTH_MARKERS)],
                    ms=4 if faint else 5,
                    mfc="none" if faint else style["color"],
                    color=style["color"],
                    alpha=0.6 if faint else 0.9,
                )
            slope = slopes.get(f"{condition}_{what}")
            counts = np.array([r[what]["mean"] for r in picked])
            label = style["label"]
            if slope is not None and not faint:
                n_all = [r["neurons"] for r in picked]
                _fitted(ax, n_all, counts, slope, color=style["color"], ls=style["ls"])
                label += f": slope {slope:.2f}"
            ax.plot([], [], color=style["color"], ls=style["ls"], marker="o",
                    mfc="none" if faint else style["color"], label=label)  # fmt: skip
        for k, width in enumerate(cfg.widths):
            ax.plot([], [], ls="none", marker=_WIDTH_MARKERS[k % len(_WIDTH_MARKERS)], color="k",
                    mfc="none", label=f"width {width}")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(StrMethodFormatter("{x:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("neurons N = width x depth")
        ax.set_ylabel(f"mean regions on a {'segment' if what == 'line' else 'plane'}")
        ax.grid(alpha=0.3, which="both")
        expected = "N" if what == "line" else "N^2"
        ax.set_title(f"{'segments' if what == 'line' else 'planes'}: Hanin-Rolnick predict ~ {expected}",
                     fontsize=9)  # fmt: skip
        ax.legend(fontsize=7)
    fig.suptitle("Regions against the number of neurons (filled: initialisation, open: trained)")
    return fig


def space_figure(space: dict[str, Any], cfg: Config) -> Figure:
    """Whole-space counts against ``N`` on log-log axes, one panel per input dimension: each
    network's mean at initialisation (filled) and after training (open), the fitted slope, and
    the arrangement of ``N`` hyperplanes in general position (``N^d / d!`` as ``N`` grows)."""
    rows, slopes = space["rows"], space["slopes"]
    fig = Figure(figsize=(5.0 * len(cfg.space_dims), 4.6), layout="constrained")
    axes = fig.subplots(1, len(cfg.space_dims), squeeze=False)[0]
    for ax, dim, widths in zip(axes, cfg.space_dims, cfg.space_widths, strict=True):
        for condition, color in (("init_space", "#4c72b0"), ("trained_space", "#dd8452")):
            faint = condition == "trained_space"
            for k, width in enumerate(widths):
                series = [r for r in rows if r["condition"] == condition and r["dim"] == dim
                          and r["width"] == width]  # fmt: skip
                ax.plot(
                    [r["neurons"] for r in series], [r["space"]["mean"] for r in series],
                    ls="none", marker=_WIDTH_MARKERS[k % len(_WIDTH_MARKERS)], color=color,
                    mfc="none" if faint else color, ms=5,
                )  # fmt: skip
                if not faint:
                    ax.plot([r["neurons"] for r in series], [r["slice"]["mean"] for r in series],
                            ls="none", marker="x", ms=4, color="0.4")  # fmt: skip
        init = [r for r in rows if r["condition"] == "init_space" and r["dim"] == dim]
        neurons = np.array(sorted({r["neurons"] for r in init}), dtype=float)
        fitted = slopes[str(dim)]
        if fitted["space"] is not None:
            _fitted(ax, [r["neurons"] for r in init], [r["space"]["mean"] for r in init],
                    fitted["space"], color="#4c72b0", label=f"init: slope {fitted['space']:.2f}")  # fmt: skip
        grid = np.arange(int(neurons.min()), int(neurons.max()) + 1)
        arrangement = [regions.bounds.zaslavsky(int(n), dim) for n in grid]
        slope_text = "" if fitted["arrangement"] is None else f": slope {fitted['arrangement']:.2f}"
        ax.plot(grid, arrangement, color="k", ls="--", lw=1,
                label=f"N hyperplanes in general position{slope_text}")  # fmt: skip
        ax.plot(
            [], [], ls="none", marker="o", color="#dd8452", mfc="none", label="trained on blobs"
        )
        ax.plot([], [], ls="none", marker="x", color="0.4", label="init, 2D slice through the data")
        for k, width in enumerate(widths):
            ax.plot([], [], ls="none", marker=_WIDTH_MARKERS[k % len(_WIDTH_MARKERS)], color="k",
                    mfc="none", label=f"width {width}")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(StrMethodFormatter("{x:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("neurons N = width x depth")
        ax.set_ylabel("activation regions in the box around the data")
        ax.set_title(f"d = {dim}: Hanin-Rolnick predict ~ N^{dim}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle("Exact regions of the whole input space against the number of neurons")
    return fig
