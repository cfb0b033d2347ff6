"""Experiments: one module per claim; each ``run(out_dir, *, quick=False, seed=0)`` writes its data
(JSON) and figures (PNG and SVG) into ``out_dir`` and returns the data as a dict.

Example::

    >>> from actlab import experiments
    >>> experiments.names()
    ('gallery', 'linear_vs_relu')
    >>> result = experiments.get("linear_vs_relu")("out/linear_vs_relu", quick=True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actlab.experiments import gallery, linear_vs_relu

__all__ = ["gallery", "get", "linear_vs_relu", "names"]


def _table() -> dict[str, Callable[..., dict[str, Any]]]:
    return {"linear_vs_relu": linear_vs_relu.run, "gallery": gallery.run}


def names() -> tuple[str, ...]:
    """Names of the experiments, in report order."""
    return tuple(_table())


def get(name: str) -> Callable[..., dict[str, Any]]:
    """The ``run`` function of experiment ``name``; ``ValueError`` listing the names if unknown."""
    table = _table()
    if name not in table:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(table)}")
    return table[name]
