"""Drawing plane partitions: regions filled by linear region, kink lines, decision boundaries.

Coordinates are the slice coordinates ``(s, t)`` of an :class:`actlab.regions.PlanePartition`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import hsv_to_rgb

from actlab.checks import message, one_of


def _zero_segments(vertices: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where an affine function is zero inside convex polygons: ``(k, 2, 2)`` segments.

    ``vertices`` ``(P, V, 2)`` are convex polygons (padded with copies of the first vertex) and
    ``values`` ``(P, V)`` the function at the vertices; an affine function changes sign on at most
    two edges of a convex polygon, and its zero set inside is the segment between the crossings.
    """
    following_vertices = np.roll(vertices, -1, axis=1)
    following_values = np.roll(values, -1, axis=1)
    crossing = (values < 0) != (following_values < 0)
    where = np.divide(values, values - following_values, where=crossing, out=np.zeros_like(values))
    points = vertices + where[..., None] * (following_vertices - vertices)
    cut = crossing.sum(axis=1) >= 2
    first_two = np.argsort(~crossing[cut], axis=1, kind="stable")[:, :2]
    return np.take_along_axis(points[cut], first_two[..., None], axis=1)


def _box_polygon(bounds: np.ndarray) -> np.ndarray:
    (s0, s1), (t0, t1) = np.asarray(bounds, dtype=np.float64)
    return np.array([[s0, t0], [s1, t0], [s1, t1], [s0, t1]])


def draw_partition(
    ax: Any,
    partition: Any,
    *,
    readout: tuple[np.ndarray, np.ndarray] | None = None,
    color_by: str = "linear",
    seed: int = 0,
    edge_width: float = 0.15,
) -> None:
    """Fill each region of a plane partition with its own colour; optionally the decision boundary.

    Args:
      ax: a matplotlib axes.
      partition: an :class:`actlab.regions.PlanePartition`.
      readout: the output layer ``(W, b)`` with ``W`` of shape ``(width, 1)``: the zero set of
        the logit ``h @ W + b`` is drawn exactly, a segment in each polygon (black).
      color_by: ``"linear"`` (one colour per linear region; activation regions inside it keep
        thin white edges) or ``"activation"`` (one colour per polygon).
      seed: seed of the random pastel colours.
      edge_width: line width of the polygons' white edges (0 for none).
    """
    one_of(color_by, "color_by", ("linear", "activation"), where="draw_partition")
    labels = partition.linear_labels() if color_by == "linear" else np.arange(partition.count)
    rng = np.random.default_rng(seed)
    n = labels.max() + 1  # random hues, pastel: neighbours almost surely differ
    hsv = np.column_stack([rng.random(n), rng.uniform(0.25, 0.55, n), rng.uniform(0.85, 1.0, n)])
    fill = PolyCollection(
        partition.polygons(),
        facecolors=hsv_to_rgb(hsv)[labels],
        edgecolors="white",
        linewidths=edge_width,
    )
    fill.set_rasterized(True)  # thousands of polygons: a bitmap inside the SVG
    ax.add_collection(fill)
    if readout is not None:
        weight, bias = (np.asarray(a, dtype=np.float64) for a in readout)
        if weight.ndim != 2 or weight.shape != (partition.maps.shape[2], 1):
            raise ValueError(
                message("readout", f"W of shape ({partition.maps.shape[2]}, 1) (one logit)",
                        f"shape {weight.shape}", where="draw_partition")
            )  # fmt: skip
        coefficients = partition.maps @ weight[:, 0]  # (P, 3): logit = [s, t, 1] @ coefficients
        coefficients[:, 2] += bias[0]
        vertices = partition.vertices
        values = np.einsum("pvk,pk->pv", vertices, coefficients[:, :2]) + coefficients[:, 2:]
        segments = _zero_segments(vertices, values)
        ax.add_collection(LineCollection(segments, colors="k", linewidths=1.6))
    (s0, s1), (t0, t1) = partition.bounds
    ax.set_xlim(s0, s1)
    ax.set_ylim(t0, t1)


def draw_unit_lines(
    ax: Any,
    weight: np.ndarray,
    bias: np.ndarray,
    bounds: np.ndarray,
    *,
    origin: np.ndarray | None = None,
    basis: np.ndarray | None = None,
    **style: Any,
) -> None:
    """The lines ``w_j . x + b_j = 0`` of a layer's units, clipped to a box of a 2D slice.

    Args:
      ax: a matplotlib axes.
      weight: ``(d, n)`` the layer's kernel; ``bias``: ``(n,)``.
      bounds: ``((s_lo, s_hi), (t_lo, t_hi))`` the box, in slice coordinates.
      origin, basis: the slice ``origin + s * basis[0] + t * basis[1]`` (default: the input plane
        itself, for ``d == 2``).
      style: passed to the ``LineCollection`` (default: dashed, dark grey).
    """
    weight = np.asarray(weight, dtype=np.float64)
    origin = np.zeros(weight.shape[0]) if origin is None else np.asarray(origin, np.float64)
    basis = np.eye(2) if basis is None else np.asarray(basis, np.float64)
    if basis.shape != (2, weight.shape[0]) or origin.shape != (weight.shape[0],):
        raise ValueError(
            message("origin and basis", f"shapes ({weight.shape[0]},) and (2, {weight.shape[0]}) "
                    f"for W of shape {weight.shape}", f"{origin.shape} and {basis.shape}",
                    where="draw_unit_lines")
        )  # fmt: skip
    box = _box_polygon(bounds)
    # each unit's pre-activation at the box corners: (n, 4)
    values = (box @ (basis @ weight) + (origin @ weight + np.asarray(bias, np.float64))).T
    segments = _zero_segments(np.broadcast_to(box, (values.shape[0], 4, 2)), values)
    style = {"colors": "0.2", "linestyles": "--", "linewidths": 0.9} | style
    ax.add_collection(LineCollection(segments, **style))
