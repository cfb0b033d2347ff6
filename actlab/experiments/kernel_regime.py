r"""Wide networks are kernel machines: trained MLPs against their NTK predictor, width by width.

In the NTK parameterisation a network trained by gradient descent with a small learning rate on
the squared error follows, as every width goes to infinity, kernel gradient flow with its
deterministic neural tangent kernel (Jacot et al. 2018; Lee et al. 2019): after time ``t``
(learning rate times steps) its test predictions are
:func:`actlab.gradflow.ntk_predictor` of the analytic kernel :func:`actlab.gradflow.ntk`, started
from the network's own outputs at initialisation. At finite width the empirical kernel fluctuates
around the analytic one by ``O(width^-1/2)`` and moves during training, so the distance between
the trained network and the predictor should fall like ``width^-1/2``.

:func:`run` fits ``y = sin(2a) + cos(3a) / 2`` on ``train_size`` random points ``(cos a, sin a)``
of the unit circle with MLPs of ``depth`` hidden layers of each width, for ReLU, tanh and GELU
(the analytic kernel of ReLU by its closed form, of tanh and GELU by quadrature), ``seeds``
initialisations each. Training is full-batch gradient descent on ``0.5 * mean((f - y)^2)`` in
the NTK parameterisation: the stored weights of a layer with fan-in ``n`` move by
``learning_rate * sigma_w2 / n`` times their gradient and the biases by ``learning_rate * sigma_b2`` (gradient descent on ``omega`` in
``W = sqrt(sigma_w2 / n) omega``), initial weights ``N(0, sigma_w2 / n)`` and biases
``N(0, sigma_b2)``. At checkpoints ``t`` (doubling up to ``time``) the network's predictions at
``test_size`` evenly spaced test angles are compared with

- the analytic NTK predictor (float64) from the same initial outputs: the *distance*, the
  root-mean-square difference over the test points divided by the root-mean-square target;
- the network's own linearisation: the same predictor with the network's empirical NTK at
  initialisation (:func:`actlab.gradflow.empirical_ntk`), which isolates what the kernel's motion
  during training contributes (the rest of the distance is the random kernel at initialisation).

The predictor at ``time`` is also compared with its ``t = inf`` limit (kernel regression with the
NTK), to say how far the run is from convergence. The slope of ``log distance`` against
``log width`` is fitted per activation; the claims are read off these numbers. Writes
``kernel_regime.json`` and the figure ``kernel_regime`` (PNG and SVG).

References:
  Jacot, Gabriel and Hongler, "Neural tangent kernel", NeurIPS 2018.
  Lee, Xiao, Schoenholz, Bahri, Novak, Sohl-Dickstein and Pennington, "Wide neural networks of
  any depth evolve as linear models under gradient descent", NeurIPS 2019.

Example::

    >>> from actlab.experiments import kernel_regime
    >>> result = kernel_regime.run("out/kernel_regime", quick=True)
    >>> result["claims"]["distance_falls_like_one_over_sqrt_width"]
    True
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure

from actlab.experiments import _setup
from actlab.experiments._setup import Presets
from actlab.gradflow import empirical_ntk, ntk, ntk_predictor
from actlab.models import MLP

__all__ = ["ACTIVATIONS", "VARIANCES", "Config", "run", "target"]

NAME = "kernel_regime"
ACTIVATIONS = ("relu", "tanh", "gelu")
LABELS = {"relu": "ReLU", "tanh": "tanh", "gelu": "GELU"}
#: ``(sigma_w2, sigma_b2)`` per activation (ReLU and GELU at He's variance, tanh near critical).
VARIANCES = {"relu": (2.0, 0.1), "tanh": (1.5, 0.1), "gelu": (2.0, 0.1)}
_COLORS = {"relu": "#d62728", "tanh": "#1f77b4", "gelu": "#2ca02c"}
#: The slope of log distance against log width that the claims accept (theory: -1/2). Measured:
#: -0.29 to -0.56 over seeds 0 and 1 in quick mode (two networks per width), -0.34 to -0.49 in
#: full mode (four networks per width); two networks per width leave the fit noisy.
SLOPE_RANGE = (-0.8, -0.25)
#: The widest networks' distance to their predictor must be below this.
WIDEST_DISTANCE = 0.05


def target(angle: np.ndarray) -> np.ndarray:
    """The regression target ``sin(2a) + cos(3a) / 2`` of the angle ``a`` on the circle."""
    return np.sin(2.0 * angle) + 0.5 * np.cos(3.0 * angle)


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      widths: hidden units per layer, one network per width (increasing).
      depth: hidden layers.
      seeds: initialisations per activation and width.
      train_size: training points (random angles).
      test_size: test points (evenly spaced angles).
      learning_rate: gradient descent's step on the NTK-parameterised weights.
      time: training time ``learning_rate * steps`` at the end.
      checkpoints: times at which predictions are compared, doubling up to ``time`` (``t = 0``
        is added).
    """

    widths: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
    depth: int = 2
    seeds: int = 4
    train_size: int = 16
    test_size: int = 64
    learning_rate: float = 0.5
    time: float = 1000.0
    checkpoints: int = 8

    @classmethod
    def quick(cls) -> Config:
        """Seconds: one hidden layer of 64, 512 and 4,096 units, two seeds."""
        return cls(widths=(64, 512, 4096), depth=1, seeds=2)

    @property
    def times(self) -> list[float]:
        """The checkpoint times, ``0`` first (learning rate times whole steps)."""
        steps = self.steps
        return [self.learning_rate * s for s in steps]

    @property
    def steps(self) -> list[int]:
        """The checkpoint steps, ``0`` first, doubling up to ``time / learning_rate``."""
        last = round(self.time / self.learning_rate)
        doubling = [round(last / 2**k) for k in range(self.checkpoints - 1, -1, -1)]
        return [0, *sorted(set(s for s in doubling if s > 0))]

    def check(self) -> None:
        """``ValueError`` for fewer than two widths or non-increasing ones, or a learning rate,
        time or count out of range."""
        widths = tuple(self.widths)
        if len(widths) < 2 or min(widths) < 1 or list(widths) != sorted(set(widths)):
            raise ValueError(f"Config: widths: expected at least two increasing positive "
                             f"widths, received {self.widths!r}")  # fmt: skip
        for name in ("depth", "seeds", "train_size", "test_size", "checkpoints"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"Config: {name}: expected >= 1, received {getattr(self, name)!r}")
        if not self.learning_rate > 0 or not self.time >= self.learning_rate:
            raise ValueError(f"Config: expected learning_rate > 0 and time >= learning_rate, "
                             f"received {self.learning_rate!r}, {self.time!r}")  # fmt: skip


# ----------------------------------------------------------------------------- measurement


def _task(cfg: Config, seed: int) -> dict[str, np.ndarray]:
    angles = np.sort(np.random.default_rng([seed, 11]).uniform(0, 2 * np.pi, cfg.train_size))
    test_angles = np.linspace(0, 2 * np.pi, cfg.test_size, endpoint=False)

    def circle(a: np.ndarray) -> np.ndarray:
        return np.stack([np.cos(a), np.sin(a)], axis=1)

    return {"x": circle(angles), "y": target(angles), "angles": angles,
            "x_test": circle(test_angles), "y_test": target(test_angles),
            "test_angles": test_angles}  # fmt: skip


def _train(models: list[MLP], task, cfg: Config, sigma_w2: float, sigma_b2: float):
    """Gradient descent on every model at once (vmapped): ``(train, test)`` predictions at each
    checkpoint, ``(seeds, checkpoints, n)`` each."""
    graphdef, _ = nnx.split(models[0])
    states = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[nnx.split(m)[1] for m in models])
    x, y = jnp.asarray(task["x"], jnp.float32), jnp.asarray(task["y"], jnp.float32)
    x_test = jnp.asarray(task["x_test"], jnp.float32)
    # NTK parameterisation: W = sqrt(sigma_w2 / fan_in) omega, b = sqrt(sigma_b2) beta, so a
    # step on (omega, beta) moves the stored W by lr sigma_w2 / fan_in grad_W, b by lr sigma_b2
    scales = jax.tree_util.tree_map_with_path(
        lambda path, leaf: (
            sigma_w2 / leaf.shape[0] if "kernel" in jax.tree_util.keystr(path) else sigma_b2
        ),
        nnx.split(models[0])[1],
    )
    segments = jnp.asarray(np.diff(cfg.steps, prepend=0), jnp.int32)
    lr = cfg.learning_rate

    def predict(state, inputs):
        return nnx.merge(graphdef, state)(inputs)[:, 0]

    def loss(state):
        return 0.5 * jnp.mean((predict(state, x) - y) ** 2)

    def step(_, state):
        grads = jax.grad(loss)(state)
        return jax.tree.map(lambda p, g, s: p - lr * s * g, state, grads, scales)

    def one(state):
        def segment(state, n):
            state = jax.lax.fori_loop(0, n, step, state)
            return state, (predict(state, x), predict(state, x_test))

        return jax.lax.scan(segment, state, segments)[1]

    train, test = jax.jit(jax.vmap(one))(states)
    return np.asarray(train, np.float64), np.asarray(test, np.float64)


def _predictor(theta_train, theta_test, task, f0_train, f0_test, times):
    """The NTK predictor from one network's initial outputs at ``times`` (float64 arrays)."""
    with jax.enable_x64(True):
        return np.asarray(
            ntk_predictor(theta_train, theta_test, task["y"], t=np.asarray(times),
                          f0_train=f0_train, f0_test=f0_test)
        )  # fmt: skip


def _distance(a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """Root-mean-square difference over the last axis, relative to ``scale``."""
    return np.sqrt(np.mean((a - b) ** 2, axis=-1)) / scale


def _fit(widths, distances) -> tuple[float, float]:
    """``(slope, prefactor)`` of ``distance = prefactor * width^slope`` (least squares in logs)."""
    slope, intercept = np.polyfit(np.log(widths), np.log(distances), 1)
    return float(slope), float(math.exp(intercept))


def _measure(cfg: Config, seed: int, act: str, task) -> dict[str, Any]:
    sigma_w2, sigma_b2 = VARIANCES[act]
    variances = {"sigma_w2": sigma_w2, "sigma_b2": sigma_b2}
    times = np.asarray(cfg.times)
    scale = float(np.sqrt(np.mean(task["y_test"] ** 2)))
    n = len(task["x"])
    with jax.enable_x64(True):  # one call: one compilation, one interpolation for all pairs
        full = np.asarray(
            ntk(act, jnp.asarray(np.concatenate([task["x"], task["x_test"]])), depth=cfg.depth,
                **variances)
        )  # fmt: skip
    theta, theta_test = full[:n, :n], full[n:, :n]
    x_all = jnp.asarray(np.concatenate([task["x"], task["x_test"]]), jnp.float32)
    per_width: list[dict[str, Any]] = []
    for width in cfg.widths:
        models = [MLP(2, [width] * cfg.depth, 1, activation=act, init="he", rngs=nnx.Rngs(s),
                      **variances) for s in range(seed * 1000, seed * 1000 + cfg.seeds)]  # fmt: skip
        train, test = _train(models, task, cfg, sigma_w2, sigma_b2)
        analytic, own, limit = [], [], []
        for i, model in enumerate(models):
            f0_train, f0_test = train[i, 0], test[i, 0]
            analytic.append(_predictor(theta, theta_test, task, f0_train, f0_test, times))
            limit.append(_predictor(theta, theta_test, task, f0_train, f0_test, math.inf))
            k = np.asarray(empirical_ntk(model, x_all, **variances), np.float64)
            own.append(_predictor(k[:n, :n], k[n:, :n], task, f0_train, f0_test, times))
        analytic, own, limit = np.stack(analytic), np.stack(own), np.stack(limit)
        per_width.append({
            "distance": _distance(test, analytic, scale),  # (seeds, checkpoints)
            "linearised": _distance(test, own, scale),
            "to_limit": _distance(test[:, -1], limit, scale),  # (seeds,)
            "predictor_to_limit": _distance(analytic[:, -1], limit, scale),
            "train_rmse": _distance(train[:, -1], task["y"], scale),
            "test_rmse": _distance(test[:, -1], task["y_test"], scale),
            "curve": test[0, -1], "predictor_curve": analytic[0, -1],
            "initial_train": train[0, 0], "initial_test": test[0, 0],
        })  # fmt: skip
    distance = np.stack([w["distance"] for w in per_width])  # (widths, seeds, checkpoints)
    linearised = np.stack([w["linearised"] for w in per_width])
    final = distance[:, :, -1].mean(1)
    final_linearised = linearised[:, :, -1].mean(1)
    slope, prefactor = _fit(cfg.widths, final)
    lin_slope, lin_prefactor = _fit(cfg.widths, final_linearised)
    with jax.enable_x64(True):
        mean_limit = np.asarray(ntk_predictor(theta, theta_test, task["y"]))
    return {
        "sigma_w2": sigma_w2,
        "sigma_b2": sigma_b2,
        "distance": distance.mean(1).tolist(),  # (widths, checkpoints)
        "distance_seeds": distance[:, :, -1].tolist(),  # (widths, seeds) at the end
        "linearised_distance": linearised.mean(1).tolist(),
        "final_distance": final.tolist(),
        "final_linearised_distance": final_linearised.tolist(),
        "slope": slope,
        "prefactor": prefactor,
        "linearised_slope": lin_slope,
        "linearised_prefactor": lin_prefactor,
        "distance_to_limit": [float(w["to_limit"].mean()) for w in per_width],
        "predictor_to_limit": [float(w["predictor_to_limit"].mean()) for w in per_width],
        "train_rmse": [float(w["train_rmse"].mean()) for w in per_width],
        "test_rmse": [float(w["test_rmse"].mean()) for w in per_width],
        "kernel_regression_test_rmse": float(_distance(mean_limit, task["y_test"], scale)),
        "curves": {
            "narrowest": per_width[0]["curve"].tolist(),
            "widest": per_width[-1]["curve"].tolist(),
            "predictor_widest": per_width[-1]["predictor_curve"].tolist(),
            "initial_train_widest": per_width[-1]["initial_train"].tolist(),
            "initial_test_widest": per_width[-1]["initial_test"].tolist(),
        },
    }


# ----------------------------------------------------------------------------- reading


def _claims(res: dict[str, Any]) -> dict[str, bool]:
    low, high = SLOPE_RANGE
    entries = [res[name] for name in ACTIVATIONS]
    return {
        # theory: O(width^-1/2), the empirical kernel's fluctuation at initialisation
        "distance_falls_like_one_over_sqrt_width": all(
            low <= r["slope"] <= high and r["final_distance"][-1] < r["final_distance"][0]
            for r in entries
        ),
        "widest_networks_match_their_ntk_predictor": all(
            r["final_distance"][-1] < WIDEST_DISTANCE for r in entries
        ),
        # most of the distance is the random kernel at initialisation, not its motion
        "own_linearisation_is_closer_than_the_analytic_predictor": all(
            r["final_linearised_distance"][-1] < r["final_distance"][-1] for r in entries
        ),
    }


def _table(cfg: Config, res: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for name in ACTIVATIONS:
        r = res[name]
        for i, width in enumerate(cfg.widths):
            seeds = np.asarray(r["distance_seeds"][i])
            rows.append({
                "activation": LABELS[name],
                "width": str(width),
                "distance to NTK predictor": f"{seeds.mean():.4f} +- {seeds.std():.4f}",
                "to own linearisation": f"{r['final_linearised_distance'][i]:.4f}",
                "to t = inf limit": f"{r['distance_to_limit'][i]:.4f}",
                "train RMSE": f"{r['train_rmse'][i]:.4f}",
                "test RMSE": f"{r['test_rmse'][i]:.3f}",
                "fitted slope": f"{r['slope']:.2f}" if i == 0 else "",
            })  # fmt: skip
    return rows


def _summary(cfg: Config, res: dict[str, Any]) -> str:
    parts = []
    for name in ACTIVATIONS:
        r = res[name]
        parts.append(
            f"{LABELS[name]} {r['final_distance'][0]:.3f} to {r['final_distance'][-1]:.4f} "
            f"(slope {r['slope']:.2f}; to its own linearisation {r['final_linearised_distance'][-1]:.4f}, "
            f"slope {r['linearised_slope']:.2f})"
        )
    widest = cfg.widths[-1]
    if _claims(res)["own_linearisation_is_closer_than_the_analytic_predictor"]:
        reading = (
            "at the widest width the network's own linearisation (its empirical NTK at "
            "initialisation) was closer for every activation: the gap there is more the "
            "randomness of the kernel at initialisation than its motion during training."
        )
    else:
        reading = (
            "at the widest width the network's own linearisation (its empirical NTK at "
            "initialisation) was not closer for every activation: the kernel's motion "
            "during training counts as much as its randomness at initialisation."
        )
    lags = ", ".join(f"{LABELS[name]} {np.mean(res[name]['predictor_to_limit']):.3f}"
                     for name in ACTIVATIONS)  # fmt: skip
    return (
        f"MLPs 2-{'x'.join(['w'] * cfg.depth)}-1 in the NTK parameterisation fit "
        f"{cfg.train_size} points of sin(2a) + cos(3a)/2 on the circle by full-batch gradient "
        f"descent (learning rate {cfg.learning_rate:g}, time {cfg.time:g}), {cfg.seeds} seeds per "
        f"width. The root-mean-square distance between a trained network's test predictions and "
        f"the analytic NTK predictor from the same initial outputs, relative to the target, went "
        f"from width {cfg.widths[0]} to {widest}: " + "; ".join(parts) + ". Theory gives "
        f"slope -1/2 (the empirical kernel's fluctuation); {reading} At time "
        f"{cfg.time:g} the predictor's distance to its t = inf limit (kernel regression with the "
        f"NTK) was {lags}: what is left are the directions of the smallest kernel eigenvalues "
        f"(tiny for smooth activations on the circle), which gradient descent reaches last; the "
        f"comparison is at equal time, where the limit theory applies for every t."
    )


# ----------------------------------------------------------------------------- figure


def _figure(cfg: Config, res: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(14.5, 4.3), layout="constrained")
    ax_width, ax_time, ax_curve = fig.subplots(1, 3, width_ratios=[1.2, 1.0, 1.1])
    widths = np.asarray(cfg.widths, float)
    for name in ACTIVATIONS:
        r, color = res[name], _COLORS[name]
        ax_width.plot(widths, r["final_distance"], "o-", color=color,
                      label=f"{LABELS[name]}: slope {r['slope']:.2f}")  # fmt: skip
        ax_width.plot(widths, r["prefactor"] * widths ** r["slope"], ":", color=color, lw=1)
        ax_width.plot(widths, r["final_linearised_distance"], "s--", color=color, ms=4, alpha=0.6,
                      label=f"{LABELS[name]}, own linearisation: {r['linearised_slope']:.2f}")  # fmt: skip
    ax_width.plot(widths, res["relu"]["final_distance"][0] * (widths / widths[0]) ** -0.5, "k-",
                  lw=0.8, alpha=0.5, label="width^-1/2")  # fmt: skip
    ax_width.set_xscale("log", base=2)
    ax_width.set_yscale("log")
    ax_width.set_xlabel("width")
    ax_width.set_ylabel("relative RMS distance at the end")
    ax_width.set_title("network vs NTK predictor (seed means)", fontsize=9)
    ax_width.legend(fontsize=7)
    times = np.asarray(cfg.times)[1:]
    shades = np.linspace(0.25, 1.0, len(cfg.widths))
    for i, width in enumerate(cfg.widths):
        ax_time.plot(times, np.asarray(res["relu"]["distance"][i])[1:], "-",
                     color=(shades[i], 0.1, 0.1), label=f"width {width}")  # fmt: skip
    ax_time.set_xscale("log")
    ax_time.set_yscale("log")
    ax_time.set_xlabel("training time t = learning rate x steps")
    ax_time.set_ylabel("relative RMS distance")
    ax_time.set_title("ReLU: distance during training", fontsize=9)
    ax_time.legend(fontsize=7)
    angles = np.linspace(0, 2 * np.pi, cfg.test_size, endpoint=False)
    curves = res["relu"]["curves"]
    ax_curve.plot(angles, target(angles), "k-", lw=1, label="target")
    ax_curve.plot(res["angles"], target(np.asarray(res["angles"])), "ko", ms=4, label="training")
    ax_curve.plot(angles, curves["narrowest"], "-", color="#ff7f0e", alpha=0.8,
                  label=f"network, width {cfg.widths[0]}")  # fmt: skip
    ax_curve.plot(angles, curves["widest"], "-", color="#d62728",
                  label=f"network, width {cfg.widths[-1]}")  # fmt: skip
    ax_curve.plot(angles, curves["predictor_widest"], "--", color="#1f77b4",
                  label="its NTK predictor")  # fmt: skip
    ax_curve.set_xlabel("angle a")
    ax_curve.set_title(f"ReLU, seed 0, at t = {cfg.times[-1]:g}", fontsize=9)
    ax_curve.legend(fontsize=7)
    for ax in (ax_width, ax_time, ax_curve):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Wide networks are kernel machines: {cfg.depth} hidden layer(s), "
                 f"{cfg.train_size} points on the circle, gradient descent in the NTK "
                 f"parameterisation")  # fmt: skip
    return fig


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``kernel_regime.json``: ``title``, ``summary``, ``figures``,
    ``table`` (one row per activation and width), ``claims``, ``config``, ``times`` (the
    checkpoints), ``angles`` (training angles), and per activation the seed-mean distances to the
    analytic NTK predictor and to the network's own linearisation per width and checkpoint, the
    final ones per seed, the fitted slopes and prefactors, the distances to the ``t = inf``
    limit, train and test errors, and seed 0's test curves (narrowest and widest networks at
    the end, the widest one's predictor and initial outputs).
    """
    task = _task(cfg, seed)
    res: dict[str, Any] = {name: _measure(cfg, seed, name, task) for name in ACTIVATIONS}
    res["angles"] = task["angles"].tolist()
    return _setup.finish(
        out, NAME, cfg, seed=seed,
        title="Wide networks are kernel machines",
        summary=_summary(cfg, res), table=_table(cfg, res), claims=_claims(res),
        figures={NAME: _figure(cfg, res)},
        data={**{name: res[name] for name in ACTIVATIONS}, "times": cfg.times,
              "angles": res["angles"]},
    )  # fmt: skip
