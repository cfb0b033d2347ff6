r"""Exploding gradients in a deep tanh network, and three remedies side by side.

Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) says that the squared norm of the
back-propagated gradient is multiplied by ``chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]`` per layer.
For tanh with weight variance ``sigma_w2 = 16`` and bias variance ``sigma_b2 = 0.05``,
``chi_1 = 2.37``: the network is deep in the chaotic phase and gradients grow by
``sqrt(chi_1) = 1.54`` per layer towards the input, so a 10-layer network's first layer gets a
gradient tens of times larger than its last, and gradient descent takes huge steps there.

:func:`run` trains ``MLP(64, [width] * depth, 10, activation="tanh")`` on scikit-learn's digits
with full-batch gradient descent, from the same seeds, in four ways:

* ``chaotic``: ``sigma_w2 = 16``, plain SGD;
* ``clipped``: the same network, ``optax.chain(optax.clip_by_global_norm(5.0), optax.sgd(lr))``;
* ``batchnorm``: the same weights' distribution with ``MLP(norm="batch")``, plain SGD;
* ``critical``: ``sigma_w2 = critical_sigma_w2("tanh", 0.05)`` (``chi_1 = 1``, the edge of
  chaos), plain SGD.

It records the training loss, the global gradient norm (what ``clip_by_global_norm`` sees, before
clipping), and every layer's weight-gradient norm at the first step, beside the mean-field
prediction ``sqrt(chi_1)`` per layer. The chaotic and critical networks train as one ensemble
(``init_scales``), each remedy as one more. Writes ``exploding_gradients.json`` and the figures
``exploding_gradients`` and ``exploding_gradients_phase`` (tanh's order-to-chaos phase diagram,
:func:`actlab.gradflow.phase_diagram`, with the chaotic and critical networks marked), PNG and
SVG.

References:
  Pascanu, Mikolov and Bengio, "On the difficulty of training recurrent neural networks", ICML
  2013 (gradient clipping). Ioffe and Szegedy, "Batch normalization", ICML 2015. Schoenholz et
  al., "Deep information propagation", ICLR 2017. Yang et al., "A mean field theory of batch
  normalization", ICLR 2019 (batch norm itself makes deep networks' gradients grow with depth).

Example::

    >>> from actlab.experiments import exploding_gradients
    >>> result = exploding_gradients.run("out/exploding_gradients", quick=True)
    >>> result["claims"]["gradients_explode_at_init"]
    True
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import optax
from matplotlib.figure import Figure

from actlab import data, plot, train
from actlab.experiments import _setup
from actlab.experiments._setup import Presets
from actlab.gradflow import PhaseDiagram, chi1, critical_sigma_w2, phase_diagram
from actlab.models import MLP

__all__ = ["CLIP_NORM", "VARIANTS", "Config", "clipped_sgd", "run"]

NAME = "exploding_gradients"
LOSS = "softmax_cross_entropy"
CLIP_NORM = 5.0
VARIANTS = ("chaotic", "clipped", "batchnorm", "critical")
_LABELS = {
    "chaotic": "sigma_w^2 = {sw:g} (chaotic), SGD",
    "clipped": "sigma_w^2 = {sw:g} + clip_by_global_norm(5)",
    "batchnorm": "sigma_w^2 = {sw:g} + BatchNorm",
    "critical": "sigma_w^2 = {crit:.3f} (critical), SGD",
}
_COLORS = {
    "chaotic": "#d62728",
    "clipped": "#ff7f0e",
    "batchnorm": "#9467bd",
    "critical": "#2ca02c",
}


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      depth: hidden layers.
      width: units per hidden layer.
      sigma_w2: weight variance (times fan-in) of the exploding network.
      sigma_b2: bias variance of every network.
      seeds: initialisations per variant and learning rate.
      steps: full-batch gradient-descent steps.
      learning_rates: learning rates tried, increasing.
      highlight_lr: the learning rate whose curves are drawn; one of ``learning_rates``.
      train_size: training images used (the first ones of the split); ``None``: all 1347.
      phase_grid: ``(n_w, n_b)`` points of the phase diagram's grid, ``sigma_w2`` from 0.5 to
        ``1.25 * sigma_w2`` and ``sigma_b2`` from 0 to ``4 * sigma_b2``.
    """

    depth: int = 20
    width: int = 32
    sigma_w2: float = 16.0
    sigma_b2: float = 0.05
    seeds: int = 3
    steps: int = 500
    learning_rates: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3)
    highlight_lr: float = 0.1
    train_size: int | None = 512
    phase_grid: tuple[int, int] = (40, 9)

    @classmethod
    def quick(cls) -> Config:
        """Seconds: 10 layers, two seeds, two learning rates, 150 steps on 256 images."""
        return cls(
            depth=10,
            seeds=2,
            steps=150,
            learning_rates=(0.01, 0.1),
            highlight_lr=0.1,
            train_size=256,
            phase_grid=(12, 4),
        )

    def check(self) -> None:
        """``ValueError`` unless ``highlight_lr`` is one of ``learning_rates``."""
        if self.highlight_lr not in self.learning_rates:
            raise ValueError(
                f"Config: highlight_lr: expected one of {self.learning_rates}, received "
                f"{self.highlight_lr}"
            )


def clipped_sgd(learning_rate: float) -> optax.GradientTransformation:
    """``clip_by_global_norm(CLIP_NORM)`` then SGD: the optimizer of the ``clipped`` variant."""
    return optax.chain(optax.clip_by_global_norm(CLIP_NORM), optax.sgd(learning_rate))


@dataclasses.dataclass(frozen=True)
class _Network:
    """``rngs -> MLP(64, [width] * depth, 10, activation="tanh")``, equal by value."""

    depth: int
    width: int
    sigma_w2: float
    sigma_b2: float
    norm: str | None = None

    def __call__(self, rngs: Any) -> MLP:
        return MLP(
            64,
            [self.width] * self.depth,
            10,
            activation="tanh",
            init="lecun",
            sigma_w2=self.sigma_w2,
            sigma_b2=self.sigma_b2,
            norm=self.norm,
            rngs=rngs,
        )


def _fit(ensemble: train.Ensemble, x: Any, y: Any, optimizer: Any, cfg: Config) -> Any:
    return train.fit_ensemble(
        ensemble,
        x,
        y,
        optimizer=optimizer,
        loss=LOSS,
        steps=cfg.steps,
        record_every=max(1, cfg.steps // 100),
        layer_steps=[0, cfg.steps - 1],
        progress=False,
        on_nonfinite="continue",
    )


def _summarise(
    ens: train.Ensemble, test: data.Dataset, cfg: Config, shape: tuple[int, ...]
) -> list[dict[str, Any]]:
    """Per learning rate: seed-averaged curves and per-layer norms of the finite members."""
    h = ens.history
    ok = train.finite_members(ens).reshape(shape)
    accuracy = ens.evaluate(test.x, test.y, loss=LOSS).accuracy.reshape(shape)
    layers = np.stack([h.layer_grad_norms[f"hidden/{i}"] for i in range(cfg.depth)], axis=-1)
    out = []
    for j in range(shape[1]):
        good = ok[:, j]

        def mean(a: np.ndarray, good: np.ndarray = good) -> list[float] | None:
            return np.mean(a[good], axis=0).tolist() if good.any() else None

        def member(a: np.ndarray, j: int = j) -> np.ndarray:
            return a.reshape(*shape, *a.shape[1:])[:, j]

        loss, grad, acc = member(h.loss), member(h.grad_norm), member(h.accuracy)
        out.append(
            {
                "learning_rate": cfg.learning_rates[j],
                "diverged": int((~good).sum()),
                "loss": mean(loss),
                "grad_norm": mean(grad),
                "train_accuracy": mean(acc),
                "initial_grad_norm": float(np.mean(grad[:, 0])),
                "final_loss": None if not good.any() else float(np.mean(loss[good, -1])),
                "final_train_accuracy": None if not good.any() else float(np.mean(acc[good, -1])),
                "test_accuracy": None if not good.any() else float(np.mean(accuracy[good, j])),
                "layer_grad_norms_init": np.mean(member(layers)[:, 0], axis=0).tolist(),
                "layer_grad_norms_final": mean(member(layers)[:, -1]),
            }
        )
    return out


def _train(cfg: Config, seed: int) -> dict[str, Any]:
    train_set, test_set = data.digits(seed=seed)
    x, y = train_set.x[: cfg.train_size], train_set.y[: cfg.train_size]
    crit = critical_sigma_w2("tanh", cfg.sigma_b2)
    seeds = [seed * 1000 + i for i in range(cfg.seeds)]
    plain = _Network(cfg.depth, cfg.width, cfg.sigma_w2, cfg.sigma_b2)
    # one draw for all variants (building compiles the random initialisers, slow on a CPU):
    # batch-norm members, and the same kernels rescaled to the critical variance
    drawn = train.init_ensemble(
        dataclasses.replace(plain, norm="batch"),
        seeds,
        learning_rates=cfg.learning_rates,
        init_scales=[1.0, crit / cfg.sigma_w2],
    )
    scale = np.arange(drawn.size).reshape(-1, 2)  # members: seeds x learning rates x scales
    normed = train.select(drawn, scale[:, 0])
    both = _fit(train.rebuild(drawn, plain, drop="norms"), x, y, optax.sgd, cfg)
    chaotic = train.rebuild(normed, plain, drop="norms")
    shape = (cfg.seeds, len(cfg.learning_rates))
    runs = {
        "chaotic": _summarise(train.select(both, scale[:, 0]), test_set, cfg, shape),
        "critical": _summarise(train.select(both, scale[:, 1]), test_set, cfg, shape),
        "clipped": _summarise(_fit(chaotic, x, y, clipped_sgd, cfg), test_set, cfg, shape),
        "batchnorm": _summarise(_fit(normed, x, y, optax.sgd, cfg), test_set, cfg, shape),
    }
    n_w, n_b = cfg.phase_grid
    phases = phase_diagram(
        ["tanh"], np.linspace(0.5, 1.25 * cfg.sigma_w2, n_w), np.linspace(0.0, 4 * cfg.sigma_b2, n_b),
        n_critical=n_b,
    )  # fmt: skip
    return {
        "critical_sigma_w2": crit,
        "chi1": {"chaotic": chi1("tanh", cfg.sigma_w2, cfg.sigma_b2), "critical": 1.0},
        "phase_diagram": phases.to_dict(),
        "steps": [int(s) for s in both.history.step],
        "train_size": int(x.shape[0]),
        **{name: runs[name] for name in VARIANTS},
    }


# ----------------------------------------------------------------------------- figure


def _label(name: str, cfg: Config, res: dict[str, Any]) -> str:
    return _LABELS[name].format(sw=cfg.sigma_w2, crit=res["critical_sigma_w2"])


def _figure(cfg: Config, res: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(15.5, 4.3), layout="constrained")
    ax_loss, ax_grad, ax_layers, ax_lr = fig.subplots(1, 4)
    j = cfg.learning_rates.index(cfg.highlight_lr)
    steps = np.asarray(res["steps"])
    layers = np.arange(1, cfg.depth + 1)
    for name in VARIANTS:
        r, color = res[name][j], _COLORS[name]
        label = _label(name, cfg, res)
        if r["loss"] is not None:
            ax_loss.plot(steps, r["loss"], color=color, label=label)
            ax_grad.plot(steps, r["grad_norm"], color=color, label=label)
        ax_layers.plot(layers, r["layer_grad_norms_init"], "o-", ms=3, color=color, label=label)
        finals = [row["final_loss"] for row in res[name]]
        lrs = [lr for lr, v in zip(cfg.learning_rates, finals, strict=True) if v is not None]
        ax_lr.plot(lrs, [v for v in finals if v is not None], "o-", color=color, label=label)
    # mean-field slope: |grad W_l| grows by sqrt(chi_1) per layer towards the input
    for name in ("chaotic", "critical"):
        top = res[name][j]["layer_grad_norms_init"][-1]
        gain = math.sqrt(res["chi1"][name])
        ax_layers.plot(layers, top * gain ** (cfg.depth - layers), ":", color=_COLORS[name], lw=1.2)
    ax_grad.axhline(CLIP_NORM, color="k", lw=0.8, ls="--")
    ax_loss.set_title(f"training loss, learning rate {cfg.highlight_lr:g}", fontsize=9)
    ax_grad.set_title("global gradient norm (before clipping); dashed: 5", fontsize=9)
    ax_layers.set_title(
        "weight-gradient norm per layer at step 0\ndotted: mean-field sqrt(chi_1) per layer",
        fontsize=9,
    )
    ax_lr.set_title("final training loss (finite runs)", fontsize=9)
    for ax in (ax_loss, ax_grad):
        ax.set_xlabel("gradient-descent step")
    ax_layers.set_xlabel("hidden layer (1 = next to the input)")
    ax_lr.set_xlabel("learning rate")
    ax_lr.set_xscale("log")
    for ax in (ax_loss, ax_grad, ax_layers, ax_lr):
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    ax_layers.legend(fontsize=7)
    fig.suptitle(
        f"Exploding gradients: tanh MLP 64-{cfg.width}x{cfg.depth}-10 on {res['train_size']} "
        f"digits, full-batch gradient descent, {cfg.seeds} seeds (means)"
    )
    return fig


def _phase_figure(cfg: Config, res: dict[str, Any]) -> Figure:
    points = [
        (cfg.sigma_w2, cfg.sigma_b2, "chaotic"),
        (res["critical_sigma_w2"], cfg.sigma_b2, "critical"),
    ]
    fig = plot.phase_diagram(PhaseDiagram.from_dict(res["phase_diagram"]), points=points)
    fig.suptitle(
        f"Where the networks start: tanh, sigma_b2 = {cfg.sigma_b2:g}; chi_1 = "
        f"{res['chi1']['chaotic']:.2f} at sigma_w2 = {cfg.sigma_w2:g}, 1 at "
        f"{res['critical_sigma_w2']:.3f}",
        fontsize=9,
    )
    return fig


# ----------------------------------------------------------------------------- results


def _claims(cfg: Config, res: dict[str, Any]) -> dict[str, bool]:
    j = cfg.learning_rates.index(cfg.highlight_lr)
    r = {name: res[name][j] for name in VARIANTS}

    def ratio(name: str) -> float:
        layers = r[name]["layer_grad_norms_init"]
        return layers[0] / layers[-1]

    def final(name: str, k: int) -> float:
        v = res[name][k]["final_loss"]
        return math.inf if v is None else v

    chaotic_norm = r["chaotic"]["initial_grad_norm"]
    top = len(cfg.learning_rates) - 1
    return {
        "gradients_explode_at_init": chaotic_norm >= 10 * r["critical"]["initial_grad_norm"],
        "explosion_grows_towards_the_input": ratio("chaotic") >= 10 and ratio("critical") <= 3,
        "batchnorm_and_critical_init_remove_most_of_the_explosion": all(
            r[name]["initial_grad_norm"] <= chaotic_norm / 5
            and ratio(name) <= ratio("chaotic") / 10
            for name in ("batchnorm", "critical")
        ),
        "chaotic_trains_worse_than_critical": all(
            final("chaotic", k) > final("critical", k) for k in range(top + 1)
        ),
        "clipping_rescues_the_largest_learning_rate": final("clipped", top) < final("chaotic", top),
        "critical_initialisation_trains": r["critical"]["final_train_accuracy"] is not None
        and r["critical"]["final_train_accuracy"] >= 0.9,
    }


def _fmt(v: float | None, spec: str = ".3g") -> str:
    return "diverged" if v is None else format(v, spec)


def _table(cfg: Config, res: dict[str, Any], claims: dict[str, bool]) -> list[dict[str, str]]:
    rows = []
    for name in VARIANTS:
        for r in res[name]:
            layers = r["layer_grad_norms_init"]
            rows.append(
                {
                    "variant": _label(name, cfg, res),
                    "learning rate": f"{r['learning_rate']:g}",
                    "gradient norm at step 0": _fmt(r["initial_grad_norm"]),
                    "layer 1 / layer L gradient at step 0": _fmt(layers[0] / layers[-1]),
                    "final training loss": _fmt(r["final_loss"]),
                    "final training accuracy": _fmt(r["final_train_accuracy"], ".1%"),
                    "test accuracy": _fmt(r["test_accuracy"], ".1%"),
                    "diverged seeds": f"{r['diverged']}/{cfg.seeds}",
                }
            )
    return rows


def _summary(cfg: Config, res: dict[str, Any], claims: dict[str, bool]) -> str:
    j = cfg.learning_rates.index(cfg.highlight_lr)
    r = {name: res[name][j] for name in VARIANTS}
    ch, cr = r["chaotic"], r["critical"]
    gain = math.sqrt(res["chi1"]["chaotic"])
    top = cfg.learning_rates[-1]

    def ratio(name: str) -> float:
        layers = r[name]["layer_grad_norms_init"]
        return layers[0] / layers[-1]

    def result(name: str, k: int = j) -> str:
        row = res[name][k]
        if row["final_loss"] is None:
            return "diverged"
        return f"{row['final_loss']:.3g} ({row['final_train_accuracy']:.0%})"

    if claims["clipping_rescues_the_largest_learning_rate"]:
        clipping = (
            "Clipping caps each step, so the largest learning rate stays usable, but it leaves "
            "the layers' gradients badly scaled against each other."
        )
    else:
        clipping = (
            "Clipping did not rescue training: it caps the global norm, and with the first "
            f"layer's gradient {ratio('chaotic'):.0f}x the last layer's the capped step leaves "
            "the last layers almost still."
        )

    def best(name: str) -> str:
        finite = [row for row in res[name] if row["final_loss"] is not None]
        if not finite:
            return "diverged at every rate"
        row = min(finite, key=lambda row: row["final_loss"])
        return f"{row['final_loss']:.3g} at {row['learning_rate']:g}"

    return (
        f"A {cfg.depth}-layer tanh network with sigma_w^2 = {cfg.sigma_w2:g} is chaotic "
        f"(chi_1 = {res['chi1']['chaotic']:.2f}; mean-field theory predicts gradients growing "
        f"by {gain:.2f} per layer towards the input, {gain ** (cfg.depth - 1):.0f}x over the "
        f"network): at the first step its global gradient norm was "
        f"{ch['initial_grad_norm']:.3g} against {cr['initial_grad_norm']:.3g} at the critical "
        f"sigma_w^2 = {res['critical_sigma_w2']:.3f}, and its first layer's gradient was "
        f"{ratio('chaotic'):.0f}x its last layer's (critical {ratio('critical'):.1f}x, batch "
        f"norm {ratio('batchnorm'):.1f}x). After {cfg.steps} full-batch gradient-descent steps "
        f"at learning rate {cfg.highlight_lr:g}, the training loss (accuracy) was "
        f"{result('chaotic')} for the chaotic network, {result('clipped')} with "
        f"clip_by_global_norm(5), {result('batchnorm')} with batch norm and {result('critical')} "
        f"with the critical initialisation"
        + (
            ""
            if top == cfg.highlight_lr
            else f"; at learning rate {top:g} the chaotic network reached "
            f"{result('chaotic', -1)} and the clipped one {result('clipped', -1)}"
        )
        + ". Best final losses "
        f"over the learning rates: chaotic {best('chaotic')}, clipped {best('clipped')}, batch "
        f"norm {best('batchnorm')}, critical {best('critical')}. {clipping} Batch norm and the "
        f"critical initialisation remove the explosion at its source; on test images the "
        f"critical network generalised better ({_fmt(cr['test_accuracy'], '.0%')} against "
        f"{_fmt(r['batchnorm']['test_accuracy'], '.0%')} with batch norm at learning rate "
        f"{cfg.highlight_lr:g})."
    )


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``exploding_gradients.json``: ``title``, ``summary``, ``figures``,
    ``table`` (one row per variant and learning rate), ``claims``, ``config``, and per
    variant a list over learning rates of seed-averaged loss, gradient-norm and accuracy
    curves (at ``steps``), per-layer gradient norms at the first and last step, final losses
    and accuracies; ``critical_sigma_w2`` and ``chi1``.
    """
    res = _train(cfg, seed)
    claims = _claims(cfg, res)
    return _setup.finish(
        out, NAME, cfg, seed=seed, title="Exploding gradients and their remedies",
        summary=_summary(cfg, res, claims), table=_table(cfg, res, claims), claims=claims,
        figures={NAME: _figure(cfg, res), f"{NAME}_phase": _phase_figure(cfg, res)}, data=res,
    )  # fmt: skip
