r"""Vanishing gradients versus depth: measured backward signals beside mean-field theory.

The claim: back-propagation multiplies the gradient by ``phi'(z)`` at every layer, so in a deep
network it shrinks or grows geometrically in depth. The sigmoid derivative is at most 1/4, so with
unit-variance weights (``sigma_w^2 = 1``) each sigmoid layer multiplies ``||delta||^2`` by
``chi_1 = sigma_w^2 E[sigmoid'(z)^2] <= 1/16`` on average: ``r`` layers shrink the gradient by
``0.25^r`` or more. ReLU's derivative is 0 or 1, and with He initialisation (``sigma_w^2 = 2``)
it is exactly critical: ``chi_1 = 1``, no vanishing.
Mean-field theory predicts the whole curve: ``||delta^l||^2 = chi_1(q^l) ||delta^{l+1}||^2``
with ``chi_1(q) = sigma_w^2 E[phi'(sqrt(q) z)^2]`` at the layer's variance ``q^l`` (the length-map
iterate), so the gradient at layer ``l`` of a depth-``L`` network is
``||delta^{L-1}|| prod_{k=l}^{L-2} sqrt(chi_1(q^k))``, or ``chi_1^{(L-1-l)/2}`` at the fixed point.

:func:`run` measures, for sigmoid, tanh, ReLU, leaky ReLU, ELU, SELU and GELU at their usual
initialisation (``Config.sigma_w2``; no biases), random MLPs of equal width at every depth in
``Config.depths`` and several seeds: per-layer ``||delta^l||`` (root mean square over a batch of
Gaussian inputs of the per-example gradient, :func:`actlab.gradflow.stack_signals`) and the
forward signal ``q^l``; the loss is the squared output of a random linear read-out. The depth-``L``
network of a seed is the first ``L`` layers of that seed's deepest network (nested draws, the same
for every activation). It writes ``vanishing_gradients.json`` and two figures:
``vanishing_gradients_layers`` (``||delta^l||`` per layer for a few depths, theory dashed, the
``0.25^r`` bound for sigmoid, and ``q^l`` against the length map) and
``vanishing_gradients_depth`` (first-layer gradient relative to the last against depth).

**The sweep.** Activations, depths and seeds go through :func:`actlab.sweep.run` as one grid.
The activation (an index, :func:`actlab.activations.switch`) and the depth (layers
beyond it are the exact identity) are batched, so one compiled program serves every cell, vmapped
and sharded over the devices. In the full run the seed is the static axis: the weights of a seed
(50 layers of 256 x 256) are drawn once and shared by its 350 cells, one compilation per seed;
the quick run batches the seeds too (``Config.batch_seeds``), one compilation in all. The
results of each group are written to ``out_dir/sweep`` as soon as they finish; rerunning
resumes from there.
:func:`reference_cell` is the same computation for one configuration (static activation and
depth, no masking); ``benchmarks/gradflow.py`` times it in a plain loop against the sweep and
checks that both give the same numbers.

Example::

    >>> from actlab.experiments import vanishing_gradients
    >>> result = vanishing_gradients.run("out/vanishing_gradients", quick=True)
    >>> result["claims"]["sigmoid_below_quarter_power_bound"]
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from actlab.experiments import _setup
from actlab.experiments.vanishing_gradients._config import NAME, Config
from actlab.experiments.vanishing_gradients._figures import depth_figure, layers_figure
from actlab.experiments.vanishing_gradients._report import (
    analyse,
    find_claims,
    predict,
    report_summary,
    report_table,
)
from actlab.experiments.vanishing_gradients._sweep import (
    batched_axes,
    collect,
    make_grid,
    reference_cell,
    sweep,
    sweep_cell,
)

__all__ = [
    "Config",
    "batched_axes",
    "collect",
    "make_grid",
    "reference_cell",
    "run",
    "sweep",
    "sweep_cell",
]


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``vanishing_gradients.json``: ``title``, ``summary``, ``figures``,
    ``table``, ``claims``, ``config``, the ``theory`` per activation (length-map iterates and
    ``chi_1``), the measured ``results`` per activation (first-layer ratios per seed and
    depth, per-layer rates, ``||delta^l||`` and ``q^l`` at the deepest depth) and ``sweep``
    (groups computed in this call and loaded from disk).
    """

    results = sweep(cfg, out / "sweep", seed=seed)
    data = {k: v.astype(np.float64) for k, v in collect(cfg, results).items()}
    theory = predict(cfg)
    analysis = analyse(cfg, data, theory)
    claims = find_claims(cfg, analysis)
    return _setup.finish(
        out, NAME, cfg, seed=seed, title="Vanishing gradients versus depth",
        summary=report_summary(cfg, theory, analysis), table=report_table(cfg, theory, analysis, claims),
        claims=claims,
        figures={f"{NAME}_layers": layers_figure(cfg, data, theory, analysis),
                 f"{NAME}_depth": depth_figure(cfg, analysis)},
        data={
            "theory": theory,
            "results": analysis,
            "sweep": {"computed": len(results.computed), "loaded": len(results.loaded)},
        },
    )  # fmt: skip
