"""Result files: written atomically (a reader never sees a half-written JSON, CSV or figure), and
one JSON encoding for every number actlab writes.

JSON has no NaN or infinity. :func:`jsonable` writes NaN as ``null`` and the infinities as the
strings ``"inf"`` and ``"-inf"`` (so an infinite depth scale stays infinite), NumPy and JAX arrays
as nested lists and their scalars as Python numbers; :func:`floats` reads such values back into a
float array.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it.

    Example:
      >>> with atomic_path("out/notes.txt") as tmp:
      ...     _ = tmp.write_text("written whole or not at all")
      >>> Path("out/notes.txt").read_text()
      'written whole or not at all'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def jsonable(obj: Any) -> Any:
    """``obj`` in strict JSON terms (module docstring): containers recursively, arrays as lists,
    NaN as ``None``, infinities as ``"inf"``/``"-inf"``.

    Example:
      >>> jsonable({"a": np.array([1.0, np.nan, np.inf]), "b": (np.int64(2),)})
      {'a': [1.0, None, 'inf'], 'b': [2]}
    """
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    elif hasattr(obj, "__array__") and not isinstance(obj, str | bytes):
        return jsonable(np.asarray(obj).tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    raise TypeError(
        f"write_json: obj: expected JSON-ready values or arrays, received {type(obj).__name__}"
    )


def floats(values: Any) -> np.ndarray:
    """Numbers written by :func:`jsonable` as a float64 array (``None`` -> NaN, ``"inf"`` -> inf).

    Example:
      >>> floats([1.0, None, "inf"])
      array([ 1., nan, inf])
    """

    def number(v: Any) -> Any:
        if isinstance(v, list):
            return [number(u) for u in v]
        return math.nan if v is None else v

    return np.asarray(number(values), dtype=np.float64)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented strict JSON (:func:`jsonable`), atomically; returns the path."""
    text = json.dumps(jsonable(obj), indent=2, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
    return Path(path)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file written by ``write_json``."""
    return json.loads(Path(path).read_text())
