"""Figures of region counts: a network along a segment, a plane partition, counts by depth."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from actlab.plot._partitions import draw_partition


def line_regions(
    network: Callable[[np.ndarray], Any], start: np.ndarray, end: np.ndarray,
    breakpoints: np.ndarray,
) -> Figure:  # fmt: skip
    """The output of ``network`` (a function of ``(n, d)`` inputs, e.g. an MLP) along the segment
    ``start + t (end - start)``, with the region boundaries ``breakpoints`` (values of ``t``)."""
    t = np.union1d(np.linspace(0.0, 1.0, 2001), breakpoints)
    y = np.asarray(network(start + t[:, None] * (end - start)))[:, 0]
    fig = Figure(figsize=(8, 3.5), layout="constrained")
    ax = fig.subplots()
    for b in breakpoints:
        ax.axvline(b, color="0.85", lw=0.6)
    ax.plot(t, y, color="C0", lw=1.2)
    ax.set(
        xlabel="t (x = start + t (end - start))",
        ylabel="network output",
        title=f"{len(breakpoints) + 1} activation regions on the segment",
    )
    return fig


def plane_regions(partition: Any) -> Figure:
    """A :class:`actlab.regions.PlanePartition`: one colour per linear region, white edges
    between activation regions."""
    fig = Figure(figsize=(5.5, 5.5), layout="constrained")
    ax = fig.subplots()
    draw_partition(ax, partition)
    ax.set(aspect="equal", xlabel="input 1", ylabel="input 2",
           title=f"{partition.count} activation regions, {partition.count_linear()} linear regions")  # fmt: skip
    return fig


def depth_counts(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """Counts after each layer (rows with ``depth``, ``line``, ``plane`` and their ``upper``
    bounds, ``None`` where unknown) against the upper bounds, on a log scale."""
    depths = [r["depth"] for r in rows]
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    for key, marker, color in (("line", "o-", "C0"), ("plane", "s-", "C1")):
        ax.plot(depths, [r[key] for r in rows], marker, color=color, label=key)
        upper = [r[f"{key} upper"] for r in rows]
        if None not in upper:
            ax.plot(depths, upper, "--", color=color, label=f"{key} upper bound")
    ax.set(yscale="log", xlabel="depth (hidden layers)", ylabel="regions",
           title="regions after each layer")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    return fig
