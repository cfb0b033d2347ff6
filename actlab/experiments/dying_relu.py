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
:func:`actlab.gradflow.units.ensemble_unit_stats`) the fraction of dead units (never active) and
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

import dataclasses
import functools
import math
import os
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from matplotlib.figure import Figure

from actlab import data, plot
from actlab.experiments import _ensembles, _setup
from actlab.gradflow.units import ensemble_unit_stats, unit_stats
from actlab.io import write_json
from actlab.models import MLP, PReLU
from actlab.train import init_ensemble

__all__ = ["ACTIVATIONS", "Config", "born_dead_probability", "run"]

NAME = "dying_relu"
LOSS = "softmax_cross_entropy"
ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu")
_LABELS = {"relu": "ReLU", "leaky_relu": "leaky ReLU (0.01)", "prelu": "PReLU", "elu": "ELU"}
_COLORS = {"relu": "#d62728", "leaky_relu": "#ff7f0e", "prelu": "#2ca02c", "elu": "#1f77b4"}


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      width: hidden units per layer of the trained networks.
      depth: hidden layers of the trained networks.
      seeds: initialisations per condition.
      segments: measurements during training (after each of ``segments`` equal segments).
      segment_steps: gradient-descent steps per segment.
      train_size: training images used (the first ones of the split); ``None``: all 1347.
      baseline_lr: the learning rate of the negative-bias runs; must be in ``learning_rates``.
      learning_rates: learning rates tried with zero biases, increasing.
      biases: constant initial hidden biases tried at ``baseline_lr``, each ``< 0``, decreasing.
      highlight_bias: the bias whose training curves are drawn; one of ``biases``.
      born_widths: widths ``N`` of the born-dead networks.
      born_depth: their depth ``L`` (every depth ``1..L`` is read off the same networks).
      born_seeds: random networks per width.
      born_inputs: Gaussian inputs per network.
      born_in_features: input dimension of the born-dead networks.
    """

    width: int = 32
    depth: int = 4
    seeds: int = 4
    segments: int = 8
    segment_steps: int = 50
    train_size: int | None = None
    baseline_lr: float = 0.05
    learning_rates: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0)
    biases: tuple[float, ...] = (-0.25, -0.5, -1.0)
    highlight_bias: float = -0.5
    born_widths: tuple[int, ...] = (2, 3, 4, 5, 6)
    born_depth: int = 30
    born_seeds: int = 4000
    born_inputs: int = 64
    born_in_features: int = 4

    @classmethod
    def full(cls) -> Config:
        """The settings behind the report's figures (a minute or two on a laptop CPU)."""
        return cls()

    @classmethod
    def quick(cls) -> Config:
        """Seconds: two seeds, two learning rates, one bias, three widths, 512 images."""
        return cls(
            seeds=2,
            segments=4,
            train_size=512,
            learning_rates=(0.05, 1.0),
            biases=(-0.5,),
            born_widths=(2, 3, 4),
            born_depth=20,
            born_seeds=1000,
        )

    def conditions(self) -> list[tuple[str, float, float]]:
        """``(kind, learning_rate, bias)`` per condition: the learning rates, then the biases."""
        return [("learning rate", lr, 0.0) for lr in self.learning_rates] + [
            ("bias", self.baseline_lr, b) for b in self.biases
        ]


def _check(cfg: Config) -> None:
    if cfg.baseline_lr not in cfg.learning_rates:
        raise ValueError(
            f"Config.baseline_lr={cfg.baseline_lr} must be one of learning_rates "
            f"{cfg.learning_rates} (it is the zero-bias reference of the bias runs)"
        )
    if not cfg.biases or any(b >= 0 for b in cfg.biases) or cfg.highlight_bias not in cfg.biases:
        raise ValueError(
            f"Config.biases must be non-empty and < 0, with highlight_bias among them; got "
            f"biases={cfg.biases}, highlight_bias={cfg.highlight_bias}"
        )


# ----------------------------------------------------------------------------- born dead


def born_dead_probability(width: int, depth: int | np.ndarray) -> float | np.ndarray:
    r"""``1 - (1 - 2^-width)^depth``: the probability that ``depth`` zero-bias ReLU layers of
    ``width`` units with symmetric i.i.d. weights map one fixed input ``x != 0`` to zero."""
    return 1.0 - (1.0 - 2.0**-width) ** np.asarray(depth, dtype=np.float64)


@jax.jit
def _zeroed_by_depth(first: jax.Array, rest: jax.Array, x: jax.Array) -> jax.Array:
    """Per network, the fraction of inputs zeroed by layer ``l`` (``silent``), ``(..., L)``.

    ``first``: ``(..., d, n)``; ``rest``: ``(..., L - 1, n, n)`` (leading axes: networks);
    biases are zero.
    """

    def one(w1: jax.Array, ws: jax.Array) -> jax.Array:
        zero = jnp.zeros((w1.shape[1],), w1.dtype)
        layers = [(w1, zero)] + [(ws[i], zero) for i in range(ws.shape[0])]
        return unit_stats(layers, x, activation="relu").silent

    batch = first.shape[:-2]
    flat = jax.vmap(one)(first.reshape(-1, *first.shape[-2:]), rest.reshape(-1, *rest.shape[-3:]))
    return flat.reshape(*batch, -1)


def _born_dead(cfg: Config, seed: int) -> dict[str, Any]:
    """Per width: measured probabilities by depth, for one input and for the whole batch.

    All widths run as one compiled call: a width-``N`` network is embedded in the widest one
    with zero weights to and from the extra units, which are then always off and feed nothing,
    so a layer is silent exactly when its ``N`` real units are all off.
    """
    rng = np.random.default_rng([seed, 2])
    d, widths, n_max = cfg.born_in_features, cfg.born_widths, max(cfg.born_widths)
    x = rng.standard_normal((cfg.born_inputs, d), dtype=np.float32)
    first = np.zeros((len(widths), cfg.born_seeds, d, n_max), np.float32)
    rest = np.zeros((len(widths), cfg.born_seeds, cfg.born_depth - 1, n_max, n_max), np.float32)
    for i, n in enumerate(widths):  # He initialisation: N(0, 2 / fan_in)
        first[i, ..., :n] = rng.standard_normal((cfg.born_seeds, d, n)) * math.sqrt(2.0 / d)
        shape = (cfg.born_seeds, cfg.born_depth - 1, n, n)
        rest[i, ..., :n, :n] = rng.standard_normal(shape) * math.sqrt(2.0 / n)
    silent = np.asarray(_zeroed_by_depth(first, rest, x), dtype=np.float64)
    depths = np.arange(1, cfg.born_depth + 1)
    out: dict[str, Any] = {"depths": depths.tolist(), "widths": list(widths)}
    for i, n in enumerate(widths):
        per_input = silent[i].mean(axis=0)
        stderr = silent[i].std(axis=0, ddof=1) / math.sqrt(cfg.born_seeds)
        formula = born_dead_probability(n, depths)
        out[str(n)] = {
            "per_input": per_input.tolist(),
            "per_input_stderr": stderr.tolist(),
            "whole_batch": (silent[i] == 1.0).mean(axis=0).tolist(),
            "formula": formula.tolist(),
            "max_abs_error": float(np.max(np.abs(per_input - formula))),
            "max_z_score": float(np.max(np.abs(per_input - formula) / (stderr + 1e-12))),
        }
    return out


# ----------------------------------------------------------------------------- training


_CHOICES = ("relu", "leaky_relu", PReLU, "elu")  # ACTIVATIONS, as ActivationChoice builds them


@dataclasses.dataclass(frozen=True)
class _Network:
    """``rngs -> MLP(64, [width] * depth, 10)`` with the activation chosen per member."""

    width: int
    depth: int

    def __call__(self, rngs: Any) -> MLP:
        act = functools.partial(_ensembles.ActivationChoice, choices=_CHOICES)
        return MLP(64, [self.width] * self.depth, 10, activation=act, rngs=rngs)


def _members(cfg: Config, seed: int) -> Any:
    """Members for activations x conditions x seeds (in that order), from the same weights.

    Each (activation, condition) block starts from the same initial weights, with its hidden
    biases set to the condition's constant and its learning rate; all of them train together.
    """
    base = init_ensemble(
        _Network(cfg.width, cfg.depth),
        [seed * 1000 + i for i in range(cfg.seeds)],
        learning_rates=[cfg.learning_rates[0]],
    )
    parts = []
    for k in range(len(ACTIVATIONS)):
        for _, lr, bias in cfg.conditions():
            part = _ensembles.replace_params(
                _ensembles.choose(base, k),
                lambda p, v, b=bias: (
                    np.full_like(v, b) if p[0] == "hidden" and p[-1] == "bias" else None
                ),
            )
            parts.append(dataclasses.replace(part, learning_rate=np.full(cfg.seeds, lr)))
    return _ensembles.concat(parts)


def _train(cfg: Config, seed: int) -> dict[str, Any]:
    train_set, test_set = data.digits(seed=seed)
    x, y = train_set.x[: cfg.train_size], train_set.y[: cfg.train_size]
    conditions = cfg.conditions()
    shape = (len(ACTIVATIONS), len(conditions), cfg.seeds)

    def measure(ens: Any) -> dict[str, np.ndarray]:
        stats = ensemble_unit_stats(ens, x)
        return {"dead": np.asarray(stats.dead), "zero_grad": np.asarray(stats.zero_grad)}

    ens, history, measured = _ensembles.fit_segments(
        _members(cfg, seed),
        x,
        y,
        segments=cfg.segments,
        steps=cfg.segment_steps,
        measure=measure,
        optimizer=optax.sgd,
        loss=LOSS,
        record_every=max(1, cfg.segment_steps // 5),
        layer_steps=[cfg.segment_steps - 1],
        progress=False,
        on_nonfinite="continue",
    )
    ok = _ensembles.finite_members(ens).reshape(shape)
    accuracy = ens.evaluate(test_set.x, test_set.y, loss=LOSS)["accuracy"].reshape(shape)
    dead = np.stack([m["dead"] for m in measured]).reshape(-1, *shape, cfg.depth)
    zero_grad = np.stack([m["zero_grad"] for m in measured]).reshape(-1, *shape, cfg.depth)
    loss = history.loss.reshape(*shape, -1)
    result: dict[str, Any] = {
        "steps": [s * cfg.segment_steps for s in range(cfg.segments + 1)],
        "loss_steps": history.step.tolist(),
        "train_size": int(x.shape[0]),
        "conditions": [{"kind": k, "learning_rate": lr, "bias": b} for k, lr, b in conditions],
    }
    for a, name in enumerate(ACTIVATIONS):
        rows = []
        for c in range(len(conditions)):
            good = ok[a, c]

            def mean(v: np.ndarray, good: np.ndarray = good) -> Any:
                return np.mean(v[..., good], axis=-1) if good.any() else None

            rows.append(
                {
                    "diverged": int((~good).sum()),
                    "dead_curve": _listed(mean(dead[:, a, c].mean(-1))),
                    "dead_per_layer_init": _listed(mean(dead[0, a, c].T)),
                    "dead_per_layer": _listed(mean(dead[-1, a, c].T)),
                    "dead_init": _number(mean(dead[0, a, c].mean(-1))),
                    "dead_final": _number(mean(dead[-1, a, c].mean(-1))),
                    "zero_grad_final": _number(mean(zero_grad[-1, a, c].mean(-1))),
                    "test_accuracy": _number(mean(accuracy[a, c])),
                    "loss_curve": _listed(mean(loss[a, c].T)),
                }
            )
        result[name] = rows
    return result


def _listed(a: Any) -> list[float] | None:
    return None if a is None else [float(v) for v in np.ravel(a)]


def _number(a: Any) -> float | None:
    return None if a is None else float(a)


# ----------------------------------------------------------------------------- figures


def _index(cfg: Config, kind: str, value: float) -> int:
    for i, (k, lr, b) in enumerate(cfg.conditions()):
        if k == kind and (lr if kind == "learning rate" else b) == value:
            return i
    raise ValueError(f"no {kind} condition {value}")


def _training_figure(cfg: Config, res: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(13.5, 7.4), layout="constrained")
    axes = fig.subplots(2, 3)
    steps = res["steps"]
    large = _index(cfg, "learning rate", cfg.learning_rates[-1])
    low = _index(cfg, "bias", cfg.highlight_bias)
    base = _index(cfg, "learning rate", cfg.baseline_lr)
    lrs = list(cfg.learning_rates)
    biases = [0.0, *cfg.biases]
    bias_rows = [base] + [_index(cfg, "bias", b) for b in cfg.biases]
    for name in ACTIVATIONS:
        style = {"color": _COLORS[name], "label": _LABELS[name], "marker": "o", "ms": 3}
        rows = res[name]
        for ax, c in ((axes[0, 0], large), (axes[1, 0], low)):
            if rows[c]["dead_curve"] is not None:
                ax.plot(steps, 100 * np.asarray(rows[c]["dead_curve"]), **style)
            else:
                ax.plot([], [], ls="none", **style)
        for row, xs, idx in ((0, lrs, range(len(lrs))), (1, biases, bias_rows)):
            dead = [rows[i]["dead_final"] for i in idx]
            acc = [rows[i]["test_accuracy"] for i in idx]
            finite = [v is not None for v in dead]
            xs_ok = [x for x, f in zip(xs, finite, strict=True) if f]
            axes[row, 1].plot(xs_ok, [100 * v for v in dead if v is not None], **style)
            axes[row, 2].plot(xs_ok, [100 * v for v in acc if v is not None], **style)
            bad = [x for x, f in zip(xs, finite, strict=True) if not f]
            if bad:
                axes[row, 2].plot(bad, [0.0] * len(bad), "x", color=_COLORS[name], ms=9)
        init = [rows[i]["dead_init"] for i in bias_rows]
        axes[1, 1].plot(biases, [100 * v for v in init], ls=":", color=_COLORS[name], lw=1)
    axes[0, 0].set_title(f"learning rate {cfg.learning_rates[-1]:g}, zero biases", fontsize=9)
    axes[1, 0].set_title(
        f"learning rate {cfg.baseline_lr:g}, hidden biases {cfg.highlight_bias:g}", fontsize=9
    )
    for ax in axes[:, 0]:
        ax.set_xlabel("gradient-descent step")
        ax.set_ylabel("dead units (%)")
    axes[0, 1].set_title("after training (finite runs)", fontsize=9)
    axes[1, 1].set_title("after training; dotted: at initialisation", fontsize=9)
    axes[0, 2].set_title("test accuracy; x: every seed diverged (NaN)", fontsize=9)
    axes[1, 2].set_title("test accuracy", fontsize=9)
    for row, label in ((0, "learning rate (zero biases)"), (1, "initial hidden bias")):
        axes[row, 1].set_ylabel("dead units (%)")
        axes[row, 2].set_ylabel("test accuracy (%)")
        for ax in axes[row, 1:]:
            ax.set_xlabel(label)
            if row == 0:
                ax.set_xscale("log")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(
        f"Dead units (never active on the {res['train_size']} training digits), "
        f"MLP 64-{cfg.width}x{cfg.depth}-10, full-batch GD, {cfg.seeds} seeds"
    )
    return fig


def _born_figure(cfg: Config, born: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    depths = np.asarray(born["depths"])
    colors = _colors(len(cfg.born_widths))
    for color, n in zip(colors, cfg.born_widths, strict=True):
        r = born[str(n)]
        ax.plot(depths, r["formula"], "-", color=color, lw=1.2, label=f"N = {n}: 1 - (1 - 2^-N)^L")
        ax.errorbar(
            depths,
            r["per_input"],
            yerr=2 * np.asarray(r["per_input_stderr"]),
            fmt="o",
            ms=3,
            color=color,
            label=f"N = {n}: one input zeroed (measured)",
        )
        ax.plot(depths, r["whole_batch"], "s", mfc="none", ms=4, color=color)
    ax.plot([], [], "s", mfc="none", color="0.4", label="whole batch zeroed (measured)")
    ax.set_xlabel("depth L (hidden layers)")
    ax.set_ylabel("probability the network is dead")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(
        f"Born dead: {cfg.born_seeds} He-initialised zero-bias ReLU networks per width, "
        f"{cfg.born_inputs} Gaussian inputs",
        fontsize=9,
    )
    return fig


def _colors(n: int) -> list[Any]:
    """``n`` distinct colours from matplotlib's viridis map."""
    return [matplotlib.colormaps["viridis"](v) for v in np.linspace(0.0, 0.85, n)]


# ----------------------------------------------------------------------------- results


def _pct(v: float | None) -> str:
    return "diverged" if v is None else f"{100 * v:.0f}%"


def _claims(cfg: Config, res: dict[str, Any], born: dict[str, Any]) -> dict[str, bool]:
    base = _index(cfg, "learning rate", cfg.baseline_lr)
    large = _index(cfg, "learning rate", cfg.learning_rates[-1])
    low = _index(cfg, "bias", cfg.highlight_bias)
    relu = res["relu"]
    relu_large = relu[large]["dead_final"]
    narrowest = born[str(min(cfg.born_widths))]
    bias_rows = [_index(cfg, "bias", b) for b in cfg.biases]
    return {
        "relu_dies_at_large_learning_rate": relu_large is not None
        and relu_large >= 0.3
        and relu_large >= 3 * relu[base]["dead_final"],
        "dead_relus_stay_dead": relu[low]["dead_final"] is not None
        and relu[low]["dead_final"] >= 0.95 * relu[low]["dead_init"],
        # a first-layer unit dead on every training input gets exactly zero gradient
        "first_layer_dead_relus_never_recover": all(
            relu[i]["dead_final"] is not None
            and relu[i]["dead_per_layer"][0] >= relu[i]["dead_per_layer_init"][0]
            for i in bias_rows
        ),
        "prelu_and_elu_recover_from_negative_bias": all(
            res[n][low]["dead_final"] is not None
            and res[n][low]["dead_final"] <= 0.5 * res[n][low]["dead_init"]
            for n in ("prelu", "elu")
        ),
        "only_relu_has_units_without_gradient": all(
            row["zero_grad_final"] in (None, 0.0)
            for n in ("leaky_relu", "prelu", "elu")
            for row in res[n]
        )
        and relu[low]["zero_grad_final"] is not None
        and relu[low]["zero_grad_final"] > 0,
        "born_dead_matches_formula": all(
            born[str(n)]["max_abs_error"] <= 0.01 or born[str(n)]["max_z_score"] <= 4.0
            for n in cfg.born_widths
        ),
        "whole_batch_death_at_most_formula": all(
            np.all(
                np.asarray(born[str(n)]["whole_batch"])
                <= np.asarray(born[str(n)]["formula"]) + 0.01
            )
            for n in cfg.born_widths
        ),
        "narrow_deep_networks_are_born_dead": narrowest["per_input"][-1] > 0.9,
    }


def _table(cfg: Config, res: dict[str, Any], born: dict[str, Any], claims: dict[str, bool]):
    def row(measurement: str, value: str, holds: bool | None) -> dict[str, str]:
        verdict = "-" if holds is None else "yes" if holds else "no"
        return {"measurement": measurement, "value": value, "claim holds": verdict}

    base = _index(cfg, "learning rate", cfg.baseline_lr)
    large = _index(cfg, "learning rate", cfg.learning_rates[-1])
    low = _index(cfg, "bias", cfg.highlight_bias)
    rows = []
    for name in ACTIVATIONS:
        b, g = res[name][base], res[name][large]
        holds = claims["relu_dies_at_large_learning_rate"] if name == "relu" else None
        rows.append(
            row(
                f"{_LABELS[name]}: dead units after training, lr {cfg.baseline_lr:g} -> "
                f"{cfg.learning_rates[-1]:g} (test accuracy)",
                f"{_pct(b['dead_final'])} -> {_pct(g['dead_final'])} "
                f"({_pct(b['test_accuracy'])} -> {_pct(g['test_accuracy'])}; "
                f"{g['diverged']}/{cfg.seeds} diverged)",
                holds,
            )
        )
    for name in ACTIVATIONS:
        r = res[name][low]
        holds = {
            "relu": claims["dead_relus_stay_dead"],
            "prelu": claims["prelu_and_elu_recover_from_negative_bias"],
            "elu": claims["prelu_and_elu_recover_from_negative_bias"],
        }.get(name)
        rows.append(
            row(
                f"{_LABELS[name]}, biases {cfg.highlight_bias:g}: dead units at init -> after "
                "(no-gradient units; test accuracy)",
                f"{_pct(r['dead_init'])} -> {_pct(r['dead_final'])} "
                f"({_pct(r['zero_grad_final'])}; {_pct(r['test_accuracy'])})",
                holds,
            )
        )
    first = [
        f"{b:g}: {_pct(res['relu'][i]['dead_per_layer_init'][0])} -> "
        f"{_pct(res['relu'][i]['dead_per_layer'][0])}"
        for b, i in ((b, _index(cfg, "bias", b)) for b in cfg.biases)
        if res["relu"][i]["dead_final"] is not None
    ]
    rows.append(
        row(
            "ReLU, first hidden layer: dead units at init -> after, per initial bias",
            "; ".join(first),
            claims["first_layer_dead_relus_never_recover"],
        )
    )
    for n in cfg.born_widths:
        b = born[str(n)]
        rows.append(
            row(
                f"born dead, N = {n}, L = {cfg.born_depth}: one input zeroed, measured vs "
                "1 - (1 - 2^-N)^L (whole batch)",
                f"{b['per_input'][-1]:.3f} +- {b['per_input_stderr'][-1]:.3f} vs "
                f"{b['formula'][-1]:.3f} ({b['whole_batch'][-1]:.3f})",
                claims["born_dead_matches_formula"],
            )
        )
    return rows


def _summary(cfg: Config, res: dict[str, Any], born: dict[str, Any]) -> str:
    base = _index(cfg, "learning rate", cfg.baseline_lr)
    large = _index(cfg, "learning rate", cfg.learning_rates[-1])
    low = _index(cfg, "bias", cfg.highlight_bias)
    relu, leaky, prelu, elu = (res[n] for n in ACTIVATIONS)
    lr_hi = cfg.learning_rates[-1]

    def diverged_note(name: str) -> str:
        r = res[name][large]
        if r["dead_final"] is None:
            return f"{_LABELS[name]} diverged (NaN) in every seed"
        return f"{_LABELS[name]} ended with {_pct(r['dead_final'])} ({_pct(r['test_accuracy'])})"

    n_small, n_big = min(cfg.born_widths), max(cfg.born_widths)
    small, big = born[str(n_small)], born[str(n_big)]
    worst = max(born[str(n)]["max_abs_error"] for n in cfg.born_widths)
    return (
        f"With full-batch gradient descent on {res['train_size']} digits (MLP 64-{cfg.width}x{cfg.depth}-10, {cfg.seeds} seeds, "
        f"{cfg.segments * cfg.segment_steps} steps), raising the learning rate from "
        f"{cfg.baseline_lr:g} to {lr_hi:g} raised the fraction of dead ReLUs (never active on "
        f"any training image) from {_pct(relu[base]['dead_final'])} to "
        f"{_pct(relu[large]['dead_final'])}, and test accuracy fell from "
        f"{_pct(relu[base]['test_accuracy'])} to {_pct(relu[large]['test_accuracy'])}; at that "
        f"rate {diverged_note('leaky_relu')}, {diverged_note('prelu')} and "
        f"{diverged_note('elu')}, so a large step kills ReLUs rather than making them diverge. "
        f"Initialising every hidden bias at {cfg.highlight_bias:g} left "
        f"{_pct(relu[low]['dead_init'])} of the ReLUs dead, and "
        f"{_pct(relu[low]['dead_final'])} were still dead after training (test accuracy "
        f"{_pct(relu[low]['test_accuracy'])}): a dead ReLU gets no gradient. PReLU "
        f"({_pct(prelu[low]['dead_init'])} -> {_pct(prelu[low]['dead_final'])}, accuracy "
        f"{_pct(prelu[low]['test_accuracy'])}) and ELU ({_pct(elu[low]['dead_init'])} -> "
        f"{_pct(elu[low]['dead_final'])}, {_pct(elu[low]['test_accuracy'])}) recovered; leaky "
        f"ReLU units still pass gradient (no unit without one) but its 0.01 slope revived few "
        f"within the run ({_pct(leaky[low]['dead_init'])} -> {_pct(leaky[low]['dead_final'])}, "
        f"{_pct(leaky[low]['test_accuracy'])}). At initialisation, narrow deep zero-bias ReLU "
        f"networks are born dead: over {cfg.born_seeds} networks per width, the probability that "
        f"{cfg.born_depth} layers zero a given input was {small['per_input'][-1]:.3f} for "
        f"N = {n_small} (formula 1 - (1 - 2^-N)^L: {small['formula'][-1]:.3f}) and "
        f"{big['per_input'][-1]:.3f} for N = {n_big} (formula {big['formula'][-1]:.3f}); the "
        f"largest gap over all widths and depths was {worst:.3f}. Killing a whole batch of "
        f"{cfg.born_inputs} inputs is rarer ({small['whole_batch'][-1]:.3f} and "
        f"{big['whole_batch'][-1]:.3f}), as the formula is exact only for a single input."
    )


def run(
    out_dir: str | os.PathLike,
    *,
    quick: bool = False,
    seed: int = 0,
    config: Config | None = None,
) -> dict[str, Any]:
    """Run the experiment and write its data and figures into ``out_dir``.

    Args:
      out_dir: output folder (created).
      quick: use :meth:`Config.quick` (seconds) instead of :meth:`Config.full`.
      seed: seed of the data split, the initial weights and the born-dead networks.
      config: explicit settings; overrides ``quick``.

    Returns:
      The dict written to ``dying_relu.json``: ``title``, ``summary``, ``figures``, ``table``,
      ``claims``, ``config``; ``training`` (per activation, one entry per condition of
      ``training["conditions"]``: dead fraction by measurement step, per layer at the end, at
      init and at the end, no-gradient fraction, test accuracy, loss curve, diverged seeds) and
      ``born_dead`` (per width: measured probabilities by depth and the formula).
    """
    cfg = _setup.config(Config, quick=quick, seed=seed, config=config)
    _check(cfg)
    out = _setup.out_folder(out_dir)

    training = _train(cfg, seed)
    born = _born_dead(cfg, seed)
    claims = _claims(cfg, training, born)
    figures = []
    for stem, fig in (
        ("dying_relu_training", _training_figure(cfg, training)),
        ("born_dead", _born_figure(cfg, born)),
    ):
        figures += [p.name for p in plot.save(fig, out / stem)]
    result: dict[str, Any] = {
        "title": "Dying ReLU: dead units in training, and networks born dead",
        "summary": _summary(cfg, training, born),
        "figures": figures,
        "table": _table(cfg, training, born, claims),
        "experiment": NAME,
        "quick": cfg == Config.quick(),
        "seed": seed,
        "config": dataclasses.asdict(cfg),
        "training": training,
        "born_dead": born,
        "claims": claims,
    }
    write_json(out / f"{NAME}.json", result)
    return result
