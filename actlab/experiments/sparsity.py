r"""Activation sparsity: ReLU outputs exact zeros, smooth activations almost never do.

A ReLU unit outputs exactly 0 whenever its pre-activation is ``<= 0``; with He initialisation and
zero biases the pre-activations are symmetric about 0, so about half of every layer is zero for
each input (Glorot, Bordes and Bengio 2011 argue that this sparsity helps). GELU, SiLU, ELU,
softplus and tanh are smooth and vanish only at isolated points (or never), so their outputs are
dense: small, but not zero.

:func:`run` trains ``MLP(64, [width] * depth, 10)`` on scikit-learn's digits with each
activation, from the same He-initialised weights (zero biases), as one vmapped ensemble over
activations x seeds (:class:`actlab.models.ActivationChoice`). Before and after
training it measures per layer, on the training images, with
:func:`actlab.gradflow.ensemble_unit_stats`: the fraction of outputs that are exactly zero
(per example, averaged), the fraction within ``near_zero`` of zero, and ReLU's dead units. Writes
``sparsity.json`` and the figure ``sparsity`` (PNG and SVG).

References:
  Glorot, Bordes and Bengio, "Deep sparse rectifier neural networks", AISTATS 2011.

Example::

    >>> from actlab.experiments import sparsity
    >>> result = sparsity.run("out/sparsity", quick=True)
    >>> result["claims"]["smooth_activations_have_no_exact_zeros_at_init"]
    True
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import optax
from matplotlib.figure import Figure

from actlab import data, train
from actlab.experiments import _setup
from actlab.experiments._setup import DigitsNetwork, Presets
from actlab.gradflow import ensemble_unit_stats

__all__ = ["ACTIVATIONS", "Config", "run"]

NAME = "sparsity"
LOSS = "softmax_cross_entropy"
ACTIVATIONS = ("relu", "gelu", "silu", "elu", "softplus", "tanh")
_COLORS = dict(zip(ACTIVATIONS, ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f"), strict=True))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      width: hidden units per layer.
      depth: hidden layers.
      seeds: initialisations per activation.
      steps: full-batch Adam steps.
      learning_rate: Adam's learning rate.
      near_zero: an output counts as near zero where ``|phi(z)| <=`` this.
      train_size: training images used (the first ones of the split); ``None``: all 1347.
    """

    width: int = 64
    depth: int = 4
    seeds: int = 4
    steps: int = 500
    learning_rate: float = 0.003
    near_zero: float = 0.01
    train_size: int | None = None

    @classmethod
    def quick(cls) -> Config:
        """Seconds: three layers, two seeds, 300 steps on 512 images."""
        return cls(depth=3, seeds=2, steps=300, learning_rate=0.01, train_size=512)


def _measure(ens: train.Ensemble, x: np.ndarray, cfg: Config, shape: tuple[int, int]) -> dict:
    exact = ensemble_unit_stats(ens, x)
    near = ensemble_unit_stats(ens, x, zero_tol=cfg.near_zero)

    def per(a: Any) -> np.ndarray:  # (activations, seeds, layers)
        return np.asarray(a).reshape(*shape, cfg.depth)

    return {
        "exact": per(exact.sparsity),
        "near": per(near.sparsity),
        "dead": per(exact.dead),
    }


def _train(cfg: Config, seed: int) -> dict[str, Any]:
    train_set, test_set = data.digits(seed=seed)
    x, y = train_set.x[: cfg.train_size], train_set.y[: cfg.train_size]
    base = train.init_ensemble(
        DigitsNetwork(cfg.width, cfg.depth, ACTIVATIONS),
        [seed * 1000 + i for i in range(cfg.seeds)],
    )
    ens = train.concat([train.choose_activation(base, k) for k in range(len(ACTIVATIONS))])
    shape = (len(ACTIVATIONS), cfg.seeds)
    before = _measure(ens, x, cfg, shape)
    ens = train.fit_ensemble(
        ens,
        x,
        y,
        optimizer=optax.adam(cfg.learning_rate),
        loss=LOSS,
        steps=cfg.steps,
        record_every=max(1, cfg.steps // 50),
        layer_steps=[cfg.steps - 1],
        progress=False,
    )
    after = _measure(ens, x, cfg, shape)
    accuracy = ens.evaluate(test_set.x, test_set.y, loss=LOSS).accuracy.reshape(shape)
    train_loss = ens.history.loss.reshape(*shape, -1)
    result: dict[str, Any] = {"train_size": int(x.shape[0])}
    for a, name in enumerate(ACTIVATIONS):
        result[name] = {
            "exact_zero_init": before["exact"][a].mean(0).tolist(),
            "exact_zero_trained": after["exact"][a].mean(0).tolist(),
            "near_zero_init": before["near"][a].mean(0).tolist(),
            "near_zero_trained": after["near"][a].mean(0).tolist(),
            "dead_init": before["dead"][a].mean(0).tolist(),
            "dead_trained": after["dead"][a].mean(0).tolist(),
            "final_train_loss": float(train_loss[a, :, -1].mean()),
            "test_accuracy": float(accuracy[a].mean()),
        }
    return result


# ----------------------------------------------------------------------------- figure


def _figure(cfg: Config, res: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(13.5, 4.2), layout="constrained")
    ax_exact, ax_near, ax_acc = fig.subplots(1, 3, width_ratios=[1.2, 1.2, 0.8])
    layers = np.arange(1, cfg.depth + 1)
    for name in ACTIVATIONS:
        r, color = res[name], _COLORS[name]
        for ax, key in ((ax_exact, "exact_zero"), (ax_near, "near_zero")):
            ax.plot(layers, 100 * np.asarray(r[f"{key}_trained"]), "o-", color=color, label=name)
            ax.plot(layers, 100 * np.asarray(r[f"{key}_init"]), "o--", mfc="none", color=color)
    ax_acc.bar(
        range(len(ACTIVATIONS)),
        [100 * res[n]["test_accuracy"] for n in ACTIVATIONS],
        color=[_COLORS[n] for n in ACTIVATIONS],
    )
    ax_acc.set_xticks(range(len(ACTIVATIONS)), ACTIVATIONS, rotation=30)
    ax_acc.set_ylim(0, 100)
    ax_acc.set_ylabel("test accuracy (%)")
    ax_exact.set_title("outputs exactly 0 (solid: trained, dashed: at init)", fontsize=9)
    ax_near.set_title(f"outputs with |phi(z)| <= {cfg.near_zero:g}", fontsize=9)
    ax_acc.set_title("after training", fontsize=9)
    for ax in (ax_exact, ax_near):
        ax.set_xlabel("hidden layer")
        ax.set_ylabel("fraction of a layer's outputs, per example (%)")
        ax.set_xticks(layers)
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    ax_exact.legend(fontsize=8)
    fig.suptitle(
        f"Activation sparsity: MLP 64-{cfg.width}x{cfg.depth}-10 on {res['train_size']} digits, "
        f"He initialisation, {cfg.steps} Adam steps, {cfg.seeds} seeds (means)"
    )
    return fig


# ----------------------------------------------------------------------------- results


def _claims(res: dict[str, Any]) -> dict[str, bool]:
    relu = res["relu"]
    smooth = [n for n in ACTIVATIONS if n != "relu"]
    smooth_trained = max(float(np.mean(res[n]["exact_zero_trained"])) for n in smooth)
    return {
        "relu_half_sparse_at_init": all(abs(v - 0.5) <= 0.1 for v in relu["exact_zero_init"]),
        "relu_remains_sparse_after_training": all(v >= 0.2 for v in relu["exact_zero_trained"]),
        "smooth_activations_have_no_exact_zeros_at_init": all(
            v <= 1e-3 for n in smooth for v in res[n]["exact_zero_init"]
        ),
        "relu_far_sparser_than_smooth_after_training": float(np.mean(relu["exact_zero_trained"]))
        >= 5 * smooth_trained,
    }


def _pcts(values: list[float]) -> str:
    return ", ".join(f"{100 * v:.0f}" for v in values) + " %"


def _table(res: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "activation": name,
            "exactly 0 per layer, init": _pcts(res[name]["exact_zero_init"]),
            "exactly 0 per layer, trained": _pcts(res[name]["exact_zero_trained"]),
            "near 0 per layer, trained": _pcts(res[name]["near_zero_trained"]),
            "dead units per layer, trained": _pcts(res[name]["dead_trained"]),
            "test accuracy": f"{100 * res[name]['test_accuracy']:.1f}%",
        }
        for name in ACTIVATIONS
    ]


def _summary(cfg: Config, res: dict[str, Any]) -> str:
    relu = res["relu"]
    smooth = [n for n in ACTIVATIONS if n != "relu"]
    zeros = {n: max(res[n]["exact_zero_trained"]) for n in smooth}
    most = max(zeros, key=zeros.get)
    near = {n: float(np.mean(res[n]["near_zero_trained"])) for n in smooth}
    nearest = max(near, key=near.get)
    accuracy = ", ".join(f"{n} {100 * res[n]['test_accuracy']:.1f}%" for n in ACTIVATIONS)
    underflow = (
        f" The exact zeros of trained GELU units (up to {100 * zeros['gelu']:.1f}% of a layer) "
        "are float32 underflow, not sparsity: x Phi(x) falls below the smallest normal float32 "
        "for x < -13.2."
        if zeros["gelu"] > 0
        else ""
    )
    return (
        f"At He initialisation with zero biases, {_pcts(relu['exact_zero_init'])} of each ReLU "
        f"layer's outputs (layers 1 to {cfg.depth}) were exactly zero for a typical digit, as "
        f"symmetric pre-activations predict (one half); after {cfg.steps} Adam steps the "
        f"fractions were {_pcts(relu['exact_zero_trained'])} (dead units: "
        f"{_pcts(relu['dead_trained'])}). GELU, SiLU, ELU, softplus and tanh, from the same "
        f"weights, had no exact zeros at initialisation and at most "
        f"{100 * zeros[most]:.2g}% in any layer after training ({most}).{underflow} Their "
        f"sparsity is only approximate: after training the largest share of outputs within "
        f"{cfg.near_zero:g} of zero was {100 * near[nearest]:.0f}% ({nearest}, mean over "
        f"layers) against {100 * np.mean(relu['near_zero_trained']):.0f}% for ReLU. Test "
        f"accuracies: {accuracy}; exact sparsity is not what separates them here."
    )


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``sparsity.json``: ``title``, ``summary``, ``figures``, ``table`` (one
    row per activation), ``claims``, ``config``, and per activation the per-layer fractions
    of exactly-zero and near-zero outputs and of dead units, at init and after training
    (seed means), the final training loss and the test accuracy.
    """

    res = _train(cfg, seed)
    return _setup.finish(
        out, NAME, cfg, seed=seed,
        title="Activation sparsity: ReLU against smooth activations",
        summary=_summary(cfg, res), table=_table(res), claims=_claims(res),
        figures={NAME: _figure(cfg, res)},
        data={**{name: res[name] for name in ACTIVATIONS}, "train_size": res["train_size"]},
    )  # fmt: skip
