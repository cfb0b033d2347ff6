r"""Local complexity during training: where do the linear regions of a digits classifier go?

Humayun, Balestriero and Baraniuk (2024) track the *local complexity* of a network, the number of
hidden units whose kink crosses a small neighbourhood of a point
(:func:`actlab.regions.local_complexity`), through training, and describe a "grokking" shape: a
first change as the network fits the data, then, long after the training error is zero, a fall
of the local complexity at the training points (the regions migrate away from the data) while the
test accuracy still improves.

:func:`run` trains ``MLP(64, [width] * depth, 10)`` on scikit-learn's digits with ReLU and with
leaky ReLU, from the same initial weights (scaled up by ``init_scale``, as in the grokking
literature) and several seeds, as one vmapped ensemble: full-batch gradient descent with weight
decay (stateless, so training in segments is exact). At checkpoints spread over the run (dense
early, then evenly) it measures the local complexity per layer, in a cross-polytope of radius
``radius`` on ``directions`` random orthonormal directions (one frame, drawn from the seed and
shared by every point), at training images, at held-out test
images and at random points of the pixel box ``[0, 1]^64`` (far from the digits), and the train and
test accuracies. The claims are read off the measured curves. Writes ``local_complexity.json`` and
the figure ``local_complexity`` (PNG and SVG).

References:
  Humayun, Balestriero and Baraniuk, "Deep networks always grok and here is why", ICML 2024.

Example::

    >>> from actlab.experiments import local_complexity
    >>> result = local_complexity.run("out/local_complexity", quick=True)
    >>> result["claims"]["lc_at_training_points_falls_late"]
    True
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from actlab import activations as A
from actlab import data, regions, train
from actlab.experiments import _setup
from actlab.experiments._setup import DigitsNetwork, Presets

__all__ = ["ACTIVATIONS", "POINT_SETS", "Config", "run"]

NAME = "local_complexity"
LOSS = "softmax_cross_entropy"
ACTIVATIONS = ("relu", "leaky_relu")
_CHOICES = ("relu", A.get("leaky_relu", negative_slope=0.1))
LABELS = {"relu": "ReLU", "leaky_relu": "leaky ReLU (0.1)"}
POINT_SETS = ("train", "test", "random")
_COLORS = {"train": "#d62728", "test": "#1f77b4", "random": "#7f7f7f"}
_STYLES = {"relu": "-", "leaky_relu": "--"}


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      width: hidden units per layer.
      depth: hidden layers.
      seeds: initialisations per activation.
      train_size: training images (the first ones of the split). Small, as in the grokking
        literature: with 1000 images the test accuracy was already at its plateau when the
        training set was fit (95.5% then, 95.3% at step 10,200; seed 0), so nothing was left to
        generalise late.
      points: points per set (training, test, random) at which local complexity is measured.
      learning_rate: gradient descent's step.
      weight_decay: decoupled weight decay per step (``optax.add_decayed_weights``).
      init_scale: multiplier of the He weight variance at initialisation.
      schedule: the checkpoints, phase by phase: ``(segments, steps)`` measures ``segments``
        times, every ``steps`` steps (dense early, sparse late).
      radius: radius of the cross-polytope around each point.
      directions: random orthonormal directions of the cross-polytope (``2 * directions``
        vertices), one frame shared by all points.
    """

    width: int = 64
    depth: int = 3
    seeds: int = 3
    train_size: int = 512
    points: int = 256
    learning_rate: float = 0.05
    weight_decay: float = 0.01
    init_scale: float = 4.0
    schedule: tuple[tuple[int, int], ...] = ((4, 5), (9, 20), (50, 200))
    radius: float = 0.3
    directions: int = 16

    @classmethod
    def quick(cls) -> Config:
        """Seconds: width 32, two seeds, 256 training images, 4,200 steps."""
        return cls(
            width=32, seeds=2, train_size=256, points=128, schedule=((4, 5), (9, 20), (20, 200))
        )

    @property
    def steps(self) -> list[int]:
        """The training steps at which everything is measured (0 first)."""
        steps = [0]
        for segments, every in self.schedule:
            steps += [steps[-1] + s * every for s in range(1, segments + 1)]
        return steps

    def check(self) -> None:
        """``ValueError`` unless the schedule is a non-empty sequence of positive pairs."""
        if not self.schedule or any(
            len(phase) != 2 or min(phase) < 1 for phase in map(tuple, self.schedule)
        ):
            raise ValueError(
                "Config: schedule: expected pairs (segments >= 1, steps >= 1), received "
                f"{self.schedule!r}"
            )


def _hidden_layers(ens: train.Ensemble) -> list[tuple[np.ndarray, np.ndarray]]:
    """The members' hidden layers, stacked: ``[(W (members, in, out), b (members, out)), ...]``."""
    flat = {path: np.asarray(var[...]) for path, var in nnx.to_flat_state(ens.params)}
    layers, l = [], 0
    while ("hidden", l, "kernel") in flat:
        layers.append((flat[("hidden", l, "kernel")], flat[("hidden", l, "bias")]))
        l += 1
    return layers


def _mean_complexity(layers, points, frame, *, activation, sizes, radius):
    """Per member and point set, the mean crossing units per layer: ``(members, sets, L)``.

    ``layers`` are stacked over members; the frame is shared by all points and members (one
    compiled program per activation, whatever the number of checkpoints).
    """

    def one(member_layers):
        lc = regions.local_complexity(
            member_layers, points, radius=radius, frame=frame, activation=activation
        )
        parts = jnp.split(lc.per_layer.astype(jnp.float32), np.cumsum(sizes)[:-1])
        return jnp.stack([part.mean(axis=0) for part in parts])

    return jax.vmap(one)(layers)


def _point_sets(cfg: Config, seed: int, train_x: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng([seed, 7])
    random = rng.uniform(0.0, 1.0, (cfg.points, train_x.shape[1])).astype(np.float32)
    return np.concatenate([train_x[: cfg.points], test_x[: cfg.points], random])


def _train(cfg: Config, seed: int) -> dict[str, Any]:
    train_set, test_set = data.digits(seed=seed)
    x, y = train_set.x[: cfg.train_size], train_set.y[: cfg.train_size]
    points = jnp.asarray(_point_sets(cfg, seed, x, test_set.x))
    sizes = (min(cfg.points, len(x)), min(cfg.points, len(test_set.x)), cfg.points)
    frame = np.asarray(regions.orthonormal_frame(jax.random.key(seed), x.shape[1], cfg.directions))
    base = train.init_ensemble(
        DigitsNetwork(cfg.width, cfg.depth, _CHOICES),
        [seed * 1000 + i for i in range(cfg.seeds)],
        init_scales=[cfg.init_scale],
    )
    ens = train.concat([train.choose_activation(base, k) for k in range(len(ACTIVATIONS))])

    def measure(ens: train.Ensemble) -> dict[str, np.ndarray]:
        layers = _hidden_layers(ens)
        lc = []
        for k, act in enumerate(_CHOICES):
            part = slice(k * cfg.seeds, (k + 1) * cfg.seeds)
            lc.append(
                _mean_complexity(
                    [(w[part], b[part]) for w, b in layers],
                    points,
                    frame,
                    activation=act,
                    sizes=sizes,
                    radius=cfg.radius,
                )
            )
        return {
            "lc": np.stack([np.asarray(v) for v in lc]),  # (activations, seeds, sets, L)
            "train_accuracy": ens.evaluate(x, y, loss=LOSS).accuracy,
            "test_accuracy": ens.evaluate(test_set.x, test_set.y, loss=LOSS).accuracy,
        }

    kwargs = dict(
        measure=measure,
        optimizer=optax.chain(
            optax.add_decayed_weights(cfg.weight_decay), optax.sgd(cfg.learning_rate)
        ),
        loss=LOSS,
        progress=False,
    )
    measured: list[dict[str, np.ndarray]] = []
    for segments, every in cfg.schedule:
        ens, _, phase = train.fit_segments(
            ens, x, y, segments=segments, steps=every, record_every=every, **kwargs
        )
        measured += phase if not measured else phase[1:]  # phase[0]: the previous one's end
    shape = (len(ACTIVATIONS), cfg.seeds)
    lc = np.stack([m["lc"] for m in measured])  # (checkpoints, activations, seeds, sets, L)
    train_acc = np.stack([m["train_accuracy"].reshape(shape) for m in measured])
    test_acc = np.stack([m["test_accuracy"].reshape(shape) for m in measured])
    result: dict[str, Any] = {"steps": cfg.steps, "train_size": int(x.shape[0])}
    for a, name in enumerate(ACTIVATIONS):
        total = lc[:, a].sum(-1)  # (checkpoints, seeds, sets)
        entry: dict[str, Any] = {
            f"lc_{s}": total[:, :, i].mean(1).tolist() for i, s in enumerate(POINT_SETS)
        }
        entry.update({f"lc_{s}_seeds": total[:, :, i].T.tolist() for i, s in enumerate(POINT_SETS)})
        entry["lc_per_layer_init"] = {
            s: lc[0, a, :, i].mean(0).tolist() for i, s in enumerate(POINT_SETS)
        }
        entry["lc_per_layer_final"] = {
            s: lc[-1, a, :, i].mean(0).tolist() for i, s in enumerate(POINT_SETS)
        }
        entry["train_accuracy"] = train_acc[:, a].mean(1).tolist()
        entry["test_accuracy"] = test_acc[:, a].mean(1).tolist()
        result[name] = entry
    return result


# ----------------------------------------------------------------------------- reading


def _phases(res: dict[str, Any], name: str) -> dict[str, Any]:
    """The shape of the training-point curve and what the accuracy did meanwhile."""
    steps = np.asarray(res["steps"])
    r = res[name]
    lc = {s: np.asarray(r[f"lc_{s}"]) for s in POINT_SETS}
    train_acc, test_acc = np.asarray(r["train_accuracy"]), np.asarray(r["test_accuracy"])
    peak = int(np.argmax(lc["train"]))
    fitted = np.flatnonzero(train_acc >= 0.999)
    interpolation = int(fitted[0]) if fitted.size else len(steps) - 1
    # after the peak: the lowest point, and whether the curve rises again after it
    low = peak + int(np.argmin(lc["train"][peak:]))
    return {
        "init": {s: float(lc[s][0]) for s in POINT_SETS},
        "final": {s: float(lc[s][-1]) for s in POINT_SETS},
        "peak_step": int(steps[peak]),
        "peak_train": float(lc["train"][peak]),
        "low_step": int(steps[low]),
        "low_train": float(lc["train"][low]),
        "rise_after_low": float(lc["train"][-1] - lc["train"][low]),
        "random_rise_after_its_low": float(lc["random"][-1] - lc["random"].min()),
        "interpolation_step": int(steps[interpolation]),
        "test_accuracy_at_interpolation": float(test_acc[interpolation]),
        "test_accuracy_final": float(test_acc[-1]),
        "lc_train_at_interpolation": float(lc["train"][interpolation]),
    }


def _claims(res: dict[str, Any]) -> dict[str, bool]:
    phases = {name: _phases(res, name) for name in ACTIVATIONS}
    early = res["steps"][-1] / 20  # the first 5% of the run
    return {
        # the first phase: the count at the data rises above its value at initialisation
        "lc_at_training_points_rises_early": all(
            p["peak_train"] > p["init"]["train"] and p["peak_step"] <= early
            for p in phases.values()
        ),
        # the second: long after the rise, it falls well below its peak
        "lc_at_training_points_falls_late": all(
            p["final"]["train"] <= 0.75 * p["peak_train"] for p in phases.values()
        ),
        # after the training set is fit, the kinks keep leaving the training points, and the test
        # accuracy does not pay for it (Humayun et al.: a robust partition forms around the data)
        "lc_keeps_falling_after_the_fit_at_no_cost_in_test_accuracy": all(
            p["final"]["train"] < p["lc_train_at_interpolation"]
            and p["test_accuracy_final"] >= p["test_accuracy_at_interpolation"] - 0.01
            for p in phases.values()
        ),
        # the two activations trace one curve at the training points
        "relu_and_leaky_relu_share_the_shape": _gap(res) <= 0.25,
    }


def _gap(res: dict[str, Any]) -> float:
    """The largest gap between the ReLU and leaky ReLU curves at the training points, relative
    to the ReLU curve."""
    relu, leaky = (np.asarray(res[name]["lc_train"]) for name in ACTIVATIONS)
    return float(np.max(np.abs(relu - leaky) / np.maximum(relu, 1e-9)))


def _table(res: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for name in ACTIVATIONS:
        p = _phases(res, name)
        for s in POINT_SETS:
            series = np.asarray(res[name][f"lc_{s}"])
            rows.append(
                {
                    "activation": LABELS[name],
                    "points": s,
                    "LC at init": f"{p['init'][s]:.2f}",
                    "max (step)": f"{series.max():.2f} ({res['steps'][int(series.argmax())]})",
                    "min (step)": f"{series.min():.2f} ({res['steps'][int(series.argmin())]})",
                    "LC final": f"{p['final'][s]:.2f}",
                    "final / init": f"{p['final'][s] / p['init'][s]:.2f}",
                }
            )
    return rows


def _summary(cfg: Config, res: dict[str, Any]) -> str:
    p = {name: _phases(res, name) for name in ACTIVATIONS}
    relu, leaky = p["relu"], p["leaky_relu"]
    second = {
        name: (
            f"rose again by {q['rise_after_low']:.2f} after its low at step {q['low_step']}"
            if q["rise_after_low"] > 0.05 * q["low_train"]
            else "did not rise again"
        )
        for name, q in p.items()
    }
    fitted = (
        relu["interpolation_step"] < res["steps"][-1] or res["relu"]["train_accuracy"][-1] >= 0.999
    )
    gain = relu["test_accuracy_final"] - relu["test_accuracy_at_interpolation"]
    if not fitted:
        generalisation = "The ReLU networks did not fit the training set within the run."
    else:
        went = "went on to" if gain >= 0.02 else "ended at"
        generalisation = (
            f"The training set was fit by step {relu['interpolation_step']} (ReLU), when the test "
            f"accuracy was {100 * relu['test_accuracy_at_interpolation']:.1f}%; it {went} "
            f"{100 * relu['test_accuracy_final']:.1f}% while the count at the training points "
            f"went from {relu['lc_train_at_interpolation']:.2f} to {relu['final']['train']:.2f}."
        )
    ratio = {s: relu["final"][s] / relu["init"][s] for s in POINT_SETS}
    if ratio["random"] < ratio["train"]:
        where = (
            "the kinks thinned out everywhere, fastest far from the data, rather than migrating "
            "from the data into empty space"
        )
    else:
        where = "the kinks left the training points faster than the empty space far from the data"
    gap = _gap(res)
    units = cfg.width * cfg.depth
    return (
        f"Local complexity (units of {units} whose kink crosses a cross-polytope of radius "
        f"{cfg.radius:g} on {cfg.directions} random directions) of MLP 64-{cfg.width}x{cfg.depth}-10 "
        f"trained on {res['train_size']} digits by gradient descent with weight decay "
        f"{cfg.weight_decay:g}, {cfg.seeds} seeds. At the training points the ReLU count went "
        f"from {relu['init']['train']:.2f} at initialisation to a peak of {relu['peak_train']:.2f} "
        f"at step {relu['peak_step']}, then to {relu['final']['train']:.2f} by step "
        f"{res['steps'][-1]} (leaky ReLU: {leaky['init']['train']:.2f}, {leaky['peak_train']:.2f} "
        f"at step {leaky['peak_step']}, {leaky['final']['train']:.2f}); after its low it "
        f"{second['relu']} (ReLU) and {second['leaky_relu']} (leaky ReLU). {generalisation} "
        f"Test points followed the training points ({relu['init']['test']:.2f} to "
        f"{relu['final']['test']:.2f}); random points of the pixel box, far from the digits, went "
        f"from {relu['init']['random']:.2f} to {relu['final']['random']:.2f} (a factor "
        f"{ratio['random']:.2f}, against {ratio['train']:.2f} at the training points): {where}. "
        f"The ReLU and leaky ReLU (slope 0.1) curves at the training points differed by at most "
        f"{100 * gap:.0f}% of the ReLU value."
    )


# ----------------------------------------------------------------------------- figure


def _figure(cfg: Config, res: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(13.5, 4.2), layout="constrained")
    ax_lc, ax_layers, ax_acc = fig.subplots(1, 3, width_ratios=[1.4, 0.8, 1.0])
    steps = np.asarray(res["steps"])
    x = np.maximum(steps, 1)  # step 0 drawn at 1 on the log axis
    for name in ACTIVATIONS:
        r = res[name]
        for s in POINT_SETS:
            label = f"{s} points" if name == "relu" else None
            ax_lc.plot(x, r[f"lc_{s}"], _STYLES[name], color=_COLORS[s], label=label)
        ax_acc.plot(x, 100 * np.asarray(r["train_accuracy"]), _STYLES[name], color="#2ca02c",
                    label=f"train, {LABELS[name]}")  # fmt: skip
        ax_acc.plot(x, 100 * np.asarray(r["test_accuracy"]), _STYLES[name], color="#9467bd",
                    label=f"test, {LABELS[name]}")  # fmt: skip
    layers = np.arange(1, cfg.depth + 1)
    for i, s in enumerate(POINT_SETS):
        offset = (i - 1) * 0.25
        ax_layers.bar(layers + offset, res["relu"]["lc_per_layer_init"][s], 0.25, color=_COLORS[s],
                      alpha=0.35)  # fmt: skip
        ax_layers.bar(layers + offset, res["relu"]["lc_per_layer_final"][s], 0.25,
                      color=_COLORS[s], label=f"{s}")  # fmt: skip
    ax_lc.set_xscale("log")
    ax_lc.set_xlabel("training step (step 0 at 1)")
    ax_lc.set_ylabel("local complexity (units crossing)")
    ax_lc.set_title("solid: ReLU, dashed: leaky ReLU (0.1); seed means", fontsize=9)
    ax_lc.legend(fontsize=8)
    ax_layers.set_xticks(layers)
    ax_layers.set_xlabel("hidden layer")
    ax_layers.set_ylabel("units crossing (ReLU)")
    ax_layers.set_title("per layer: pale at init, solid at the end", fontsize=9)
    ax_layers.legend(fontsize=8)
    ax_acc.set_xscale("log")
    ax_acc.set_xlabel("training step (step 0 at 1)")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_ylim(0, 102)
    ax_acc.legend(fontsize=7)
    ax_acc.set_title("accuracy", fontsize=9)
    for ax in (ax_lc, ax_layers, ax_acc):
        ax.grid(alpha=0.3)
    fig.suptitle(
        f"Local complexity during training: MLP 64-{cfg.width}x{cfg.depth}-10 on "
        f"{res['train_size']} digits, radius {cfg.radius:g}, {cfg.directions} random directions"
    )
    return fig


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``local_complexity.json``: ``title``, ``summary``, ``figures``,
    ``table`` (one row per activation and point set), ``claims``, ``config``, ``steps`` (the
    checkpoints), and per activation the seed-mean local complexity at training, test and random
    points per checkpoint (``lc_train``, ...; per seed in ``lc_train_seeds``, ...), per layer at
    initialisation and at the end, and the train and test accuracies per checkpoint.
    """
    res = _train(cfg, seed)
    return _setup.finish(
        out, NAME, cfg, seed=seed,
        title="Local complexity during training: where the regions go",
        summary=_summary(cfg, res), table=_table(res), claims=_claims(res),
        figures={NAME: _figure(cfg, res)},
        data={**{name: res[name] for name in ACTIVATIONS}, "steps": res["steps"],
              "train_size": res["train_size"]},
    )  # fmt: skip
