"""Checks on the arguments of the region counters; each error names the argument, the expected and
the received value. Everything returns float64 NumPy arrays (region geometry needs float64)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Layers = tuple[tuple[np.ndarray, np.ndarray], ...]


def _finite(name: str, array: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: expected finite values, received NaN or inf")
    return array


def check_layers(layers: Sequence[tuple[object, object]]) -> Layers:
    """Hidden layers ``[(W, b), ...]``: ``W`` of shape ``(in, out)``, ``b`` of shape ``(out,)``,
    consecutive layers chained (``W[l].shape[0] == W[l - 1].shape[1]``); as float64 arrays."""
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers: expected a list of (W, b) pairs, received {type(layers).__name__}"
        )
    if len(layers) == 0:
        raise ValueError("layers: expected at least one hidden layer (W, b), received none")
    checked = []
    for l, layer in enumerate(layers):
        if not isinstance(layer, Sequence) or len(layer) != 2:
            raise ValueError(f"layers[{l}]: expected a pair (W, b), received {layer!r:.80}")
        weight = np.asarray(layer[0], dtype=np.float64)
        bias = np.asarray(layer[1], dtype=np.float64)
        if weight.ndim != 2 or min(weight.shape) == 0:
            raise ValueError(
                f"layers[{l}] W: expected a non-empty matrix of shape (in, out), received shape "
                f"{weight.shape}"
            )
        if bias.shape != (weight.shape[1],):
            raise ValueError(
                f"layers[{l}] b: expected shape ({weight.shape[1]},) to match W of shape "
                f"{weight.shape}, received shape {bias.shape}"
            )
        if l > 0 and weight.shape[0] != checked[-1][0].shape[1]:
            raise ValueError(
                f"layers[{l}] W: expected {checked[-1][0].shape[1]} input rows (the width of "
                f"layers[{l - 1}]), received shape {weight.shape}"
            )
        checked.append((_finite(f"layers[{l}] W", weight), _finite(f"layers[{l}] b", bias)))
    return tuple(checked)


def check_point(name: str, point: object, dim: int) -> np.ndarray:
    """A point of the input space: shape ``(dim,)``."""
    array = np.asarray(point, dtype=np.float64)
    if array.shape != (dim,):
        raise ValueError(
            f"{name}: expected shape ({dim},) (the input dimension of layers[0]), received shape "
            f"{array.shape}"
        )
    return _finite(name, array)


def check_points(name: str, points: object, dim: int) -> np.ndarray:
    """A batch of points of the input space: shape ``(n, dim)``, ``n >= 1``."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != dim or array.shape[0] == 0:
        raise ValueError(
            f"{name}: expected shape (n, {dim}) with n >= 1 (input dimension of layers[0]), "
            f"received shape {array.shape}"
        )
    return _finite(name, array)


def check_box(name: str, bounds: object, dim: int | None = None) -> np.ndarray:
    """A box ``((lo_1, hi_1), ..., (lo_d, hi_d))`` with ``lo < hi``: shape ``(d, 2)``."""
    array = np.asarray(bounds, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or (dim is not None and array.shape[0] != dim):
        expected = f"({dim}, 2)" if dim is not None else "(d, 2)"
        raise ValueError(
            f"{name}: expected pairs (lo, hi) per axis, shape {expected}, received shape "
            f"{array.shape}"
        )
    _finite(name, array)
    empty = np.flatnonzero(array[:, 0] >= array[:, 1])
    if empty.size:
        axis = int(empty[0])
        raise ValueError(
            f"{name}: expected lo < hi on every axis (a box with interior), received "
            f"(lo, hi) = ({array[axis, 0]}, {array[axis, 1]}) on axis {axis}: an empty box"
        )
    return array


def check_slice(origin: object, basis: object, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Origin ``(dim,)`` and basis ``(2, dim)`` (rank 2) of a plane slice; for ``dim == 2`` they
    default to zero and the identity."""
    if basis is None:
        if dim != 2:
            raise ValueError(
                f"basis: expected two directions, shape (2, {dim}), to slice the {dim}-dimensional "
                "input (see slice_through), received None"
            )
        basis_array = np.eye(2)
    else:
        basis_array = np.asarray(basis, dtype=np.float64)
        if basis_array.shape != (2, dim):
            raise ValueError(
                f"basis: expected shape (2, {dim}) (two directions in the input space), received "
                f"shape {basis_array.shape}"
            )
        _finite("basis", basis_array)
        singular = np.linalg.svd(basis_array, compute_uv=False)
        if singular[0] == 0.0 or singular[1] <= 1e-12 * singular[0]:
            raise ValueError(
                "basis: expected two linearly independent directions (rank 2), received a "
                f"degenerate basis with singular values {singular.tolist()}"
            )
    origin_array = np.zeros(dim) if origin is None else check_point("origin", origin, dim)
    return origin_array, basis_array


def check_positive(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive finite number, received {value!r}")
    return float(value)
