r"""The last layer of a plane count without its polygons: faces of a line arrangement in each
polygon (NumPy, float64).

When only the count is asked for, the last layer's polygons are never used: each polygon of the
layer before is cut by the lines of the last layer that cross it, and the number of pieces is
the number of faces of that arrangement of lines inside a convex polygon. Adding the lines one by
one (in the order of their units), a line that crosses the polygon adds one face more than the
number of distinct points where it crosses the earlier lines inside the polygon, and a line equal
to an earlier one there adds none: ``faces = 1 + sum_j (1 + d_j)``.

The decisions are those of :mod:`actlab.regions._polygons`, with its tolerance at each point,
``rtol * ([|s| + R, |t| + R, 1] @ M)``: a line crosses a polygon when vertices lie strictly on both sides; its chord
runs between the extreme points on it (vertices on the line, crossings of edges strictly cut);
an earlier line crosses the chord inside the polygon when the chord's ends lie strictly on
opposite sides of it, equals it when both ends are on it; and two crossings on a chord are one
point when the later line is on the earlier crossing (concurrent lines, or a line through a
crossing: the vertex a cut would have made is on it).
"""

from __future__ import annotations

import numpy as np

from actlab.regions._polygons import _line_values


def _at(points, columns, scales, rtol, spread):
    """Values of lines ``columns`` ``(n, 3)`` at ``points`` ``(n, 2)``, and their tolerances
    (companions ``scales`` ``(n, 3)``, box sizes ``spread`` ``(n,)``), ``(n,)`` each."""
    values = points[:, 0] * columns[:, 0]
    values += points[:, 1] * columns[:, 1]
    values += columns[:, 2]
    tol = (np.abs(points[:, 0]) + spread) * scales[:, 0]
    tol += (np.abs(points[:, 1]) + spread) * scales[:, 1]
    tol += scales[:, 2]
    tol *= rtol
    return values, tol


def count_faces(vertices, count, item, coef, scale, kinks, rtol, spread, may_cut, items):
    """Pieces of the last layer in each item: ``(K,)`` int64.

    Args:
      vertices: ``(P, V, 2)`` padded polygons; count: ``(P,)``; item: ``(P,)``.
      coef, scale: ``(P, 3, m)`` the last layer's maps and companions on each polygon.
      kinks: the activation's kinks; line ``l`` is unit ``l // len(kinks)`` at kink
        ``kinks[l % len(kinks)]``.
      spread: ``(K,)`` each item's box size; may_cut: ``(P, m * len(kinks))`` the pairs to test.
    """
    faces = np.bincount(item, minlength=items)  # one per polygon, before any line
    poly, line = np.nonzero(may_cut)  # sorted by polygon, then line
    if not poly.size:
        return faces
    unit, which = np.divmod(line, len(kinks))
    columns, scales = coef[poly, :, unit], scale[poly, :, unit]
    if np.any(kinks):
        columns[:, 2] -= np.asarray(kinks)[which]
    reach = spread[item[poly]]
    z, tol = _line_values(vertices[poly], columns, scales, rtol, reach[:, None])
    pos, neg = z > tol, z < -tol
    cut = np.any(pos, axis=1) & np.any(neg, axis=1)
    poly, columns, scales, reach = poly[cut], columns[cut], scales[cut], reach[cut]
    z, pos, neg = z[cut], pos[cut], neg[cut]
    if not poly.size:
        return faces
    first = np.ones(poly.size, bool)
    first[1:] = poly[1:] != poly[:-1]
    if first.all():  # one line per polygon: it adds one face
        return faces + np.bincount(item[poly], minlength=items)
    pairs, width = z.shape
    # each crossing line's chord: the extreme points on it along its direction
    corners = vertices[poly]
    following = np.arange(1, width + 1) % width
    valid = np.arange(width) < count[poly][:, None]
    crosses = valid & ((pos & neg[:, following]) | (neg & pos[:, following]))
    on = valid & ~pos & ~neg
    gap = np.where(crosses, z - z[:, following], 1.0)
    fraction = np.where(crosses, z / gap, 0.0)[..., None]
    crossing = corners + fraction * (corners[:, following] - corners)
    points = np.concatenate([corners, crossing], axis=1)  # (pairs, 2 V, 2)
    mask = np.concatenate([on, crosses], axis=1)
    along = points[..., 0] * -columns[:, 1:2] + points[..., 1] * columns[:, :1]
    rows = np.arange(pairs)
    start = points[rows, np.argmin(np.where(mask, along, np.inf), axis=1)]
    end = points[rows, np.argmax(np.where(mask, along, -np.inf), axis=1)]
    # every earlier line of the same polygon against each chord
    group = np.maximum.accumulate(np.where(first, rows, 0))
    earlier = rows - group
    chord = np.repeat(rows, earlier)
    other = group[chord] + np.arange(len(chord)) - np.repeat(np.cumsum(earlier) - earlier, earlier)
    line_of = columns[other], scales[other], reach[other]
    z0, t0 = _at(start[chord], line_of[0], line_of[1], rtol, line_of[2])
    z1, t1 = _at(end[chord], line_of[0], line_of[1], rtol, line_of[2])
    equal = np.zeros(pairs, bool)
    equal[chord[(np.abs(z0) <= t0) & (np.abs(z1) <= t1)]] = True
    strict = ((z0 > t0) & (z1 < -t1)) | ((z0 < -t0) & (z1 > t1))
    chord, other, z0, z1 = chord[strict], other[strict], z0[strict], z1[strict]
    f = z0 / (z0 - z1)
    order = np.lexsort((f, chord))
    chord, other, f = chord[order], other[order], f[order]
    point = start[chord] + f[:, None] * (end[chord] - start[chord])
    distinct = np.ones(len(chord), bool)
    if len(chord) > 1:  # a crossing on the line of the one before it is the same point
        same = chord[1:] == chord[:-1]
        later = other[1:]
        value, tol = _at(point[:-1], columns[later], scales[later], rtol, reach[later])
        distinct[1:] = ~(same & (np.abs(value) <= tol))
    points_on = np.bincount(chord[distinct], minlength=pairs)
    added = np.where(equal, 0, 1 + points_on)
    return faces + np.bincount(item[poly], weights=added, minlength=items).astype(np.int64)
