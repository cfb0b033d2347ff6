"""The grid: named axes of plain values, and the split into static and batched axes."""

from __future__ import annotations

import itertools
import json
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np

Value = str | int | float | bool


def _plain_value(axis: str, value: Any) -> Value:
    """``value`` as a JSON-exact Python scalar, or a TypeError naming the axis."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | bool | int | float):
        return value
    raise TypeError(
        f"Grid: {axis}: expected values that are str, int, float or bool (they name files and "
        f"are stored as JSON), received {value!r} of type {type(value).__name__}"
    )


class Grid:
    """A product of named axes, each a non-empty sequence of plain values.

    The order of the keywords is the order of the axes: configurations are enumerated with the
    last axis changing fastest, and results carry the batched axes in this order.

    Args:
      **axes: axis name -> values (str, int, float or bool; a ``range`` is fine), e.g.
        ``activation=("relu", "tanh"), depth=(1, 2, 4), seed=range(8)``.

    Example:
      >>> grid = Grid(activation=("relu", "tanh"), depth=(1, 2, 4), seed=range(8))
      >>> grid.shape
      (2, 3, 8)
    """

    def __init__(self, **axes: Iterable[Value]):
        if not axes:
            raise ValueError(
                "Grid: axes: expected at least one axis, e.g. Grid(seed=range(8)), received none"
            )
        self.axes: dict[str, tuple[Value, ...]] = {}
        for name, values in axes.items():
            if isinstance(values, str | bytes) or not isinstance(values, Iterable):
                raise TypeError(f"Grid: {name}: expected a sequence of values, received {values!r}")
            values = tuple(_plain_value(name, v) for v in values)
            if not values:
                raise ValueError(f"Grid: {name}: expected at least one value, received none")
            keys = [json.dumps(v) for v in values]
            if len(set(keys)) != len(keys):
                raise ValueError(f"Grid: {name}: expected distinct values, received {values}")
            self.axes[name] = values

    @property
    def names(self) -> tuple[str, ...]:
        """Axis names in order."""
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values on each axis."""
        return tuple(len(v) for v in self.axes.values())

    def configs(self, names: Sequence[str]) -> Iterator[dict[str, Value]]:
        """Every combination of the axes ``names`` (in grid order), last axis fastest."""
        names = [n for n in self.axes if n in names]
        for combo in itertools.product(*(self.axes[n] for n in names)):
            yield dict(zip(names, combo, strict=True))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Grid) and json.dumps(self.axes) == json.dumps(other.axes)

    def __hash__(self) -> int:
        return hash(json.dumps(self.axes))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.axes.items())
        return f"Grid({inner})"


def split_axes(grid: Grid, batched: str | Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Validate ``batched`` against ``grid``; return (static names, batched names) in grid order."""
    if not isinstance(grid, Grid):
        raise TypeError(f"run: grid: expected an actlab.sweep.Grid, received {type(grid).__name__}")
    batched = (batched,) if isinstance(batched, str) else tuple(batched)
    unknown = [n for n in batched if n not in grid.axes]
    if unknown:
        raise ValueError(
            f"run: batched: expected axes of the grid {grid.names}, received {unknown}"
        )
    for name in batched:
        bad = [v for v in grid.axes[name] if not isinstance(v, numbers.Number)]
        if bad:
            raise ValueError(
                f"run: batched: expected axes of numbers (they become arrays; make {name!r} a "
                f"static axis instead), received {name!r} holding {bad}"
            )
    static = tuple(n for n in grid.names if n not in batched)
    return static, tuple(n for n in grid.names if n in batched)


def batch_arrays(grid: Grid, batched: Sequence[str]) -> dict[str, np.ndarray]:
    """The product of the batched axes, flattened: name -> values of shape (cells,).

    Integers (and bools) become JAX's default integer dtype, floats its default float dtype
    (int32 and float32, or 64-bit under ``jax.enable_x64``).
    """
    columns: dict[str, list] = {n: [] for n in batched}
    for config in grid.configs(batched):
        for name, value in config.items():
            columns[name].append(value)
    out = {}
    for name, values in columns.items():
        is_int = all(isinstance(v, bool | int) for v in grid.axes[name])
        dtype = jax.dtypes.canonicalize_dtype(np.int64 if is_int else np.float64)
        if is_int and not all(np.iinfo(dtype).min <= v <= np.iinfo(dtype).max for v in values):
            raise ValueError(f"batched axis {name!r} has integers outside {dtype}: {values}")
        out[name] = np.asarray(values, dtype)
    return out


def config_key(config: Mapping[str, Value]) -> str:
    """A canonical string for one static configuration (JSON, keys in grid order)."""
    return json.dumps(dict(config))
