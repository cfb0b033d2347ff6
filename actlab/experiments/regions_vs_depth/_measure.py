"""Measuring one family of networks: exact counts on segments and planes, grid estimates,
bounds and the tent map."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np
from flax import nnx

from actlab import data, regions, train
from actlab.experiments.regions_vs_depth._config import ZERO_BIAS, Config
from actlab.models import MLP, hidden_layers

Layers = list[tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Probes:
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
) -> Probes:
    """Segments between random pairs of points of ``x``, and a sample grid on each plane."""
    grids = [regions.grid_points(p["bounds"], cfg.resolution) for p in planes]
    return Probes(*_segments(x, cfg.segments, rng), planes, grids)


def probes_2d(ds: data.Dataset, cfg: Config, rng: np.random.Generator) -> Probes:
    """Segments between training points; the plane is the box around the data (10% margin)."""
    box = data.bounding_box(ds.x)
    return _probes([{"bounds": box, "origin": np.zeros(2), "basis": np.eye(2)}], ds.x, cfg, rng)


def probes_digits(ds: data.Dataset, cfg: Config, rng: np.random.Generator) -> Probes:
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


def _measure(layers: Layers, probes: Probes, sampled: bool = True) -> dict[str, Any]:
    """Exact counts on every segment and plane, and (if ``sampled``) the grid estimates."""
    lines = regions.count_lines(layers, probes.starts, probes.ends)
    planes = [regions.count_plane(layers, **plane) for plane in probes.planes]
    estimates = []
    if sampled:
        for plane, grid in zip(probes.planes, probes.grids, strict=True):
            on_plane = _restricted(layers, plane["origin"], plane["basis"])
            estimates.append(regions.count_sampled(on_plane, grid))
    return {"line": lines.tolist(), "plane": planes, "sampled": estimates}


def numpy_layers(model: MLP) -> Layers:
    return [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in hidden_layers(model)]


def summarise(counts: list[int]) -> dict[str, float]:
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


def bounds(width: int, depth: int) -> dict[str, int]:
    widths = [width] * depth
    return {
        "serra_upper_line": regions.bounds.serra_upper(1, widths),
        "montufar_upper_line": regions.bounds.montufar_upper(1, widths),
        "serra_upper_plane": regions.bounds.serra_upper(2, widths),
        "montufar_upper_plane": regions.bounds.montufar_upper(2, widths),
        "serra_lower_plane": regions.bounds.serra_lower(2, widths) if width >= 6 else None,
    }


def tent_map(depths: tuple[int, ...]) -> dict[str, list[int]]:
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
class Task:
    """A data set the networks are measured on and trained on."""

    kind: str  # "2d" (moons) or "digits"
    train: data.Dataset
    test: data.Dataset  # test accuracy of the trained networks
    probes: Probes
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
        "line": summarise(lines),
        "plane": summarise(planes),
        "plane_counts": planes,
        "sampled_counts": sampled,
        "sampled_fraction": float(np.mean(np.divide(sampled, planes))) if sampled else None,
    }


def architecture(
    width: int, depth: int, cfg: Config, seed: int, tasks: list[Task], tx: Any
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
            layers = numpy_layers(model)
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
                accuracy.append(metrics.accuracy)
                after.append(_measure(numpy_layers(model), task.probes))
        rows.append(_row(f"init_{task.kind}", width, depth, init))
        if zero:
            rows.append(_row(ZERO_BIAS, width, depth, zero))
        if after:
            rows.append(_row(f"trained_{task.kind}", width, depth, after) | {"accuracy": accuracy})
    return rows
