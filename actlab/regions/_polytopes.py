r"""The engine behind :func:`actlab.regions.partition_space`: convex polytopes in ``d`` dimensions
cut by hyperplanes, many polytopes at once (NumPy, float64).

A polytope is held by its vertices, each with the set of constraints (facets) it lies on, as a
bitmask: the ``2 d`` faces of the box first, then every (layer, unit, kink) hyperplane. This is
enough to cut: two vertices on opposite sides of a hyperplane are joined by an edge exactly when
the constraints they share leave a one-dimensional face, i.e. they share at least ``d - 1``
constraints and no other vertex lies on all of them (the combinatorial edge test, valid for
degenerate polytopes too); the new vertex is where that edge meets the hyperplane, on the
constraints of the edge and on the hyperplane. Vertices on the hyperplane (within the tolerance)
go to both parts, so a hyperplane through a vertex, along a face, repeated, or touching the
polytope without crossing it cuts nothing.

Each polytope carries the affine map of the current layer's pre-activations,
:math:`z = [x, 1] C` (``C`` of shape ``(d + 1, width)``), and its absolute companion ``M``
(:mod:`actlab.regions._polygons` explains both); a vertex is on the hyperplane ``z_j = k`` when
:math:`|z_j - k| \le` ``rtol * ([|x| + R, 1] M_j)``, ``R`` the box's largest coordinate (the
rounding a computed vertex's position can carry). Layer by layer every polytope is cut by every
hyperplane of the layer that crosses it, in rounds (each round cuts each polytope by its first
pending hyperplane and re-tests both parts against the rest), exactly as the plane engine does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actlab.checks import message
from actlab.regions._activation import PiecewiseLinear
from actlab.regions._validate import Layers


def bits(ids: np.ndarray, words: int) -> np.ndarray:
    """Bitmasks ``(n, words)`` uint64 with the bit of each id set."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.zeros((ids.size, words), np.uint64)
    out[np.arange(ids.size), ids // 64] = np.left_shift(np.uint64(1), (ids % 64).astype(np.uint64))
    return out


def popcount(masks: np.ndarray) -> np.ndarray:
    """Number of set bits over the last axis."""
    return np.bitwise_count(masks).sum(axis=-1, dtype=np.int64)


@dataclass
class Cells:
    """Growable arrays of convex polytopes (rows beyond ``count[p]`` are padding)."""

    vertices: np.ndarray  # (capacity, V, d)
    count: np.ndarray  # (capacity,) number of vertices
    active: np.ndarray  # (capacity, V, words) uint64: the constraints each vertex lies on
    parent: np.ndarray  # (capacity,) the polytope at the start of the current layer
    above: np.ndarray  # (capacity, width, kinks) bool: beyond each unit's kink
    size: int
    limit: int | None  # most polytopes allowed (max_regions), None for no limit

    def widen(self, width: int) -> None:
        extra = width - self.vertices.shape[1]
        if extra > 0:
            pad = ((0, 0), (0, extra), (0, 0))
            self.vertices = np.pad(self.vertices, pad)
            self.active = np.pad(self.active, pad)

    def append(self, vertices, count, active, parent, above) -> np.ndarray:
        new = self.size + len(count)
        if self.limit is not None and new > self.limit:
            raise RegionLimitError(
                message("max_regions", f"at most {self.limit} regions",
                        f"a partition with more (at least {new} polytopes so far)")
            )  # fmt: skip
        if new > len(self.count):
            grow = max(new, 2 * len(self.count)) - len(self.count)
            for name in ("vertices", "count", "active", "parent", "above"):
                array = getattr(self, name)
                setattr(
                    self,
                    name,
                    np.concatenate([array, np.zeros((grow, *array.shape[1:]), array.dtype)]),
                )
        rows = np.arange(self.size, new)
        self.widen(vertices.shape[1])
        width = self.vertices.shape[1]
        self.vertices[rows] = np.pad(vertices, ((0, 0), (0, width - vertices.shape[1]), (0, 0)))
        self.active[rows] = np.pad(active, ((0, 0), (0, width - active.shape[1]), (0, 0)))
        self.count[rows], self.parent[rows], self.above[rows] = count, parent, above
        self.size = new
        return rows


class RegionLimitError(ValueError):
    """The partition has more regions than ``max_regions`` allows."""


def _pack(owner: np.ndarray, x: np.ndarray, act: np.ndarray, groups: int):
    """Rows ``(owner, x, act)`` gathered into padded per-owner arrays ``(groups, V, ...)``."""
    order = np.argsort(owner, kind="stable")
    owner, x, act = owner[order], x[order], act[order]
    counts = np.bincount(owner, minlength=groups)
    first = np.cumsum(counts) - counts
    slot = np.arange(owner.size) - first[owner]
    width = max(int(counts.max()), 1)
    xs = np.zeros((groups, width, x.shape[1]))
    acts = np.zeros((groups, width, act.shape[1]), np.uint64)
    xs[owner, slot], acts[owner, slot] = x, act
    return xs, acts, counts


def _values(cells: Cells, poly, coef, scale, rtol, spread):
    """Values of each polytope's hyperplane at its vertices and their tolerances, ``(Q, V)``.

    ``coef``, ``scale``: ``(Q, d + 1)``, the hyperplane's column (kink subtracted) and companion.
    """
    x = cells.vertices[poly]
    values = np.einsum("qvk,qk->qv", x, coef[:, :-1]) + coef[:, -1:]
    tol = rtol * (np.einsum("qvk,qk->qv", np.abs(x) + spread, scale[:, :-1]) + scale[:, -1:])
    return values, tol


def _test(cells: Cells, poly, line, coef, scale, kinks, rtol, spread):
    """Record on which side of hyperplane ``line`` each polytope ``poly`` lies; return the pairs
    whose hyperplane cuts the polytope, with the values and tolerances at its vertices."""
    unit, which = np.divmod(line, len(kinks))
    columns = coef[cells.parent[poly], :, unit]
    columns[:, -1] -= np.asarray(kinks)[which]
    z, tol = _values(cells, poly, columns, scale[cells.parent[poly], :, unit], rtol, spread)
    valid = np.arange(z.shape[1]) < cells.count[poly][:, None]
    beyond = np.any(valid & (z > tol), axis=1)
    cells.above[poly, unit, which] = beyond
    cut = beyond & np.any(valid & (z < -tol), axis=1)
    return poly[cut], line[cut], z[cut], tol[cut]


_CHUNK = 1 << 22  # elements of the vertex-pair arrays handled at once


def _edges(act, valid, pos, neg, dim):
    """The edges ``(q, i, j, shared constraints)`` of polytopes ``q`` from a vertex ``i`` above the
    hyperplane to a vertex ``j`` below: ``i`` and ``j`` share at least ``d - 1`` constraints and
    no other vertex of ``q`` lies on all of them. Computed over chunks of polytopes."""
    width = act.shape[1]
    step = max(1, _CHUNK // (width * width))
    found = []
    for first in range(0, act.shape[0], step):
        part = slice(first, first + step)
        q, i, j = np.nonzero(pos[part, :, None] & neg[part, None, :])
        q = q + first
        common = act[q, i] & act[q, j]
        enough = popcount(common) >= dim - 1
        q, i, j, common = q[enough], i[enough], j[enough], common[enough]
        for start in range(0, q.size, max(1, _CHUNK // (width * act.shape[2]))):
            k = slice(start, start + max(1, _CHUNK // (width * act.shape[2])))
            qk, ik, jk, ck = q[k], i[k], j[k], common[k]
            holds = np.all((act[qk] & ck[:, None, :]) == ck[:, None, :], axis=2) & valid[qk]
            holds[np.arange(qk.size), ik] = holds[np.arange(qk.size), jk] = False
            keep = ~holds.any(axis=1)
            found.append((qk[keep], ik[keep], jk[keep], ck[keep]))
    if not found:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros((0, act.shape[2]), np.uint64)
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))


def _cut(cells: Cells, poly, line, z, tol, kinks, facet_ids, dim) -> np.ndarray:
    """Cut distinct polytopes ``poly`` by their hyperplanes: the part below stays in place, the
    part above is appended. Returns the indices of the parts above."""
    q_all = np.arange(poly.size)
    x, act, cnt = cells.vertices[poly], cells.active[poly], cells.count[poly]
    valid = np.arange(x.shape[1]) < cnt[:, None]
    pos, neg = valid & (z > tol), valid & (z < -tol)
    on = valid & ~pos & ~neg
    bit = bits(facet_ids[line], act.shape[2])  # (Q, words)
    act = act | np.where(on[..., None], bit[:, None, :], np.uint64(0))
    q, i, j, common = _edges(act, valid, pos, neg, dim)
    fraction = (z[q, i] / (z[q, i] - z[q, j]))[:, None]
    crossing = x[q, i] + fraction * (x[q, j] - x[q, i])
    crossing_act = common | bit[q]
    halves = []
    for keep in (pos | on, neg | on):  # above, then below
        owner, vertex = np.nonzero(keep)
        halves.append(
            _pack(np.concatenate([owner, q]), np.concatenate([x[owner, vertex], crossing]),
                  np.concatenate([act[owner, vertex], crossing_act]), poly.size)
        )  # fmt: skip
    (xa, aa, ca), (xb, ab, cb) = halves
    unit, which = np.divmod(line, len(kinks))
    cells.widen(xb.shape[1])
    width = cells.vertices.shape[1]
    cells.vertices[poly] = np.pad(xb, ((0, 0), (0, width - xb.shape[1]), (0, 0)))
    cells.active[poly] = np.pad(ab, ((0, 0), (0, width - ab.shape[1]), (0, 0)))
    cells.count[poly] = cb
    cells.above[poly, unit, which] = False
    above = cells.above[poly].copy()
    above[q_all, unit, which] = True
    return cells.append(xa, ca, aa, cells.parent[poly], above)


def _split_layer(cells: Cells, coef, scale, kinks, rtol, spread, facet_ids, dim) -> None:
    """Cut every polytope by every hyperplane ``z_j = k`` of one layer; record the sides."""
    x, cnt = cells.vertices[: cells.size], cells.count[: cells.size]
    valid = np.arange(x.shape[1]) < cnt[:, None]
    center = np.where(valid[..., None], x, 0.0).sum(axis=1) / cnt[:, None]
    radius = np.sqrt(
        np.max(np.where(valid, np.sum((x - center[:, None]) ** 2, axis=2), 0.0), axis=1)
    )
    z_center = np.einsum("pk,pkn->pn", center, coef[:, :-1]) + coef[:, -1]
    reach = radius[:, None] * np.linalg.norm(coef[:, :-1], axis=1)
    reach += rtol * np.einsum(
        "pk,pkn->pn", np.abs(center) + radius[:, None] + spread, scale[:, :-1]
    )
    reach += rtol * scale[:, -1]
    cells.above = np.zeros((len(cells.count), coef.shape[2], len(kinks)), bool)
    cells.above[: cells.size] = z_center[..., None] > np.asarray(kinks)
    may_cut = np.abs(z_center[..., None] - np.asarray(kinks)) <= reach[..., None]
    poly, line = np.nonzero(may_cut.reshape(cells.size, -1))  # sorted by polytope
    pending = _test(cells, poly, line, coef, scale, kinks, rtol, spread)
    while pending[0].size:
        poly, line, z, tol = pending
        first = np.ones(poly.size, bool)
        first[1:] = poly[1:] != poly[:-1]
        upper = _cut(cells, poly[first], line[first], z[first], tol[first], kinks, facet_ids, dim)
        rest_poly, rest_line = poly[~first], line[~first]
        rest_upper = upper[np.searchsorted(poly[first], rest_poly)]
        poly = np.concatenate([rest_poly, rest_upper])
        line = np.concatenate([rest_line, rest_line])
        order = np.lexsort((line, poly))
        pending = _test(cells, poly[order], line[order], coef, scale, kinks, rtol, spread)


def _activate(coef, scale, piece, pwl: PiecewiseLinear):
    """Maps of the layer's outputs given each unit's piece (in place)."""
    slope = np.asarray(pwl.slopes)[piece][:, None, :]
    coef *= slope
    scale *= np.abs(slope)
    if any(pwl.intercepts):
        intercept = np.asarray(pwl.intercepts)[piece]
        coef[:, -1] += intercept
        scale[:, -1] += np.abs(intercept)
    return coef, scale


def box_cell(box: np.ndarray, words: int) -> tuple[np.ndarray, np.ndarray]:
    """The box's ``2^d`` corners ``(1, 2^d, d)`` and the faces each lies on ``(1, 2^d, words)``."""
    dim = box.shape[0]
    upper = (np.arange(2**dim)[:, None] >> np.arange(dim)) & 1  # (2^d, d) 0 = lo, 1 = hi
    corners = np.where(upper == 1, box[:, 1], box[:, 0])
    active = np.zeros((2**dim, words), np.uint64)
    for axis in range(dim):
        active |= bits(2 * axis + upper[:, axis], words)
    return corners[None], active[None]


@dataclass(frozen=True)
class Partition:
    """What :func:`partition` returns (see :class:`actlab.regions.SpacePartition`)."""

    vertices: np.ndarray
    count: np.ndarray
    active: np.ndarray
    patterns: np.ndarray
    maps: np.ndarray
    lineage: list[np.ndarray]  # per layer: each final polytope's ancestor at that layer
    layer_maps: list[tuple[np.ndarray, np.ndarray]]  # per layer: (coef, scale) of the ancestors


def partition(
    layers: Layers, box: np.ndarray, pwl: PiecewiseLinear, rtol: float, max_regions: int | None,
    progress=None,
) -> Partition:  # fmt: skip
    """The activation regions of ``layers`` in ``box`` as convex polytopes."""
    dim = box.shape[0]
    kinks = pwl.kinks
    widths = [w.shape[1] for w, _ in layers]
    offsets = 2 * dim + len(kinks) * np.concatenate([[0], np.cumsum(widths)[:-1]])
    words = (2 * dim + len(kinks) * sum(widths) + 63) // 64
    corners, active = box_cell(box, words)
    cells = Cells(corners, np.array([2**dim]), active, np.zeros(1, np.int64),
                  np.zeros((1, 0, 0), bool), size=1, limit=max_regions)  # fmt: skip
    spread = float(np.abs(box).max())
    maps = np.concatenate([np.eye(dim), np.zeros((1, dim))])[None]  # x = [x, 1] @ maps
    maps_scale = np.abs(maps)
    pieces, parents, layer_maps = [], [], []
    for l, (weight, bias) in enumerate(layers):
        coef = (maps.reshape(-1, weight.shape[0]) @ weight).reshape(len(maps), dim + 1, -1)
        coef[:, -1] += bias
        scale = (maps_scale.reshape(-1, weight.shape[0]) @ np.abs(weight)).reshape(coef.shape)
        scale[:, -1] += np.abs(bias)
        cells.parent[: cells.size] = np.arange(cells.size)
        facet_ids = offsets[l] + np.arange(weight.shape[1] * len(kinks))
        _split_layer(cells, coef, scale, kinks, rtol, spread, facet_ids, dim)
        parent = cells.parent[: cells.size].copy()
        piece = cells.above[: cells.size].sum(axis=2, dtype=np.int8)
        pieces.append(piece)
        parents.append(parent)
        layer_maps.append((coef, scale))
        maps, maps_scale = _activate(coef[parent], scale[parent], piece, pwl)
        if progress is not None:
            progress(l + 1, cells.size)
    # patterns and lineage: each layer's pieces carried down to the final polytopes
    ancestor = np.arange(cells.size)
    columns, lineage = [], []
    for piece, parent in zip(reversed(pieces), reversed(parents), strict=True):
        columns.append(piece[ancestor])
        ancestor = parent[ancestor]
        lineage.append(ancestor)
    n = cells.size
    return Partition(
        vertices=cells.vertices[:n].copy(),
        count=cells.count[:n].copy(),
        active=cells.active[:n].copy(),
        patterns=np.concatenate(columns[::-1], axis=1),
        maps=maps,
        lineage=lineage[::-1],
        layer_maps=layer_maps,
    )
