r"""The engine behind :func:`actlab.regions.partition_plane`: convex polygons cut by lines, many
polygons at once (NumPy, float64).

Each polygon carries the affine map of the current layer's pre-activations,
:math:`z = [s, t, 1] C` with ``C`` of shape ``(3, width)``, and a companion :math:`M \ge |C|`
built from absolute values, :math:`M_l = (|\sigma'| M_{l-1} + |c|) |W_l| + |b_l|`, which bounds
the size of every term summed to make ``C`` and so the rounding of ``z``. A vertex is itself
computed (where an edge crosses a line), so its coordinates carry rounding too, of the order of
the box's size ``R`` (its largest coordinate) times the machine epsilon. A vertex is *on* the
line :math:`z_j = k` when :math:`|z_j - k| \le` ``rtol * ([|s| + R, |t| + R, 1] M_j)``: within
``rtol`` of the rounding that its value and its position can carry. So a repeated line, or a line
through a computed vertex, finds the vertex on it (without the ``R`` terms, a vertex computed
``1e-16`` off a zero-bias line would be cut again into a polygon of area ``1e-33``).

Layer by layer, every polygon with vertices strictly on both sides of one of the layer's lines
(beyond the tolerance) is cut in two (Sutherland-Hodgman on padded vertex arrays, vectorised over
the polygons cut in a round); vertices on the line go to both parts. A line through a vertex,
along an edge, or equal to an earlier line cuts nothing, so degenerate weights add no polygons.
Each polygon ends up on one side of every line of the layer, which gives its pattern.

Vertex arrays are padded to a common length with copies of the first vertex, so the edge after
the last vertex is the closing edge and padded edges have zero length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actlab.regions._activation import PiecewiseLinear
from actlab.regions._validate import Layers


@dataclass
class _Polygons:
    """Growable arrays of convex polygons (capacity doubles as polygons are appended)."""

    vertices: np.ndarray  # (capacity, V, 2), padded with copies of vertex 0
    count: np.ndarray  # (capacity,) number of vertices
    parent: np.ndarray  # (capacity,) index of the polygon at the start of the current layer
    above: np.ndarray  # (capacity, width, kinks) bool: the polygon lies beyond each unit's kink
    size: int

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.vertices[: self.size], self.count[: self.size], self.parent[: self.size]

    def widen(self, width: int) -> None:
        """Make room for ``width`` vertices per polygon (padding with vertex 0)."""
        self.vertices = _pad(self.vertices, width)

    def append(self, vertices, count, parent, above) -> None:
        new = self.size + len(count)
        if new > len(self.count):
            grow = max(new, 2 * len(self.count)) - len(self.count)
            self.vertices, self.count, self.parent, self.above = (
                np.concatenate([array, np.zeros((grow, *array.shape[1:]), array.dtype)])
                for array in (self.vertices, self.count, self.parent, self.above)
            )
        self.vertices[self.size : new] = vertices
        self.count[self.size : new] = count
        self.parent[self.size : new] = parent
        self.above[self.size : new] = above
        self.size = new


def _line_values(vertices, coef, scale, rtol, spread):
    """Values ``z - k`` of one line at the vertices, and their tolerances, ``(P, V)`` each.

    ``vertices``: ``(P, V, 2)``; ``coef``, ``scale``: ``(P, 3)`` (the line's ``C`` column with the
    kink subtracted, and its ``M`` column).
    """
    s, t = vertices[..., 0], vertices[..., 1]
    values = s * coef[:, :1] + t * coef[:, 1:2] + coef[:, 2:]
    tol = rtol * (
        (np.abs(s) + spread) * scale[:, :1] + (np.abs(t) + spread) * scale[:, 1:2] + scale[:, 2:]
    )
    return values, tol


def _clip(vertices, count, values, tol):
    """Split each polygon by its line ``values = 0``; returns both halves, padded.

    Returns ``(halves, counts)``: ``(2, Q, W, 2)`` and ``(2, Q)``, the half where the line's value
    is ``>= 0`` first, then the half where it is ``<= 0``; ``W`` is the longest half plus one.
    """
    polygons, width = values.shape
    side = (values > tol).astype(np.int8) - (values < -tol)
    following = (np.arange(width) + 1) % width  # the edge after the last vertex closes the polygon
    valid = np.arange(width) < count[:, None]
    crosses = valid & (side * side[:, following] < 0)
    gap = np.where(crosses, values - values[:, following], 1.0)
    fraction = np.where(crosses, values / gap, 0.0)[..., None]
    crossing = vertices + fraction * (vertices[:, following] - vertices)
    # each vertex may be followed by the crossing on its outgoing edge: 2 * width candidates
    candidates = np.stack([vertices, crossing], axis=2).reshape(polygons, 2 * width, 2)
    keep = np.stack(
        [
            np.stack([valid & (side >= 0), crosses], axis=2),
            np.stack([valid & (side <= 0), crosses], axis=2),
        ]
    ).reshape(2 * polygons, 2 * width)
    kept = keep.sum(axis=1)
    rows, cols = np.nonzero(keep)
    first = candidates[np.arange(2 * polygons) % polygons, keep.argmax(axis=1)]
    halves = np.repeat(first[:, None], kept.max() + 1, axis=1)
    halves[rows, (np.cumsum(keep, axis=1) - 1)[rows, cols]] = candidates[rows % polygons, cols]
    return halves.reshape(2, polygons, -1, 2), kept.reshape(2, polygons)


def _discs(vertices, count):
    """Centre (vertex mean) ``(P, 2)`` and radius ``(P,)`` of a disc holding each polygon."""
    valid = np.arange(vertices.shape[1]) < count[:, None]
    center = (vertices * valid[..., None]).sum(axis=1) / count[:, None]
    radius = np.sqrt(np.max(np.sum((vertices - center[:, None]) ** 2, axis=2), axis=1))
    return center, radius


def _test(polygons: _Polygons, poly, line, coef, scale, kinks, rtol, spread):
    """Test polygons ``poly`` against lines ``line`` (pairs); record which side each lies on.

    Line ``l`` is ``z_j = k`` for unit ``j = l // len(kinks)`` and kink ``k = kinks[l % len]``.
    Returns the pairs whose line cuts the polygon, with the line's values and tolerances at the
    polygon's vertices.
    """
    vertices, _, parent = polygons.view()
    unit, which = np.divmod(line, len(kinks))
    columns = coef[parent[poly], :, unit]
    columns[:, 2] -= np.asarray(kinks)[which]
    z, tol = _line_values(vertices[poly], columns, scale[parent[poly], :, unit], rtol, spread)
    beyond = np.any(z > tol, axis=1)
    polygons.above[poly, unit, which] = beyond
    cut = beyond & np.any(z < -tol, axis=1)
    return poly[cut], line[cut], z[cut], tol[cut]


def _cut(polygons: _Polygons, poly, line, z, tol, kinks) -> np.ndarray:
    """Cut distinct polygons ``poly`` by their lines: the part below stays in place, the part
    above is appended. Returns the indices of the parts above."""
    _, count, _ = polygons.view()
    halves, counts = _clip(polygons.vertices[poly], count[poly], z, tol)
    polygons.widen(halves.shape[2])
    width = polygons.vertices.shape[1]
    unit, which = np.divmod(line, len(kinks))
    polygons.vertices[poly] = _pad(halves[1], width)
    polygons.count[poly] = counts[1]
    polygons.above[poly, unit, which] = False
    above = polygons.above[poly]
    above[np.arange(len(poly)), unit, which] = True
    first = polygons.size
    polygons.append(_pad(halves[0], width), counts[0], polygons.parent[poly], above)
    return np.arange(first, polygons.size)


def _split_layer(polygons: _Polygons, coef, scale, kinks, rtol, spread) -> None:
    """Cut every polygon by every line ``z_j = k`` of one layer (in place), and record on which
    side of each line every resulting polygon lies (``polygons.above``).

    A line can only cut a polygon whose enclosing disc it meets; for the others the side is the
    side of the disc's centre. The (polygon, line) pairs that do cut are then processed in rounds:
    each round cuts every polygon with pending lines by its first one, and re-tests the two parts
    against the polygon's other pending lines. The rounds are as many as the most lines that cut
    one polygon, usually far fewer than the layer's units.
    """
    vertices, count, _ = polygons.view()
    center, radius = _discs(vertices, count)
    z_center = np.einsum("pk,pkn->pn", center, coef[:, :2]) + coef[:, 2]
    reach = radius[:, None] * np.hypot(coef[:, 0], coef[:, 1])
    reach += rtol * np.einsum("pk,pkn->pn", np.abs(center) + radius[:, None] + spread, scale[:, :2])
    reach += rtol * scale[:, 2]
    polygons.above = np.zeros((len(polygons.count), coef.shape[2], len(kinks)), bool)
    polygons.above[: polygons.size] = z_center[..., None] > np.asarray(kinks)
    may_cut = np.abs(z_center[..., None] - np.asarray(kinks)) <= reach[..., None]
    poly, line = np.nonzero(may_cut.reshape(len(count), -1))  # sorted by polygon
    pending = _test(polygons, poly, line, coef, scale, kinks, rtol, spread)
    while pending[0].size:
        poly, line, z, tol = pending
        first = np.ones(poly.size, bool)
        first[1:] = poly[1:] != poly[:-1]
        upper = _cut(polygons, poly[first], line[first], z[first], tol[first], kinks)
        rest_poly, rest_line = poly[~first], line[~first]
        rest_upper = upper[np.searchsorted(poly[first], rest_poly)]
        poly = np.concatenate([rest_poly, rest_upper])
        line = np.concatenate([rest_line, rest_line])
        order = np.lexsort((line, poly))
        pending = _test(polygons, poly[order], line[order], coef, scale, kinks, rtol, spread)


def _pad(vertices: np.ndarray, width: int) -> np.ndarray:
    """Pad vertex arrays ``(P, V, 2)`` to ``width`` vertices with copies of the first."""
    extra = width - vertices.shape[1]
    if extra <= 0:
        return vertices
    return np.concatenate([vertices, np.repeat(vertices[:, :1], extra, axis=1)], axis=1)


def _activate(coef, scale, piece, pwl: PiecewiseLinear):
    """Maps of the layer's outputs ``sigma(z)`` given each unit's piece, with their companions
    (in place: ``coef`` and ``scale`` are overwritten)."""
    slope = np.asarray(pwl.slopes)[piece][:, None, :]
    coef *= slope
    scale *= np.abs(slope)
    if any(pwl.intercepts):
        intercept = np.asarray(pwl.intercepts)[piece]
        coef[:, 2] += intercept
        scale[:, 2] += np.abs(intercept)
    return coef, scale


def partition(
    layers: Layers,
    box: np.ndarray,
    origin: np.ndarray,
    basis: np.ndarray,
    pwl: PiecewiseLinear,
    rtol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Polygons of the activation regions of ``layers`` in ``box`` on the slice.

    Returns ``(vertices, count, patterns, maps)``: padded vertices ``(P, V, 2)`` in slice
    coordinates (counter-clockwise), vertex counts ``(P,)``, piece indices ``(P, units)`` int8 and
    the last layer's output maps ``(P, 3, width)``.
    """
    (s0, s1), (t0, t1) = box
    spread = float(np.abs(box).max())  # vertex coordinates are known to rtol times this
    square = np.array([[[s0, t0], [s1, t0], [s1, t1], [s0, t1], [s0, t0]]])
    polygons = _Polygons(square, np.array([4]), np.array([0]), np.zeros((1, 0, 0), bool), size=1)
    # input map x = [s, t, 1] @ [basis; origin] and its absolute companion
    maps = np.concatenate([basis, origin[None]])[None]
    maps_scale = np.abs(maps)
    pieces, parents = [], []
    for weight, bias in layers:
        coef = (maps.reshape(-1, weight.shape[0]) @ weight).reshape(len(maps), 3, -1)
        coef[:, 2] += bias
        scale = (maps_scale.reshape(-1, weight.shape[0]) @ np.abs(weight)).reshape(coef.shape)
        scale[:, 2] += np.abs(bias)
        polygons.parent[: polygons.size] = np.arange(polygons.size)
        _split_layer(polygons, coef, scale, pwl.kinks, rtol, spread)
        _, _, parent = polygons.view()
        piece = polygons.above[: polygons.size].sum(axis=2, dtype=np.int8)
        pieces.append(piece)
        parents.append(parent.copy())
        maps, maps_scale = _activate(coef[parent], scale[parent], piece, pwl)
    # patterns: each layer's pieces, carried down to the final polygons through their ancestors
    lineage = np.arange(polygons.size)
    columns = []
    for piece, parent in zip(reversed(pieces), reversed(parents), strict=True):
        columns.append(piece[lineage])
        lineage = parent[lineage]
    vertices, count, _ = polygons.view()
    return vertices.copy(), count.copy(), np.concatenate(columns[::-1], axis=1), maps
