"""An independent, exact count of activation regions in rational arithmetic (Python ``fractions``).

Slow and simple on purpose: the reference the float64 engines of :mod:`actlab.regions` are
checked against. Every number is a ``Fraction`` (floats convert exactly), so "on a line", "two
kinks coincide" and "a polygon has zero area" are decided exactly.

A network is hidden layers ``[(W, b), ...]`` (``W`` of shape ``(in, out)``) and a piecewise-linear
activation given as ``(kinks, slopes, intercepts)``; a unit is in piece ``p`` when its
pre-activation exceeds exactly ``p`` kinks (ReLU: on when ``> 0``).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

from actlab import activations as A


def pieces(activation) -> tuple[list[Fraction], list[Fraction], list[Fraction]]:
    """``(kinks, slopes, intercepts)`` of a piecewise-linear activation, as fractions."""
    act = A.describe(activation)
    spec = A.spec(act.name)
    shape = {k: v for k, v in act.params.items() if k != spec.kink_keyword}
    affine = spec.pieces(**shape)
    return (
        [Fraction(k) for k in spec.kinks],
        [Fraction(s) for s, _ in affine],
        [Fraction(c) for _, c in affine],
    )


def _fractions(layers):
    return [
        (
            [[Fraction(float(v)) for v in row] for row in np.asarray(w)],
            [Fraction(float(v)) for v in b],
        )
        for w, b in layers
    ]


def _piece(z: Fraction, kinks: list[Fraction]) -> int:
    return sum(z > k for k in kinks)


def _activate(z: list[Fraction], pattern: list[int], act) -> list[Fraction]:
    _, slopes, intercepts = act
    return [slopes[p] * v + intercepts[p] for v, p in zip(z, pattern, strict=True)]


def patterns_at(layers, activation, point) -> tuple[int, ...]:
    """The exact activation pattern at a point (a sequence of numbers)."""
    act = pieces(activation)
    h = [Fraction(float(v)) for v in point]
    pattern: list[int] = []
    for w, b in _fractions(layers):
        z = [
            sum((h[i] * w[i][j] for i in range(len(h))), Fraction(0)) + b[j] for j in range(len(b))
        ]
        layer = [_piece(v, act[0]) for v in z]
        pattern += layer
        h = _activate(z, layer, act)
    return tuple(pattern)


# ----------------------------------------------------------------------------- segments
def count_line(layers, start, end, activation="relu") -> int:
    """Exact number of activation regions with interior met by the segment ``[start, end]``."""
    act = pieces(activation)
    kinks = act[0]
    a = [Fraction(float(v)) for v in start]
    d = [Fraction(float(e)) - s for e, s in zip(end, a, strict=True)]
    # every breakpoint of every layer: a pre-activation crosses a kink strictly between two
    # breakpoints found so far (it is affine there)
    breaks = {Fraction(0), Fraction(1)}
    weights = _fractions(layers)
    for depth in range(1, len(weights) + 1):
        ts = sorted(breaks)
        values = [_preactivations(weights[:depth], act, a, d, t)[-1] for t in ts]
        for (t0, t1), (z0, z1) in zip(
            itertools.pairwise(ts), itertools.pairwise(values), strict=True
        ):
            for v0, v1 in zip(z0, z1, strict=True):
                for k in kinks:
                    if (v0 - k) * (v1 - k) < 0:
                        breaks.add(t0 + (t1 - t0) * (k - v0) / (v1 - v0))
    ts = sorted(breaks)
    assert all(isinstance(t, Fraction) for t in ts)  # a float would make the reference inexact
    patterns = [_pattern(weights, act, a, d, (t0 + t1) / 2) for t0, t1 in itertools.pairwise(ts)]
    return 1 + sum(p != q for p, q in itertools.pairwise(patterns))


def _preactivations(weights, act, a, d, t):
    h = [ai + t * di for ai, di in zip(a, d, strict=True)]
    out = []
    for w, b in weights:
        z = [
            sum((h[i] * w[i][j] for i in range(len(h))), Fraction(0)) + b[j] for j in range(len(b))
        ]
        out.append(z)
        h = _activate(z, [_piece(v, act[0]) for v in z], act)
    return out


def _pattern(weights, act, a, d, t):
    return tuple(_piece(v, act[0]) for z in _preactivations(weights, act, a, d, t) for v in z)


# ----------------------------------------------------------------------------- planes
def _cut(polygon, values):
    """Split a convex polygon (exact vertices) where the affine ``values`` (one per vertex) change
    sign: ``(part >= 0, part <= 0)``, or ``None`` when the line does not cross its interior."""
    if all(v >= 0 for v in values) or all(v <= 0 for v in values):
        return None
    parts = ([], [])
    n = len(polygon)
    for i in range(n):
        p, q, vp, vq = polygon[i], polygon[(i + 1) % n], values[i], values[(i + 1) % n]
        if vp >= 0:
            parts[0].append(p)
        if vp <= 0:
            parts[1].append(p)
        if vp * vq < 0:
            f = vp / (vp - vq)
            x = (p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1]))
            parts[0].append(x)
            parts[1].append(x)
    return parts


def area(polygon) -> Fraction:
    """Exact area of a polygon given counter-clockwise."""
    n = len(polygon)
    return sum(
        (polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
         for i in range(n)),
        Fraction(0),
    ) / 2  # fmt: skip


def partition_plane(layers, bounds, activation="relu", origin=None, basis=None):
    """Exact convex cells ``[(polygon, pattern)]`` of the activation regions in the box."""
    act = pieces(activation)
    kinks = act[0]
    (s0, s1), (t0, t1) = [[Fraction(float(v)) for v in pair] for pair in bounds]
    weights = _fractions(layers)
    dim = len(weights[0][0])
    basis = np.eye(2) if basis is None else np.asarray(basis)
    origin = np.zeros(dim) if origin is None else np.asarray(origin)
    # h = s * u + t * v + o, as three rows of coefficients
    rows = [[Fraction(float(x)) for x in basis[0]], [Fraction(float(x)) for x in basis[1]],
            [Fraction(float(x)) for x in origin]]  # fmt: skip
    cells = [([(s0, t0), (s1, t0), (s1, t1), (s0, t1)], rows, ())]
    for w, b in weights:
        out = []
        for polygon, rows, pattern in cells:
            coef = [[sum((r[i] * w[i][j] for i in range(len(r))), Fraction(0)) for j in range(len(b))]
                    for r in rows]  # fmt: skip
            coef[2] = [c + bj for c, bj in zip(coef[2], b, strict=True)]
            parts = [polygon]
            for j in range(len(b)):
                for k in kinks:
                    split = []
                    for part in parts:
                        values = [
                            p[0] * coef[0][j] + p[1] * coef[1][j] + coef[2][j] - k for p in part
                        ]
                        halves = _cut(part, values)
                        split += [part] if halves is None else list(halves)
                    parts = split
            for part in parts:
                c = (sum(p[0] for p in part) / len(part), sum(p[1] for p in part) / len(part))
                z = [c[0] * coef[0][j] + c[1] * coef[1][j] + coef[2][j] for j in range(len(b))]
                layer = [_piece(v, kinks) for v in z]
                _, slopes, intercepts = act
                new_rows = [[slopes[p] * coef[r][j] for j, p in enumerate(layer)] for r in range(2)]
                new_rows.append(
                    [slopes[p] * coef[2][j] + intercepts[p] for j, p in enumerate(layer)]
                )
                out.append((part, new_rows, pattern + tuple(layer)))
        cells = out
    return [(polygon, pattern) for polygon, _, pattern in cells]


def count_plane(layers, bounds, activation="relu", origin=None, basis=None) -> int:
    """Exact number of activation regions with interior in the box."""
    return len(partition_plane(layers, bounds, activation, origin, basis))
