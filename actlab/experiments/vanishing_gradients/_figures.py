"""The two figures: signals layer by layer, and the first layer against depth."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from actlab.experiments.vanishing_gradients._config import SIGMOID_BOUND, Config
from actlab.experiments.vanishing_gradients._report import gmean, theory_ratio

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def layers_figure(cfg: Config, data: dict, theory: dict, analysis: dict) -> Figure:
    names = cfg.activations
    cols = 4
    rows = -(-(len(names) + 1) // cols)
    fig = Figure(figsize=(3.3 * cols, 3.0 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for a, name in enumerate(names):
        ax = axes[a]
        chi = np.asarray(theory[name]["chi1"])
        for k, depth in enumerate(cfg.shown_depths):
            i = cfg.depths.index(depth)
            delta = data["delta_norm"][:, a, i, :depth]  # (seeds, layers)
            relative = delta / delta[:, -1:]  # each seed's gradient relative to its last layer
            layer = np.arange(1, depth + 1)
            color = _COLORS[k % len(_COLORS)]
            ax.fill_between(layer, relative.min(0), relative.max(0), color=color, alpha=0.2, lw=0)
            ax.plot(layer, gmean(relative, axis=0), color=color, lw=1.4, label=f"L = {depth}")
            ax.plot(layer, theory_ratio(chi, depth), "--", color="k", lw=0.9)
            if name == "sigmoid" and depth == cfg.shown_depths[-1]:
                bound = SIGMOID_BOUND ** (depth - layer)
                ax.plot(layer, bound, ":", color="0.4", lw=1.2, label=r"$0.25^{L-l}$ bound")
        ax.set_yscale("log")
        ax.set_title(
            f"{name}, $\\sigma_w^2$={cfg.sigma_w2[a]:g}: $\\chi_1$(q*)="
            f"{theory[name]['chi1_at_q_star']:.3g}",
            fontsize=9,
        )
        ax.set_xlabel("layer l")
        if a % cols == 0:
            ax.set_ylabel(r"$\|\delta^l\| \,/\, \|\delta^L\|$")
        ax.grid(alpha=0.3, which="both", lw=0.4)
        ax.legend(fontsize=7)
    ax = axes[len(names)]
    deepest = cfg.depths[-1]
    layer = np.arange(1, deepest + 1)
    for a, name in enumerate(names):
        q = gmean(np.asarray(data["q"][:, a, -1, :deepest]), axis=0)
        ax.plot(layer, q, color=_COLORS[a % len(_COLORS)], lw=1.3, label=name)
        ax.plot(layer, theory[name]["q"][:deepest], "--", color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("layer l")
    ax.set_title(f"forward signal $q^l$ (L = {deepest}; dashed: theory)", fontsize=9)
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=7, ncol=2)
    for ax in axes[len(names) + 1 :]:
        ax.axis("off")
    fig.suptitle(
        f"Backward signal per layer relative to the last, $\\|\\delta^l\\| / \\|\\delta^L\\|$ "
        f"(RMS over inputs; width {cfg.width}, {cfg.seeds} seeds: geometric mean, band min-max); "
        "dashed: mean-field theory"
    )
    return fig


def depth_figure(cfg: Config, analysis: dict) -> Figure:
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    depths = np.asarray(cfg.depths)
    for a, name in enumerate(cfg.activations):
        color = _COLORS[a % len(_COLORS)]
        v = analysis[name]
        ax.plot(depths, v["first_layer_ratio_gmean"], "o-", ms=3, color=color, lw=1.2, label=name)
        ax.plot(depths, v["first_layer_ratio_theory"], "--", color=color, lw=0.9)
    if "sigmoid" in cfg.activations:
        ax.plot(depths, SIGMOID_BOUND ** (depths - 1.0), ":", color="k", lw=1.3,
                label=r"$0.25^{L-1}$ (sigmoid bound)")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("depth L (hidden layers)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(r"$\|\delta^1\| / \|\delta^L\|$")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(
        "Gradient reaching the first layer, relative to the last "
        f"(width {cfg.width}, {cfg.seeds} seeds; dashed: mean-field theory)",
        fontsize=9,
    )
    return fig
