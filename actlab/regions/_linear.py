"""Linear regions of a plane partition: neighbouring polygons with the same affine map, merged.

The polygon across an edge is found by probing: a point just outside the edge (``1e-9`` of the box
diagonal), next to each end (``1e-3`` of the edge's length in) and at its middle, is located by
its activation pattern. Every shared boundary begins at a vertex of one of its two polygons, so
the probes next to the ends find every neighbour except along shared boundaries shorter than
``1e-3`` of both edges. Maps count as equal within a relative ``1e-9``.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from actlab.regions._activation import PiecewiseLinear
from actlab.regions._validate import Layers

_OUT = 1e-9  # probe distance from the edge, relative to the box diagonal
_IN = 1e-3  # probe distance from the ends of the edge, relative to its length


def patterns_at(layers: Layers, pwl: PiecewiseLinear, points: np.ndarray) -> np.ndarray:
    """Activation patterns, ``(n, units)`` int8, at input points ``(n, d)``."""
    h, pieces = points, []
    for weight, bias in layers:
        z = h @ weight + bias
        piece = pwl.piece_index(z)
        pieces.append(piece)
        h = np.asarray(pwl.slopes)[piece] * z + np.asarray(pwl.intercepts)[piece]
    return np.concatenate(pieces, axis=1)


def _as_keys(patterns: np.ndarray) -> np.ndarray:
    """One hashable, sortable key per row."""
    rows = np.ascontiguousarray(patterns)
    return rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize)))[:, 0]


def linear_labels(
    vertices: np.ndarray,
    num_vertices: np.ndarray,
    patterns: np.ndarray,
    maps: np.ndarray,
    box: np.ndarray,
    to_input,
    layers: Layers,
    pwl: PiecewiseLinear,
) -> tuple[int, np.ndarray]:
    """Number of linear regions and the linear region of each polygon."""
    count = len(num_vertices)
    following = np.roll(vertices, -1, axis=1)
    edge = following - vertices
    length = np.linalg.norm(edge, axis=2)
    owner, which = np.nonzero((np.arange(vertices.shape[1]) < num_vertices[:, None]) & (length > 0))
    start, along = vertices[owner, which], edge[owner, which]
    outward = np.stack([along[:, 1], -along[:, 0]], axis=1) / length[owner, which][:, None]
    diagonal = np.linalg.norm(box[:, 1] - box[:, 0])
    probes = [start + f * along + _OUT * diagonal * outward for f in (_IN, 0.5, 1.0 - _IN)]
    owner, probe = np.tile(owner, 3), np.concatenate(probes)
    inside = np.all((probe > box[:, 0]) & (probe < box[:, 1]), axis=1)
    owner, probe = owner[inside], probe[inside]
    keys = _as_keys(patterns)
    order = np.argsort(keys)
    probe_keys = _as_keys(patterns_at(layers, pwl, to_input(probe)))
    slot = np.minimum(np.searchsorted(keys[order], probe_keys), count - 1)
    found = keys[order][slot] == probe_keys
    owner, neighbour = owner[found], order[slot[found]]
    flat = maps.reshape(count, -1)
    size = np.maximum(np.abs(flat[owner]).max(axis=1), np.abs(flat[neighbour]).max(axis=1))
    same = np.abs(flat[owner] - flat[neighbour]).max(axis=1) <= 1e-9 * size
    graph = coo_matrix(
        (np.ones(int(same.sum())), (owner[same], neighbour[same])), shape=(count, count)
    )
    return connected_components(graph, directed=False)
