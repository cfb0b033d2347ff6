r"""Exact plane counts of zero-bias networks: their regions are cones, so the box's boundary is
enough (NumPy, float64).

With every bias zero and an activation with its one kink at zero and no intercepts (ReLU, leaky
ReLU, PReLU), a network is positively homogeneous, :math:`f(\lambda x) = \lambda f(x)` for
:math:`\lambda > 0`; on a slice through the input's origin (``origin`` zero) every activation
region is a convex cone with its apex at ``(s, t) = (0, 0)``. When the box holds the apex inside,
every region meets the box's boundary in an arc, and two regions never share an arc: the count is
the number of arcs of constant pattern along the boundary, a one-dimensional problem.

The boundary is cut as four edges, each a segment ``[u, v]`` standing for the triangle
``(apex, u, v)``: the partition of :mod:`actlab.regions._polygons` restricted to polygons that
all have the apex as a vertex, which is on every line (every line's value there is exactly zero).
Its decisions are the same: a line cuts a segment when its ends are strictly on opposite sides
(beyond the same tolerance ``rtol * ([|s| + R, |t| + R] @ M)``), the crossing is
``u + f (v - u)`` with ``f = z(u) / (z(u) - z(v))``, and a piece lies beyond a line when one of
its ends does. Since every line of a layer passes through the apex, a segment is cut by all of
its lines at once: their crossings sorted along it, a crossing that lies on the line of the one
before it (a repeated or opposite unit, or one through the same point) making no new piece. So a
layer is one round of NumPy operations instead of one round per line.

The four corners are joints of the loop, not boundaries of regions: the count is the number of
joints between pieces with different patterns (at least one region).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from actlab.regions._activation import PiecewiseLinear


def applies(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    boxes: np.ndarray,
    origins: np.ndarray,
    pwl: PiecewiseLinear,
) -> bool:
    """Whether :func:`count_cones` counts these networks: zero biases, a homogeneous
    activation, slices through the input's origin, and boxes holding the apex inside."""
    return (
        pwl.kinks == (0.0,)
        and not any(pwl.intercepts)
        and not np.any(origins)
        and bool(np.all((boxes[:, :, 0] < 0) & (boxes[:, :, 1] > 0)))
        and not any(np.any(bias) for _, bias in layers)
    )


def _values(points, coef, scale, rtol, spread):
    """Each line's value at each polygon's point, and its tolerance, ``(P, m)`` each: ``points``
    ``(P, 2)``, ``coef`` and ``scale`` ``(P, 2, m)``, ``spread`` ``(P, 1)``. The tolerance is
    that of :func:`actlab.regions._polygons._line_values` with no constant term,
    ``rtol * ((|s| + R) M_s + (|t| + R) M_t)``."""
    s, t = points[:, :1], points[:, 1:]
    values = s * coef[:, 0]
    values += t * coef[:, 1]
    tol = (np.abs(s) + spread) * scale[:, 0]
    tol += (np.abs(t) + spread) * scale[:, 1]
    tol *= rtol
    return values, tol


def _by_item(maps, weight, item, starts):
    """``maps[p] @ weight[item[p]]`` for ``(P, 2, n)`` maps, ``(K, n, m)`` weights; ``starts``
    ``(K + 1,)`` the first row of each item (rows sorted by item)."""
    rows, _, fan_in = maps.shape
    if len(weight) == 1:
        return (maps.reshape(-1, fan_in) @ weight[0]).reshape(rows, 2, -1)
    out = np.empty((rows, 2, weight.shape[2]))
    for k in np.flatnonzero(np.diff(starts)):
        lo, hi = starts[k], starts[k + 1]
        np.matmul(maps[lo:hi], weight[k], out=out[lo:hi])
    return out


def count_cones(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    boxes: np.ndarray,
    bases: np.ndarray,
    pwl: PiecewiseLinear,
    rtol: float,
) -> np.ndarray:
    """Region counts ``(K,)`` of ``K`` zero-bias networks of one shape (``layers`` as for
    :func:`actlab.regions._polygons.partition`, ``W`` ``(K or 1, in, out)``), each in its box
    ``(K, 2, 2)`` on its slice ``x = s * bases[k, 0] + t * bases[k, 1]`` (:func:`applies`)."""
    items = len(boxes)
    spread = np.abs(boxes).reshape(items, -1).max(axis=1)
    (s0, s1), (t0, t1) = boxes[:, 0].T, boxes[:, 1].T
    corners = np.stack([[s0, t0], [s1, t0], [s1, t1], [s0, t1]]).transpose(2, 0, 1)  # (K, 4, 2)
    start = corners.reshape(-1, 2)  # edge e of item k runs from corner e to corner e + 1
    end = np.roll(corners, -1, axis=1).reshape(-1, 2)
    item = np.repeat(np.arange(items), 4)
    edge = np.tile(np.arange(4), items)
    coef, scale = bases[item], np.abs(bases[item])  # (P, 2, d): the input map x = [s, t] @ basis
    slopes = np.asarray(pwl.slopes)
    pieces, parents = [], []
    for depth, (weight, _) in enumerate(layers):
        starts = np.searchsorted(item, np.arange(items + 1)) if len(weight) > 1 else None
        c = _by_item(coef, weight, item, starts)
        m = _by_item(scale, np.abs(weight), item, starts)
        reach = spread[item, None]
        z_start, tol_start = _values(start, c, m, rtol, reach)
        z_end, tol_end = _values(end, c, m, rtol, reach)
        pos_start, pos_end = z_start > tol_start, z_end > tol_end
        cut = (pos_start & (z_end < -tol_end)) | ((z_start < -tol_start) & pos_end)
        poly, line = np.nonzero(cut)
        if poly.size:
            zs, ze = z_start[poly, line], z_end[poly, line]
            fraction = zs / (zs - ze)
            order = np.lexsort((fraction, poly))
            poly, line, fraction = poly[order], line[order], fraction[order]
            crossing = start[poly] + fraction[:, None] * (end[poly] - start[poly])
            # a crossing on the line of the crossing before it (same segment) makes no piece
            new = np.ones(poly.size, bool)
            if poly.size > 1:
                same = poly[1:] == poly[:-1]
                prev = crossing[:-1]
                z_prev = prev[:, 0] * c[poly[1:], 0, line[1:]]
                z_prev += prev[:, 1] * c[poly[1:], 1, line[1:]]
                ms = rtol * m[poly[1:], 0, line[1:]]
                mt = rtol * m[poly[1:], 1, line[1:]]
                reach = spread[item[poly[1:]]]
                tol = (np.abs(prev[:, 0]) + reach) * ms + (np.abs(prev[:, 1]) + reach) * mt
                new[1:] = ~(same & (np.abs(z_prev) <= tol))
            poly, crossing = poly[new], crossing[new]
            splits = np.bincount(poly, minlength=len(start))
            parent = np.repeat(np.arange(len(start)), splits + 1)
            first = np.cumsum(splits + 1) - (splits + 1)  # first piece of each segment
            # piece r of a segment: from its (r-1)-th crossing (or start) to its r-th (or end)
            rank = np.arange(poly.size) - (np.cumsum(splits) - splits)[poly]
            after, before = first[poly] + rank + 1, first[poly] + rank  # pieces from, to it
            start, end = start[parent], end[parent]
            start[after], end[before] = crossing, crossing
            z, tol = _values(crossing, c[poly], m[poly], rtol, spread[item[poly], None])
            on_crossing = z > tol
            pos_start, pos_end = pos_start[parent], pos_end[parent]
            pos_start[after], pos_end[before] = on_crossing, on_crossing
            above = pos_start | pos_end
            item, edge = item[parent], edge[parent]
        else:
            parent = np.arange(len(start))
            above = pos_start | pos_end
        pieces.append(above)
        parents.append(parent)
        if depth < len(layers) - 1:  # the maps of the layer's outputs on the pieces
            slope = slopes[above.view(np.int8)][:, None, :]
            coef, scale = c[parent], m[parent]
            coef *= slope
            scale *= np.abs(slope)
    # joints between consecutive pieces within an edge are boundaries; at the corners, compare
    key = 4 * item + edge
    firsts = np.searchsorted(key, np.arange(4 * items))
    lasts = np.searchsorted(key, np.arange(4 * items), side="right") - 1
    lasts = np.roll(lasts.reshape(items, 4), 1, axis=1).ravel()  # corner e: after edge e - 1
    ends = np.concatenate([firsts, lasts])  # the pieces after and before each corner
    lineage, equal = ends, np.ones(len(firsts), bool)
    for above, parent in zip(reversed(pieces), reversed(parents), strict=True):
        pattern = above[lineage]
        equal &= np.all(pattern[: len(firsts)] == pattern[len(firsts) :], axis=1)
        lineage = parent[lineage]
    joints = np.bincount(item, minlength=items) - np.bincount(
        np.repeat(np.arange(items), 4), weights=equal, minlength=items
    ).astype(np.int64)
    return np.maximum(joints, 1)
