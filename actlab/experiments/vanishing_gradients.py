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
The activation (an index, :func:`actlab.gradflow.switch_activation`) and the depth (layers
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

import dataclasses
import math
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from actlab import plot
from actlab.experiments import _setup
from actlab.gradflow import (
    DivergenceError,
    MeanField,
    Signals,
    stack_signals,
    switch_activation,
)
from actlab.io import write_json
from actlab.sweep import Grid, Results
from actlab.sweep import run as run_sweep

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

NAME = "vanishing_gradients"
#: Bumped whenever the cell computation changes, so stored sweeps are recomputed.
VERSION = 1
#: The sigmoid's derivative is at most 1/4.
SIGMOID_BOUND = 0.25


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      activations: registry names, one panel each.
      sigma_w2: weight variance times fan-in for each activation (its usual initialisation:
        LeCun/Glorot 1 for sigmoid, tanh and SELU, He 2 for the ReLU family and GELU).
      sigma_b2: bias variance (shared).
      depths: numbers of hidden layers, increasing.
      seeds: random networks per (activation, depth).
      width: units per hidden layer (and input dimension).
      batch: Gaussian inputs per network.
      shown_depths: depths drawn in the per-layer figure (each must be in ``depths``).
      chunk: cells per device per compiled call (bounds memory; results do not depend on the
        number of devices).
      batch_seeds: vmap over the seeds too, so the whole sweep is one compilation; each cell
        then draws its own weights (``depth x width^2`` normals), cheap for narrow networks. If
        False, the seed is the sweep's static axis: one compilation per seed, and the weights of
        a seed are drawn once for all its cells. The numbers are the same either way.
      rate_tolerance: relative tolerance of the claim that theory predicts the per-layer rate.
      relu_tolerance: tolerance of the claim that ReLU at He initialisation has rate 1.
      theory_exceptions: activations left out of the claim that theory predicts the rate.
        GELU at He initialisation, because its length map is marginal on the way down from
        ``q = 2`` (``V'(q)`` within 3% of 1 for ``q`` in ``[1, 2]``): the variances of different
        inputs drift apart instead of converging (by 50% at layer 10 even at width 1024), and
        ``chi_1(q)`` changes from 0.98 to 0.5 over that range, so a batch's gradient does not
        follow ``chi_1`` at one common ``q^l``. Its rate is still measured and shown.
    """

    activations: tuple[str, ...] = (
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
    )
    sigma_w2: tuple[float, ...] = (1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 2.0)
    sigma_b2: float = 0.0
    depths: tuple[int, ...] = tuple(range(1, 51))
    seeds: int = 8
    width: int = 256
    batch: int = 32
    shown_depths: tuple[int, ...] = (10, 25, 50)
    chunk: int = 50
    batch_seeds: bool = False
    rate_tolerance: float = 0.05
    relu_tolerance: float = 0.05
    theory_exceptions: tuple[str, ...] = ("gelu",)

    @classmethod
    def full(cls) -> Config:
        """Depths 1 to 50, 8 seeds, width 256 (a minute or two on a laptop CPU)."""
        return cls()

    @classmethod
    def quick(cls) -> Config:
        """A few seconds: depths up to 20, 2 seeds, width 64."""
        return cls(
            depths=(1, 2, 5, 10, 20),
            seeds=2,
            width=64,
            batch=16,
            shown_depths=(5, 20),
            chunk=70,
            batch_seeds=True,
            rate_tolerance=0.1,
            relu_tolerance=0.1,
        )

    def __post_init__(self) -> None:
        if len(self.sigma_w2) != len(self.activations) or not self.activations:
            raise ValueError(
                f"Config: need one sigma_w2 per activation, got {len(self.activations)} "
                f"activations and {len(self.sigma_w2)} sigma_w2"
            )
        depths = list(self.depths)
        if not depths or depths != sorted(set(depths)) or depths[0] < 1 or depths[-1] < 2:
            raise ValueError(
                f"Config: depths must increase from >= 1 to >= 2 (the per-layer rate needs two "
                f"layers), got {self.depths}"
            )
        if not set(self.shown_depths) <= set(self.depths):
            raise ValueError(
                f"Config: shown_depths {self.shown_depths} must be among depths {self.depths}"
            )
        for name in ("seeds", "width", "batch", "chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"Config: {name} must be >= 1, got {getattr(self, name)}")


# ----------------------------------------------------------------------------- the cells


#: ``fold_in`` index of the row holding the inputs and the read-out (layers use 0, 1, ...).
_INPUT_ROW = 1 << 20


def _network(
    cfg: Config, key: jax.Array, depth: int
) -> tuple[jax.Array, jax.Array, tuple[jax.Array, jax.Array], jax.Array]:
    """The first ``depth`` layers of the network of ``key``: unit-variance weights ``(depth, n, n)``
    (entries ``N(0, 1/n)``), biases ``(depth, n)``, the read-out ``(n, 1)`` and inputs ``(B, n)``.

    Row ``l`` of one draw (``normal(fold_in(key, l))``) holds layer ``l``'s weights and biases,
    so a shallower network is a prefix of a deeper one; row ``_INPUT_ROW`` holds the inputs and
    the read-out. One vmapped draw compiles in a quarter of the time of four separate ones.
    """
    n, batch = cfg.width, cfg.batch
    size = max(n * n + n, batch * n + n)
    rows = jnp.concatenate([jnp.arange(depth), jnp.array([_INPUT_ROW])])
    draws = jax.vmap(lambda r: jax.random.normal(jax.random.fold_in(key, r), (size,)))(rows)
    weights = draws[:-1, : n * n].reshape(depth, n, n) / math.sqrt(n)
    biases = math.sqrt(cfg.sigma_b2) * draws[:-1, n * n : n * n + n]
    x = draws[-1, : batch * n].reshape(batch, n)
    readout = (draws[-1, batch * n : batch * n + n].reshape(n, 1) / math.sqrt(n), jnp.zeros(1))
    return weights, biases, readout, x


def _key(seed: int, index: int | jax.Array) -> jax.Array:
    """The key of network ``index`` of the experiment seeded with ``seed``."""
    return jax.random.fold_in(jax.random.key(seed), index)


def _cell_signals(
    cfg: Config, key: jax.Array, activation: Callable, scale: jax.Array, depth: Any, layers: int
) -> Signals:
    weights, biases, readout, x = _network(cfg, key, layers)
    y = jnp.zeros(cfg.batch)  # loss: mean squared output of the random read-out
    return stack_signals(
        weights, biases, readout, x, y, activation=activation, depth=depth, weight_scale=scale
    )


def sweep_cell(cfg: Config, seed: int = 0) -> Callable[[dict, dict], Signals]:
    """The :func:`actlab.sweep.run` cell: batched activation index and depth, and the network
    seed, static or batched (``cfg.batch_seeds``).

    Returns ``fn(static, batch) -> Signals`` with arrays over ``max(cfg.depths)`` layers (NaN
    beyond the cell's depth). With a static seed the weights depend on no batched value, so
    under ``vmap`` they are drawn once for all the cells of the seed.
    """
    layers = max(cfg.depths)
    scales = np.sqrt(np.asarray(cfg.sigma_w2, np.float32))

    def cell(static: dict, batch: dict) -> Signals:
        index = batch["activation"]
        act = switch_activation(cfg.activations, index)
        scale = jnp.asarray(scales)[index]
        key = _key(seed, static["seed"] if "seed" in static else batch["seed"])
        return _cell_signals(cfg, key, act, scale, batch["depth"], layers)

    return cell


def reference_cell(
    cfg: Config, activation: int, depth: int, seed: int = 0
) -> Callable[[int | jax.Array], Signals]:
    """One configuration computed directly: ``fn(network_seed) -> Signals`` over ``depth`` layers.

    The same numbers as the sweep's cell (up to rounding in the order of floating-point sums),
    with the activation ``cfg.activations[activation]`` and the depth static: only ``depth``
    layers are drawn and computed, nothing is masked. ``benchmarks/gradflow.py`` jits it per
    configuration as the plain-loop reference.
    """
    act = switch_activation(cfg.activations, activation)
    scale = jnp.asarray(np.sqrt(np.float32(cfg.sigma_w2[activation])))

    def cell(network_seed: int | jax.Array) -> Signals:
        return _cell_signals(cfg, _key(seed, network_seed), act, scale, None, depth)

    return cell


def make_grid(cfg: Config) -> Grid:
    """``Grid(seed, activation (index into cfg.activations), depth)``."""
    return Grid(seed=range(cfg.seeds), activation=range(len(cfg.activations)), depth=cfg.depths)


def batched_axes(cfg: Config) -> tuple[str, ...]:
    """The grid axes the sweep vmaps over: activation and depth, and the seed if
    ``cfg.batch_seeds``."""
    return ("seed", "activation", "depth") if cfg.batch_seeds else ("activation", "depth")


def sweep(
    cfg: Config,
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    devices: list | None = None,
    progress: bool = False,
) -> Results:
    """Run (or resume) the sweep of ``cfg`` in ``out_dir`` with :func:`actlab.sweep.run`.

    The results hold :class:`Signals` fields of shape ``(seeds, activations, depths,
    max(depths))`` (``delta_ratio``: one layer fewer): ``results.get()`` if ``cfg.batch_seeds``,
    else ``results.get(seed=s)`` without the leading axis (see :func:`collect`).
    """
    meta = {
        "experiment": NAME,
        "version": VERSION,
        "seed": seed,
        "activations": list(cfg.activations),
        "sigma_w2": list(cfg.sigma_w2),
        "sigma_b2": cfg.sigma_b2,
        "width": cfg.width,
        "batch": cfg.batch,
    }
    return run_sweep(
        sweep_cell(cfg, seed),
        make_grid(cfg),
        out_dir,
        batched=batched_axes(cfg),
        meta=meta,
        devices=devices,
        chunk=cfg.chunk,
        progress=progress,
    )


def collect(cfg: Config, results: Results) -> dict[str, np.ndarray]:
    """Every output of the sweep as one array ``(seeds, activations, depths, layers)``."""
    if cfg.batch_seeds:
        values = results.get()
        return {k: np.asarray(v) for k, v in values.items()}
    per_seed = [results.get(seed=s) for s in range(cfg.seeds)]
    return {k: np.stack([np.asarray(p[k]) for p in per_seed]) for k in per_seed[0]}


# ----------------------------------------------------------------------------- theory


def _theory(cfg: Config) -> dict[str, dict[str, Any]]:
    """Per activation: length-map iterates ``q^l`` from the input's ``q^0``, ``chi_1(q^l)``, the
    fixed-point ``chi_1`` and the phase."""
    layers = max(cfg.depths)
    out = {}
    for name, sigma_w2 in zip(cfg.activations, cfg.sigma_w2, strict=True):
        mf = MeanField(name)
        q = [sigma_w2 * 1.0 + cfg.sigma_b2]  # inputs N(0, 1): E[x^2] = 1
        for _ in range(layers - 1):
            q.append(mf.length_map(q[-1], sigma_w2, cfg.sigma_b2))
        chi = [mf.chi1(sigma_w2, cfg.sigma_b2, q=v) for v in q]
        try:
            q_star = mf.q_star(sigma_w2, cfg.sigma_b2)
            chi_star = mf.chi1(sigma_w2, cfg.sigma_b2)
            phase = mf.phase(sigma_w2, cfg.sigma_b2)
        except DivergenceError:
            q_star, chi_star, phase = None, chi[-1], "chaotic (q* diverges)"
        out[name] = {
            "sigma_w2": sigma_w2,
            "q": q,
            "chi1": chi,
            "q_star": q_star,
            "chi1_at_q_star": chi_star,
            "phase": phase,
        }
    return out


def _theory_ratio(chi: np.ndarray, depth: int) -> np.ndarray:
    """``||delta^l|| / ||delta^{depth-1}||`` for ``l < depth``: ``prod_{k=l}^{depth-2} sqrt(chi_k)``."""
    logs = 0.5 * np.log(np.asarray(chi[: depth - 1]))
    return np.exp(np.concatenate([np.cumsum(logs[::-1])[::-1], [0.0]]))


# ----------------------------------------------------------------------------- analysis


def _gmean(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    return np.exp(np.mean(np.log(values), axis=axis))


def _analyse(cfg: Config, data: dict[str, np.ndarray], theory: dict) -> dict[str, Any]:
    """Per activation: first-layer ratio per depth, per-layer rates, q, for JSON and figures."""
    deepest = cfg.depths[-1]
    d_last = len(cfg.depths) - 1
    out: dict[str, Any] = {}
    for a, name in enumerate(cfg.activations):
        chi = np.asarray(theory[name]["chi1"])
        delta = data["delta_norm"][:, a]  # (seeds, depths, layers)
        first = np.stack(
            [delta[:, i, 0] / delta[:, i, depth - 1] for i, depth in enumerate(cfg.depths)],
            axis=1,
        )  # (seeds, depths)
        theory_first = [float(_theory_ratio(chi, depth)[0]) for depth in cfg.depths]
        ratios = data["delta_ratio"][:, a, d_last, : deepest - 1]  # (seeds, deepest - 1)
        rate, theory_rate = float(_gmean(ratios)), float(_gmean(chi[: deepest - 1]))
        out[name] = {
            "first_layer_ratio": first.tolist(),  # ||delta^0|| / ||delta^{L-1}||, per seed, depth
            "first_layer_ratio_gmean": _gmean(first, axis=0).tolist(),
            "first_layer_ratio_theory": theory_first,
            "per_layer_rate": rate,
            "per_layer_rate_theory": theory_rate,
            "rate_rel_error": abs(rate / theory_rate - 1.0),
            "delta_norm_deepest": delta[:, d_last, :deepest].tolist(),  # (seeds, layers)
            "q_deepest": data["q"][:, a, d_last, :deepest].tolist(),
            "global_grad_norm_deepest": data["global_grad_norm"][:, a, d_last].tolist(),
        }
    return out


def _claims(cfg: Config, analysis: dict[str, Any]) -> dict[str, bool]:
    claims: dict[str, bool] = {}
    deep = [i for i, depth in enumerate(cfg.depths) if depth >= 2]
    sigmoid_w2 = dict(zip(cfg.activations, cfg.sigma_w2, strict=True)).get("sigmoid", math.inf)
    if sigmoid_w2 <= 1.0 and deep:  # the 0.25^r bound needs sigma_w^2 <= 1
        first = np.asarray(analysis["sigmoid"]["first_layer_ratio"])[:, deep]
        bound = SIGMOID_BOUND ** (np.asarray(cfg.depths)[deep] - 1.0)
        claims["sigmoid_below_quarter_power_bound"] = bool(np.all(first < bound[None, :]))
        final = {n: v["first_layer_ratio_gmean"][-1] for n, v in analysis.items()}
        claims["sigmoid_vanishes_fastest"] = min(final, key=final.get) == "sigmoid"
    if "relu" in analysis and cfg.sigma_w2[cfg.activations.index("relu")] == 2.0:
        rate = analysis["relu"]["per_layer_rate"]
        claims["relu_he_ratio_near_one"] = bool(abs(rate - 1.0) <= cfg.relu_tolerance)
    errors = [v["rate_rel_error"] for n, v in analysis.items() if n not in cfg.theory_exceptions]
    claims["theory_predicts_per_layer_rate"] = bool(all(e <= cfg.rate_tolerance for e in errors))
    return claims


# ----------------------------------------------------------------------------- figures

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _layers_figure(cfg: Config, data: dict, theory: dict, analysis: dict) -> Figure:
    names = cfg.activations
    cols = 4
    rows = -(-(len(names) + 1) // cols)
    fig = Figure(figsize=(3.3 * cols, 3.0 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for a, name in enumerate(names):
        ax = axes[a]
        chi = np.asarray(theory[name]["chi1"])
        for k, depth in enumerate(cfg.shown_depths):
            i = cfg.depths.index(depth)
            delta = data["delta_norm"][:, a, i, :depth]  # (seeds, layers)
            relative = delta / delta[:, -1:]  # each seed's gradient relative to its last layer
            layer = np.arange(1, depth + 1)
            color = _COLORS[k % len(_COLORS)]
            ax.fill_between(layer, relative.min(0), relative.max(0), color=color, alpha=0.2, lw=0)
            ax.plot(layer, _gmean(relative, axis=0), color=color, lw=1.4, label=f"L = {depth}")
            ax.plot(layer, _theory_ratio(chi, depth), "--", color="k", lw=0.9)
            if name == "sigmoid" and depth == cfg.shown_depths[-1]:
                bound = SIGMOID_BOUND ** (depth - layer)
                ax.plot(layer, bound, ":", color="0.4", lw=1.2, label=r"$0.25^{L-l}$ bound")
        ax.set_yscale("log")
        ax.set_title(
            f"{name}, $\\sigma_w^2$={cfg.sigma_w2[a]:g}: $\\chi_1$(q*)="
            f"{theory[name]['chi1_at_q_star']:.3g}",
            fontsize=9,
        )
        ax.set_xlabel("layer l")
        if a % cols == 0:
            ax.set_ylabel(r"$\|\delta^l\| \,/\, \|\delta^L\|$")
        ax.grid(alpha=0.3, which="both", lw=0.4)
        ax.legend(fontsize=7)
    ax = axes[len(names)]
    deepest = cfg.depths[-1]
    layer = np.arange(1, deepest + 1)
    for a, name in enumerate(names):
        q = _gmean(np.asarray(data["q"][:, a, -1, :deepest]), axis=0)
        ax.plot(layer, q, color=_COLORS[a % len(_COLORS)], lw=1.3, label=name)
        ax.plot(layer, theory[name]["q"][:deepest], "--", color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("layer l")
    ax.set_title(f"forward signal $q^l$ (L = {deepest}; dashed: theory)", fontsize=9)
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=7, ncol=2)
    for ax in axes[len(names) + 1 :]:
        ax.axis("off")
    fig.suptitle(
        f"Backward signal per layer relative to the last, $\\|\\delta^l\\| / \\|\\delta^L\\|$ "
        f"(RMS over inputs; width {cfg.width}, {cfg.seeds} seeds: geometric mean, band min-max); "
        "dashed: mean-field theory"
    )
    return fig


def _depth_figure(cfg: Config, analysis: dict) -> Figure:
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    depths = np.asarray(cfg.depths)
    for a, name in enumerate(cfg.activations):
        color = _COLORS[a % len(_COLORS)]
        v = analysis[name]
        ax.plot(depths, v["first_layer_ratio_gmean"], "o-", ms=3, color=color, lw=1.2, label=name)
        ax.plot(depths, v["first_layer_ratio_theory"], "--", color=color, lw=0.9)
    if "sigmoid" in cfg.activations:
        ax.plot(depths, SIGMOID_BOUND ** (depths - 1.0), ":", color="k", lw=1.3,
                label=r"$0.25^{L-1}$ (sigmoid bound)")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("depth L (hidden layers)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(r"$\|\delta^1\| / \|\delta^L\|$")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(
        "Gradient reaching the first layer, relative to the last "
        f"(width {cfg.width}, {cfg.seeds} seeds; dashed: mean-field theory)",
        fontsize=9,
    )
    return fig


# ----------------------------------------------------------------------------- results


def _table(cfg: Config, theory: dict, analysis: dict, claims: dict) -> list[dict[str, Any]]:
    deepest = cfg.depths[-1]
    rows = []
    for name, sigma_w2 in zip(cfg.activations, cfg.sigma_w2, strict=True):
        v, t = analysis[name], theory[name]
        holds = {
            "sigmoid": claims.get("sigmoid_below_quarter_power_bound"),
            "relu": claims.get("relu_he_ratio_near_one"),
        }.get(name)
        rows.append(
            {
                "activation": name,
                "sigma_w^2": sigma_w2,
                "phase (theory)": t["phase"],
                "chi_1 at q*": f"{t['chi1_at_q_star']:.4g}",
                "||delta||^2 per layer, theory": f"{v['per_layer_rate_theory']:.4g}",
                "||delta||^2 per layer, measured": f"{v['per_layer_rate']:.4g}",
                "difference": f"{100 * v['rate_rel_error']:.1f}%"
                + (" (not claimed)" if name in cfg.theory_exceptions else ""),
                f"||delta^1|| / ||delta^L|| at L={deepest}, theory": (
                    f"{v['first_layer_ratio_theory'][-1]:.2e}"
                ),
                f"||delta^1|| / ||delta^L|| at L={deepest}, measured": (
                    f"{v['first_layer_ratio_gmean'][-1]:.2e}"
                ),
                "claim holds": "-" if holds is None else "yes" if holds else "no",
            }
        )
    return rows


def _summary(cfg: Config, theory: dict, analysis: dict) -> str:
    deepest = cfg.depths[-1]
    parts = []
    first = {n: v["first_layer_ratio_gmean"][-1] for n, v in analysis.items()}
    if "sigmoid" in analysis:
        sigma_w2 = theory["sigmoid"]["sigma_w2"]
        bound = SIGMOID_BOUND ** (deepest - 1)
        parts.append(
            f"In a depth-{deepest} sigmoid network (sigma_w^2 = {sigma_w2:g}) the gradient "
            f"reaching the first layer is {first['sigmoid']:.1e} of the last layer's (geometric "
            f"mean over {cfg.seeds} seeds), {'below' if first['sigmoid'] < bound else 'above'} "
            f"the 0.25^{deepest - 1} = {bound:.1e} bound: each layer multiplies ||delta||^2 by "
            f"{analysis['sigmoid']['per_layer_rate']:.3f} (theory "
            f"{analysis['sigmoid']['per_layer_rate_theory']:.3f}; sigma_w^2 / 16 at most)."
        )
    if "relu" in analysis:
        sigma_w2 = theory["relu"]["sigma_w2"]
        parts.append(
            f"ReLU at sigma_w^2 = {sigma_w2:g}"
            + (" (He initialisation) is critical" if sigma_w2 == 2.0 else "")
            + f": its measured per-layer ratio is {analysis['relu']['per_layer_rate']:.3f} "
            f"(theory chi_1 = {sigma_w2 / 2:g}), and the first layer keeps {first['relu']:.2f} of "
            f"the gradient at depth {deepest}."
        )
    others = [
        f"{n} {first[n]:.1e} (theory {analysis[n]['first_layer_ratio_theory'][-1]:.1e}, "
        f"{theory[n]['phase']}, sigma_w^2 = {theory[n]['sigma_w2']:g})"
        for n in cfg.activations
        if n not in ("sigmoid", "relu")
    ]
    if others:
        parts.append(f"At depth {deepest} the first-layer ratio is " + "; ".join(others) + ".")
    claimed = [n for n in analysis if n not in cfg.theory_exceptions]
    if claimed:
        worst = max(claimed, key=lambda n: analysis[n]["rate_rel_error"])
        parts.append(
            "Mean-field theory (chi_1 at the length-map iterates q^l) predicts the measured "
            f"per-layer rate of {', '.join(claimed)} at width {cfg.width} within "
            f"{100 * analysis[worst]['rate_rel_error']:.1f}% (largest: {worst})."
        )
    for name in cfg.theory_exceptions:
        if name in analysis:
            v = analysis[name]
            parts.append(
                f"{name} is the exception: its measured rate {v['per_layer_rate']:.3f} exceeds "
                f"the predicted {v['per_layer_rate_theory']:.3f}, because its length map is "
                "marginal (V'(q) close to 1) where chi_1 changes fast, so the variances of "
                "different inputs drift apart and the inputs that keep a large q^l dominate the "
                "batch's gradient."
            )
    return " ".join(parts)


def run(
    out_dir: str | os.PathLike,
    *,
    quick: bool = False,
    seed: int = 0,
    config: Config | None = None,
) -> dict[str, Any]:
    """Run the experiment and write its data and figures into ``out_dir``.

    Args:
      out_dir: output folder (created); the sweep's files go to ``out_dir/sweep``, so an
        interrupted run resumes where it stopped.
      quick: use :meth:`Config.quick` (a few seconds) instead of :meth:`Config.full`.
      seed: seed of every random network and input.
      config: explicit settings; overrides ``quick``.

    Returns:
      The dict written to ``vanishing_gradients.json``: ``title``, ``summary``, ``figures``,
      ``table``, ``claims``, ``config``, the ``theory`` per activation (length-map iterates and
      ``chi_1``), the measured ``results`` per activation (first-layer ratios per seed and
      depth, per-layer rates, ``||delta^l||`` and ``q^l`` at the deepest depth) and ``sweep``
      (groups computed in this call and loaded from disk).
    """
    cfg = _setup.config(Config, quick=quick, seed=seed, config=config)
    out = _setup.out_folder(out_dir)

    results = sweep(cfg, out / "sweep", seed=seed)
    data = {k: v.astype(np.float64) for k, v in collect(cfg, results).items()}
    theory = _theory(cfg)
    analysis = _analyse(cfg, data, theory)
    claims = _claims(cfg, analysis)
    figures = []
    for stem, fig in (
        (f"{NAME}_layers", _layers_figure(cfg, data, theory, analysis)),
        (f"{NAME}_depth", _depth_figure(cfg, analysis)),
    ):
        figures += [p.name for p in plot.save(fig, out / stem)]
    result: dict[str, Any] = {
        "title": "Vanishing gradients versus depth",
        "summary": _summary(cfg, theory, analysis),
        "figures": figures,
        "table": _table(cfg, theory, analysis, claims),
        "experiment": NAME,
        "quick": cfg == Config.quick(),
        "seed": seed,
        "config": dataclasses.asdict(cfg),
        "claims": claims,
        "theory": theory,
        "results": analysis,
        "sweep": {"computed": len(results.computed), "loaded": len(results.loaded)},
    }
    write_json(out / f"{NAME}.json", result)
    return result
