r"""Exact number of activation regions met by a segment.

On the segment :math:`x(t) = a + t (b - a)`, :math:`t \in [0, 1]`, every pre-activation is affine
in ``t`` inside an activation region, and activation regions are convex, so each pattern is met
in one interval: the count is the number of places where the pattern really changes, plus one.
A unit whose pre-activation touches a kink and turns back changes nothing. Two exact methods find
these places (they agree, and the tests check that they do):

- ``"walk"`` (:mod:`actlab.regions._walk`, JAX): from region to region; at the start of a region
  a forward-mode (JVP) pass gives every pre-activation's value and slope, hence the next kink
  crossing; batched over segments with ``vmap`` + ``lax.while_loop``. Suits accelerators.
- ``"refine"`` (:mod:`actlab.regions._refine`, NumPy): layer by layer, each layer's crossings
  between the breakpoints found so far. Evaluates each layer once per breakpoint that exists
  before it, about half the arithmetic of the walk, and vectorises well on a CPU.

``method="auto"`` (the default) walks on an accelerator and refines on a CPU.

Float64 throughout (JAX with ``jax.enable_x64`` enabled locally). Tolerance: a pre-activation
:math:`v_i = h \cdot W_{:, i} + b_i` within ``rtol * (|h| |W_{:, i}| + |b_i|)`` of a kink (a bound
on the dot product's rounding; ``rtol`` defaults to ``1e-11``; the refinement takes the largest
column, the walk adds the rounding of the point itself, see :mod:`actlab.regions._walk`) counts
as on the kink, and crossings closer than their rounding are one. Both methods are checked
against an exact count in rational arithmetic on hundreds of degenerate networks (small-integer
weights, repeated, scaled and constant units, segments ending on kinks).

The walk is compiled once per shape; networks and batches of segments are padded to a few
shapes (:mod:`actlab.regions._padding`), so counting many small networks compiles a handful of
times, not once per network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from actlab import activations as A
from actlab.checks import integer, message, number, one_of
from actlab.models import Layers as NetworkLayers
from actlab.regions._activation import PiecewiseLinear, resolve
from actlab.regions._linear import patterns_at
from actlab.regions._padding import bucket, pad_layers
from actlab.regions._refine import refine
from actlab.regions._validate import Layers, check_layers, check_point, check_points
from actlab.regions._walk import walk

__all__ = ["LinePartition", "count_line", "count_lines", "partition_line"]

_MAX_STEPS = 10_000_000
_CHUNK = 64  # segments refined together: bounds memory, keeps arrays in cache
_METHODS = ("auto", "walk", "refine")


def _check_lengths(name_start: str, name_end: str, starts: np.ndarray, ends: np.ndarray) -> None:
    if starts.shape != ends.shape:
        raise ValueError(
            message(name_end, f"the shape of {name_start} {starts.shape}", f"shape {ends.shape}")
        )
    degenerate = np.flatnonzero(np.all(starts == ends, axis=1))
    if degenerate.size:
        raise ValueError(
            message(name_end, "segments of positive length",
                    f"{name_end} == {name_start} at index {degenerate[0]}")
        )  # fmt: skip


def _refine(layers, starts, ends, pwl, rtol, with_breaks):
    counts, breaks = [], []
    for first in range(0, starts.shape[0], _CHUNK):
        chunk = slice(first, first + _CHUNK)
        count, t, _ = refine(layers, starts[chunk], ends[chunk], pwl, rtol)
        counts.append(count)
        if with_breaks:  # each segment's points run from t = 0 to t = 1
            breaks += [part[1:-1] for part in np.split(t, np.cumsum(count + 1)[:-1])]
    return np.concatenate(counts), breaks


def _walk(layers, starts, ends, pwl, rtol, lanes, max_steps, max_breaks):
    # padded to a few shapes (one compilation serves many networks and batches of segments)
    n, dim = starts.shape
    layers = pad_layers(layers, pwl, inputs=True)
    rows, columns = bucket(n), layers[0][0].shape[0]
    starts, ends = (np.pad(p, ((0, rows - n), (0, columns - dim))) for p in (starts, ends))
    with jax.enable_x64(True):
        counts, breaks, finished = walk(
            tuple((jnp.asarray(w), jnp.asarray(b)) for w, b in layers),
            jnp.asarray(starts),
            jnp.asarray(ends),
            jnp.asarray(n, jnp.int32),
            pwl=pwl,
            rtol=rtol,
            min_step=1e-15,
            max_steps=max_steps,
            lanes=min(lanes, rows),
            max_breaks=max_breaks,
        )
        counts, breaks, finished = (
            np.asarray(counts, np.int64)[:n],
            np.asarray(breaks)[:n],
            bool(finished),
        )
    if not finished:
        raise RuntimeError(
            message("max_steps", "enough loop iterations for the region walk (pass a larger "
                    "max_steps)", f"{max_steps}, which the walk used up")
        )  # fmt: skip
    return counts, [row[: count - 1] for row, count in zip(breaks, counts, strict=True)]


def _count(
    layers: Layers,
    starts: np.ndarray,
    ends: np.ndarray,
    pwl: PiecewiseLinear,
    *,
    method: str,
    rtol: float,
    lanes: int,
    max_steps: int,
    with_breaks: bool,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Counts ``(n,)`` and, if ``with_breaks``, each segment's breakpoints (else ``[]``)."""
    if method == "auto":
        method = "refine" if jax.default_backend() == "cpu" else "walk"
    if method == "refine":
        return _refine(layers, starts, ends, pwl, rtol, with_breaks)
    counts, _ = _walk(layers, starts, ends, pwl, rtol, lanes, max_steps, 0)
    if not with_breaks:
        return counts, []
    capacity = 1 << max(int(counts.max()) - 1, 1).bit_length()  # few sizes, few compiles
    return _walk(layers, starts, ends, pwl, rtol, lanes, max_steps, capacity)


def _default_lanes(segments: int) -> int:
    return 256 if jax.default_backend() == "cpu" else segments


def _options(method: object, rtol: object, max_steps: object) -> dict[str, Any]:
    return {
        "method": one_of(method, "method", _METHODS),
        "rtol": number(rtol, "rtol", low=0.0, low_open=True),
        "max_steps": integer(max_steps, "max_steps", minimum=1),
    }


def count_lines(
    layers: NetworkLayers,
    starts: np.ndarray,
    ends: np.ndarray,
    *,
    activation: A.ActivationLike = "relu",
    method: str = "auto",
    rtol: float = 1e-11,
    lanes: int | None = None,
    max_steps: int = _MAX_STEPS,
) -> np.ndarray:
    r"""Exact number of activation regions met by each of many closed segments.

    Segment ``i`` runs from ``starts[i]`` to ``ends[i]``; each is counted as in
    :func:`count_line`. With ``method="walk"``, ``lanes`` segments are walked side by side
    (``vmap``) in one ``lax.while_loop`` and a lane that finishes takes the next segment, so the
    loop runs about (total regions) / ``lanes`` times.

    Args:
      layers: hidden layers ``[(W, b), ...]``, ``W`` of shape ``(in, out)``, ``y = x @ W + b``,
        each followed by the activation.
      starts: segment starts, shape ``(n, d)`` with ``d = W[0].shape[0]``.
      ends: segment ends, shape ``(n, d)``, each different from its start.
      activation: a piecewise-linear activation: a registry name, ``activations.get(...)``
        (``get("leaky_relu", negative_slope=0.1)``) or a learnable module such as ``PReLU``.
      method: ``"walk"``, ``"refine"`` or ``"auto"`` (module docstring).
      rtol: relative tolerance for "on a kink" (module docstring).
      lanes: segments walked at once by ``"walk"``; default 256 on a CPU, all on an accelerator.
      max_steps: most loop iterations of ``"walk"`` before a ``RuntimeError``.

    Returns:
      Region counts, int64 array of shape ``(n,)``, each ``>= 1``.

    Example:
      >>> layers = [(np.array([[1.0, 1.0]]), np.array([0.0, -0.5]))]  # relu(x), relu(x - 1/2)
      >>> count_lines(layers, np.array([[-1.0], [0.2]]), np.array([[1.0], [0.4]])).tolist()
      [3, 1]
    """
    checked = check_layers(layers)
    pwl = resolve(activation)
    dim = checked[0][0].shape[0]
    starts, ends = check_points("starts", starts, dim), check_points("ends", ends, dim)
    _check_lengths("starts", "ends", starts, ends)
    lanes = integer(lanes if lanes is not None else _default_lanes(len(starts)), "lanes", minimum=1)
    counts, _ = _count(
        checked, starts, ends, pwl, lanes=lanes, with_breaks=False,
        **_options(method, rtol, max_steps),
    )  # fmt: skip
    return counts


@dataclass(frozen=True, eq=False)
class LinePartition:
    """The activation regions met by a segment, in order along it.

    The segment is ``x(t) = start + t (end - start)``, ``t`` in ``[0, 1]``; region ``i`` is the
    interval ``(bounds[i], bounds[i + 1])`` of ``t``.

    Attributes:
      breakpoints: ``(count - 1,)`` float64, the increasing ``t`` in ``(0, 1)`` at which a new
        region begins.
      patterns: ``(count, N)`` int8, the piece index of each of the ``N`` hidden units (layers
        concatenated) in each region, read at the middle of its interval.
      start, end: ``(d,)`` the segment's ends.
    """

    breakpoints: np.ndarray
    patterns: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.breakpoints) + 1

    @property
    def count(self) -> int:
        """Number of activation regions met (with non-empty interior on the segment)."""
        return len(self)

    @property
    def bounds(self) -> np.ndarray:
        """``(count + 1,)``: 0, the breakpoints, 1."""
        return np.concatenate([[0.0], self.breakpoints, [1.0]])

    def points(self, t: np.ndarray) -> np.ndarray:
        """Input points at parameters ``t`` ``(...)``: shape ``(..., d)``."""
        return self.start + np.asarray(t)[..., None] * (self.end - self.start)


def partition_line(
    layers: NetworkLayers,
    start: np.ndarray,
    end: np.ndarray,
    *,
    activation: A.ActivationLike = "relu",
    method: str = "auto",
    rtol: float = 1e-11,
    max_steps: int = _MAX_STEPS,
) -> LinePartition:
    r"""The activation regions (with non-empty interior) met by a closed segment, in order.

    A region counts when the segment passes through its interior: a region touched only at an end
    point or at a single point does not count, and a unit whose pre-activation touches a kink
    without crossing it does not split a region.

    Args:
      layers: hidden layers ``[(W, b), ...]``, ``W`` of shape ``(in, out)``, ``y = x @ W + b``,
        each followed by the activation.
      start: segment start, shape ``(d,)`` with ``d = W[0].shape[0]``.
      end: segment end, shape ``(d,)``, different from ``start``.
      activation: as in :func:`count_lines`.
      method, rtol, max_steps: as in :func:`count_lines`.

    Returns:
      A :class:`LinePartition`: where each region begins and its pattern.

    Example:
      >>> tent = [(np.array([[1.0, 1.0]]), np.array([0.0, -0.5]))]  # relu(x), relu(x - 1/2)
      >>> part = partition_line(tent, np.array([-1.0]), np.array([2.0]))
      >>> part.count, part.breakpoints, part.patterns.tolist()
      (3, array([0.33333333, 0.5       ]), [[0, 0], [1, 0], [1, 1]])
    """
    checked = check_layers(layers)
    pwl = resolve(activation)
    dim = checked[0][0].shape[0]
    starts, ends = check_point("start", start, dim)[None], check_point("end", end, dim)[None]
    _check_lengths("start", "end", starts, ends)
    _, breaks = _count(
        checked, starts, ends, pwl, lanes=1, with_breaks=True,
        **_options(method, rtol, max_steps),
    )  # fmt: skip
    breakpoints = np.asarray(breaks[0], dtype=np.float64)
    bounds = np.concatenate([[0.0], breakpoints, [1.0]])
    middles = 0.5 * (bounds[:-1] + bounds[1:])
    patterns = patterns_at(checked, pwl, starts + middles[:, None] * (ends - starts))
    return LinePartition(breakpoints, patterns, starts[0], ends[0])


def count_line(
    layers: NetworkLayers,
    start: np.ndarray,
    end: np.ndarray,
    *,
    activation: A.ActivationLike = "relu",
    method: str = "auto",
    rtol: float = 1e-11,
    max_steps: int = _MAX_STEPS,
) -> int:
    r"""Exact number of activation regions (with non-empty interior) met by a closed segment.

    Arguments as in :func:`partition_line`, which also says where the regions are.

    Returns:
      The count, an ``int``.

    Example:
      >>> tent = [(np.array([[1.0, 1.0]]), np.array([0.0, -0.5]))]  # relu(x), relu(x - 1/2)
      >>> count_line(tent, np.array([-1.0]), np.array([2.0]))
      3
    """
    checked = check_layers(layers)
    dim = checked[0][0].shape[0]
    starts, ends = check_point("start", start, dim)[None], check_point("end", end, dim)[None]
    return int(
        count_lines(checked, starts, ends, activation=activation, method=method, rtol=rtol,
                    lanes=1, max_steps=max_steps)[0]
    )  # fmt: skip
