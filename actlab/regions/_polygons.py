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

When only the count is wanted, the last layer makes no polygons: the faces of its lines in each
polygon are counted (:mod:`actlab.regions._arrangement`, same decisions).

Vertex arrays are padded to a common length with copies of the first vertex, so the edge after
the last vertex is the closing edge and padded edges have zero length.

The polygons may belong to many *items* (networks of one shape, each with its own box and slice,
for :func:`actlab.regions.count_planes`): they are cut in the same rounds, and between layers
each item's polygons are put together so its matrix products run on slices. Each layer's dense
part (every polygon's maps through its parent's pieces, the products, the disc test) runs in
blocks of rows that stay in the CPU's caches (:class:`NumpyLayer`), or as jitted JAX on a GPU
(:mod:`actlab.regions._plane_jax`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    item: np.ndarray  # (capacity,) the network and slice the polygon belongs to
    above: np.ndarray  # (capacity, width, kinks) bool: the polygon lies beyond each unit's kink
    size: int

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` polygons."""
        if capacity > len(self.count):
            grow = capacity - len(self.count)
            self.vertices, self.count, self.parent, self.item, self.above = (
                np.concatenate([array, np.zeros((grow, *array.shape[1:]), array.dtype)])
                for array in (self.vertices, self.count, self.parent, self.item, self.above)
            )

    def append(self, vertices, count, parent, item, above) -> None:
        new = self.size + len(count)
        if new > len(self.count):
            self.reserve(max(new, 2 * len(self.count)))
        self.vertices[self.size : new] = vertices
        self.count[self.size : new] = count
        self.parent[self.size : new] = parent
        self.item[self.size : new] = item
        self.above[self.size : new] = above
        self.size = new


def _line_values(vertices, coef, scale, rtol, spread):
    """Values ``z - k`` of one line at the vertices, and their tolerances, ``(P, V)`` each.

    ``vertices``: ``(P, V, 2)``; ``coef``, ``scale``: ``(P, 3)`` (the line's ``C`` column with the
    kink subtracted, and its ``M`` column); ``spread``: ``(P, 1)`` the size of each one's box.
    The tolerance is ``rtol * ([|s| + spread, |t| + spread, 1] @ M)``.
    """
    s, t = vertices[..., 0], vertices[..., 1]
    values = s * coef[:, :1]
    values += t * coef[:, 1:2]
    values += coef[:, 2:]
    ms, mt = rtol * scale[:, :1], rtol * scale[:, 1:2]
    tol = np.abs(s) * ms
    tol += np.abs(t) * mt
    tol += spread * (ms + mt) + rtol * scale[:, 2:]
    return values, tol


def _clip(vertices, count, values, pos, neg):
    """Split each polygon by its line ``values = 0``; returns both halves, padded.

    ``pos``, ``neg``: ``(Q, V)`` whether each vertex lies beyond the line's tolerance on either
    side (vertices on the line, neither, go to both halves).

    Returns ``(halves, counts)``: ``(2, Q, W, 2)`` and ``(2, Q)``, the half where the line's value
    is ``>= 0`` first, then the half where it is ``<= 0``; ``W`` is the longest half plus one.
    """
    polygons, width = values.shape
    following = np.arange(1, width + 1) % width  # the edge after the last vertex closes it
    valid = np.arange(width) < count[:, None]
    crosses = valid & ((pos & neg[:, following]) | (neg & pos[:, following]))
    gap = np.where(crosses, values - values[:, following], 1.0)
    fraction = np.where(crosses, values / gap, 0.0)[..., None]
    crossing = vertices + fraction * (vertices[:, following] - vertices)
    # each vertex may be followed by the crossing on its outgoing edge: 2 * width candidates
    candidates = np.stack([vertices, crossing], axis=2).reshape(polygons, 2 * width, 2)
    keep = np.empty((2, polygons, width, 2), bool)
    keep[0, ..., 0] = valid & ~neg
    keep[1, ..., 0] = valid & ~pos
    keep[:, ..., 1] = crosses
    keep = keep.reshape(2 * polygons, 2 * width)
    position = np.cumsum(keep, axis=1)
    kept = position[:, -1]
    rows, cols = np.nonzero(keep)
    first = candidates[np.arange(2 * polygons) % polygons, keep.argmax(axis=1)]
    halves = np.repeat(first[:, None], kept.max() + 1, axis=1)
    halves[rows, position[rows, cols] - 1] = candidates[rows % polygons, cols]
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
    parent = polygons.parent[poly]
    if len(kinks) == 1:
        unit, which = line, np.zeros_like(line)
    else:
        unit, which = np.divmod(line, len(kinks))
    columns = coef[parent, :, unit]
    if np.any(kinks):
        columns[:, 2] -= kinks[which]
    z, tol = _line_values(
        polygons.vertices[poly],
        columns,
        scale[parent, :, unit],
        rtol,
        spread[polygons.item[poly]][:, None],
    )
    pos, neg = z > tol, z < -tol
    beyond = np.any(pos, axis=1)
    polygons.above[poly, unit, which] = beyond
    cut = beyond & np.any(neg, axis=1)
    return poly[cut], line[cut], z[cut], pos[cut], neg[cut]


def _cut(polygons: _Polygons, poly, line, z, pos, neg, kinks) -> np.ndarray:
    """Cut distinct polygons ``poly`` by their lines: the part below stays in place, the part
    above is appended. Returns the indices of the parts above."""
    halves, counts = _clip(polygons.vertices[poly], polygons.count[poly], z, pos, neg)
    if halves.shape[2] > polygons.vertices.shape[1]:
        polygons.vertices = _pad(polygons.vertices, halves.shape[2])
    halves = _pad(halves, polygons.vertices.shape[1])
    unit, which = np.divmod(line, len(kinks))
    polygons.vertices[poly] = halves[1]
    polygons.count[poly] = counts[1]
    polygons.above[poly, unit, which] = False
    above = polygons.above[poly]
    above[np.arange(len(poly)), unit, which] = True
    first = polygons.size
    polygons.append(halves[0], counts[0], polygons.parent[poly], polygons.item[poly], above)
    return np.arange(first, polygons.size)


def _split_layer(polygons: _Polygons, coef, scale, kinks, rtol, spread, above, may_cut) -> None:
    """Cut every polygon by every line ``z_j = k`` of one layer (in place), and record on which
    side of each line every resulting polygon lies (``polygons.above``).

    A line can only cut a polygon whose enclosing disc it meets (``may_cut``, ``(P, lines)``);
    for the others the side is the side of the disc's centre (``above``, ``(P, width, kinks)``).
    The (polygon, line) pairs that do cut are then processed in rounds: each round cuts every
    polygon with pending lines by its first one, and re-tests the two parts against the polygon's
    other pending lines. The rounds are as many as the most lines that cut one polygon, usually
    far fewer than the layer's units.
    """
    poly, line = np.nonzero(may_cut)  # sorted by polygon
    polygons.above = np.zeros((len(polygons.count), *above.shape[1:]), bool)
    polygons.above[: polygons.size] = above
    polygons.reserve(polygons.size + min(len(poly), 3 * polygons.size + 64))
    pending = _test(polygons, poly, line, coef, scale, kinks, rtol, spread)
    while pending[0].size:
        poly, line, z, pos, neg = pending
        first = np.ones(poly.size, bool)
        first[1:] = poly[1:] != poly[:-1]
        if first.all():  # one line per polygon: the parts have none left
            _cut(polygons, poly, line, z, pos, neg, kinks)
            break
        upper = _cut(polygons, poly[first], line[first], z[first], pos[first], neg[first], kinks)
        rest_poly, rest_line = poly[~first], line[~first]
        rest_upper = upper[np.cumsum(first)[~first] - 1]
        poly = np.concatenate([rest_poly, rest_upper])
        line = np.concatenate([rest_line, rest_line])
        order = np.lexsort((line, poly))
        pending = _test(polygons, poly[order], line[order], coef, scale, kinks, rtol, spread)


def _pad(vertices: np.ndarray, width: int) -> np.ndarray:
    """Pad vertex arrays ``(..., V, 2)`` to ``width`` vertices with copies of the first."""
    extra = width - vertices.shape[-2]
    if extra <= 0:
        return vertices
    first = np.repeat(vertices[..., :1, :], extra, axis=-2)
    return np.concatenate([vertices, first], axis=-2)


def _activate(coef, scale, parent, piece, pwl: PiecewiseLinear, companion: bool = True):
    """Maps of the layer's outputs ``sigma(z)`` on the polygons, given each one's parent (whose
    pre-activation map it has) and the pieces of its units, with their companions (or ``None``
    when ``companion`` is false)."""
    slope = np.asarray(pwl.slopes)[piece][:, None, :]
    maps = np.take(coef, parent, axis=0)
    maps *= slope
    maps_scale = None
    if companion:
        maps_scale = np.take(scale, parent, axis=0)
        maps_scale *= np.abs(slope)
    if any(pwl.intercepts):
        intercept = np.asarray(pwl.intercepts)[piece]
        maps[:, 2] += intercept
        if companion:
            maps_scale[:, 2] += np.abs(intercept)
    return maps, maps_scale


class NumpyLayer:
    """The dense part of one layer on the host: every polygon's input maps (its parent's maps
    through the activation's pieces), its pre-activation maps ``C`` and companions ``M`` (a
    matrix product per network), and which lines may cut its disc.

    The polygons go in blocks of rows, so each block's temporaries stay in the CPU's caches."""

    block = 2048

    def __call__(self, previous, parent, piece, weight, bias, item, discs, kinks, rtol, pwl):
        """Args:
          previous: ``(C, M)`` of the previous layer on the parents, ``(P0, 3, n)`` each (for
            the first layer the input map ``[basis; origin]`` of each item and its absolute
            value).
          parent: ``(P,)`` each polygon's row of ``previous``; piece: ``(P, n)`` int8, the piece
            of each of the previous layer's units on the polygon (``None`` for the first layer).
          weight: ``(K, n, m)``, bias: ``(K, m)``, one per item; item: ``(P,)`` sorted.
          discs: ``(center (P, 2), radius (P,), spread (P,))``: each polygon's enclosing disc
            and its box's size.

        Returns ``coef, scale`` ``(P, 3, m)``, ``above`` ``(P, m, kinks)`` (the disc's centre
        beyond each kink) and ``may_cut`` ``(P, m * kinks)``.
        """
        rows, width = len(parent), weight.shape[2]
        coef, scale = np.empty((rows, 3, width)), np.empty((rows, 3, width))
        above = np.empty((rows, width, len(kinks)), bool)
        may_cut = np.empty((rows, width, len(kinks)), bool)
        abs_weight, abs_bias = np.abs(weight), np.abs(bias)
        center, radius, spread = discs
        for lo in range(0, rows, self.block):
            block = slice(lo, lo + self.block)
            if piece is None:
                maps, maps_scale = previous[0][parent[block]], previous[1][parent[block]]
            else:
                maps, maps_scale = _activate(*previous, parent[block], piece[block], pwl)
            c, m = coef[block], scale[block]  # views: filled in place
            _by_item(maps, weight, item[block], out=c)
            _by_item(maps_scale, abs_weight, item[block], out=m)
            if len(bias) == 1:
                c[:, 2] += bias[0]
                m[:, 2] += abs_bias[0]
            else:
                c[:, 2] += bias[item[block]]
                m[:, 2] += abs_bias[item[block]]
            s, t, r = center[block, :1], center[block, 1:], radius[block, None]
            z_center = c[:, 2] + s * c[:, 0]
            z_center += t * c[:, 1]
            # reach: r |grad z| + rtol ([|s| + r + R, |t| + r + R, 1] @ M), the most z can
            # differ from z_center on the disc, plus the tolerance (squares overflowing to inf
            # only make it test more pairs exactly)
            rim = r + spread[block, None]
            reach = c[:, 0] * c[:, 0]
            reach += c[:, 1] * c[:, 1]
            np.sqrt(reach, out=reach)
            reach *= r
            reach += (rtol * (np.abs(s) + rim)) * m[:, 0]
            reach += (rtol * (np.abs(t) + rim)) * m[:, 1]
            reach += rtol * m[:, 2]
            if len(kinks) == 1 and kinks[0] == 0:
                above[block, :, 0] = z_center > 0
                may_cut[block, :, 0] = np.abs(z_center, out=z_center) <= reach
            else:
                above[block] = z_center[..., None] > kinks
                may_cut[block] = np.abs(z_center[..., None] - kinks) <= reach[..., None]
        return coef, scale, above, may_cut.reshape(rows, -1)


def _by_item(maps, weight, item, out):
    """``out[p] = maps[p] @ weight[item[p]]``: ``(P, 3, n)`` by ``(K, n, m)`` into
    ``(P, 3, m)``; ``item`` sorted (each item's polygons together)."""
    fan_in, width = weight.shape[1:]
    flat, product = maps.reshape(-1, fan_in), out.reshape(-1, width)
    if len(weight) == 1:
        np.matmul(flat, weight[0], out=product)
        return
    starts = 3 * np.searchsorted(item, np.arange(item[0], item[-1] + 2))
    for k in np.flatnonzero(np.diff(starts)):
        lo, hi = starts[k], starts[k + 1]
        np.matmul(flat[lo:hi], weight[item[0] + k], out=product[lo:hi])


def partition(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    boxes: np.ndarray,
    origins: np.ndarray,
    bases: np.ndarray,
    pwl: PiecewiseLinear,
    rtol: float,
    *,
    maps: bool = True,
    patterns: bool = True,
    layer: Callable | None = None,
    count_only: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray] | np.ndarray:
    """Polygons of the activation regions of ``K`` networks (or slices) of one shape, each in its
    box on its slice.

    Args:
      layers: ``[(W, b), ...]`` with ``W`` of shape ``(K, in, out)`` and ``b`` ``(K, out)``; a
        leading axis of length 1 serves every item.
      boxes: ``(K, 2, 2)``; origins: ``(K, d)``; bases: ``(K, 2, d)``.
      maps, patterns: whether to compute the last layer's maps and the patterns.
      layer: the dense part of a layer (:class:`NumpyLayer`, or the JAX one in
        :mod:`actlab.regions._plane_jax`).

      count_only: return only the number of regions of each item, ``(K,)`` int64: the last
        layer's polygons are counted, not made (:mod:`actlab.regions._arrangement`).

    Returns ``(vertices, count, patterns, maps, item)``: padded vertices ``(P, V, 2)`` in slice
    coordinates (counter-clockwise), vertex counts ``(P,)``, piece indices ``(P, units)`` int8, the
    last layer's output maps ``(P, 3, width)`` (``None`` unless asked for) and the item of each
    polygon ``(P,)``.
    """
    layer = NumpyLayer() if layer is None else layer
    items = len(boxes)
    kinks = np.asarray(pwl.kinks)
    spread = np.abs(boxes).reshape(items, -1).max(axis=1)  # coordinates known to rtol times this
    (s0, s1), (t0, t1) = boxes[:, 0].T, boxes[:, 1].T
    square = np.stack([[s0, t0], [s1, t0], [s1, t1], [s0, t1], [s0, t0]]).transpose(2, 0, 1)
    polygons = _Polygons(
        vertices=np.ascontiguousarray(square),
        count=np.full(items, 4),
        parent=np.arange(items),
        item=np.arange(items),
        above=np.zeros((items, 0, 0), bool),
        size=items,
    )
    # input map x = [s, t, 1] @ [basis; origin] and its absolute companion
    inputs = np.concatenate([bases, origins[:, None]], axis=1)
    previous, parent, piece = (inputs, np.abs(inputs)), np.arange(items), None
    pieces, parents = [], []
    for depth, (weight, bias) in enumerate(layers):
        size = polygons.size
        vertices, count = polygons.vertices[:size], polygons.count[:size]
        item = polygons.item[:size]
        center, radius = _discs(vertices, count)
        coef, scale, above, may_cut = layer(
            previous, parent, piece, weight, bias, item, (center, radius, spread[item]),
            kinks, rtol, pwl,
        )  # fmt: skip
        if count_only and depth == len(layers) - 1:
            from actlab.regions._arrangement import count_faces

            return count_faces(
                vertices, count, item, coef, scale, kinks, rtol, spread, may_cut, items
            )
        polygons.parent[:size] = np.arange(size)
        _split_layer(polygons, coef, scale, kinks, rtol, spread, above, may_cut)
        parent = polygons.parent[: polygons.size].copy()
        piece = polygons.above[: polygons.size].sum(axis=2, dtype=np.int8)
        last = depth == len(layers) - 1
        if items > 1 and not last:  # each item's polygons together, for its matrix products
            order = np.argsort(polygons.item[: polygons.size], kind="stable")
            for array in (polygons.vertices, polygons.count, polygons.item):
                array[: polygons.size] = array[order]
            parent, piece = parent[order], piece[order]
        if patterns:
            pieces.append(piece)
            parents.append(parent)
        previous = coef, scale
    final_maps = _activate(coef, scale, parent, piece, pwl, False)[0] if maps else None
    pattern = None
    if patterns:  # each layer's pieces, carried down to the final polygons through their ancestors
        lineage = np.arange(polygons.size)
        columns = []
        for piece, parent in zip(reversed(pieces), reversed(parents), strict=True):
            columns.append(piece[lineage])
            lineage = parent[lineage]
        pattern = np.concatenate(columns[::-1], axis=1)
    size = polygons.size
    return (
        polygons.vertices[:size].copy(),
        polygons.count[:size].copy(),
        pattern,
        final_maps,
        polygons.item[:size].copy(),
    )


def stack_layers(networks: Sequence[Layers]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Checked networks of one shape as layers with a leading axis: ``W`` ``(K, in, out)``, ``b``
    ``(K, out)``."""
    if len(networks) == 1:
        return [(w[None], b[None]) for w, b in networks[0]]
    return [
        (np.stack([net[l][0] for net in networks]), np.stack([net[l][1] for net in networks]))
        for l in range(len(networks[0]))
    ]
