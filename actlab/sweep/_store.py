"""On-disk layout of a sweep: one self-describing ``.npz`` per static group plus ``index.json``.

``out_dir/<slug>-<hash>.npz`` holds the group's outputs (``output_0``, ``output_1``, ...) and a
``record`` entry: JSON with the configuration the values belong to (static values, batched
values, the caller's ``meta``), the output names and how the values were computed. A group file
is written atomically, so it is either complete or absent; a file whose stored configuration
differs from the one asked for is ignored and recomputed. ``index.json`` summarises the last run
(grid, batched axes, meta, one entry per finished group) for humans and for ``load``.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actlab.io import atomic_path, read_json, write_json

FORMAT = 1
INDEX = "index.json"


def canonical(obj: Any) -> Any:
    """``obj`` after a JSON round trip, so stored and requested configurations compare equal."""
    return json.loads(json.dumps(obj))


def group_path(out_dir: Path, static: Mapping[str, Any]) -> Path:
    """File for one static group: readable values, then a hash of the exact configuration."""
    text = json.dumps(dict(static))
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", "_".join(str(v) for v in static.values()))[:60]
    return out_dir / f"{slug or 'all'}-{digest}.npz"


def save_group(
    path: Path, key: Mapping[str, Any], outputs: Mapping[str, np.ndarray], info: Mapping[str, Any]
) -> None:
    """Write one group's ``outputs`` (name -> array) with its configuration ``key``, atomically."""
    record = {"format": FORMAT, "key": canonical(key), "outputs": list(outputs), **info}
    arrays = {f"output_{i}": np.asarray(v) for i, v in enumerate(outputs.values())}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, record=np.array(json.dumps(record)), **arrays)


def load_group(
    path: Path, key: Mapping[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The stored outputs and record of ``path`` if it holds configuration ``key``, else None."""
    if not path.exists():
        return None
    try:
        # the file is opened here so that it is closed even when np.load fails on it
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as data:
            record = json.loads(str(data["record"]))
            if record.get("format") != FORMAT or record.get("key") != canonical(key):
                return None
            outputs = {n: data[f"output_{i}"] for i, n in enumerate(record["outputs"])}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None  # unreadable: recompute and overwrite
    return outputs, record


def write_index(
    out_dir: Path,
    axes: Mapping[str, Sequence[Any]],
    batched: Sequence[str],
    meta: Mapping[str, Any],
    groups: Sequence[Mapping[str, Any]],
) -> None:
    """Write ``index.json``: the grid, batched axis names, meta and one entry per finished group."""
    index = {
        "format": FORMAT,
        "grid": {k: list(v) for k, v in axes.items()},
        "batched": list(batched),
        "meta": dict(meta),
        "groups": list(groups),
    }
    write_json(out_dir / INDEX, index)


def read_index(out_dir: Path) -> dict[str, Any]:
    """Read ``index.json``; ValueError if ``out_dir`` holds no sweep."""
    path = out_dir / INDEX
    if not path.exists():
        raise ValueError(
            f"load: out_dir: expected a folder holding a sweep ({INDEX}), received {str(out_dir)!r}"
        )
    index = read_json(path)
    if index.get("format") != FORMAT:
        raise ValueError(
            f"load: {path}: expected format {FORMAT}, received {index.get('format')!r}"
        )
    return index
