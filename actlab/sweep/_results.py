"""Results of a sweep, indexed by the grid, and their export as tidy rows."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actlab.io import atomic_path, write_json
from actlab.sweep._grid import Grid, Value, config_key

ARRAY = "value"  # output name used when fn returns a bare array rather than a dict
ROW_COLUMNS = ("output", "index", "value")


def unflatten(outputs: Mapping[str, np.ndarray], structure: str) -> Any:
    """Flat ``{"a/b": array}`` back to nested dicts, or the bare array if structure is 'array'."""
    if structure == "array":
        return outputs[ARRAY]
    tree: dict[str, Any] = {}
    for path, value in outputs.items():
        *parents, leaf = path.split("/")
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return tree


class Results:
    """Values of a finished sweep: one pytree per static group, batched axes leading.

    Attributes:
      grid: the ``Grid`` that was run.
      static: names of the static axes; batched: names of the batched axes (grid order).
      computed, loaded: static configurations computed in this run and loaded from ``out_dir``.
    """

    def __init__(
        self,
        grid: Grid,
        static: Sequence[str],
        batched: Sequence[str],
        groups: Mapping[str, tuple[dict[str, np.ndarray], str]],
        computed: Sequence[dict[str, Value]] = (),
        loaded: Sequence[dict[str, Value]] = (),
    ):
        self.grid, self.static, self.batched = grid, tuple(static), tuple(batched)
        self._groups = dict(groups)  # config_key -> (flat outputs, structure)
        self.computed, self.loaded = tuple(computed), tuple(loaded)

    def get(self, **where: Value) -> Any:
        """The outputs of one static group, optionally at given batched values.

        Args:
          **where: a value for every static axis, and optionally for batched axes.

        Returns:
          What ``fn`` returned (dicts stay dicts; NamedTuples come back as dicts), each leaf with
          one leading axis per batched axis not given in ``where`` (in grid order).

        Example:
          >>> from actlab.sweep import Grid, run
          >>> def fn(static, batch):  # one cell: a norm per layer
          ...     return {"norm": jnp.arange(static["depth"]) * batch["seed"]}
          >>> results = run(fn, Grid(depth=(2, 4), seed=range(3)), "out/get", progress=False)
          >>> results.get(depth=4)["norm"].shape  # (seeds, depth)
          (3, 4)
          >>> results.get(depth=4, seed=2)["norm"].tolist()  # (depth,)
          [0, 2, 4, 6]
        """
        unknown = sorted(set(where) - set(self.grid.names))
        missing = [n for n in self.static if n not in where]
        if unknown or missing:
            raise ValueError(
                f"Results.get: axes: expected every static axis {self.static} and optionally "
                f"batched axes {self.batched}, received unknown {unknown} and missing {missing}"
            )
        for name, value in where.items():
            if value not in self.grid.axes[name]:
                raise ValueError(
                    f"Results.get: {name}: expected one of {self.grid.axes[name]}, received {value!r}"
                )
        where = {n: self.grid.axes[n][self.grid.axes[n].index(v)] for n, v in where.items()}
        key = config_key({n: where[n] for n in self.static})
        if key not in self._groups:
            raise KeyError(
                f"Results.get: group {key}: expected results, received none (the sweep did not finish it)"
            )
        outputs, structure = self._groups[key]
        index = tuple(
            self.grid.axes[n].index(where[n]) if n in where else slice(None) for n in self.batched
        )
        return unflatten({k: v[index] for k, v in outputs.items()}, structure)

    def items(self) -> Iterator[tuple[dict[str, Value], Any]]:
        """(static configuration, outputs) for every finished group, in grid order."""
        for config in self.grid.configs(self.static):
            if config_key(config) in self._groups:
                yield config, self.get(**config)

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per cell, output and element of that output.

        Each row has every axis as a column, then ``output`` (the name of the leaf, "a/b" for
        nested dicts, ``"value"`` for a bare array), ``index`` (None for a per-cell scalar, an int
        for a per-cell vector, a tuple otherwise) and ``value`` (a Python number).
        """
        clash = [c for c in ROW_COLUMNS if c in self.grid.axes]
        if clash:
            raise ValueError(
                f"Results.rows: axis names: expected names other than the row columns "
                f"{ROW_COLUMNS}, received {clash}"
            )
        rows = []
        for config in self.grid.configs(self.static):
            if config_key(config) not in self._groups:
                continue
            outputs, _ = self._groups[config_key(config)]
            for cell in self.grid.configs(self.batched):
                at = tuple(self.grid.axes[n].index(cell[n]) for n in self.batched)
                for name, value in outputs.items():
                    per_cell = value[at]
                    for element in np.ndindex(per_cell.shape):
                        index = (
                            None if not element else element[0] if len(element) == 1 else element
                        )
                        rows.append(
                            {**config, **cell, "output": name, "index": index,
                             "value": per_cell[element].item()}
                        )  # fmt: skip
        return rows

    def write_rows(self, path: str | os.PathLike) -> Path:
        """Write ``rows()`` atomically as CSV (``.csv``) or JSON (``.json``); returns the path."""
        path = Path(path)
        if path.suffix == ".json":
            return write_json(path, self.rows())
        if path.suffix != ".csv":
            raise ValueError(
                f"Results.write_rows: path: expected a name ending in .csv or .json, received {str(path)!r}"
            )
        rows = self.rows()
        columns = [*self.grid.names, *ROW_COLUMNS]
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return path

    def __repr__(self) -> str:
        return (
            f"Results({self.grid!r}, batched={self.batched}, groups={len(self._groups)}, "
            f"computed={len(self.computed)}, loaded={len(self.loaded)})"
        )
