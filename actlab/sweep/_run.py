"""The engine: one jitted, vmapped, device-sharded call per static group, saved as it finishes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm import tqdm

from actlab.sweep import _store
from actlab.sweep._grid import Grid, Value, batch_arrays, config_key, split_axes
from actlab.sweep._results import ARRAY, Results

CellFn = Callable[[dict[str, Value], dict[str, jax.Array]], Any]


def _flatten(out: Any, path: str = "") -> dict[str, Any]:
    """fn's output as ``{"a/b": array}``; ValueError naming the offending entry otherwise."""
    where = f"fn's output at {path!r}" if path else "fn's output"
    if isinstance(out, tuple) and hasattr(out, "_asdict"):  # NamedTuple
        out = out._asdict()
    if isinstance(out, Mapping):
        if not out:
            raise ValueError(f"{where}: expected at least one array, received an empty mapping")
        flat = {}
        for name, value in out.items():
            if not isinstance(name, str) or not name or "/" in name:
                raise ValueError(
                    f"{where}: expected keys that are non-empty str without '/', received {name!r}"
                )
            flat.update(_flatten(value, f"{path}/{name}" if path else name))
        return flat
    if isinstance(out, jax.Array | np.ndarray | np.generic | int | float):
        if jax.dtypes.issubdtype(getattr(out, "dtype", np.float32), jax.dtypes.prng_key):
            raise ValueError(
                f"{where}: expected arrays (return jax.random.key_data(key)), received a PRNG key array"
            )
        return {path: out}
    raise ValueError(
        f"{where}: expected an array or a (nested) dict or NamedTuple of arrays, "
        f"received {type(out).__name__}: {out!r:.80}"
    )


def _to_host(x: jax.Array) -> np.ndarray:
    """A (possibly multi-process) sharded array as one NumPy array on this host."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def _sharded(host: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """Place ``host`` (identical on every process) on the devices of ``sharding``."""
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _compute_group(
    fn: CellFn,
    static: dict[str, Value],
    batch: dict[str, np.ndarray],
    batch_shape: tuple[int, ...],
    mesh: Mesh,
    chunk: int | None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run every cell of one static group; returns (outputs, record of how they were computed).

    One compiled call computes ``chunk`` cells on each device (vmapped); the cells, padded with
    copies of the last one, go through it in as many rounds as needed. Each device thus always
    runs the same program on the same chunk of cells, whatever the number of devices.
    """
    cells, n_dev = int(np.prod(batch_shape)), mesh.size
    chunk = -(-cells // n_dev) if chunk is None else chunk
    per_round = n_dev * chunk
    padded = np.minimum(np.arange(-(-cells // per_round) * per_round), cells - 1)
    structure = []

    def cell(_, values):
        flat = _flatten(fn(dict(static), dict(values)))
        structure.append("array" if "" in flat else "tree")
        return {ARRAY: flat[""]} if "" in flat else flat

    spec = PartitionSpec("cells")
    sharding = NamedSharding(mesh, spec)
    # check_vma=False: each device runs plain per-cell code. With the check on, jax.grad inside
    # fn with respect to a value that does not depend on the cell (zeros, a constant) would be
    # summed over all devices, mixing cells.
    per_device = jax.shard_map(
        jax.vmap(cell), mesh=mesh, in_specs=(spec, spec), out_specs=spec, check_vma=False
    )
    call = jax.jit(per_device)
    inputs = []
    for start in range(0, padded.size, per_round):
        index = padded[start : start + per_round]
        values = {n: _sharded(v[index], sharding) for n, v in batch.items()}
        inputs.append((_sharded(index.astype(np.int32), sharding), values))
    start = time.perf_counter()
    compiled = call.lower(*inputs[0]).compile()
    compile_seconds = round(time.perf_counter() - start, 4)
    rounds = [compiled(*args) for args in inputs]  # dispatch all rounds, then wait
    devices = len(next(iter(rounds[0].values())).sharding.device_set)
    host = {k: np.concatenate([_to_host(r[k]) for r in rounds])[:cells] for k in rounds[0]}
    outputs = {k: v.reshape(batch_shape + v.shape[1:]) for k, v in host.items()}
    record = {"structure": structure[0], "devices": devices, "chunk": chunk}
    return outputs, {**record, "compile_seconds": compile_seconds}


def _group_key(grid: Grid, static: Mapping[str, Value], batched: Sequence[str], meta: Mapping):
    """Everything a stored group must match to be reused."""
    return {"static": dict(static), "batched": {n: grid.axes[n] for n in batched}, "meta": meta}


def _stored_groups(paths: Sequence[Path], keys: Sequence[dict]) -> list[tuple[bool, Any]]:
    """(finished, stored (outputs, record) or None) per group; process 0 decides for all.

    On other processes a group can be finished yet unreadable (out_dir not shared): it is then
    skipped, never computed alone, since computing takes every process.
    """
    stored = [_store.load_group(p, k) for p, k in zip(paths, keys, strict=True)]
    found = [s is not None for s in stored]
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        found = multihost_utils.broadcast_one_to_all(np.array(found)).tolist()
    return [(f, s if f else None) for f, s in zip(found, stored, strict=True)]


def run(
    fn: CellFn,
    grid: Grid,
    out_dir: str | os.PathLike,
    *,
    batched: str | Sequence[str] | None = None,
    meta: Mapping[str, Any] | None = None,
    devices: Sequence[jax.Device] | None = None,
    chunk: int | None = None,
    progress: bool = True,
) -> Results:
    """Run ``fn`` on every cell of ``grid``: one jitted call per static group, saved as it ends.

    Args:
      fn: ``fn(static, batch) -> array | dict of arrays`` for ONE cell: ``static`` maps each
        static axis to its Python value, ``batch`` each batched axis to a scalar array (seeds are
        integers: call ``jax.random.key(batch["seed"])`` inside). Traced once per computed group
        and vmapped by the engine; output shapes may depend only on ``static``. Nested dicts and
        NamedTuples of arrays are fine (results come back as dicts).
      grid: the axes to sweep.
      out_dir: folder for the group files and ``index.json``; finished groups found there with
        the same configuration are loaded instead of recomputed.
      batched: axes whose values become arrays (numbers only); all others are static.
        Default: ``("seed",)`` if the grid has a ``seed`` axis, else none.
      meta: JSON-serialisable facts that change the values but are not axes (width, data size,
        a version of ``fn``); a stored group with different ``meta`` is recomputed.
      devices: devices to shard the cells over (default ``jax.devices()``: all local devices,
        or all devices of all processes after ``jax.distributed.initialize()``).
      chunk: cells vmapped together on one device in one call (default: all of a device's
        cells at once, the fastest); more cells run in further rounds of the same compiled
        call. The values depend on the chunk, not on the number of devices: a fixed ``chunk``
        gives bitwise-identical results on 1 or 8 devices, while the default changes the
        per-device batch with the device count, and with it the last bits of some results.
      progress: show a progress bar (tqdm, one step per group).

    Returns:
      ``Results``; ``results.get(**static_values)`` has the batched axes leading, in grid order.

    Raises:
      ValueError: empty or repeated axis values, unknown or non-numeric ``batched`` axes, a
        ``fn`` output that is not an array or dict of arrays; TypeError: non-scalar axis values,
        ``meta`` not JSON.

    Example:
      >>> from actlab import activations as A
      >>> def fn(static, batch):  # mean squared activation after each of depth random layers
      ...     x = jax.random.normal(jax.random.key(batch["seed"]), (16, 32))
      ...     q = []
      ...     for _ in range(static["depth"]):
      ...         x = A.get(static["activation"])(x) * 1.4
      ...         q.append(jnp.mean(x**2))
      ...     return {"q": jnp.stack(q)}
      >>> grid = Grid(activation=("relu", "tanh"), depth=(2, 8), seed=range(8))
      >>> results = run(fn, grid, "out/sweep", meta={"version": 1}, progress=False)
      >>> results.get(activation="relu", depth=8)["q"].shape  # (seed, layer)
      (8, 8)
    """
    if batched is None:
        batched = ("seed",) if isinstance(grid, Grid) and "seed" in grid.axes else ()
    static_names, batch_names = split_axes(grid, batched)
    meta = dict(meta or {})
    try:
        json.dumps(meta)
    except TypeError as e:
        raise TypeError(
            f"run: meta: expected JSON-serialisable values (str, numbers, lists, dicts), received {e}"
        ) from None
    devices = list(jax.devices() if devices is None else devices)
    if not devices or len(set(devices)) != len(devices):
        raise ValueError(
            f"run: devices: expected a non-empty list of distinct devices, received {devices}"
        )
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ValueError(f"run: chunk: expected an int >= 1 or None, received {chunk!r}")
    mesh = Mesh(np.array(devices), ("cells",))
    batch = batch_arrays(grid, batch_names)
    batch_shape = tuple(len(grid.axes[n]) for n in batch_names)
    out_dir = Path(out_dir)
    writer = jax.process_index() == 0

    configs = list(grid.configs(static_names))
    keys = [_group_key(grid, c, batch_names, meta) for c in configs]
    paths = [_store.group_path(out_dir, c) for c in configs]
    stored = _stored_groups(paths, keys)

    groups, computed, loaded, entries = {}, [], [], []
    bar = tqdm(total=len(configs), desc="sweep", unit="group", disable=not progress or not writer)
    for config, key, path, (finished, hit) in zip(configs, keys, paths, stored, strict=True):
        bar.set_postfix_str(", ".join(f"{k}={v}" for k, v in config.items()), refresh=False)
        if finished and hit is None:  # finished by process 0, unreadable here
            bar.update()
            continue
        if finished:
            outputs, record = hit
            loaded.append(config)
        else:
            start = time.perf_counter()
            outputs, record = _compute_group(fn, config, batch, batch_shape, mesh, chunk)
            record["seconds"] = round(time.perf_counter() - start, 4)
            if writer:
                _store.save_group(path, key, outputs, record)
            computed.append(config)
        groups[config_key(config)] = (outputs, record["structure"])
        info = {k: record.get(k) for k in ("devices", "chunk", "compile_seconds", "seconds")}
        entries.append({"static": config, "file": path.name, "loaded": finished, **info})
        if writer:
            _store.write_index(out_dir, grid.axes, batch_names, meta, entries)
        bar.update()
    bar.close()
    return Results(grid, static_names, batch_names, groups, computed, loaded)


def load(out_dir: str | os.PathLike) -> Results:
    """The results of the sweep last run in ``out_dir`` (all groups finished), without ``fn``.

    Raises:
      ValueError: if ``out_dir`` holds no sweep or some of its groups are missing.
    """
    out_dir = Path(out_dir)
    index = _store.read_index(out_dir)
    grid = Grid(**index["grid"])
    static_names, batch_names = split_axes(grid, index["batched"])
    groups, missing = {}, []
    for config in grid.configs(static_names):
        key = _group_key(grid, config, batch_names, index["meta"])
        hit = _store.load_group(_store.group_path(out_dir, config), key)
        if hit is None:
            missing.append(config)
        else:
            groups[config_key(config)] = (hit[0], hit[1]["structure"])
    if missing:
        raise ValueError(
            f"load: out_dir: expected a finished sweep, received {str(out_dir)!r} with "
            f"{len(missing)} of {len(missing) + len(groups)} groups missing (first: {missing[0]}); "
            "rerun it"
        )
    return Results(grid, static_names, batch_names, groups, loaded=list(grid.configs(static_names)))
