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
        and not origins.any()
        and bool((boxes[:, :, 0] < 0).all() and (boxes[:, :, 1] > 0).all())
        and not any(bias.any() for _, bias in layers)
    )


def _by_item(maps, weight, starts):
    """``maps[p] @ weight[item[p]]`` for ``(P, ..., n)`` maps and ``(K, n, m)`` weights;
    ``starts`` ``(K + 1,)`` the first row of each item (rows sorted by item), or ``None`` for
    one item."""
    if starts is None:
        return maps @ weight[0]
    out = np.empty((*maps.shape[:-1], weight.shape[2]))
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
    ``(K, 2, 2)`` on its slice ``x = s * bases[k, 0] + t * bases[k, 1]`` (:func:`applies`).

    The segments are ``ends`` ``(P, 2, 2)`` (start and end point, counter-clockwise), sorted by
    item and along each item's boundary. Each carries its maps ``C`` and companions ``M``
    ``(P, 2, m)`` (no constant rows: every bias and intercept is zero).
    """
    items = len(boxes)
    spread = np.abs(boxes).reshape(items, -1).max(axis=1)  # coordinates known to rtol times this
    (s0, s1), (t0, t1) = boxes[:, 0].T, boxes[:, 1].T
    corners = np.stack([s0, t0, s1, t0, s1, t1, s0, t1, s0, t0], axis=1).reshape(items, 5, 2)
    ends = np.stack([corners[:, :4], corners[:, 1:]], axis=2).reshape(-1, 2, 2)  # edge e: e, e+1
    item = np.repeat(np.arange(items), 4) if items > 1 else None
    reach = spread[:, None, None] if item is None else spread[item, None, None]
    coef = bases.repeat(4, axis=0)  # (P, 2, d): the input map x = [s, t] @ basis
    scale = np.abs(coef)
    # the pieces that start at each corner, and those that end at it (edge e - 1's last)
    after = np.arange(4 * items)
    before = after + np.tile([3, -1, -1, -1], items)
    equal = np.ones(4 * items, bool)  # the pieces on either side of the corner have one pattern
    low, high = pwl.slopes
    relu = low == 0.0 and high == 1.0
    last = len(layers) - 1
    for depth, (weight, _) in enumerate(layers):
        starts = None if item is None else np.searchsorted(item, np.arange(items + 1))
        c = _by_item(coef, weight, starts)
        m = _by_item(scale, np.abs(weight), starts)
        z = np.matmul(ends, c)  # (P, 2, m): s c_s + t c_t at both ends
        tol = np.matmul(np.abs(ends) + reach, m)  # (|s| + R) M_s + (|t| + R) M_t
        tol *= rtol
        pos = z > tol
        tol *= -1.0
        neg = z < tol
        above = pos[:, 0] | pos[:, 1]
        poly, line = np.nonzero(above & (neg[:, 0] | neg[:, 1]))
        parent = None
        if poly.size:
            zs, ze = z[poly, 0, line], z[poly, 1, line]
            fraction = zs / (zs - ze)
            order = np.lexsort((fraction, poly))
            poly, line, fraction = poly[order], line[order], fraction[order]
            a = ends[poly, 0]
            crossing = a + fraction[:, None] * (ends[poly, 1] - a)
            # a crossing on the line of the crossing before it (same segment) makes no piece
            same = poly[1:] == poly[:-1]
            if same.any():
                rows, lines = poly[1:], line[1:]
                value = np.einsum("ij,ij->i", crossing[:-1], c[rows, :, lines])
                keep = np.ones(poly.size, bool)
                near = np.abs(crossing[:-1]) + (reach[0, 0] if item is None else reach[rows, 0])
                width = rtol * np.einsum("ij,ij->i", near, m[rows, :, lines])
                keep[1:] = ~same | (np.abs(value) > width)
                poly, crossing = poly[keep], crossing[keep]
            # segment i's pieces are i + (crossings before it) + 0, 1, ..., its crossings
            splits = np.bincount(poly, minlength=len(ends))
            total = np.cumsum(splits)
            parent = np.repeat(np.arange(len(ends)), splits + 1)
            to = poly + np.arange(poly.size)  # the piece that ends at each crossing
            ends = ends[parent]
            ends[to, 1] = crossing
            ends[to + 1, 0] = crossing
            near = np.abs(crossing) + (reach[0] if item is None else reach[poly, 0])
            width = rtol * np.matmul(near[:, None], m[poly])[:, 0]
            beyond = np.matmul(crossing[:, None], c[poly])[:, 0] > width
            pos = pos[parent]
            pos[to, 1] = beyond
            pos[to + 1, 0] = beyond
            above = pos[:, 0] | pos[:, 1]
            after, before = after + total[after] - splits[after], before + total[before]
            if item is not None:
                item = item[parent]
                reach = spread[item, None, None]
        equal &= (above[after] == above[before]).all(axis=1)
        if depth < last:  # the maps of the layer's outputs on the pieces
            slope = above if relu else np.where(above, high, low)
            if parent is not None:
                c, m = c[parent], m[parent]
            slope = slope[:, None, :]
            coef = c * slope
            scale = m * (slope if relu else np.abs(slope))
    # pieces within an edge are separated by a line; at a corner only where the patterns differ
    if item is None:
        joints = np.array([len(ends) - int(equal.sum())])
    else:
        joints = np.bincount(item, minlength=items) - equal.reshape(items, 4).sum(axis=1)
    return np.maximum(joints, 1)
