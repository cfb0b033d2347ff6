r"""Dying ReLU: dead units under large learning rates and negative biases, and networks born dead.

A ReLU unit is *dead* on a data set when its pre-activation is ``<= 0`` for every example: it
outputs 0 and its incoming weights get no gradient, so (unless earlier layers move its inputs)
it never comes back. Two classic ways to kill units are a large learning rate (one big step
pushes a unit's bias and weights where nothing activates it) and a negative bias
initialisation. Leaky ReLU, PReLU (learnt slope) and ELU keep a non-zero derivative for
``z < 0``, so a unit that is never on still receives gradient and can recover.

:func:`run` trains ``MLP(64, [width] * depth, 10)`` on scikit-learn's digits with full-batch gradient descent for
relu, leaky_relu (slope 0.01), PReLU (one learnt slope per layer, initially 0.25) and elu, from
the same initial weights. Each activation is one vmapped ensemble over seeds x conditions: a
sweep of learning rates with zero biases, and negative constant hidden biases at the baseline
learning rate. At regular steps it measures on the training set (with
:func:`actlab.gradflow.ensemble_unit_stats`) the fraction of dead units (never active) and
of units that pass no gradient at all, then the test accuracy. Members whose loss becomes
NaN/inf are counted as diverged and left out of the averages.

**Born dead.** With zero biases and weights drawn i.i.d. from a distribution symmetric about 0
with no atom at 0 (here He-initialised Gaussians), fix one input ``x != 0``. Given that layer
``l - 1`` passes a non-zero vector ``h``, the ``N`` pre-activations ``w_j . h`` of layer ``l`` are
independent (disjoint weight columns), symmetric and non-zero almost surely, so all ``N`` units
are off with probability exactly ``2^-N``; once a layer outputs 0 every later layer does
(``z = 0`` is off). Hence the probability that ``L`` hidden layers of ``N`` units map ``x`` to
zero (the network is constant there and passes no gradient to its hidden weights) is exactly

.. math:: P_L = 1 - (1 - 2^{-N})^L .

The formula assumes one fixed input, zero biases and independent symmetric weights; it does not
describe a whole input set: a network dead on every input of a batch (with zero biases: its last
hidden layer silent on every input) is a stricter event, so its probability is at most ``P_L``
(the bound is tight as the set shrinks to a point; Rister and Rubin 2017). Both tend to 1 as
``L`` grows at fixed ``N`` (Lu et al. 2020). The experiment draws many He-initialised networks
per width, records at every depth the fraction of random Gaussian inputs that are zeroed and
whether the whole batch is, and compares with ``P_L``.

Writes ``dying_relu.json`` and two figures (PNG and SVG): ``dying_relu_training`` (dead units
during training and after, against learning rate and bias, with test accuracy) and
``born_dead`` (measured against ``P_L`` by depth, per width).

References:
  Lu, Shin, Su and Karniadakis, "Dying ReLU and initialization: theory and numerical examples",
  Commun. Comput. Phys. 28 (2020). Rister and Rubin, "Probabilistic bounds on neuron death in
  deep rectifier networks", arXiv:1710.00961 (2017). He et al., "Delving deep into rectifiers",
  ICCV 2015 (PReLU).

Example::

    >>> from actlab.experiments import dying_relu
    >>> result = dying_relu.run("out/dying_relu", quick=True)
    >>> result["claims"]["born_dead_matches_formula"]
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actlab.experiments import _setup
from actlab.experiments.dying_relu._config import ACTIVATIONS, NAME, Config
from actlab.experiments.dying_relu._figures import born_figure, training_figure
from actlab.experiments.dying_relu._measure import (
    born_dead_probability,
    measure_born_dead,
    measure_training,
)
from actlab.experiments.dying_relu._report import find_claims, report_summary, report_table

__all__ = ["ACTIVATIONS", "Config", "born_dead_probability", "run"]


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``dying_relu.json``: ``title``, ``summary``, ``figures``, ``table``,
    ``claims``, ``config``; ``training`` (per activation, one entry per condition of
    ``training["conditions"]``: dead fraction by measurement step, per layer at the end, at
    init and at the end, no-gradient fraction, test accuracy, loss curve, diverged seeds) and
    ``born_dead`` (per width: measured probabilities by depth and the formula).
    """

    training = measure_training(cfg, seed)
    born = measure_born_dead(cfg, seed)
    claims = find_claims(cfg, training, born)
    return _setup.finish(
        out, NAME, cfg, seed=seed,
        title="Dying ReLU: dead units in training, and networks born dead",
        summary=report_summary(cfg, training, born), table=report_table(cfg, training, born, claims),
        claims=claims,
        figures={"dying_relu_training": training_figure(cfg, training),
                 "born_dead": born_figure(cfg, born)},
        data={"training": training, "born_dead": born},
    )  # fmt: skip
