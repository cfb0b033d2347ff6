"""The two figures: dead units in training, and networks born dead."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from actlab.experiments.dying_relu._config import ACTIVATIONS, COLORS, LABELS, Config


def index(cfg: Config, kind: str, value: float) -> int:
    for i, (k, lr, b) in enumerate(cfg.conditions()):
        if k == kind and (lr if kind == "learning rate" else b) == value:
            return i
    raise ValueError(f"no {kind} condition {value}")


def training_figure(cfg: Config, res: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(13.5, 7.4), layout="constrained")
    axes = fig.subplots(2, 3)
    steps = res["steps"]
    large = index(cfg, "learning rate", cfg.learning_rates[-1])
    low = index(cfg, "bias", cfg.highlight_bias)
    base = index(cfg, "learning rate", cfg.baseline_lr)
    lrs = list(cfg.learning_rates)
    biases = [0.0, *cfg.biases]
    bias_rows = [base] + [index(cfg, "bias", b) for b in cfg.biases]
    for name in ACTIVATIONS:
        style = {"color": COLORS[name], "label": LABELS[name], "marker": "o", "ms": 3}
        rows = res[name]
        for ax, c in ((axes[0, 0], large), (axes[1, 0], low)):
            if rows[c]["dead_curve"] is not None:
                ax.plot(steps, 100 * np.asarray(rows[c]["dead_curve"]), **style)
            else:
                ax.plot([], [], ls="none", **style)
        for row, xs, idx in ((0, lrs, range(len(lrs))), (1, biases, bias_rows)):
            dead = [rows[i]["dead_final"] for i in idx]
            acc = [rows[i]["test_accuracy"] for i in idx]
            finite = [v is not None for v in dead]
            xs_ok = [x for x, f in zip(xs, finite, strict=True) if f]
            axes[row, 1].plot(xs_ok, [100 * v for v in dead if v is not None], **style)
            axes[row, 2].plot(xs_ok, [100 * v for v in acc if v is not None], **style)
            bad = [x for x, f in zip(xs, finite, strict=True) if not f]
            if bad:
                axes[row, 2].plot(bad, [0.0] * len(bad), "x", color=COLORS[name], ms=9)
        init = [rows[i]["dead_init"] for i in bias_rows]
        axes[1, 1].plot(biases, [100 * v for v in init], ls=":", color=COLORS[name], lw=1)
    axes[0, 0].set_title(f"learning rate {cfg.learning_rates[-1]:g}, zero biases", fontsize=9)
    axes[1, 0].set_title(
        f"learning rate {cfg.baseline_lr:g}, hidden biases {cfg.highlight_bias:g}", fontsize=9
    )
    for ax in axes[:, 0]:
        ax.set_xlabel("gradient-descent step")
        ax.set_ylabel("dead units (%)")
    axes[0, 1].set_title("after training (finite runs)", fontsize=9)
    axes[1, 1].set_title("after training; dotted: at initialisation", fontsize=9)
    axes[0, 2].set_title("test accuracy; x: every seed diverged (NaN)", fontsize=9)
    axes[1, 2].set_title("test accuracy", fontsize=9)
    for row, label in ((0, "learning rate (zero biases)"), (1, "initial hidden bias")):
        axes[row, 1].set_ylabel("dead units (%)")
        axes[row, 2].set_ylabel("test accuracy (%)")
        for ax in axes[row, 1:]:
            ax.set_xlabel(label)
            if row == 0:
                ax.set_xscale("log")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(
        f"Dead units (never active on the {res['train_size']} training digits), "
        f"MLP 64-{cfg.width}x{cfg.depth}-10, full-batch GD, {cfg.seeds} seeds"
    )
    return fig


def born_figure(cfg: Config, born: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    depths = np.asarray(born["depths"])
    colors = _colors(len(cfg.born_widths))
    for color, n in zip(colors, cfg.born_widths, strict=True):
        r = born[str(n)]
        ax.plot(depths, r["formula"], "-", color=color, lw=1.2, label=f"N = {n}: 1 - (1 - 2^-N)^L")
        ax.errorbar(
            depths,
            r["per_input"],
            yerr=2 * np.asarray(r["per_input_stderr"]),
            fmt="o",
            ms=3,
            color=color,
            label=f"N = {n}: one input zeroed (measured)",
        )
        ax.plot(depths, r["whole_batch"], "s", mfc="none", ms=4, color=color)
    ax.plot([], [], "s", mfc="none", color="0.4", label="whole batch zeroed (measured)")
    ax.set_xlabel("depth L (hidden layers)")
    ax.set_ylabel("probability the network is dead")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(
        f"Born dead: {cfg.born_seeds} He-initialised zero-bias ReLU networks per width, "
        f"{cfg.born_inputs} Gaussian inputs",
        fontsize=9,
    )
    return fig


def _colors(n: int) -> list[Any]:
    """``n`` distinct colours from matplotlib's viridis map."""
    return [matplotlib.colormaps["viridis"](v) for v in np.linspace(0.0, 0.85, n)]
