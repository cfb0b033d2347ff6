"""Checks on the arguments of the region counters (the grammar of :mod:`actlab.checks`).
Everything returns float64 NumPy arrays: region geometry needs float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from actlab.checks import message
from actlab.models import check_layers as check_network_layers

Layers = tuple[tuple[np.ndarray, np.ndarray], ...]
"""Checked hidden layers: float64 ``(W, b)`` pairs, finite and chained."""


def _finite(name: str, array: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(array)):
        raise ValueError(message(name, "finite values", "NaN or inf"))
    return array


def check_layers(layers: Any, name: str = "layers") -> Layers:
    """Hidden layers ``[(W, b), ...]`` (:func:`actlab.models.check_layers`), as finite float64."""
    checked = check_network_layers(
        layers, name=name, convert=lambda a: np.asarray(a, dtype=np.float64)
    )
    for l, (w, b) in enumerate(checked):
        _finite(f"{name}[{l}] W", w)
        _finite(f"{name}[{l}] b", b)
    return checked


def check_point(name: str, point: object, dim: int) -> np.ndarray:
    """A point of the input space: shape ``(dim,)``."""
    array = np.asarray(point, dtype=np.float64)
    if array.shape != (dim,):
        raise ValueError(
            message(name, f"shape ({dim},) (the input dimension of layers[0])",
                    f"shape {array.shape}")
        )  # fmt: skip
    return _finite(name, array)


def check_points(name: str, points: object, dim: int) -> np.ndarray:
    """A batch of points of the input space: shape ``(n, dim)``, ``n >= 1``."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != dim or array.shape[0] == 0:
        raise ValueError(
            message(name, f"shape (n, {dim}) with n >= 1 (input dimension of layers[0])",
                    f"shape {array.shape}")
        )  # fmt: skip
    return _finite(name, array)


def check_box(name: str, bounds: object, dim: int | None = None) -> np.ndarray:
    """A box ``((lo_1, hi_1), ..., (lo_d, hi_d))`` with ``lo < hi``: shape ``(d, 2)``."""
    array = np.asarray(bounds, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or (dim is not None and array.shape[0] != dim):
        expected = f"({dim}, 2)" if dim is not None else "(d, 2)"
        raise ValueError(
            message(name, f"pairs (lo, hi) per axis, shape {expected}", f"shape {array.shape}")
        )
    _finite(name, array)
    empty = np.flatnonzero(array[:, 0] >= array[:, 1])
    if empty.size:
        axis = int(empty[0])
        raise ValueError(
            message(name, "lo < hi on every axis (a box with interior)",
                    f"(lo, hi) = ({array[axis, 0]}, {array[axis, 1]}) on axis {axis}: an empty box")
        )  # fmt: skip
    return array


def check_slice(origin: object, basis: object, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Origin ``(dim,)`` and basis ``(2, dim)`` (rank 2) of a plane slice; for ``dim == 2`` they
    default to zero and the identity."""
    if basis is None:
        if dim != 2:
            raise ValueError(
                message("basis", f"two directions, shape (2, {dim}), to slice the "
                        f"{dim}-dimensional input (see slice_through)", "None")
            )  # fmt: skip
        basis_array = np.eye(2)
    else:
        basis_array = np.asarray(basis, dtype=np.float64)
        if basis_array.shape != (2, dim):
            raise ValueError(
                message("basis", f"shape (2, {dim}) (two directions in the input space)",
                        f"shape {basis_array.shape}")
            )  # fmt: skip
        _finite("basis", basis_array)
        singular = np.linalg.svd(basis_array, compute_uv=False)
        if singular[0] == 0.0 or singular[1] <= 1e-12 * singular[0]:
            raise ValueError(
                message("basis", "two linearly independent directions (rank 2)",
                        f"a degenerate basis with singular values {singular.tolist()}")
            )  # fmt: skip
    origin_array = np.zeros(dim) if origin is None else check_point("origin", origin, dim)
    return origin_array, basis_array
