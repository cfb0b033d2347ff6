"""Matplotlib figures shared by experiments, the CLI and notebooks.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (so importing actlab
never changes a notebook's backend, and figures are not kept alive by pyplot) and never shows it;
the ``draw_*`` helpers draw onto a given axes. :func:`save` writes PNG and SVG atomically. In a
notebook, a figure is displayed by ending a cell with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
from matplotlib.figure import Figure

from actlab import activations as A
from actlab.checks import message, show
from actlab.io import atomic_path
from actlab.plot._partitions import draw_partition, draw_unit_lines
from actlab.plot._phase_diagram import phase_diagram
from actlab.plot._regions import depth_counts, line_regions, plane_regions

__all__ = [
    "activations",
    "depth_counts",
    "draw_partition",
    "draw_unit_lines",
    "line_regions",
    "phase_diagram",
    "plane_regions",
    "save",
]


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
    if not xlim[0] < xlim[1]:
        raise ValueError(
            message("xlim", "an increasing pair (low, high)", show(xlim), where="plot.activations")
        )
    params = params or {}
    x = jnp.linspace(*xlim, num)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_f, ax_d = fig.subplots(1, 2)
    for name in names:
        if not A.spec(name).elementwise:
            raise ValueError(
                message("names", "elementwise activations (with a scalar derivative)", repr(name),
                        where="plot.activations")
            )  # fmt: skip
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
