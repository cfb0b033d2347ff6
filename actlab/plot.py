"""Matplotlib figures shared by experiments, the CLI and notebooks.

Every function returns a ``matplotlib.figure.Figure`` and never shows it; ``save`` writes PNG and
SVG atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
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
