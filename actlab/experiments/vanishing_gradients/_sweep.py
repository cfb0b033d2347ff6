"""The sweep: one cell per (activation, depth, seed), run by actlab.sweep."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from actlab import activations as A
from actlab.experiments.vanishing_gradients._config import NAME, VERSION, Config
from actlab.gradflow import Signals, stack_signals
from actlab.sweep import Grid, Results
from actlab.sweep import run as run_sweep

#: ``fold_in`` index of the row holding the inputs and the read-out (layers use 0, 1, ...).
_INPUT_ROW = 1 << 20


def _network(
    cfg: Config, key: jax.Array, depth: int
) -> tuple[jax.Array, jax.Array, tuple[jax.Array, jax.Array], jax.Array]:
    """The first ``depth`` layers of the network of ``key``: unit-variance weights ``(depth, n, n)``
    (entries ``N(0, 1/n)``), biases ``(depth, n)``, the read-out ``(n, 1)`` and inputs ``(B, n)``.

    Row ``l`` of one draw (``normal(fold_in(key, l))``) holds layer ``l``'s weights and biases,
    so a shallower network is a prefix of a deeper one; row ``_INPUT_ROW`` holds the inputs and
    the read-out. One vmapped draw compiles in a quarter of the time of four separate ones.
    """
    n, batch = cfg.width, cfg.batch
    size = max(n * n + n, batch * n + n)
    rows = jnp.concatenate([jnp.arange(depth), jnp.array([_INPUT_ROW])])
    draws = jax.vmap(lambda r: jax.random.normal(jax.random.fold_in(key, r), (size,)))(rows)
    weights = draws[:-1, : n * n].reshape(depth, n, n) / math.sqrt(n)
    biases = math.sqrt(cfg.sigma_b2) * draws[:-1, n * n : n * n + n]
    x = draws[-1, : batch * n].reshape(batch, n)
    readout = (draws[-1, batch * n : batch * n + n].reshape(n, 1) / math.sqrt(n), jnp.zeros(1))
    return weights, biases, readout, x


def _key(seed: int, index: int | jax.Array) -> jax.Array:
    """The key of network ``index`` of the experiment seeded with ``seed``."""
    return jax.random.fold_in(jax.random.key(seed), index)


def _cell_signals(
    cfg: Config, key: jax.Array, activation: Callable, scale: jax.Array, depth: Any, layers: int
) -> Signals:
    weights, biases, readout, x = _network(cfg, key, layers)
    y = jnp.zeros(cfg.batch)  # loss: mean squared output of the random read-out
    return stack_signals(
        weights, biases, readout, x, y, activation=activation, depth=depth, weight_scale=scale
    )


def sweep_cell(cfg: Config, seed: int = 0) -> Callable[[dict, dict], Signals]:
    """The :func:`actlab.sweep.run` cell: batched activation index and depth, and the network
    seed, static or batched (``cfg.batch_seeds``).

    Returns ``fn(static, batch) -> Signals`` with arrays over ``max(cfg.depths)`` layers (NaN
    beyond the cell's depth). With a static seed the weights depend on no batched value, so
    under ``vmap`` they are drawn once for all the cells of the seed.
    """
    layers = max(cfg.depths)
    scales = np.sqrt(np.asarray(cfg.sigma_w2, np.float32))

    def cell(static: dict, batch: dict) -> Signals:
        index = batch["activation"]
        act = A.switch(cfg.activations, index)
        scale = jnp.asarray(scales)[index]
        key = _key(seed, static["seed"] if "seed" in static else batch["seed"])
        return _cell_signals(cfg, key, act, scale, batch["depth"], layers)

    return cell


def reference_cell(
    cfg: Config, activation: int, depth: int, seed: int = 0
) -> Callable[[int | jax.Array], Signals]:
    """One configuration computed directly: ``fn(network_seed) -> Signals`` over ``depth`` layers.

    The same numbers as the sweep's cell (up to rounding in the order of floating-point sums),
    with the activation ``cfg.activations[activation]`` and the depth static: only ``depth``
    layers are drawn and computed, nothing is masked. ``benchmarks/gradflow.py`` jits it per
    configuration as the plain-loop reference.
    """
    act = A.switch(cfg.activations, activation)
    scale = jnp.asarray(np.sqrt(np.float32(cfg.sigma_w2[activation])))

    def cell(network_seed: int | jax.Array) -> Signals:
        return _cell_signals(cfg, _key(seed, network_seed), act, scale, None, depth)

    return cell


def make_grid(cfg: Config) -> Grid:
    """``Grid(seed, activation (index into cfg.activations), depth)``."""
    return Grid(seed=range(cfg.seeds), activation=range(len(cfg.activations)), depth=cfg.depths)


def batched_axes(cfg: Config) -> tuple[str, ...]:
    """The grid axes the sweep vmaps over: activation and depth, and the seed if
    ``cfg.batch_seeds``."""
    return ("seed", "activation", "depth") if cfg.batch_seeds else ("activation", "depth")


def sweep(
    cfg: Config,
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    devices: list | None = None,
    progress: bool = False,
) -> Results:
    """Run (or resume) the sweep of ``cfg`` in ``out_dir`` with :func:`actlab.sweep.run`.

    The results hold :class:`Signals` fields of shape ``(seeds, activations, depths,
    max(depths))`` (``delta_ratio``: one layer fewer): ``results.get()`` if ``cfg.batch_seeds``,
    else ``results.get(seed=s)`` without the leading axis (see :func:`collect`).
    """
    meta = {
        "experiment": NAME,
        "version": VERSION,
        "seed": seed,
        "activations": list(cfg.activations),
        "sigma_w2": list(cfg.sigma_w2),
        "sigma_b2": cfg.sigma_b2,
        "width": cfg.width,
        "batch": cfg.batch,
    }
    return run_sweep(
        sweep_cell(cfg, seed),
        make_grid(cfg),
        out_dir,
        batched=batched_axes(cfg),
        meta=meta,
        devices=devices,
        chunk=cfg.chunk,
        progress=progress,
    )


def collect(cfg: Config, results: Results) -> dict[str, np.ndarray]:
    """Every output of the sweep as one array ``(seeds, activations, depths, layers)``."""
    if cfg.batch_seeds:
        values = results.get()
        return {k: np.asarray(v) for k, v in values.items()}
    per_seed = [results.get(seed=s) for s in range(cfg.seeds)]
    return {k: np.stack([np.asarray(p[k]) for p in per_seed]) for k in per_seed[0]}
