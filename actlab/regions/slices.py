"""Two-dimensional slices of a higher-dimensional input: the plane through three data points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actlab.checks import message, number

__all__ = ["PlaneSlice", "slice_through"]


@dataclass(frozen=True, eq=False)
class PlaneSlice:
    """The plane ``x = origin + s * basis[0] + t * basis[1]`` and a box in it.

    Attributes:
      origin: ``(d,)`` the centroid of the three points.
      basis: ``(2, d)`` orthonormal directions, so slice areas are input-space areas.
      bounds: ``(2, 2)`` a box ``((s_lo, s_hi), (t_lo, t_hi))`` around the points.
      coords: ``(3, 2)`` the slice coordinates of the three points.
    """

    origin: np.ndarray
    basis: np.ndarray
    bounds: np.ndarray
    coords: np.ndarray

    def to_input(self, coords: np.ndarray) -> np.ndarray:
        """Input points of slice coordinates ``coords`` ``(..., 2)``: shape ``(..., d)``."""
        return self.origin + np.asarray(coords, dtype=np.float64) @ self.basis

    def kwargs(self) -> dict[str, np.ndarray]:
        """``bounds``, ``origin`` and ``basis``, to pass on: ``count_plane(layers, **s.kwargs())``."""
        return {"bounds": self.bounds, "origin": self.origin, "basis": self.basis}


def slice_through(points: np.ndarray, *, margin: float = 0.5) -> PlaneSlice:
    """The plane through three input points, with a box around them.

    The basis is orthonormal (Gram-Schmidt on ``points[1] - points[0]``, ``points[2] -
    points[0]``) and the origin is the points' centroid; the box holds the three points with
    ``margin`` times the larger side of their bounding box added on every side.

    Args:
      points: ``(3, d)`` three points that are not collinear, ``d >= 2``.
      margin: relative margin around the points, ``>= 0``.

    Returns:
      A :class:`PlaneSlice`.

    Raises:
      ValueError: if ``points`` does not have shape ``(3, d)`` with ``d >= 2``, is not finite, or
        the points are collinear.

    Example:
      >>> s = slice_through(np.eye(3))
      >>> np.allclose(s.to_input(s.coords), np.eye(3))
      True
    """
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != 3 or array.shape[1] < 2:
        raise ValueError(message("points", "shape (3, d) with d >= 2", f"shape {array.shape}"))
    if not np.all(np.isfinite(array)):
        raise ValueError(message("points", "finite values", "NaN or inf"))
    margin = number(margin, "margin", low=0.0)
    first, second = array[1] - array[0], array[2] - array[0]
    scale = max(np.linalg.norm(first), np.linalg.norm(second))
    u = first / np.linalg.norm(first) if np.linalg.norm(first) > 0 else first
    v = second - (second @ u) * u
    if np.linalg.norm(first) == 0 or np.linalg.norm(v) <= 1e-12 * scale:
        raise ValueError(
            message("points", "three points that span a plane", "collinear (or repeated) points")
        )
    basis = np.stack([u, v / np.linalg.norm(v)])
    origin = array.mean(axis=0)
    coords = (array - origin) @ basis.T
    low, high = coords.min(axis=0), coords.max(axis=0)
    pad = margin * (high - low).max()
    return PlaneSlice(origin, basis, np.stack([low - pad, high + pad], axis=1), coords)
