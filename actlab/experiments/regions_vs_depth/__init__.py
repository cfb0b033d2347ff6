"""Linear regions against depth and width: exact counts, estimates, bounds and the tent map.

The claims (DESIGN.md, reference results): the exact number of activation regions of a ReLU
network met by a segment or a plane lies below the upper bounds of Montufar (2017) and Serra et al.
(2018), which grow exponentially with depth, and some networks (the tent map, width 2) do reach
``2^L`` regions on a segment. At random initialisation, though, counts grow only about linearly in
the number of neurons ``N`` along a segment, quadratically on a plane and like ``N^d`` in the whole
``d``-dimensional input space (Hanin and Rolnick, 2019), far below the bounds; sampling on a grid
never finds more regions than the exact count.

:func:`run` builds ReLU networks of every width and depth with He weights and small random biases
(``sigma_b2``; with zero biases every kink set of a 2D input passes through the origin and the plane
count falls to about ``N`` cones, measured as a contrast), trains copies on ``moons`` (2D) and on
``digits`` (64D), and counts for each network:

- exact regions on segments between random pairs of training points (``count_lines``): mean and
  spread over segments;
- exact regions on a plane (``count_plane``): the box around the moons data, or for digits the
  slice through three training images of different classes (``slice_through``);
- distinct patterns on a cell-centred grid of the same plane (``count_sampled``): a lower bound;
- the bounds ``serra_upper`` and ``montufar_upper`` (``n0 = 1`` for a segment, ``2`` for a plane)
  and the tent map's count (``tent_map``) at every depth.

In the whole input space (``space_dims``, 3 and 4) it counts the exact regions of the box around
Gaussian blobs (``count_space``) at initialisation and after training on them, beside a 2D slice
through three data points, ``serra_upper`` and the ``zaslavsky(N, d)`` regions of ``N`` hyperplanes
in general position (which grow like ``N^d / d!``), and fits the exponent of ``N``.

It writes ``regions_vs_depth.json`` and three figures (PNG and SVG): ``regions_vs_depth`` (counts
against depth on a log scale, one column per width, segments above and planes below),
``regions_vs_neurons`` (counts at initialisation against ``N`` on log-log axes, with fitted slopes)
and ``regions_full_space`` (whole-space counts against ``N``, one panel per dimension).

Example::

    >>> from actlab.experiments import regions_vs_depth
    >>> result = regions_vs_depth.run("out/regions_vs_depth", quick=True)
    >>> result["claims"]["sampled_le_exact"], result["claims"]["tent_map_is_2_to_the_L"]
    (True, True)

References:
  B. Hanin, D. Rolnick, Complexity of linear regions in deep networks, ICML 2019.
  T. Serra, C. Tjandraatmadja, S. Ramalingam, Bounding and counting linear regions of deep neural
  networks, ICML 2018.
  G. Montufar, Notes on the number of linear regions of deep neural networks, SampTA 2017.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optax

from actlab import data
from actlab.experiments import _setup
from actlab.experiments.regions_vs_depth._config import CONDITIONS, NAME, ZERO_BIAS, Config
from actlab.experiments.regions_vs_depth._figures import depth_figure, neuron_figure, space_figure
from actlab.experiments.regions_vs_depth._measure import (
    Task,
    architecture,
    probes_2d,
    probes_digits,
    tent_map,
)
from actlab.experiments.regions_vs_depth._measure import bounds as region_bounds
from actlab.experiments.regions_vs_depth._report import claims, slope, summary, table
from actlab.experiments.regions_vs_depth._space import (
    space_architecture,
    space_bounds,
    space_slopes,
    space_task,
)

__all__ = ["CONDITIONS", "ZERO_BIAS", "Config", "run"]


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``regions_vs_depth.json``: ``title``, ``summary``, ``figures``,
    ``table`` and ``claims`` (the report section); ``config``; ``rows``, one per condition
    (``init_2d``, ``trained_2d``, ``init_digits``, ``trained_digits``, ``zero_bias_2d``) and
    architecture, with the segment counts' ``line`` statistics (mean, std, min, p10, median,
    p90, max over segments and seeds), the ``plane`` statistics, every exact plane count and
    grid estimate, and the trained networks' test accuracies; ``bounds`` per architecture
    (``"<width>x<depth>"``, exact integers); ``tent_map`` counts; the log-log ``slopes`` of
    mean counts against the number of neurons; and ``space``: the whole-space ``rows``
    (``init_space``, ``trained_space``), ``bounds`` and ``slopes`` (see :func:`_whole_space`).
    """
    rng = np.random.default_rng(seed)
    tx = optax.adam(cfg.learning_rate)  # one object: every run of a shape shares compiled code

    moons = data.moons(cfg.n, seed=seed, noise=cfg.noise)
    moons_test = data.moons(cfg.n, seed=seed + 1, noise=cfg.noise)
    digits_train, digits_test = data.digits(seed=seed)
    tasks = [
        Task("2d", moons, moons_test, probes_2d(moons, cfg, rng),
              "sigmoid_binary_cross_entropy", 1, cfg.steps_2d),
        Task("digits", digits_train, digits_test, probes_digits(digits_train, cfg, rng),
              "softmax_cross_entropy", 10, cfg.steps_digits),
    ]  # fmt: skip
    rows = []
    for width in cfg.widths:
        for depth in cfg.depths:
            rows += architecture(width, depth, cfg, seed, tasks, tx)
    bounds = {f"{w}x{d}": region_bounds(w, d) for w in cfg.widths for d in cfg.depths}
    tent = tent_map(cfg.depths)
    slopes = {
        f"{condition}_{what}": slope(rows, condition, what)
        for condition in (*CONDITIONS, ZERO_BIAS)
        for what in ("line", "plane")
    }
    found = {"rows": rows, "bounds": bounds, "tent_map": tent, "slopes": slopes}
    found["space"] = _whole_space(cfg, seed, tx)
    found["claims"] = claims(found, cfg)
    return _setup.finish(
        out, NAME, cfg, seed=seed, title="Linear regions against depth and width",
        summary=summary(found, cfg), table=table(found, cfg), claims=found["claims"],
        figures={NAME: depth_figure(found, cfg), "regions_vs_neurons": neuron_figure(found, cfg),
                 "regions_full_space": space_figure(found["space"], cfg)},
        data={k: found[k] for k in ("rows", "bounds", "tent_map", "slopes", "space")},
    )  # fmt: skip


def _whole_space(cfg: Config, seed: int, tx: Any) -> dict[str, Any]:
    """Rows of exact whole-space counts in every ``cfg.space_dims``, their bounds (keyed
    ``"d<dim>_<width>x<depth>"``) and fitted slopes (keyed by the dimension)."""
    rows, bounds = [], {}
    for dim, widths in zip(cfg.space_dims, cfg.space_widths, strict=True):
        task = space_task(dim, cfg, seed)
        for width in widths:
            for depth in cfg.space_depths:
                rows += space_architecture(width, depth, task, cfg, seed, tx)
                bounds[f"d{dim}_{width}x{depth}"] = space_bounds(dim, width, depth)
    slopes = {str(dim): space_slopes(rows, dim) for dim in cfg.space_dims}
    return {"rows": rows, "bounds": bounds, "slopes": slopes}
