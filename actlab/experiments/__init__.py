"""Experiments: one module per claim; each ``run(out_dir, *, quick=False, seed=0)`` writes its data
(JSON) and figures (PNG and SVG) into ``out_dir`` and returns the data as a dict with ``title``,
``summary`` (the reading of the result), ``figures``, ``table`` and ``claims`` (verdicts).

Example::

    >>> from actlab import experiments
    >>> experiments.names()[:2]
    ('linear_vs_relu', 'vanishing_gradients')
    >>> result = experiments.get("linear_vs_relu")("out/linear_vs_relu", quick=True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actlab.experiments import (
    dying_relu,
    exploding_gradients,
    gallery,
    kernel_regime,
    linear_vs_relu,
    local_complexity,
    partitions,
    regions_vs_depth,
    relu_grad_at_zero,
    relu_speed,
    shaped_activations,
    sparsity,
    vanishing_gradients,
)

__all__ = ["CLAIMS", "claim", "get", "names"]

CLAIMS: dict[str, str] = {
    "linear_vs_relu": "Stacked linear layers collapse to one; a linear network cannot separate the "
    "quadrant data, a 2-unit ReLU network can.",
    "vanishing_gradients": "Sigmoid and tanh gradients vanish with depth (by at most 0.25 per "
    "sigmoid layer); ReLU with He initialisation does not.",
    "sparsity": "ReLU is sparse: about half its outputs are exact zeros; smooth activations are not.",
    "dying_relu": "ReLU units die under large learning rates or negative biases; leaky ReLU, PReLU "
    "and ELU avoid it.",
    "exploding_gradients": "Gradients explode in the chaotic phase; clipping by global norm 5.0, "
    "BatchNorm and a critical initialisation tame them.",
    "kernel_regime": "Wide networks are kernel machines: a trained MLP's predictions approach its "
    "NTK predictor's as the width grows, at the rate width^-1/2, for ReLU, tanh and GELU.",
    "shaped_activations": "Activations can be shaped for depth: deep plain MLPs (no skips, no "
    "normalisation) train faster with DKS/TAT-transformed activations than with the raw ones.",
    "relu_grad_at_zero": "The derivative chosen for ReLU at zero matters in low precision.",
    "regions_vs_depth": "Depth multiplies linear regions in the best case (tent map, bounds) but not "
    "at random initialisation.",
    "partitions": "What the regions of a trained classifier look like, ReLU against leaky ReLU.",
    "local_complexity": "During training the kinks near the data first multiply, then leave the "
    "training points, and keep leaving after the training set is fit at no cost in test accuracy "
    "(Humayun et al.'s shape), for ReLU and leaky ReLU alike.",
    "relu_speed": "Is ReLU faster? The measured cost of every activation on this machine.",
    "gallery": "Every activation and its derivative, with its convention at the kinks.",
}
"""The claim each experiment measures, in report order."""


def _table() -> dict[str, Callable[..., dict[str, Any]]]:
    modules = (linear_vs_relu, vanishing_gradients, sparsity, dying_relu, exploding_gradients,
               kernel_regime, shaped_activations, relu_grad_at_zero, regions_vs_depth, partitions,
               local_complexity, relu_speed, gallery)  # fmt: skip
    return {module.__name__.rsplit(".", 1)[1]: module.run for module in modules}


def names() -> tuple[str, ...]:
    """Names of the experiments, in report order."""
    return tuple(_table())


def get(name: str) -> Callable[..., dict[str, Any]]:
    """The ``run`` function of experiment ``name``; ``ValueError`` listing the names if unknown."""
    table = _table()
    if name not in table:
        raise ValueError(f"experiment: expected one of {', '.join(table)}, received {name!r}")
    return table[name]


def claim(name: str) -> str:
    """The claim experiment ``name`` measures (empty for an experiment without one)."""
    get(name)
    return CLAIMS.get(name, "")
