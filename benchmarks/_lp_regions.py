"""A straightforward reference for full-space region counts: a search over neighbouring patterns
with one linear program per candidate (SciPy's HiGHS).

Start from the pattern at the box's centre; a region's neighbours across a unit's hyperplane have
that unit flipped (generically the units of later layers keep their sides at the crossing); each
candidate pattern is a region exactly when the polytope it defines (every unit on its side, an
affine condition given the earlier layers' pieces, and the box) has interior: the largest margin
``s`` with ``A x + s |A_i| <= b`` is positive. Exact on networks in general position, which is
what random weights give; it does not apply to degenerate networks.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog


def _polytope(layers, slopes, intercepts, kinks, pattern, box):
    """``A x <= b`` of the region with ``pattern`` (flat piece indices), box included."""
    d = box.shape[0]
    rows = [np.eye(d), -np.eye(d)]
    rhs = [box[:, 1], -box[:, 0]]
    lin, off = np.eye(d), np.zeros(d)  # h = x @ lin + off
    column = 0
    for w, b in layers:
        z_lin, z_off = lin @ w, off @ w + b
        piece = pattern[column : column + w.shape[1]]
        for k, kink in enumerate(kinks):
            above = piece > k
            rows.append(np.where(above, -1.0, 1.0)[:, None] * z_lin.T)
            rhs.append(np.where(above, z_off - kink, kink - z_off))
        slope, intercept = np.asarray(slopes)[piece], np.asarray(intercepts)[piece]
        lin, off = z_lin * slope, z_off * slope + intercept
        column += w.shape[1]
    return np.concatenate(rows), np.concatenate(rhs)


def _has_interior(a, b) -> bool:
    d = a.shape[1]
    norms = np.linalg.norm(a, axis=1)
    keep = norms > 0
    if np.any((~keep) & (b < 0)):
        return False
    a, b, norms = a[keep], b[keep], norms[keep]
    # maximise s subject to a x + s |a| <= b, s <= 1
    result = linprog(
        np.r_[np.zeros(d), -1.0], A_ub=np.c_[a, norms], b_ub=b,
        bounds=[(None, None)] * d + [(None, 1.0)], method="highs",
    )  # fmt: skip
    return bool(result.status == 0 and -result.fun > 1e-9)


def count_regions(layers, box, kinks=(0.0,), slopes=(0.0, 1.0), intercepts=(0.0, 0.0)):
    """Number of regions (and LPs solved) by the search over single-unit flips."""
    box = np.asarray(box, dtype=np.float64)
    layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in layers]
    x = box.mean(axis=1)
    pattern, h = [], x
    for w, b in layers:
        z = h @ w + b
        piece = np.sum(z[:, None] > np.asarray(kinks)[None, :], axis=1)
        pattern.append(piece)
        h = np.asarray(slopes)[piece] * z + np.asarray(intercepts)[piece]
    start = tuple(np.concatenate(pattern).tolist())
    seen, frontier, lps = {start}, [start], 0
    pieces = len(kinks) + 1
    while frontier:
        current = frontier.pop()
        for unit in range(len(current)):
            for step in (-1, 1):
                value = current[unit] + step
                if not 0 <= value < pieces:
                    continue
                candidate = (*current[:unit], value, *current[unit + 1 :])
                if candidate in seen:
                    continue
                lps += 1
                a, b = _polytope(layers, slopes, intercepts, kinks, np.array(candidate), box)
                if _has_interior(a, b):
                    seen.add(candidate)
                    frontier.append(candidate)
    return len(seen), lps
