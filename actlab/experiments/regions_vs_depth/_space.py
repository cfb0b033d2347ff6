"""Regions of the whole input space (``d = 3, 4``): exact counts at initialisation and after
training on Gaussian blobs, beside the count on a 2D slice through the data and the bounds."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np
from flax import nnx

from actlab import data, regions, train
from actlab.experiments.regions_vs_depth._config import Config
from actlab.experiments.regions_vs_depth._measure import numpy_layers, summarise
from actlab.models import MLP

CLASSES = 4
LOSS = "softmax_cross_entropy"


@dataclasses.dataclass(frozen=True)
class SpaceTask:
    """Blobs in ``dim`` dimensions, the box around them and a slice through three of them."""

    dim: int
    train: data.Dataset
    test: data.Dataset
    box: np.ndarray  # (dim, 2)
    plane: dict[str, np.ndarray]  # count_plane keyword arguments: bounds, origin, basis


def space_task(dim: int, cfg: Config, seed: int) -> SpaceTask:
    """``CLASSES`` overlapping Gaussian blobs (centres uniform in ``[-2, 2]^dim``, std 0.7); the
    box is the data's bounding box, the slice passes through three points of three classes."""
    blobs = data.blobs(2 * cfg.space_n, seed=seed + dim, centers=CLASSES, dim=dim, std=0.7,
                       box=2.0)  # fmt: skip
    split = data.train_test_split(blobs, test_fraction=0.5, seed=seed)
    x, y = split[0]
    rng = np.random.default_rng(seed + dim)
    picks = [rng.choice(np.flatnonzero(y == c)) for c in rng.choice(CLASSES, 3, replace=False)]
    plane = regions.slice_through(np.asarray(x[picks], np.float64)).kwargs()
    return SpaceTask(dim, *split, data.bounding_box(x), plane)


def _counts(layers, task: SpaceTask) -> tuple[int, int]:
    return regions.count_space(layers, bounds=task.box), regions.count_plane(layers, **task.plane)


def _row(condition: str, task: SpaceTask, width: int, depth: int, counts: list[tuple[int, int]]):
    space, plane = (list(c) for c in zip(*counts, strict=True))
    return {
        "condition": condition,
        "dim": task.dim,
        "width": width,
        "depth": depth,
        "neurons": width * depth,
        "space": summarise(space),
        "space_counts": space,
        "slice": summarise(plane),
        "slice_counts": plane,
    }


def space_architecture(
    width: int, depth: int, task: SpaceTask, cfg: Config, seed: int, tx: Any
) -> list[dict[str, Any]]:
    """The ``init_space`` row (and, for ``depth`` in ``cfg.space_train_depths``, the
    ``trained_space`` row with test accuracies) of one architecture in ``task.dim`` dimensions."""
    init, after, accuracy = [], [], []
    for member in range(cfg.seeds):
        key = jax.random.fold_in(jax.random.key(seed + 1000 * task.dim), member)
        model = MLP(task.dim, [width] * depth, CLASSES, sigma_b2=cfg.sigma_b2, rngs=nnx.Rngs(key))
        init.append(_counts(numpy_layers(model), task))
        if depth in cfg.space_train_depths:
            train.fit(
                model, task.train.x, task.train.y, optimizer=tx, loss=LOSS, steps=cfg.space_steps,
                record_every=cfg.space_steps, progress=False,
            )  # fmt: skip
            accuracy.append(train.evaluate(model, task.test.x, task.test.y, loss=LOSS).accuracy)
            after.append(_counts(numpy_layers(model), task))
    rows = [_row("init_space", task, width, depth, init)]
    if after:
        rows.append(_row("trained_space", task, width, depth, after) | {"accuracy": accuracy})
    return rows


def space_bounds(dim: int, width: int, depth: int) -> dict[str, int]:
    """``serra_upper`` of the architecture, and ``arrangement``: the regions of ``N`` hyperplanes
    in general position in ``R^dim`` (``zaslavsky(N, dim)``), the count of one layer of all the
    network's neurons, which grows like ``N^dim / dim!``."""
    return {
        "serra_upper": regions.bounds.serra_upper(dim, [width] * depth),
        "arrangement": regions.bounds.zaslavsky(width * depth, dim),
    }


def space_slopes(rows: list[dict[str, Any]], dim: int) -> dict[str, float | None]:
    """Log-log slopes against ``N`` at initialisation in ``dim`` dimensions: of the mean
    full-space count, of the arrangement count at the same ``N``, and of the slice count."""
    picked = [r for r in rows if r["condition"] == "init_space" and r["dim"] == dim]
    neurons = np.log([r["neurons"] for r in picked])
    if len(set(neurons.tolist())) < 2:
        return {"space": None, "arrangement": None, "slice": None}

    def fit(values: list[float]) -> float:
        return float(np.polyfit(neurons, np.log(values), 1)[0])

    arrangement = [regions.bounds.zaslavsky(r["neurons"], dim) for r in picked]
    return {
        "space": fit([r["space"]["mean"] for r in picked]),
        "arrangement": fit(arrangement),
        "slice": fit([r["slice"]["mean"] for r in picked]),
    }
