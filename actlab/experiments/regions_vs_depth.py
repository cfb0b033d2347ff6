"""Linear regions against depth and width: exact counts, estimates, bounds and the tent map.

The claims (DESIGN.md, reference results): the exact number of activation regions of a ReLU
network met by a segment or a plane lies below the upper bounds of Montufar (2017) and Serra et al.
(2018), which grow exponentially with depth, and some networks (the tent map, width 2) do reach
``2^L`` regions on a segment. At random initialisation, though, counts grow only about linearly in
the number of neurons ``N`` along a segment and quadratically on a plane (Hanin and Rolnick, 2019),
far below the bounds; sampling on a grid never finds more regions than the exact count.

:func:`run` builds ReLU networks of every width and depth with He weights and small random biases
(``sigma_b2``; with zero biases every kink set of a 2D input passes through the origin and the plane
count falls to about ``N`` cones, measured as a contrast), trains copies on ``moons`` (2D) and on
``digits`` (64D), and counts for each network:

- exact regions on segments between random pairs of training points (``count_lines``): mean and
  spread over segments;
- exact regions on a plane (``count_plane``): the box around the moons data, or for digits the
  slice through three training images of different classes (``slice_through``);
- distinct patterns on a cell-centred grid of the same plane (``count_sampled``): a lower bound;
- the bounds ``serra_upper`` and ``montufar_upper`` (``n0 = 1`` for a segment, ``2`` for a plane)
  and the tent map's count (``tent_map``) at every depth.

It writes ``regions_vs_depth.json`` and two figures (PNG and SVG): ``regions_vs_depth`` (counts
against depth on a log scale, one column per width, segments above and planes below) and
``regions_vs_neurons`` (counts at initialisation against ``N`` on log-log axes, with fitted slopes).

Example::

    >>> from actlab.experiments import regions_vs_depth
    >>> result = regions_vs_depth.run("out/regions_vs_depth", quick=True)
    >>> result["claims"]["sampled_le_exact"], result["claims"]["tent_map_is_2_to_the_L"]
    (True, True)

References:
  B. Hanin, D. Rolnick, Complexity of linear regions in deep networks, ICML 2019.
  T. Serra, C. Tjandraatmadja, S. Ramalingam, Bounding and counting linear regions of deep neural
  networks, ICML 2018.
  G. Montufar, Notes on the number of linear regions of deep neural networks, SampTA 2017.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, NullLocator, StrMethodFormatter

from actlab import data, plot, regions, train
from actlab.experiments import _setup
from actlab.io import write_json
from actlab.models import MLP, hidden_layers

__all__ = ["Config", "run"]

NAME = "regions_vs_depth"
CONDITIONS = ("init_2d", "trained_2d", "init_digits", "trained_digits")
"""Measured settings: He initialisation or trained, on the moons plane or on digits slices."""
ZERO_BIAS = "zero_bias_2d"
"""The contrast: initialisation with zero biases, on the moons plane."""

Layers = list[tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      widths: hidden widths (every hidden layer of a network has the same width).
      depths: numbers of hidden layers.
      train_widths, train_depths: the architectures also trained (subsets of the above).
      seeds: networks (random initialisations) per architecture and condition.
      sigma_b2: bias variance at initialisation (weights: He, ``sigma_w2 = 2``).
      n: moons training points.
      noise: moons noise.
      steps_2d, steps_digits: full-batch Adam steps on moons and on digits.
      learning_rate: Adam's learning rate.
      segments: segments (between random pairs of training points) per network.
      slices: digits planes (through three training images) per network.
      resolution: grid cells per axis of the sampled estimate.
    """

    widths: tuple[int, ...] = (8, 16, 32)
    depths: tuple[int, ...] = tuple(range(1, 11))
    train_widths: tuple[int, ...] = (8, 16, 32)
    train_depths: tuple[int, ...] = tuple(range(1, 11))
    seeds: int = 3
    sigma_b2: float = 0.01
    n: int = 400
    noise: float = 0.1
    steps_2d: int = 1000
    steps_digits: int = 400
    learning_rate: float = 0.01
    segments: int = 512
    slices: int = 3
    resolution: int = 256

    @classmethod
    def full(cls) -> Config:
        """The settings behind the report's figure (minutes on a laptop CPU)."""
        return cls()

    @classmethod
    def quick(cls) -> Config:
        """Seconds: width 16 at three depths, trained at depth 2 only."""
        return cls(
            widths=(16,),
            depths=(1, 2, 4),
            train_widths=(16,),
            train_depths=(2,),
            seeds=2,
            n=200,
            steps_2d=300,
            steps_digits=150,
            segments=64,
            slices=1,
            resolution=96,
        )

    def check(self) -> None:
        """``ValueError`` naming the first setting out of range."""
        for name in ("widths", "depths"):
            values = getattr(self, name)
            if not values or any(not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(f"{name}: expected a non-empty tuple of ints >= 1, got {values!r}")
        for name, among in (("train_widths", self.widths), ("train_depths", self.depths)):
            if not set(getattr(self, name)) <= set(among):
                raise ValueError(
                    f"{name}: expected a subset of {among}, got {getattr(self, name)!r}"
                )
        for name in ("seeds", "n", "steps_2d", "steps_digits", "segments", "slices"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {getattr(self, name)!r}")
        if not isinstance(self.resolution, int) or self.resolution < 2:
            raise ValueError(f"resolution: expected an int >= 2, got {self.resolution!r}")
        if not self.sigma_b2 > 0:
            raise ValueError(f"sigma_b2: expected a bias variance > 0, got {self.sigma_b2!r}")


# ----------------------------------------------------------------------------- measuring


@dataclasses.dataclass(frozen=True)
class _Probes:
    """Where one family of networks is measured: segments, planes and their sample grids."""

    starts: np.ndarray  # (segments, d)
    ends: np.ndarray  # (segments, d)
    planes: list[dict[str, np.ndarray]]  # count_plane keyword arguments: bounds, origin, basis
    grids: list[np.ndarray]  # per plane, (resolution**2, 2) cell centres in slice coordinates


def _segments(x: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``count`` segments between random pairs of distinct points of ``x``."""
    first = rng.integers(0, len(x), count)
    second = (first + rng.integers(1, len(x), count)) % len(x)
    return x[first].astype(np.float64), x[second].astype(np.float64)


def _probes(
    planes: list[dict[str, np.ndarray]], x: np.ndarray, cfg: Config, rng: np.random.Generator
) -> _Probes:
    """Segments between random pairs of points of ``x``, and a sample grid on each plane."""
    grids = [regions.grid_points(p["bounds"], cfg.resolution) for p in planes]
    return _Probes(*_segments(x, cfg.segments, rng), planes, grids)


def _probes_2d(ds: data.Dataset, cfg: Config, rng: np.random.Generator) -> _Probes:
    """Segments between training points; the plane is the box around the data (10% margin)."""
    x = ds.x.astype(np.float64)
    low, high = x.min(axis=0), x.max(axis=0)
    pad = 0.1 * (high - low)
    box = np.round(np.stack([low - pad, high + pad], axis=1), 1)
    return _probes([{"bounds": box, "origin": np.zeros(2), "basis": np.eye(2)}], ds.x, cfg, rng)


def _probes_digits(ds: data.Dataset, cfg: Config, rng: np.random.Generator) -> _Probes:
    """Segments between training images; planes through three images of three classes."""
    planes = []
    for _ in range(cfg.slices):
        picks = [rng.choice(np.flatnonzero(ds.y == c)) for c in rng.choice(10, 3, replace=False)]
        planes.append(regions.slice_through(ds.x[picks].astype(np.float64)).kwargs())
    return _probes(planes, ds.x, cfg, rng)


def _restricted(layers: Layers, origin: np.ndarray, basis: np.ndarray) -> Layers:
    """The network on the plane ``origin + s * basis[0] + t * basis[1]``: a 2-input network
    (so the grid estimate of every input dimension shares one compiled counter)."""
    (w, b), rest = layers[0], layers[1:]
    return [(basis @ w, origin @ w + b), *rest]


def _measure(layers: Layers, probes: _Probes, sampled: bool = True) -> dict[str, Any]:
    """Exact counts on every segment and plane, and (if ``sampled``) the grid estimates."""
    lines = regions.count_lines(layers, probes.starts, probes.ends)
    planes = [regions.count_plane(layers, **plane) for plane in probes.planes]
    estimates = []
    if sampled:
        for plane, grid in zip(probes.planes, probes.grids, strict=True):
            on_plane = _restricted(layers, plane["origin"], plane["basis"])
            estimates.append(regions.count_sampled(on_plane, grid))
    return {"line": lines.tolist(), "plane": planes, "sampled": estimates}


def _numpy_layers(model: MLP) -> Layers:
    return [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in hidden_layers(model)]


def _summarise(counts: list[int]) -> dict[str, float]:
    a = np.asarray(counts, dtype=np.float64)
    p10, p50, p90 = np.percentile(a, [10, 50, 90])
    return {
        "mean": float(a.mean()),
        "std": float(a.std()),
        "min": float(a.min()),
        "p10": float(p10),
        "median": float(p50),
        "p90": float(p90),
        "max": float(a.max()),
    }


def _bounds(width: int, depth: int) -> dict[str, int]:
    widths = [width] * depth
    return {
        "serra_upper_line": regions.bounds.serra_upper(1, widths),
        "montufar_upper_line": regions.bounds.montufar_upper(1, widths),
        "serra_upper_plane": regions.bounds.serra_upper(2, widths),
        "montufar_upper_plane": regions.bounds.montufar_upper(2, widths),
        "serra_lower_plane": regions.bounds.serra_lower(2, widths) if width >= 6 else None,
    }


def _tent_map(depths: tuple[int, ...]) -> dict[str, list[int]]:
    """Exact counts of the tent map on ``(0, 1)`` and on ``(0, 1)^2`` (second input ignored)."""
    line = [regions.count_line(regions.tent_map(d), np.zeros(1), np.ones(1)) for d in depths]
    plane = [
        regions.count_plane(regions.tent_map(d, inputs=2), bounds=((0, 1), (0, 1))) for d in depths
    ]
    return {
        "depths": list(depths),
        "line": line,
        "plane": plane,
        "two_to_the_L": [2**d for d in depths],
    }


@dataclasses.dataclass(frozen=True)
class _Task:
    """A data set the networks are measured on and trained on."""

    kind: str  # "2d" (moons) or "digits"
    train: data.Dataset
    test: data.Dataset  # test accuracy of the trained networks
    probes: _Probes
    loss: str
    outputs: int
    steps: int


def _row(condition: str, width: int, depth: int, measured: list[dict[str, Any]]) -> dict[str, Any]:
    """One architecture and condition: counts pooled over networks (and segments, planes)."""
    lines = [c for m in measured for c in m["line"]]
    planes = [c for m in measured for c in m["plane"]]
    sampled = [c for m in measured for c in m["sampled"]]
    return {
        "condition": condition,
        "width": width,
        "depth": depth,
        "neurons": width * depth,
        "line": _summarise(lines),
        "plane": _summarise(planes),
        "plane_counts": planes,
        "sampled_counts": sampled,
        "sampled_fraction": float(np.mean(np.divide(sampled, planes))) if sampled else None,
    }


def _architecture(
    width: int, depth: int, cfg: Config, seed: int, tasks: list[_Task], tx: Any
) -> list[dict[str, Any]]:
    """Rows (one per condition) of one architecture, over ``cfg.seeds`` networks.

    The zero-bias networks are the initial networks with their biases set to zero.
    """
    trained = width in cfg.train_widths and depth in cfg.train_depths
    rows = []
    for task in tasks:
        init, after, zero, accuracy = [], [], [], []
        for member in range(cfg.seeds):
            model = MLP(
                task.train.x.shape[1],
                [width] * depth,
                task.outputs,
                sigma_b2=cfg.sigma_b2,
                rngs=nnx.Rngs(jax.random.fold_in(jax.random.key(seed), member)),
            )
            layers = _numpy_layers(model)
            init.append(_measure(layers, task.probes))
            if task.kind == "2d":
                zero_bias = [(w, np.zeros_like(b)) for w, b in layers]
                zero.append(_measure(zero_bias, task.probes, sampled=False))
            if trained:
                train.fit(
                    model, task.train.x, task.train.y, optimizer=tx, loss=task.loss,
                    steps=task.steps, record_every=task.steps, layer_steps=[task.steps - 1],
                    progress=False,
                )  # fmt: skip
                metrics = train.evaluate(model, task.test.x, task.test.y, loss=task.loss)
                accuracy.append(metrics["accuracy"])
                after.append(_measure(_numpy_layers(model), task.probes))
        rows.append(_row(f"init_{task.kind}", width, depth, init))
        if zero:
            rows.append(_row(ZERO_BIAS, width, depth, zero))
        if after:
            rows.append(_row(f"trained_{task.kind}", width, depth, after) | {"accuracy": accuracy})
    return rows


# ----------------------------------------------------------------------------- analysis


def _slope(rows: list[dict[str, Any]], condition: str, what: str) -> float | None:
    """Least-squares slope of ``log(mean count)`` against ``log(neurons)`` over architectures."""
    picked = [r for r in rows if r["condition"] == condition]
    if len({r["neurons"] for r in picked}) < 2:
        return None
    n = np.log([r["neurons"] for r in picked])
    c = np.log([r[what]["mean"] for r in picked])
    return float(np.polyfit(n, c, 1)[0])


def _claims(
    rows: list[dict[str, Any]], bounds: dict[str, dict[str, int]], tent: dict[str, list[int]],
    slopes: dict[str, float | None], cfg: Config,
) -> dict[str, bool]:  # fmt: skip
    def bound(row: dict[str, Any], name: str) -> int:
        return bounds[f"{row['width']}x{row['depth']}"][name]

    deepest = [r for r in rows if r["condition"] == "init_2d" and r["depth"] == max(cfg.depths)]
    line_slope, plane_slope = slopes["init_2d_line"], slopes["init_2d_plane"]
    return {
        "sampled_le_exact": all(
            np.all(np.asarray(r["sampled_counts"]) <= np.asarray(r["plane_counts"]))
            for r in rows
            if r["sampled_counts"]
        ),
        "exact_le_serra_upper": all(
            r["plane"]["max"] <= bound(r, "serra_upper_plane")
            and r["line"]["max"] <= bound(r, "serra_upper_line")
            for r in rows
        ),
        "serra_upper_le_montufar_upper": all(
            b["serra_upper_plane"] <= b["montufar_upper_plane"]
            and b["serra_upper_line"] <= b["montufar_upper_line"]
            for b in bounds.values()
        ),
        "tent_map_is_2_to_the_L": tent["line"] == tent["two_to_the_L"] == tent["plane"],
        "init_far_below_bound": all(
            r["plane"]["max"] < 0.01 * bound(r, "serra_upper_plane")
            and r["line"]["mean"] < 0.01 * bound(r, "serra_upper_line")
            for r in deepest
        ),
        # the nearest integer power: N (not 1 or N^2) on segments, N^2 (not N or N^3) on planes
        "line_count_roughly_linear_in_neurons": line_slope is not None and 0.5 <= line_slope < 1.5,
        "plane_count_roughly_quadratic_in_neurons": plane_slope is not None
        and 1.5 <= plane_slope < 2.5,
    }


# ----------------------------------------------------------------------------- figures

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


def _depth_figure(result: dict[str, Any], cfg: Config) -> Figure:
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


def _neuron_figure(result: dict[str, Any], cfg: Config) -> Figure:
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
            neurons = np.array(sorted({r["neurons"] for r in picked}), dtype=float)
            counts = np.array([r[what]["mean"] for r in picked])
            label = style["label"]
            if slope is not None and not faint:
                n_all = np.array([r["neurons"] for r in picked], dtype=float)
                intercept = np.mean(np.log(counts) - slope * np.log(n_all))
                ax.plot(neurons, np.exp(intercept) * neurons**slope, color=style["color"],
                        ls=style["ls"], lw=1.2)  # fmt: skip
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


# ----------------------------------------------------------------------------- results


def _find(rows: list[dict[str, Any]], condition: str, width: int, depth: int) -> dict | None:
    return next(
        (
            r
            for r in rows
            if r["condition"] == condition and r["width"] == width and r["depth"] == depth
        ),
        None,
    )


def _table(result: dict[str, Any], cfg: Config) -> list[dict[str, str]]:
    claims, rows, slopes = result["claims"], result["rows"], result["slopes"]
    width, depth = max(cfg.widths), max(cfg.depths)
    big = _find(rows, "init_2d", width, depth)
    b = result["bounds"][f"{width}x{depth}"]

    def row(measurement: str, value: str, holds: bool | None) -> dict[str, str]:
        verdict = "-" if holds is None else "yes" if holds else "no"
        return {"measurement": measurement, "value": value, "claim holds": verdict}

    fractions = [r["sampled_fraction"] for r in rows if r["sampled_fraction"] is not None]
    tent = result["tent_map"]
    table = [
        row(
            f"init, width {width}, depth {depth}: mean regions on a segment / serra_upper",
            f"{big['line']['mean']:.1f} / {b['serra_upper_line']:.3g}",
            None,
        ),
        row(
            f"init, width {width}, depth {depth}: regions on the moons plane / serra_upper",
            f"{big['plane']['mean']:.0f} / {float(b['serra_upper_plane']):.3g}",
            claims["init_far_below_bound"],
        ),
        row(
            "grid estimate <= exact plane count (every network)",
            f"grid finds {100 * min(fractions):.0f}-{100 * max(fractions):.0f}% of the regions",
            claims["sampled_le_exact"],
        ),
        row(
            "exact counts <= serra_upper <= montufar_upper (every network)",
            f"{len(rows)} architecture-condition pairs; the two bounds are "
            + ("equal here" if _bounds_equal(result["bounds"]) else "different here"),
            claims["exact_le_serra_upper"] and claims["serra_upper_le_montufar_upper"],
        ),
        row(
            "tent map: regions on (0, 1) and (0, 1)^2 = 2^L",
            f"L = {tent['depths'][-1]}: {tent['line'][-1]} and {tent['plane'][-1]}",
            claims["tent_map_is_2_to_the_L"],
        ),
        row(
            "init: slope of log(segment count) against log(N)",
            f"{_number(slopes['init_2d_line'])} (moons), "
            f"{_number(slopes['init_digits_line'])} (digits)",
            claims["line_count_roughly_linear_in_neurons"],
        ),
        row(
            "init: slope of log(plane count) against log(N)",
            f"{_number(slopes['init_2d_plane'])} (moons), "
            f"{_number(slopes['init_digits_plane'])} (digits); "
            f"zero biases {_number(slopes[ZERO_BIAS + '_plane'])}",
            claims["plane_count_roughly_quadratic_in_neurons"],
        ),
    ]
    for kind in ("2d", "digits"):
        ratios = _trained_ratios(rows, kind)
        if ratios:
            table.append(
                row(
                    f"trained on {'moons' if kind == '2d' else 'digits'} / init: plane count",
                    f"x{_span(ratios)}",
                    None,
                )
            )
    return table


def _trained_ratios(rows: list[dict[str, Any]], kind: str) -> list[float]:
    """Plane count after training over the count at initialisation, per trained architecture."""
    ratios = []
    for r in rows:
        if r["condition"] == f"trained_{kind}":
            init = _find(rows, f"init_{kind}", r["width"], r["depth"])
            ratios.append(r["plane"]["mean"] / init["plane"]["mean"])
    return ratios


def _span(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """``"lo-hi"`` of ``values * scale`` (one number when they agree), ``"n/a"`` when empty."""
    if not values:
        return "n/a"
    lo, hi = (f"{scale * v:.{digits}f}" for v in (min(values), max(values)))
    return lo if lo == hi else f"{lo}-{hi}"


def _accuracy(values: list[float]) -> str:
    return f"median {100 * np.median(values):.0f}%, lowest {100 * min(values):.0f}%"


def _bounds_equal(bounds: dict[str, dict[str, int]]) -> bool:
    return all(
        b[f"serra_upper_{what}"] == b[f"montufar_upper_{what}"]
        for b in bounds.values()
        for what in ("line", "plane")
    )


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _power(slope: float | None) -> str:
    return f"N^{_number(slope)}"


def _summary(result: dict[str, Any], cfg: Config) -> str:
    rows, slopes, claims = result["rows"], result["slopes"], result["claims"]
    width, depth = max(cfg.widths), max(cfg.depths)
    big = _find(rows, "init_2d", width, depth)
    b = result["bounds"][f"{width}x{depth}"]
    digits = _find(rows, "init_digits", width, depth)
    fractions = [r["sampled_fraction"] for r in rows if r["sampled_fraction"] is not None]
    accuracy = {
        kind: [a for r in rows if r["condition"] == f"trained_{kind}" for a in r["accuracy"]]
        for kind in ("2d", "digits")
    }
    tent = result["tent_map"]
    growth = (
        "close to the linear and quadratic growth predicted by Hanin and Rolnick"
        if claims["line_count_roughly_linear_in_neurons"]
        and claims["plane_count_roughly_quadratic_in_neurons"]
        else "not the linear and quadratic growth predicted by Hanin and Rolnick"
    )
    trained = (
        f"Training changes plane counts by a factor of {_span(_trained_ratios(rows, '2d'))} on "
        f"moons (test accuracy {_accuracy(accuracy['2d'])}) and "
        f"{_span(_trained_ratios(rows, 'digits'))} on digits (test accuracy "
        f"{_accuracy(accuracy['digits'])}). "
        if accuracy["2d"]
        else ""
    )
    return (
        f"At He initialisation (bias variance {cfg.sigma_b2:g}) a ReLU network of width {width} "
        f"and depth {depth} ({width * depth} neurons) meets on average "
        f"{big['line']['mean']:.1f} regions on a segment between two moons points "
        f"(10-90%: {big['line']['p10']:.0f}-{big['line']['p90']:.0f}) and "
        f"{big['plane']['mean']:.0f} regions in the box around the data, against serra_upper "
        f"bounds of {float(b['serra_upper_line']):.2g} and {float(b['serra_upper_plane']):.2g}; "
        f"on a slice through three digits it meets {digits['plane']['mean']:.0f}. Over all "
        f"widths and depths the mean count grows as {_power(slopes['init_2d_line'])} along "
        f"segments and {_power(slopes['init_2d_plane'])} on the plane (digits: "
        f"{_power(slopes['init_digits_line'])} and {_power(slopes['init_digits_plane'])}), "
        f"{growth}, and nowhere near the exponential bounds; with the same weights and zero "
        "biases every kink set is a union of rays from the origin and the plane count grows "
        f"only as {_power(slopes[ZERO_BIAS + '_plane'])}. {trained}The tent map reaches "
        f"{tent['line'][-1]} = 2^{tent['depths'][-1]} regions with two units per layer. A "
        f"{cfg.resolution} x {cfg.resolution} grid finds {_span(fractions, 100, 0)}% of the exact "
        f"regions and never more; {sum(claims.values())} of {len(claims)} claims hold."
    )


def run(
    out_dir: str | os.PathLike,
    *,
    quick: bool = False,
    seed: int = 0,
    config: Config | None = None,
) -> dict[str, Any]:
    """Run the experiment and write its data and figures into ``out_dir``.

    Args:
      out_dir: output folder (created).
      quick: use :meth:`Config.quick` (seconds) instead of :meth:`Config.full` (minutes).
      seed: seed of the data sets, segments, slices and initialisations.
      config: explicit settings; overrides ``quick``.

    Returns:
      The dict written to ``regions_vs_depth.json``: ``title``, ``summary``, ``figures``,
      ``table`` and ``claims`` (the report section); ``config``; ``rows``, one per condition
      (``init_2d``, ``trained_2d``, ``init_digits``, ``trained_digits``, ``zero_bias_2d``) and
      architecture, with the segment counts' ``line`` statistics (mean, std, min, p10, median,
      p90, max over segments and seeds), the ``plane`` statistics, every exact plane count and
      grid estimate, and the trained networks' test accuracies; ``bounds`` per architecture
      (``"<width>x<depth>"``, exact integers); ``tent_map`` counts; and the log-log ``slopes`` of
      mean counts against the number of neurons.
    """
    cfg = _setup.config(Config, quick=quick, seed=seed, config=config)
    cfg.check()
    out = _setup.out_folder(out_dir)
    rng = np.random.default_rng(seed)
    tx = optax.adam(cfg.learning_rate)  # one object: every run of a shape shares compiled code

    moons = data.moons(cfg.n, seed=seed, noise=cfg.noise)
    moons_test = data.moons(cfg.n, seed=seed + 1, noise=cfg.noise)
    digits_train, digits_test = data.digits(seed=seed)
    tasks = [
        _Task("2d", moons, moons_test, _probes_2d(moons, cfg, rng),
              "sigmoid_binary_cross_entropy", 1, cfg.steps_2d),
        _Task("digits", digits_train, digits_test, _probes_digits(digits_train, cfg, rng),
              "softmax_cross_entropy", 10, cfg.steps_digits),
    ]  # fmt: skip
    rows = []
    for width in cfg.widths:
        for depth in cfg.depths:
            rows += _architecture(width, depth, cfg, seed, tasks, tx)
    bounds = {f"{w}x{d}": _bounds(w, d) for w in cfg.widths for d in cfg.depths}
    tent = _tent_map(cfg.depths)
    slopes = {
        f"{condition}_{what}": _slope(rows, condition, what)
        for condition in (*CONDITIONS, ZERO_BIAS)
        for what in ("line", "plane")
    }
    claims = _claims(rows, bounds, tent, slopes, cfg)
    result: dict[str, Any] = {
        "title": "Linear regions against depth and width",
        "experiment": NAME,
        "quick": cfg == Config.quick(),
        "seed": seed,
        "config": dataclasses.asdict(cfg),
        "rows": rows,
        "bounds": bounds,
        "tent_map": tent,
        "slopes": slopes,
        "claims": claims,
    }
    result["summary"] = _summary(result, cfg)
    result["table"] = _table(result, cfg)
    figures = []
    for stem, fig in (
        (NAME, _depth_figure(result, cfg)),
        ("regions_vs_neurons", _neuron_figure(result, cfg)),
    ):
        figures += [p.name for p in plot.save(fig, out / stem)]
    result["figures"] = figures
    write_json(out / f"{NAME}.json", result)
    return result
