"""Matplotlib figures shared by experiments, the CLI and notebooks.

Every function returns a ``matplotlib.figure.Figure`` and never shows it, except the ``draw_*``
helpers, which draw onto a given axes; ``save`` writes PNG and SVG atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure

from actlab import activations as A
from actlab.io import atomic_path


def activations(
    names: Sequence[str] = ("relu", "leaky_relu"),
    *,
    xlim: tuple[float, float] = (-19.0, 19.0),
    num: int = 2001,
    params: dict[str, dict] | None = None,
) -> Figure:
    """Each activation (left) and its derivative (right) over ``xlim``.

    Args:
      names: registry names to draw (elementwise activations only).
      xlim: the interval of inputs; the default is the classic ReLU / leaky ReLU picture.
      num: number of sample points.
      params: optional per-name parameters, e.g. ``{"leaky_relu": {"negative_slope": 0.1}}``.

    Returns:
      A figure with two axes: values, and derivatives (computed with ``jax.grad``, so the
      derivative at a kink is the documented convention).
    """
    if xlim[0] >= xlim[1]:
        raise ValueError(f"xlim must be an increasing pair, got {xlim}")
    params = params or {}
    x = jnp.linspace(*xlim, num)
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for name in names:
        if not A.spec(name).elementwise:
            raise ValueError(f"{name} is not elementwise and has no scalar derivative to plot")
        act = A.get(name, **params.get(name, {}))
        ax_f.plot(x, act(x), label=repr(act))
        ax_d.plot(x, jax.vmap(jax.grad(act))(x), label=repr(act))
    for ax, title in ((ax_f, "f(x)"), (ax_d, "f'(x)")):
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_xlabel("x")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    ax_f.legend(fontsize=8)
    return fig


def save(
    fig: Figure, path: str | os.PathLike, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """Write ``fig`` as ``path.<fmt>`` for each format, atomically; returns the paths written."""
    written = []
    for fmt in formats:
        target = Path(path).with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=120)
        written.append(target)
    return written


# ----------------------------------------------------------------------------- plane partitions
# ``draw_*`` helpers draw onto a given axes (for figures with many panels); coordinates are the
# slice coordinates (s, t) of an ``actlab.regions.PlanePartition``.


def _zero_segments(vertices: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where an affine function is zero inside convex polygons: ``(k, 2, 2)`` segments.

    ``vertices`` ``(P, V, 2)`` are convex polygons (padded with copies of the first vertex) and
    ``values`` ``(P, V)`` the function at the vertices; an affine function changes sign on at most
    two edges of a convex polygon, and its zero set inside is the segment between the crossings.
    """
    following_vertices = np.roll(vertices, -1, axis=1)
    following_values = np.roll(values, -1, axis=1)
    crossing = (values < 0) != (following_values < 0)
    where = np.divide(values, values - following_values, where=crossing, out=np.zeros_like(values))
    points = vertices + where[..., None] * (following_vertices - vertices)
    cut = crossing.sum(axis=1) >= 2
    first_two = np.argsort(~crossing[cut], axis=1, kind="stable")[:, :2]
    return np.take_along_axis(points[cut], first_two[..., None], axis=1)


def _box_polygon(bounds: np.ndarray) -> np.ndarray:
    (s0, s1), (t0, t1) = np.asarray(bounds, dtype=np.float64)
    return np.array([[s0, t0], [s1, t0], [s1, t1], [s0, t1]])


def draw_partition(
    ax: Any,
    partition: Any,
    *,
    readout: tuple[np.ndarray, np.ndarray] | None = None,
    color_by: str = "linear",
    seed: int = 0,
    edge_width: float = 0.15,
) -> None:
    """Fill each region of a plane partition with its own colour; optionally the decision boundary.

    Args:
      ax: a matplotlib axes.
      partition: an :class:`actlab.regions.PlanePartition`.
      readout: the output layer ``(W, b)`` with ``W`` of shape ``(width, 1)``: the zero set of
        the logit ``h @ W + b`` is drawn exactly, a segment in each polygon (black).
      color_by: ``"linear"`` (one colour per linear region; activation regions inside it keep
        thin white edges) or ``"activation"`` (one colour per polygon).
      seed: seed of the random pastel colours.
      edge_width: line width of the polygons' white edges (0 for none).
    """
    if color_by not in ("linear", "activation"):
        raise ValueError(f"color_by: expected 'linear' or 'activation', received {color_by!r}")
    labels = partition.linear_labels() if color_by == "linear" else np.arange(partition.count)
    rng = np.random.default_rng(seed)
    n = labels.max() + 1  # random hues, pastel: neighbours almost surely differ
    hsv = np.column_stack([rng.random(n), rng.uniform(0.25, 0.55, n), rng.uniform(0.85, 1.0, n)])
    fill = PolyCollection(
        partition.polygons(),
        facecolors=hsv_to_rgb(hsv)[labels],
        edgecolors="white",
        linewidths=edge_width,
    )
    fill.set_rasterized(True)  # thousands of polygons: a bitmap inside the SVG
    ax.add_collection(fill)
    if readout is not None:
        weight, bias = (np.asarray(a, dtype=np.float64) for a in readout)
        if weight.ndim != 2 or weight.shape != (partition.maps.shape[2], 1):
            raise ValueError(
                f"readout: expected W of shape ({partition.maps.shape[2]}, 1) (one logit), "
                f"received shape {weight.shape}"
            )
        coefficients = partition.maps @ weight[:, 0]  # (P, 3): logit = [s, t, 1] @ coefficients
        coefficients[:, 2] += bias[0]
        vertices = partition.vertices
        values = np.einsum("pvk,pk->pv", vertices, coefficients[:, :2]) + coefficients[:, 2:]
        segments = _zero_segments(vertices, values)
        ax.add_collection(LineCollection(segments, colors="k", linewidths=1.6))
    (s0, s1), (t0, t1) = partition.bounds
    ax.set_xlim(s0, s1)
    ax.set_ylim(t0, t1)


def draw_unit_lines(
    ax: Any,
    weight: np.ndarray,
    bias: np.ndarray,
    bounds: np.ndarray,
    *,
    origin: np.ndarray | None = None,
    basis: np.ndarray | None = None,
    **style: Any,
) -> None:
    """The lines ``w_j . x + b_j = 0`` of a layer's units, clipped to a box of a 2D slice.

    Args:
      ax: a matplotlib axes.
      weight: ``(d, n)`` the layer's kernel; ``bias``: ``(n,)``.
      bounds: ``((s_lo, s_hi), (t_lo, t_hi))`` the box, in slice coordinates.
      origin, basis: the slice ``origin + s * basis[0] + t * basis[1]`` (default: the input plane
        itself, for ``d == 2``).
      style: passed to the ``LineCollection`` (default: dashed, dark grey).
    """
    weight = np.asarray(weight, dtype=np.float64)
    origin = np.zeros(weight.shape[0]) if origin is None else np.asarray(origin, np.float64)
    basis = np.eye(2) if basis is None else np.asarray(basis, np.float64)
    if basis.shape != (2, weight.shape[0]) or origin.shape != (weight.shape[0],):
        raise ValueError(
            f"origin and basis: expected shapes ({weight.shape[0]},) and (2, {weight.shape[0]}) "
            f"for W of shape {weight.shape}, received {origin.shape} and {basis.shape}"
        )
    box = _box_polygon(bounds)
    # each unit's pre-activation at the box corners: (n, 4)
    values = (box @ (basis @ weight) + (origin @ weight + np.asarray(bias, np.float64))).T
    segments = _zero_segments(np.broadcast_to(box, (values.shape[0], 4, 2)), values)
    style = {"colors": "0.2", "linestyles": "--", "linewidths": 0.9} | style
    ax.add_collection(LineCollection(segments, **style))
