r"""Layer-by-layer refinement of segments, the CPU method behind :func:`count_lines` (NumPy).

Each segment carries breakpoints :math:`0 = t_0 < t_1 < \dots < t_m = 1` between which the layers
seen so far are affine. Layer ``l`` then goes:

1. its pre-activations at all breakpoints of all segments, :math:`Z = h_{l-1} W_l + b_l` (one
   matrix product);
2. between two neighbouring breakpoints each pre-activation is affine, so a unit crosses a kink
   ``k`` there exactly when :math:`Z - k` has strictly opposite signs at the two ends, both beyond
   the rounding tolerance (a unit at a kink at a breakpoint crosses nothing there: touching is
   not crossing); the crossing is at the linear interpolant's root;
3. crossings closer than their rounding uncertainty merge into one breakpoint (coincident
   hyperplanes); new breakpoints get their pre-activations by linear interpolation, exactly on
   the kink for the crossing units, and :math:`h_l = \sigma(Z)` (continuous, so well defined at
   a kink).

Every breakpoint is a real change of some unit's piece, and activation regions are convex, so a
segment with ``m + 1`` breakpoints meets ``m`` regions. This evaluates each layer once per
breakpoint that exists before it, about half the arithmetic of a region-by-region walk, which
re-evaluates every layer in every region.

Breakpoints are kept in the order they were found, each with the index of the next one along its
segment, so new ones are appended rather than inserted.

Tolerance: ``rtol * (|h| max_i |W_{:, i}| + max_i |b_i|)`` per breakpoint, a bound on the
rounding of its dot products.
"""

from __future__ import annotations

import numpy as np

from actlab.regions._activation import PiecewiseLinear
from actlab.regions._validate import Layers


def _crossings(z, tol, following, kinks):
    """New breakpoints: ``(left, fraction)``, between breakpoint ``left`` and its successor,
    sorted by ``left`` then ``fraction``, coincident crossings merged."""
    has_next = np.flatnonzero(following >= 0)
    lefts, fractions, spreads = [np.zeros(0, np.intp)], [np.zeros(0)], [np.zeros(0)]
    for kink in kinks:
        d = z - kink if kink else z
        sign = np.signbit(d)
        pair, unit = np.divmod(
            np.flatnonzero(sign[has_next] != sign[following[has_next]]), d.shape[1]
        )
        left = has_next[pair]
        right = following[left]
        d_left, d_right = d[left, unit], d[right, unit]
        real = (np.abs(d_left) > tol[left]) & (np.abs(d_right) > tol[right])
        left, d_left, d_right = left[real], d_left[real], d_right[real]
        gap = d_left - d_right
        lefts.append(left)
        fractions.append(d_left / gap)
        # uncertainty of the fraction: a value error of tol moves the root by tol / |gap|
        spreads.append(np.maximum(tol[left], tol[following[left]]) / np.abs(gap))
    left, fraction, spread = (np.concatenate(parts) for parts in (lefts, fractions, spreads))
    order = np.lexsort((fraction, left))
    left, fraction, spread = left[order], fraction[order], spread[order]
    distinct = np.ones(left.size, bool)
    distinct[1:] = (left[1:] != left[:-1]) | (
        fraction[1:] - fraction[:-1] > np.maximum(spread[1:], spread[:-1])
    )
    return left[distinct], fraction[distinct]


def _link(left, following, size):
    """Successor indices after appending new breakpoints ``size, size + 1, ...`` (sorted by
    ``left`` then position) after their ``left`` breakpoints."""
    new = size + np.arange(left.size)
    last_of_run = np.ones(left.size, bool)
    last_of_run[:-1] = left[1:] != left[:-1]
    first_of_run = np.ones(left.size, bool)
    first_of_run[1:] = left[1:] != left[:-1]
    linked = np.concatenate([following, np.empty(left.size, following.dtype)])
    linked[new[:-1]] = new[1:]
    linked[new[last_of_run]] = following[left[last_of_run]]
    linked[left[first_of_run]] = new[first_of_run]
    return linked


def _activate(z: np.ndarray, pwl: PiecewiseLinear, out: np.ndarray) -> None:
    """``out = sigma(z)``."""
    if pwl.kinks == (0.0,) and pwl.slopes == (0.0, 1.0) and pwl.intercepts == (0.0, 0.0):
        np.maximum(z, 0.0, out=out)  # relu, the common case, in one pass
        return
    h = pwl.slopes[0] * z + pwl.intercepts[0]
    for kink, slope, intercept in zip(pwl.kinks, pwl.slopes[1:], pwl.intercepts[1:], strict=True):
        h = np.where(z > kink, slope * z + intercept, h)
    out[...] = h


def refine(
    layers: Layers,
    starts: np.ndarray,
    ends: np.ndarray,
    pwl: PiecewiseLinear,
    rtol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breakpoints of the segments ``[starts[i], ends[i]]`` (float64 arrays).

    Returns ``(counts, t, segment)``: region counts ``(n,)``, and all breakpoints sorted by
    segment then ``t``, their parameters ``t`` (including 0 and 1) and segment indices.
    """
    n = starts.shape[0]
    t = np.tile([0.0, 1.0], n)
    segment = np.repeat(np.arange(n), 2)
    following = np.where(np.arange(2 * n) % 2 == 0, np.arange(2 * n) + 1, -1)
    h = starts[segment] + t[:, None] * (ends - starts)[segment]
    kinks = np.asarray(pwl.kinks)
    for l, (weight, bias) in enumerate(layers):
        z = h @ weight
        z += bias
        h_norm = np.sqrt(np.einsum("ij,ij->i", h, h))
        tol = rtol * (h_norm * np.linalg.norm(weight, axis=0).max() + np.abs(bias).max())
        left, fraction = _crossings(z, tol, following, pwl.kinks)
        right = following[left]
        z_new = z[left] + fraction[:, None] * (z[right] - z[left])
        tol_new = np.maximum(tol[left], tol[right])
        for kink in kinks:  # the crossing units sit exactly on their kinks
            np.copyto(z_new, kink, where=np.abs(z_new - kink) <= tol_new[:, None])
        following = _link(left, following, t.size)
        t = np.concatenate([t, t[left] + fraction * (t[right] - t[left])])
        segment = np.concatenate([segment, segment[left]])
        if l + 1 < len(layers):  # the next layer's input, new breakpoints after the old
            h = np.empty((len(z) + len(z_new), z.shape[1]))
            _activate(z, pwl, out=h[: len(z)])
            _activate(z_new, pwl, out=h[len(z) :])
    order = np.lexsort((t, segment))
    return np.bincount(segment, minlength=n) - 1, t[order], segment[order]
