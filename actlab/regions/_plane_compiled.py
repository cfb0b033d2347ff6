r"""Compiled plane counts (numba): the partition of :mod:`actlab.regions._polygons`, one polygon at
a time, in float64.

The vectorised engine pays a fixed cost of tens of NumPy operations per round of cuts, which
dominates for small networks; here the same cuts run as compiled loops, so a call costs
microseconds plus a few per region. The decisions are those of the vectorised engine, term for
term: the maps ``C`` and companions ``M`` of each polygon, the disc test that rules out the lines
that cannot cut it (and gives its side of them), the tolerance
``rtol * ([|s| + R, |t| + R, 1] @ M)`` at every vertex, the Sutherland-Hodgman halves (vertices
on the line in both), lines cut in the order of their units, and the side of a line a piece lies
on (beyond it when one of its vertices is). Only the matrix products sum in another order
(loops, not BLAS), a rounding far inside the tolerance. Each polygon of the last layer is cut and
counted, not stored.

The layers are flat arrays: ``weights`` ``(K or 1, sum(in * out))`` holds each layer's ``W``
row-major, ``biases`` ``(K or 1, sum(out))``; ``fan_in`` and ``widths`` ``(L,)`` give the shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from actlab.regions._activation import PiecewiseLinear

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _grow(array, size):
    """``array`` with room for at least ``size`` rows (doubling), its rows kept."""
    if size <= array.shape[0]:
        return array
    shape = (max(size, 2 * array.shape[0]),) + array.shape[1:]  # noqa: RUF005 (numba: no *)
    grown = np.empty(shape, array.dtype)
    grown[: array.shape[0]] = array
    return grown


@_jit
def _widen(vertices, size):
    """Pieces ``vertices`` ``(Q, V, 2)`` with room for ``2 * size`` vertices each, and scratch
    arrays of that length (a half, the line's values, its strict sides)."""
    room = 2 * size
    wider = np.empty((vertices.shape[0], room, 2))
    wider[:, : vertices.shape[1]] = vertices
    return (wider, np.empty((room, 2)), np.empty(room), np.zeros(room, np.bool_),
            np.zeros(room, np.bool_))  # fmt: skip


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _maps(prev_c, prev_m, pattern, first, slopes, intercepts, weights, abs_weights, biases,
          abs_biases, woff, boff, fan_in, width, c, m):  # fmt: skip
    """``c``, ``m`` ``(3, width)``: the layer's maps on a polygon from its parent's maps
    ``prev_c``, ``prev_m`` ``(3, fan_in)`` through the pieces ``pattern`` (``first``: the input
    map itself, no activation); ``weights`` etc. are the network's flat rows."""
    c[:] = 0.0
    m[:] = 0.0
    for i in range(fan_in):
        if first:
            slope, intercept = 1.0, 0.0
        else:
            slope, intercept = slopes[pattern[i]], intercepts[pattern[i]]
            if slope == 0.0 and intercept == 0.0:  # an inactive unit (ReLU off) adds nothing
                continue
        w = weights[woff + i * width : woff + (i + 1) * width]
        w_abs = abs_weights[woff + i * width : woff + (i + 1) * width]
        for r in range(3):
            a = prev_c[r, i] * slope
            am = prev_m[r, i] * abs(slope)
            if r == 2:
                a += intercept
                am += abs(intercept)
            c_row, m_row = c[r], m[r]
            for j in range(width):
                c_row[j] += a * w[j]
                m_row[j] += am * w_abs[j]
    for j in range(width):
        c[2, j] += biases[boff + j]
        m[2, j] += abs_biases[boff + j]


@_jit
def _disc(vertices):
    """``(s, t, radius)``: the vertex mean of a polygon ``(n, 2)`` and its farthest vertex's
    distance, a disc that holds it (as :func:`actlab.regions._polygons._discs`)."""
    size = len(vertices)
    cs, ct = 0.0, 0.0
    for i in range(size):
        cs += vertices[i, 0]
        ct += vertices[i, 1]
    cs /= size
    ct /= size
    radius = 0.0
    for i in range(size):
        ds, dt = vertices[i, 0] - cs, vertices[i, 1] - ct
        radius = max(radius, ds * ds + dt * dt)
    return cs, ct, np.sqrt(radius)


@_jit
def _split(vertices, count, q, new, z, pos, neg, lower):
    """Cut piece ``q`` by a line (values ``z``, strict sides ``pos``/``neg`` at its vertices):
    the half where the line is ``>= 0`` becomes piece ``new``, the other stays ``q``."""
    size = count[q]
    kept_up, kept_low = 0, 0
    for i in range(size):
        following = i + 1 if i + 1 < size else 0
        crosses = (pos[i] and neg[following]) or (neg[i] and pos[following])
        s, t = vertices[q, i, 0], vertices[q, i, 1]
        if not neg[i]:
            vertices[new, kept_up, 0] = s
            vertices[new, kept_up, 1] = t
            kept_up += 1
        if not pos[i]:
            lower[kept_low, 0] = s
            lower[kept_low, 1] = t
            kept_low += 1
        if crosses:
            fraction = z[i] / (z[i] - z[following])
            cs = s + fraction * (vertices[q, following, 0] - s)
            ct = t + fraction * (vertices[q, following, 1] - t)
            vertices[new, kept_up, 0] = cs
            vertices[new, kept_up, 1] = ct
            kept_up += 1
            lower[kept_low, 0] = cs
            lower[kept_low, 1] = ct
            kept_low += 1
    vertices[q, :kept_low] = lower[:kept_low]
    count[q] = kept_low
    count[new] = kept_up


@_jit
def _count_item(weights, abs_weights, biases, abs_biases, fan_in, widths, inputs, box, kinks, slopes, intercepts,
                rtol):  # fmt: skip
    """Regions of one network in its box (``inputs`` ``(3, d)``: the slice's ``[basis; origin]``)."""
    depth = len(widths)
    kink_count = len(kinks)
    spread = 0.0
    for a in range(2):
        for b in range(2):
            spread = max(spread, abs(box[a, b]))
    # the polygons entering a layer: vertices in a flat pool, each with its parent and pattern
    pool = np.empty((64, 2))
    pool[0, 0], pool[0, 1] = box[0, 0], box[1, 0]
    pool[1, 0], pool[1, 1] = box[0, 1], box[1, 0]
    pool[2, 0], pool[2, 1] = box[0, 1], box[1, 1]
    pool[3, 0], pool[3, 1] = box[0, 0], box[1, 1]
    start = np.zeros(2, np.int64)
    start[1] = 4
    parent = np.zeros(1, np.int64)
    pattern = np.zeros((1, inputs.shape[1]), np.int8)
    prev_c = inputs.reshape((1, 3, inputs.shape[1])).copy()
    prev_m = np.abs(prev_c)
    polygons = 1
    # one polygon's pieces
    piece_vertices = np.empty((8, 16, 2))
    piece_count = np.zeros(8, np.int64)
    piece_above = np.zeros((8, 1), np.bool_)
    piece_disc = np.empty((8, 3))  # centre and radius of a disc holding each piece
    lower = np.empty((16, 2))
    z = np.empty(16)
    pos = np.zeros(16, np.bool_)
    neg = np.zeros(16, np.bool_)
    woff, boff = 0, 0
    total = 0
    for layer in range(depth):
        width, lines = widths[layer], widths[layer] * kink_count
        last = layer == depth - 1
        c_all = np.empty((polygons, 3, width))
        m_all = np.empty((polygons, 3, width))
        base_above = np.empty(lines, np.bool_)
        candidates = np.empty(lines, np.int64)
        grad = np.empty(width)
        if piece_above.shape[1] < lines:
            piece_above = np.zeros((piece_above.shape[0], lines), np.bool_)
        out_pool = np.empty((max(64, 2 * start[polygons]), 2))
        out_start = np.zeros(max(2, 2 * polygons + 1), np.int64)
        out_parent = np.empty(max(1, 2 * polygons), np.int64)
        out_pattern = np.empty((max(1, 2 * polygons), width), np.int8)
        out = 0
        for p in range(polygons):
            c, m = c_all[p], m_all[p]
            _maps(prev_c[parent[p]], prev_m[parent[p]], pattern[p], layer == 0, slopes,
                  intercepts, weights, abs_weights, biases, abs_biases, woff, boff,
                  fan_in[layer], width, c, m)  # fmt: skip
            lo, size = start[p], start[p + 1] - start[p]
            cs, ct, radius = _disc(pool[lo : lo + size])
            rim = radius + spread
            pending = 0
            for j in range(width):
                z_center = c[2, j] + cs * c[0, j]
                z_center += ct * c[1, j]
                grad[j] = np.sqrt(c[0, j] * c[0, j] + c[1, j] * c[1, j])
                reach = grad[j] * radius
                reach += (rtol * (abs(cs) + rim)) * m[0, j]
                reach += (rtol * (abs(ct) + rim)) * m[1, j]
                reach += rtol * m[2, j]
                for k in range(kink_count):
                    line = j * kink_count + k
                    base_above[line] = z_center > kinks[k]
                    if abs(z_center - kinks[k]) <= reach:
                        candidates[pending] = line
                        pending += 1
            # the polygon, then its pieces, cut by each candidate line in turn
            if piece_vertices.shape[1] < size + pending + 2:  # a cut adds at most a vertex
                piece_vertices, lower, z, pos, neg = _widen(piece_vertices, size + pending + 2)
            piece_vertices[0, :size] = pool[lo : lo + size]
            piece_count[0] = size
            piece_above[0, :lines] = base_above
            piece_disc[0] = cs, ct, radius
            pieces = 1
            for n in range(pending):
                line = candidates[n]
                j, k = line // kink_count, line % kink_count
                coef0, coef1, coef2 = c[0, j], c[1, j], c[2, j] - kinks[k]
                ms, mt = rtol * m[0, j], rtol * m[1, j]
                offset = spread * (ms + mt) + rtol * m[2, j]
                current = pieces
                for q in range(current):
                    # the piece's disc first: beyond the line's reach, all of it is on one side
                    qs, qt, qr = piece_disc[q, 0], piece_disc[q, 1], piece_disc[q, 2]
                    z_center = coef2 + qs * coef0
                    z_center += qt * coef1
                    reach = grad[j] * qr
                    reach += (abs(qs) + qr + spread) * ms
                    reach += (abs(qt) + qr + spread) * mt
                    reach += rtol * m[2, j]
                    if abs(z_center) > reach:
                        piece_above[q, line] = z_center > 0.0
                        continue
                    any_pos, any_neg = False, False
                    for i in range(piece_count[q]):
                        s, t = piece_vertices[q, i, 0], piece_vertices[q, i, 1]
                        value = s * coef0
                        value += t * coef1
                        value += coef2
                        tol = abs(s) * ms
                        tol += abs(t) * mt
                        tol += offset
                        z[i] = value
                        pos[i] = value > tol
                        neg[i] = value < -tol
                        any_pos = any_pos or pos[i]
                        any_neg = any_neg or neg[i]
                    piece_above[q, line] = any_pos
                    if any_pos and any_neg:
                        if piece_count[q] + 2 > piece_vertices.shape[1]:  # rounding's extra
                            piece_vertices, lower, z, pos, neg = _widen(
                                piece_vertices, piece_count[q] + 2
                            )
                        if pieces == piece_count.shape[0]:
                            piece_vertices = _grow(piece_vertices, pieces + 1)
                            piece_count = _grow(piece_count, pieces + 1)
                            piece_above = _grow(piece_above, pieces + 1)
                            piece_disc = _grow(piece_disc, pieces + 1)
                        _split(piece_vertices, piece_count, q, pieces, z, pos, neg, lower)
                        piece_disc[q] = _disc(piece_vertices[q, : piece_count[q]])
                        piece_disc[pieces] = _disc(piece_vertices[pieces, : piece_count[pieces]])
                        piece_above[pieces] = piece_above[q]
                        piece_above[q, line] = False
                        pieces += 1
            if last:
                total += pieces
                continue
            # the pieces enter the next layer
            out_start = _grow(out_start, out + pieces + 1)
            out_parent = _grow(out_parent, out + pieces)
            out_pattern = _grow(out_pattern, out + pieces)
            for q in range(pieces):
                end = out_start[out] + piece_count[q]
                out_pool = _grow(out_pool, end)
                out_pool[out_start[out] : end] = piece_vertices[q, : piece_count[q]]
                out_start[out + 1] = end
                out_parent[out] = p
                for j in range(width):
                    piece = 0
                    for k in range(kink_count):
                        piece += piece_above[q, j * kink_count + k]
                    out_pattern[out, j] = piece
                out += 1
        if last:
            return total
        pool, start, parent, pattern = out_pool, out_start, out_parent, out_pattern
        prev_c, prev_m, polygons = c_all, m_all, out
        woff += fan_in[layer] * width
        boff += width
    return total


@_jit
def _count_items(weights, biases, fan_in, widths, inputs, boxes, kinks, slopes, intercepts,
                 rtol):  # fmt: skip
    abs_weights, abs_biases = np.abs(weights), np.abs(biases)
    counts = np.zeros(len(boxes), np.int64)
    for item in range(len(boxes)):
        kw = item if weights.shape[0] > 1 else 0
        counts[item] = _count_item(weights[kw], abs_weights[kw], biases[kw], abs_biases[kw],
                                   fan_in, widths, inputs[item], boxes[item], kinks, slopes,
                                   intercepts, rtol)  # fmt: skip
    return counts


def _flat(layers):
    """``(weights, biases, fan_in, widths)``: the layers as the kernels' flat rows."""
    weights = np.ascontiguousarray(
        np.concatenate([w.reshape(len(w), -1) for w, _ in layers], axis=1), np.float64
    )
    biases = np.ascontiguousarray(np.concatenate([b for _, b in layers], axis=1), np.float64)
    fan_in = np.array([w.shape[1] for w, _ in layers], np.int64)
    widths = np.array([w.shape[2] for w, _ in layers], np.int64)
    return weights, biases, fan_in, widths


def count_compiled(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    boxes: np.ndarray,
    origins: np.ndarray,
    bases: np.ndarray,
    pwl: PiecewiseLinear,
    rtol: float,
) -> np.ndarray:
    """Region counts ``(K,)`` of ``K`` networks of one shape, each in its box on its slice
    (arguments as for :func:`actlab.regions._polygons.partition`)."""
    weights, biases, fan_in, widths = _flat(layers)
    inputs = np.ascontiguousarray(np.concatenate([bases, origins[:, None]], axis=1), np.float64)
    return _count_items(
        weights, biases, fan_in, widths, inputs, np.ascontiguousarray(boxes, np.float64),
        np.asarray(pwl.kinks, np.float64), np.asarray(pwl.slopes, np.float64),
        np.asarray(pwl.intercepts, np.float64), float(rtol),
    )  # fmt: skip


@_jit
def _cone_item(weights, abs_weights, fan_in, widths, basis, box, low, high, rtol):
    """Regions of one zero-bias network on a slice through the origin: the pieces of constant
    pattern along the box's boundary (:mod:`actlab.regions._cones`, the same decisions).

    ``basis`` ``(2, d)``; ``low``, ``high``: the slopes left and right of the kink at zero."""
    spread = 0.0
    for a in range(2):
        for b in range(2):
            spread = max(spread, abs(box[a, b]))
    corners = np.array([[box[0, 0], box[1, 0]], [box[0, 1], box[1, 0]],
                        [box[0, 1], box[1, 1]], [box[0, 0], box[1, 1]]])  # fmt: skip
    ends = np.empty((4, 2, 2))  # segment e runs from corner e to corner e + 1
    for e in range(4):
        ends[e, 0] = corners[e]
        ends[e, 1] = corners[(e + 1) % 4]
    segments = 4
    edge = np.arange(4)  # the edge of the box each segment lies on
    coef = np.empty((4, 2, basis.shape[1]))
    for e in range(4):
        coef[e] = basis
    scale = np.abs(coef)
    equal = np.ones(4, np.bool_)  # the pieces either side of corner e have one pattern so far
    woff = 0
    depth = len(widths)
    for layer in range(depth):
        width, inputs = widths[layer], fan_in[layer]
        c_all = np.zeros((segments, 2, width))
        m_all = np.zeros((segments, 2, width))
        capacity = 2 * segments + 8
        new_ends = np.empty((capacity, 2, 2))
        new_above = np.empty((capacity, width), np.bool_)
        new_parent = np.empty(capacity, np.int64)
        new_edge = np.empty(capacity, np.int64)
        pos = np.empty((2, width), np.bool_)
        neg = np.empty((2, width), np.bool_)
        count = 0
        for p in range(segments):
            c, m = c_all[p], m_all[p]
            for i in range(inputs):
                w = weights[woff + i * width : woff + (i + 1) * width]
                w_abs = abs_weights[woff + i * width : woff + (i + 1) * width]
                for r in range(2):
                    a, am = coef[p, r, i], scale[p, r, i]
                    if a == 0.0 and am == 0.0:
                        continue
                    for j in range(width):
                        c[r, j] += a * w[j]
                        m[r, j] += am * w_abs[j]
            cutting = 0
            lines = np.empty(width, np.int64)
            fractions = np.empty(width)
            for j in range(width):
                for side in range(2):
                    s, t = ends[p, side, 0], ends[p, side, 1]
                    z = s * c[0, j] + t * c[1, j]
                    tol = (abs(s) + spread) * m[0, j] + (abs(t) + spread) * m[1, j]
                    tol *= rtol
                    pos[side, j] = z > tol
                    neg[side, j] = z < -tol
                if (pos[0, j] or pos[1, j]) and (neg[0, j] or neg[1, j]):
                    zs = ends[p, 0, 0] * c[0, j] + ends[p, 0, 1] * c[1, j]
                    ze = ends[p, 1, 0] * c[0, j] + ends[p, 1, 1] * c[1, j]
                    lines[cutting] = j
                    fractions[cutting] = zs / (zs - ze)
                    cutting += 1
            order = np.argsort(fractions[:cutting], kind="mergesort")
            if count + cutting + 1 > capacity:
                capacity = 2 * (count + cutting + 1)
                new_ends = _grow(new_ends, capacity)
                new_above = _grow(new_above, capacity)
                new_parent = _grow(new_parent, capacity)
                new_edge = _grow(new_edge, capacity)
            # the first piece starts at the segment's start, with its side of every line there
            new_ends[count, 0] = ends[p, 0]
            for j in range(width):
                new_above[count, j] = pos[0, j]
            previous_s, previous_t = 0.0, 0.0
            for n in range(cutting):
                line = lines[order[n]]
                f = fractions[order[n]]
                s0, t0 = ends[p, 0, 0], ends[p, 0, 1]
                cs = s0 + f * (ends[p, 1, 0] - s0)
                ct = t0 + f * (ends[p, 1, 1] - t0)
                keep = True
                if n > 0:  # on the line of the crossing before it: no new piece
                    value = previous_s * c[0, line] + previous_t * c[1, line]
                    near = rtol * ((abs(previous_s) + spread) * m[0, line]
                                   + (abs(previous_t) + spread) * m[1, line])  # fmt: skip
                    keep = abs(value) > near
                previous_s, previous_t = cs, ct
                if not keep:
                    continue
                # the piece ends here; the next starts here; both take the sides at the crossing
                new_ends[count, 1, 0], new_ends[count, 1, 1] = cs, ct
                new_parent[count] = p
                new_edge[count] = edge[p]
                count += 1
                new_ends[count, 0, 0], new_ends[count, 0, 1] = cs, ct
                for j in range(width):
                    value = cs * c[0, j] + ct * c[1, j]
                    near = rtol * ((abs(cs) + spread) * m[0, j] + (abs(ct) + spread) * m[1, j])
                    beyond = value > near
                    new_above[count - 1, j] = new_above[count - 1, j] or beyond
                    new_above[count, j] = beyond
            new_ends[count, 1] = ends[p, 1]
            for j in range(width):
                new_above[count, j] = new_above[count, j] or pos[1, j]
            new_parent[count] = p
            new_edge[count] = edge[p]
            count += 1
        # corner e joins the first piece of edge e and the last piece of edge e - 1
        first = np.full(4, -1, np.int64)
        final = np.full(4, -1, np.int64)
        for q in range(count):
            if first[new_edge[q]] < 0:
                first[new_edge[q]] = q
            final[new_edge[q]] = q
        for e in range(4):
            a, b = first[e], final[(e + 3) % 4]
            for j in range(width):
                if new_above[a, j] != new_above[b, j]:
                    equal[e] = False
                    break
        if layer < depth - 1:
            coef = np.empty((count, 2, width))
            scale = np.empty((count, 2, width))
            for q in range(count):
                for j in range(width):
                    slope = high if new_above[q, j] else low
                    for r in range(2):
                        coef[q, r, j] = c_all[new_parent[q], r, j] * slope
                        scale[q, r, j] = m_all[new_parent[q], r, j] * abs(slope)
        ends, edge, segments = new_ends[:count].copy(), new_edge[:count].copy(), count
        woff += inputs * width
    joints = segments
    for e in range(4):
        joints -= equal[e]
    return max(joints, 1)


@_jit
def _cone_items(weights, fan_in, widths, bases, boxes, low, high, rtol):
    abs_weights = np.abs(weights)
    counts = np.zeros(len(boxes), np.int64)
    for item in range(len(boxes)):
        kw = item if weights.shape[0] > 1 else 0
        counts[item] = _cone_item(weights[kw], abs_weights[kw], fan_in, widths, bases[item],
                                  boxes[item], low, high, rtol)  # fmt: skip
    return counts


def count_cones_compiled(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    boxes: np.ndarray,
    bases: np.ndarray,
    pwl: PiecewiseLinear,
    rtol: float,
) -> np.ndarray:
    """Region counts ``(K,)`` of zero-bias networks (arguments as for
    :func:`actlab.regions._cones.count_cones`)."""
    weights, _, fan_in, widths = _flat(layers)
    low, high = pwl.slopes
    return _cone_items(
        weights, fan_in, widths, np.ascontiguousarray(bases, np.float64),
        np.ascontiguousarray(boxes, np.float64), float(low), float(high), float(rtol),
    )  # fmt: skip
