"""The partition of a trained classifier's input plane: ReLU against leaky ReLU, at several depths.

A piecewise-linear network cuts its input plane into convex activation regions, on each of which
it is affine; the decision boundary is straight inside every region and bends only where it
crosses a region boundary. The first layer's units contribute straight lines across the whole
plane; deeper units bend along the boundaries of the layers before them, and the count grows with
depth. Neighbouring regions with the same affine map form one *linear* region: with ReLU that can
happen where a whole layer is off, while a leaky ReLU (slope ``a > 0``) never merges two
neighbouring regions.

:func:`run` trains ReLU and leaky-ReLU networks of one width and several depths on the ``spirals``
data set (several seeds each), takes the exact partition of the box around the data
(:func:`actlab.regions.partition_plane`), and counts activation and linear regions. It writes
``partitions.json`` and the figure ``partitions`` (PNG and SVG): one panel per activation and
depth, each region filled with its own colour (per linear region; activation regions inside one
keep thin white edges), the exact decision boundary in black and the first layer's unit lines
dashed.

Example::

    >>> from actlab.experiments import partitions
    >>> result = partitions.run("out/partitions", quick=True)
    >>> result["claims"]["areas_sum_to_box"], result["claims"]["linear_le_activation"]
    (True, True)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from actlab import activations as A
from actlab import data, plot, regions, train
from actlab.experiments import _setup
from actlab.experiments._setup import Presets
from actlab.models import MLP, hidden_layers, output_layer

__all__ = ["Config", "run"]

NAME = "partitions"
LOSS = "sigmoid_binary_cross_entropy"
ACTIVATIONS = ("relu", "leaky_relu")
_CLASS_COLORS = ("#1f3a93", "#b34700")


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      width: hidden units per layer.
      depths: numbers of hidden layers (one figure column each).
      leaky_slope: the leaky ReLU's negative slope.
      seeds: networks per activation and depth (the figure shows the first).
      sigma_b2: bias variance at initialisation (weights: He).
      n: spirals training points.
      turns: turns of each spiral arm.
      steps: full-batch Adam steps.
      learning_rate: Adam's learning rate.
    """

    width: int = 8
    depths: tuple[int, ...] = (1, 2, 4, 6)
    leaky_slope: float = 0.1
    seeds: int = 4
    sigma_b2: float = 0.01
    n: int = 300
    turns: float = 1.0
    steps: int = 2000
    learning_rate: float = 0.01

    @classmethod
    def quick(cls) -> Config:
        """Seconds: two depths, one seed, fewer steps."""
        return cls(depths=(1, 3), seeds=1, n=200, steps=600)

    def check(self) -> None:
        """``ValueError`` naming the first setting out of range."""
        if not self.depths or any(not isinstance(d, int) or d < 1 for d in self.depths):
            raise ValueError(
                f"Config: depths: expected a non-empty tuple of ints >= 1, received {self.depths!r}"
            )
        for name in ("width", "seeds", "n", "steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(
                    f"Config: {name}: expected an int >= 1, received {getattr(self, name)!r}"
                )
        if not 0 < self.leaky_slope < 1:
            raise ValueError(
                f"Config: leaky_slope: expected a slope in (0, 1), received {self.leaky_slope!r}"
            )


def _activation(name: str, cfg: Config) -> A.Activation:
    return A.get(name, negative_slope=cfg.leaky_slope) if name == "leaky_relu" else A.get(name)


def _network(
    activation: str, depth: int, member: int, ds: data.Dataset, cfg: Config, seed: int, tx: Any
) -> tuple[MLP, float]:
    """A trained network and its full-batch training accuracy at the last step."""
    model = MLP(
        2,
        [cfg.width] * depth,
        1,
        activation=_activation(activation, cfg),
        sigma_b2=cfg.sigma_b2,
        rngs=nnx.Rngs(jax.random.fold_in(jax.random.key(seed), member)),
    )
    history = train.fit(
        model, ds.x, ds.y, optimizer=tx, loss=LOSS, steps=cfg.steps,
        record_every=cfg.steps, layer_steps=[cfg.steps - 1], progress=False,
    )  # fmt: skip
    return model, float(history.accuracy[-1])


def _panel(
    activation: str, depth: int, ds: data.Dataset, box: np.ndarray, cfg: Config, seed: int, tx: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Counts over the seeds of one activation and depth; the first seed's network and partition."""
    counts, linear, accuracy, area_error = [], [], [], []
    shown: dict[str, Any] = {}
    for member in range(cfg.seeds):
        model, acc = _network(activation, depth, member, ds, cfg, seed, tx)
        part = regions.partition_plane(
            hidden_layers(model), bounds=box, activation=_activation(activation, cfg)
        )
        counts.append(part.count)
        linear.append(part.count_linear())
        accuracy.append(acc)
        box_area = float(np.prod(box[:, 1] - box[:, 0]))
        area_error.append(abs(float(part.areas.sum()) - box_area) / box_area)
        if member == 0:
            shown = {"partition": part, "model": model}
    result = {
        "activation": activation,
        "depth": depth,
        "activation_regions": counts,
        "linear_regions": linear,
        "accuracy": accuracy,
        "area_relative_error": max(area_error),
    }
    return result, shown


def _figure(cfg: Config, panels: list[dict], shown: list[dict], ds: data.Dataset) -> Figure:
    cols = len(cfg.depths)
    fig = Figure(figsize=(3.0 * cols + 0.4, 6.4), layout="constrained")
    axes = fig.subplots(len(ACTIVATIONS), cols, squeeze=False)
    for panel, drawn in zip(panels, shown, strict=True):
        row, col = ACTIVATIONS.index(panel["activation"]), cfg.depths.index(panel["depth"])
        ax = axes[row, col]
        part, model = drawn["partition"], drawn["model"]
        plot.draw_partition(ax, part, readout=output_layer(model), seed=col + 10 * row)
        plot.draw_unit_lines(ax, *hidden_layers(model)[0], part.bounds, linewidths=0.8)
        for c in (0, 1):
            pts = ds.x[ds.y == c]
            ax.scatter(pts[:, 0], pts[:, 1], s=4, color=_CLASS_COLORS[c], linewidths=0)
        name = "ReLU" if panel["activation"] == "relu" else f"leaky ReLU ({cfg.leaky_slope:g})"
        ax.set_title(
            f"{name}, {panel['depth']} x {cfg.width} units\n"
            f"{panel['activation_regions'][0]} regions ({panel['linear_regions'][0]} linear), "
            f"acc. {100 * panel['accuracy'][0]:.0f}%",
            fontsize=8,
        )
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "Classifiers trained on spirals: regions (colours),\n"
        "decision boundary (black), first-layer units (dashed)",
        fontsize=10,
    )
    return fig


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _claims(panels: list[dict[str, Any]]) -> dict[str, bool]:
    def means(activation: str) -> list[float]:
        ordered = sorted(
            (p for p in panels if p["activation"] == activation), key=lambda p: p["depth"]
        )
        return [_mean(p["activation_regions"]) for p in ordered]

    return {
        "areas_sum_to_box": all(p["area_relative_error"] < 1e-9 for p in panels),
        "linear_le_activation": all(
            lin <= act
            for p in panels
            for lin, act in zip(p["linear_regions"], p["activation_regions"], strict=True)
        ),
        "leaky_linear_equals_activation": all(
            p["linear_regions"] == p["activation_regions"]
            for p in panels
            if p["activation"] == "leaky_relu"
        ),
        "regions_grow_with_depth": all(
            bool(np.all(np.diff(means(activation)) > 0)) for activation in ACTIVATIONS
        ),
    }


def _table(panels: list[dict[str, Any]]) -> list[dict[str, str]]:
    def spread(values: list[float]) -> str:
        return f"{_mean(values):.0f}" + (
            f" ({min(values):.0f}-{max(values):.0f})" if len(values) > 1 else ""
        )

    return [
        {
            "activation": p["activation"],
            "hidden layers": str(p["depth"]),
            "activation regions: mean (range)": spread(p["activation_regions"]),
            "linear regions: mean (range)": spread(p["linear_regions"]),
            "training accuracy": f"{100 * min(p['accuracy']):.1f}-{100 * max(p['accuracy']):.1f}%",
        }
        for p in panels
    ]


def _summary(panels: list[dict[str, Any]], claims: dict[str, bool], cfg: Config) -> str:
    def at(activation: str, depth: int) -> dict[str, Any]:
        return next(p for p in panels if p["activation"] == activation and p["depth"] == depth)

    shallow, deep = min(cfg.depths), max(cfg.depths)
    merged = sum(
        a - lin
        for p in panels
        if p["activation"] == "relu"
        for a, lin in zip(p["activation_regions"], p["linear_regions"], strict=True)
    )
    counts = "; ".join(
        f"{'ReLU' if act == 'relu' else 'leaky ReLU'} from {_mean(at(act, shallow)['activation_regions']):.0f} "
        f"at depth {shallow} to {_mean(at(act, deep)['activation_regions']):.0f} at depth {deep}"
        for act in ACTIVATIONS
    )
    accuracy = min(min(p["accuracy"]) for p in panels)
    grow = "grows" if claims["regions_grow_with_depth"] else "does not always grow"
    return (
        f"Networks of width {cfg.width} trained on spirals (every one at {100 * accuracy:.0f}% "
        "training accuracy or more) cut the box around the data into convex regions whose number "
        f"{grow} with depth (mean over {cfg.seeds} seed{'s' if cfg.seeds > 1 else ''}: {counts}). "
        "The first layer's units are straight lines across the whole box, deeper units bend at "
        "every boundary they meet, and the decision boundary is straight inside each region. "
        f"Merging neighbours with the same affine map removes {merged} ReLU regions in all "
        "(a unit switches but no active unit passes the change on) and, as it must, none of the "
        f"leaky-ReLU regions "
        f"(slope {cfg.leaky_slope:g}); region areas sum to the box area to "
        f"{max(p['area_relative_error'] for p in panels):.0e}."
    )


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``partitions.json``: ``title``, ``summary``, ``figures``, ``table``
    (one row per activation and depth) and ``claims``; ``config``; the ``box``; and ``panels``,
    one per activation and depth, with each seed's activation and linear region counts and
    training accuracy, and the largest relative gap between the regions' total area and the
    box's.
    """
    tx = optax.adam(cfg.learning_rate)  # one object: every run of a shape shares compiled code
    ds = data.spirals(cfg.n, seed=seed, turns=cfg.turns)
    box = data.bounding_box(ds.x)

    panels, shown = [], []
    for activation in ACTIVATIONS:
        for depth in cfg.depths:
            panel, drawn = _panel(activation, depth, ds, box, cfg, seed, tx)
            panels.append(panel)
            shown.append(drawn)
    claims = _claims(panels)
    return _setup.finish(
        out, NAME, cfg, seed=seed, title="Partitions of the input plane: ReLU against leaky ReLU",
        summary=_summary(panels, claims, cfg), table=_table(panels), claims=claims,
        figures={NAME: _figure(cfg, panels, shown, ds)},
        data={"box": box.tolist(), "panels": panels},
    )  # fmt: skip
