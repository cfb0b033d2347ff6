r"""The batched region walk behind :func:`actlab.regions.count_lines` (JAX, float64).

Segment ``i`` is :math:`x(t) = a_i + t (b_i - a_i)`, :math:`t \in [0, 1]`. In an activation region
every pre-activation is affine in ``t``. One step of a lane, at the start ``t`` of a region:

1. one forward-mode pass along :math:`b - a` (a JVP, written out layer by layer) gives every
   pre-activation's value :math:`v` and slope :math:`s`, taking for a unit sitting on a kink the
   piece its slope moves it into (the right limit), so a unit that touches a kink and turns back
   keeps its piece;
2. the region ends after :math:`\Delta = \min_i (k_i - v_i) / s_i` over the kinks ``k_i`` bounding
   each unit's piece in its direction of travel; the lane moves to :math:`t + \Delta`;
3. the region counts when its pattern differs from the previous region's.

A unit within ``tol`` of a kink is *on* it: its value is snapped to the kink, so every later layer
sees the same point. ``tol = rtol * ((|h| + |dh|) |W_{:, i}| + |b_i|)`` bounds the rounding of
the dot product that produced it (the ``|h|`` term) and of the point itself, known to about
``rtol`` in ``t`` (the ``|dh|`` term: without it, near a zero-bias unit's kink at the origin the
tolerance would vanish, and a step that stops ``1e-16`` short of two coincident kinks would start
a region ``1e-15`` long). Slopes within ``rtol * |dh| |W_{:, i}|`` of zero count as zero, and a
region that would begin within ``rtol`` of the segment's end is the end: a kink reached exactly at
the end point starts no region.

Lanes share the work through a queue: ``lanes`` segments are walked side by side (``vmap``) inside
one ``lax.while_loop``, and a lane that finishes takes the next segment at once (its next step is
the first region, at ``t = 0``), so a few long segments do not hold up the batch.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from actlab.regions._activation import PiecewiseLinear


class _Lanes(NamedTuple):
    """State of the lanes (leading axis ``lanes``) and the outputs (leading axis ``segments``)."""

    segment: jax.Array  # (lanes,) int32, segment walked by the lane, -1 when idle
    fresh: jax.Array  # (lanes,) bool, the lane has just taken its segment: next step is t = 0
    t: jax.Array  # (lanes,) start of the current region
    step: jax.Array  # (lanes,) length in t of the current region
    count: jax.Array  # (lanes,) int32 regions met so far
    pattern: tuple[jax.Array, ...]  # per layer (lanes, width) int8 pieces of the current region
    queued: jax.Array  # () int32, first segment not yet given to a lane
    counts: jax.Array  # (segments,) int32 result
    breaks: jax.Array  # (segments, max_breaks) t where a new region begins, NaN-padded


def _on_layer(v, s, h, dh, weight, bias, pwl: PiecewiseLinear, rtol: float):
    """Snap, classify and activate one layer's pre-activations ``v`` with slopes ``s``.

    Returns the right-limit piece of each unit, the step in ``t`` after which each unit leaves its
    piece (``inf`` if never), and the layer's output value and slope ``(sigma(v), sigma'(v) s)``.
    Pieces are selected arithmetically (gathers are slow on CPU inside loops).
    """
    column_norm = jnp.linalg.norm(weight, axis=0)
    # the point is known to about rtol in t, so h to rtol * |dh| besides its own rounding
    tol_v = rtol * ((jnp.linalg.norm(h) + jnp.linalg.norm(dh)) * column_norm + jnp.abs(bias))
    tol_s = rtol * jnp.linalg.norm(dh) * column_norm
    s = jnp.where(jnp.abs(s) <= tol_s, 0.0, s)
    above = []
    for kink in pwl.kinks:
        on_kink = jnp.abs(v - kink) <= tol_v
        v = jnp.where(on_kink, kink, v)
        above.append((v > kink) | (on_kink & (s > 0)))
    slope = jnp.full(v.shape, pwl.slopes[0], v.dtype)
    intercept = jnp.full(v.shape, pwl.intercepts[0], v.dtype)
    lower = jnp.full(v.shape, -jnp.inf, v.dtype)
    upper = jnp.full(v.shape, jnp.inf, v.dtype)
    for i, kink in enumerate(pwl.kinks):
        slope = jnp.where(above[i], pwl.slopes[i + 1], slope)
        intercept = jnp.where(above[i], pwl.intercepts[i + 1], intercept)
        lower = jnp.where(above[i], kink, lower)
    for i, kink in reversed(list(enumerate(pwl.kinks))):
        upper = jnp.where(above[i], upper, kink)
    piece = sum((a.astype(jnp.int8) for a in above), jnp.zeros(v.shape, jnp.int8))
    to_exit = jnp.where(s > 0, upper - v, lower - v) / jnp.where(s == 0, 1.0, s)
    to_exit = jnp.where(s == 0, jnp.inf, jnp.maximum(to_exit, 0.0))
    return piece, to_exit, slope * v + intercept, slope * s


def _region(layers, x, dx, pwl: PiecewiseLinear, rtol: float):
    """Pattern (per-layer tuple of pieces) and length in ``t`` of the region starting at ``x``
    when walking along ``dx``."""
    h, dh = x, dx
    pieces, length = [], jnp.inf
    for weight, bias in layers:
        piece, to_exit, h, dh = _on_layer(
            h @ weight + bias, dh @ weight, h, dh, weight, bias, pwl, rtol
        )
        pieces.append(piece)
        length = jnp.minimum(length, jnp.min(to_exit))
    return tuple(pieces), length


def _select(mask, new, old):
    """``new`` where ``mask`` (one flag per lane), else ``old``, for every array of a pytree."""

    def one(n, o):
        return jnp.where(mask.reshape((-1,) + (1,) * (o.ndim - 1)), n, o)

    return jax.tree.map(one, new, old)


def _take_segments(state: _Lanes, segments: int) -> _Lanes:
    """Give the next queued segments to idle lanes."""
    idle = state.segment < 0
    ids = state.queued + jnp.cumsum(idle, dtype=jnp.int32) - 1
    take = idle & (ids < segments)
    return state._replace(
        segment=jnp.where(take, ids, state.segment),
        fresh=take,
        queued=state.queued + jnp.sum(take).astype(jnp.int32),
    )


def _advance(state: _Lanes, layers, starts, ends, pwl, rtol, min_step) -> _Lanes:
    """Move every busy lane to its next region (a fresh lane to its first); retire lanes that
    reach ``t = 1``."""
    busy = state.segment >= 0
    ids = jnp.where(busy, state.segment, 0)
    a, b = starts[ids], ends[ids]
    t_next = jnp.maximum(state.t + jnp.maximum(state.step, min_step), jnp.nextafter(state.t, 2.0))
    t_next = jnp.where(state.fresh, 0.0, t_next)
    pattern, length = jax.vmap(lambda x, dx: _region(layers, x, dx, pwl, rtol))(
        a + t_next[:, None] * (b - a), b - a
    )
    # positions along the segment are known to about rtol: a region that would begin within
    # that of the end is the end (a kink reached at the end point starts no region)
    inside = busy & (t_next < 1.0 - rtol)
    differs = [jnp.any(p != q, axis=1) for p, q in zip(pattern, state.pattern, strict=True)]
    changed = inside & ~state.fresh & jnp.any(jnp.stack(differs), axis=0)
    count = jnp.where(state.fresh, 1, state.count + changed.astype(jnp.int32))
    breaks = state.breaks
    if breaks.shape[1]:
        rows = jnp.where(changed, ids, breaks.shape[0])  # out of range: dropped
        breaks = breaks.at[rows, count - 2].set(t_next, mode="drop")
    finished = busy & ~inside
    rows = jnp.where(finished, ids, state.counts.shape[0])
    t, step, pattern = _select(
        inside, (t_next, length, pattern), (state.t, state.step, state.pattern)
    )
    return state._replace(
        segment=jnp.where(finished, -1, state.segment),
        fresh=jnp.zeros_like(state.fresh),
        t=t,
        step=step,
        count=count,
        pattern=pattern,
        counts=state.counts.at[rows].set(count, mode="drop"),
        breaks=breaks,
    )


@functools.partial(
    jax.jit, static_argnames=("pwl", "rtol", "min_step", "max_steps", "lanes", "max_breaks")
)
def walk(layers, starts, ends, segments, *, pwl, rtol, min_step, max_steps, lanes, max_breaks):
    """Region counts of the first ``segments`` (a traced int) segments ``[starts[i], ends[i]]``
    (the rows beyond are padding, never walked: one compilation serves every count).

    Returns ``(counts, breaks, finished)``: int32 counts ``(rows,)``, the breakpoints
    ``(rows, max_breaks)`` (NaN-padded), and whether every segment was walked to its end within
    ``max_steps`` loop iterations.
    """
    rows = starts.shape[0]
    dtype = starts.dtype
    state = _Lanes(
        segment=jnp.full((lanes,), -1, jnp.int32),
        fresh=jnp.zeros((lanes,), bool),
        t=jnp.zeros((lanes,), dtype),
        step=jnp.zeros((lanes,), dtype),
        count=jnp.ones((lanes,), jnp.int32),
        pattern=tuple(jnp.zeros((lanes, weight.shape[1]), jnp.int8) for weight, _ in layers),
        queued=jnp.zeros((), jnp.int32),
        counts=jnp.zeros((rows,), jnp.int32),
        breaks=jnp.full((rows, max_breaks), jnp.nan, dtype),
    )

    def cond(carry):
        state, iterations = carry
        return (jnp.any(state.segment >= 0) | (state.queued < segments)) & (iterations < max_steps)

    def body(carry):
        state, iterations = carry
        state = _take_segments(state, segments)
        state = _advance(state, layers, starts, ends, pwl, rtol, min_step)
        return state, iterations + 1

    state, _ = lax.while_loop(cond, body, (state, jnp.zeros((), jnp.int32)))
    finished = jnp.all(state.segment < 0) & (state.queued == segments)
    return state.counts, state.breaks, finished
