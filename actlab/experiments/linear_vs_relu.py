"""Why not a linear activation: identity against ReLU on the quadrant and XOR data sets.

The claim (DESIGN.md, reference results): stacked linear layers collapse into one affine map, so a
network with identity activations draws a single straight decision boundary and cannot classify the
quadrant data set (class 1 in one quadrant, class 0 in the other three), whatever its seed; two ReLU
units with a sigmoid read-out can (class 1 exactly where both units are off). On XOR (opposite
quadrants) two ReLU units suffice only with a wide margin around the axes; narrower margins need
more units.

:func:`run` trains both networks on ``quadrants`` over several seeds as one vmapped ensemble each,
checks numerically that every trained linear network equals its :func:`collapse_linear` form, then
finds on ``xor`` the fewest ReLU units that reach 100% training accuracy at each margin. It writes
``linear_vs_relu.json`` and two figures (PNG and SVG): ``linear_vs_relu`` (decision boundaries with
the hidden units' lines ``w . x + b = 0``) and ``xor_units_vs_margin``.

Example::

    >>> from actlab.experiments import linear_vs_relu
    >>> result = linear_vs_relu.run("out/linear_vs_relu", quick=True)
    >>> result["claims"]["linear_never_reaches_100"], result["claims"]["relu_reaches_100"]
    (True, True)
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from actlab import data, train
from actlab.experiments import _setup
from actlab.experiments._setup import Presets
from actlab.models import MLP, collapse_linear, hidden_layers

__all__ = ["Config", "run"]

NAME = "linear_vs_relu"
LOSS = "sigmoid_binary_cross_entropy"


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      n: training points per data set.
      quadrant_margin: margin of the quadrant data set (see :func:`actlab.data.quadrants`).
      seeds: ensemble members (random initialisations) per network.
      steps: full-batch Adam steps per network.
      learning_rate: Adam's learning rate.
      xor_margins: XOR margins, widest first.
      xor_widths: hidden widths tried on XOR, smallest first.
      panels: quadrant-figure columns (seeds shown per activation).
    """

    n: int = 400
    quadrant_margin: float = 0.05
    seeds: int = 64
    steps: int = 2000
    learning_rate: float = 0.05
    xor_margins: tuple[float, ...] = (0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0)
    xor_widths: tuple[int, ...] = (2, 3, 4, 6, 8)
    panels: int = 4

    @classmethod
    def quick(cls) -> Config:
        """A few seconds: fewer points, seeds, steps, margins and widths."""
        return cls(
            n=200, seeds=32, steps=1000, xor_margins=(0.5, 0.15), xor_widths=(2, 4), panels=3
        )


# ----------------------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class _OneHiddenLayer:
    """``rngs -> MLP(2, [width], 1)``; equal by value, so equal builders share compiled code."""

    width: int
    activation: str

    def __call__(self, rngs: nnx.Rngs) -> MLP:
        return MLP(2, [self.width], 1, activation=self.activation, rngs=rngs)


def _train_ensemble(
    width: int, activation: str, ds: data.Dataset, keys: jax.Array, tx: Any, cfg: Config
) -> train.Ensemble:
    """Members with the ReLU network's initial weights, run with ``activation``.

    Both activations start from the same draws (a fair comparison); the weights are built once
    per width, and the identity network only swaps the graph definition.
    """
    ensemble = train.init_ensemble(_OneHiddenLayer(width, "relu"), keys)
    if activation != "relu":
        model = nnx.eval_shape(lambda: _OneHiddenLayer(width, activation)(nnx.Rngs(0)))
        ensemble = dataclasses.replace(ensemble, graphdef=nnx.graphdef(model))
    return train.fit_ensemble(
        ensemble,
        ds.x,
        ds.y,
        optimizer=tx,
        loss=LOSS,
        steps=cfg.steps,
        record_every=max(1, cfg.steps // 50),
        layer_steps=[cfg.steps - 1],
        progress=False,
    )


def _outputs(ensemble: train.Ensemble, ds: data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Every member's logits on the data, ``(members, n)``, and on the plotting grid."""
    _, _, points = _grid()
    logits = np.asarray(ensemble.apply(np.concatenate([ds.x, points])))[..., 0]
    return logits[:, : len(ds.x)], logits[:, len(ds.x) :]


def _accuracy(logits: np.ndarray, ds: data.Dataset) -> np.ndarray:
    """Training accuracy of each member, ``(members,)``."""
    return np.mean((logits > 0) == (ds.y == 1)[None, :], axis=1)


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _collapse_gaps(graphdef: Any, params: Any, rest: Any, x: jax.Array) -> jax.Array:
    """Per member, ``max |model(x) - (x @ W + b)|`` with ``(W, b) = collapse_linear(model)``."""

    def gap(p: Any, r: Any) -> jax.Array:
        model = nnx.merge(graphdef, p, r)
        w, b = collapse_linear(model)
        return jnp.max(jnp.abs(model(x) - (x @ w + b[None, :])))

    return jax.vmap(gap)(params, rest)


def _collapse_gap(ensemble: train.Ensemble, x: np.ndarray) -> float:
    """Largest gap between a trained linear member and its collapsed form, over all members."""
    gaps = _collapse_gaps(ensemble.graphdef, ensemble.params, ensemble.rest, jnp.asarray(x))
    return float(jnp.max(gaps))


def _quadrants(cfg: Config, seed: int, tx: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    ds = data.quadrants(cfg.n, seed=seed, margin=cfg.quadrant_margin)
    keys = jax.random.split(jax.random.key(seed), cfg.seeds)
    result: dict[str, Any] = {
        "n": cfg.n,
        "margin": cfg.quadrant_margin,
        "class_1_fraction": float(ds.y.mean()),
    }
    ensembles, grids = {}, {}
    for activation in ("identity", "relu"):
        ensemble = _train_ensemble(2, activation, ds, keys, tx, cfg)
        logits, grids[activation] = _outputs(ensemble, ds)
        accuracy = _accuracy(logits, ds)
        if activation == "identity":
            result["collapse_max_abs_diff"] = _collapse_gap(ensemble, ds.x)
        result[activation] = {
            "accuracy": [float(a) for a in accuracy],
            "best_accuracy": float(accuracy.max()),
            "seeds_at_100": int(np.sum(accuracy == 1.0)),
            "final_loss": [float(v) for v in ensemble.history.loss[:, -1]],
        }
        ensembles[activation] = ensemble
    return result, {"data": ds, "ensembles": ensembles, "grids": grids}


def _xor(cfg: Config, seed: int, tx: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 1), cfg.seeds)
    best = np.zeros((len(cfg.xor_margins), len(cfg.xor_widths)))
    solved = np.zeros_like(best, dtype=int)
    sets, ensembles, grids, best_member = [], {}, {}, {}
    for i, margin in enumerate(cfg.xor_margins):
        ds = data.xor(cfg.n, seed=seed, margin=margin)
        sets.append(ds)
        for j, width in enumerate(cfg.xor_widths):
            ensemble = _train_ensemble(width, "relu", ds, keys, tx, cfg)
            logits, grids[i, j] = _outputs(ensemble, ds)
            accuracy = _accuracy(logits, ds)
            best[i, j], solved[i, j] = accuracy.max(), np.sum(accuracy == 1.0)
            ensembles[i, j], best_member[i, j] = ensemble, int(np.argmax(accuracy))
    fewest = [
        next((w for w, s in zip(cfg.xor_widths, row, strict=True) if s > 0), None) for row in solved
    ]
    result = {
        "n": cfg.n,
        "margins": list(cfg.xor_margins),
        "widths": list(cfg.xor_widths),
        "best_accuracy": best.tolist(),
        "seeds_at_100": solved.tolist(),
        "fewest_units_at_100": fewest,
    }
    state = {"data": sets, "ensembles": ensembles, "grids": grids, "best_member": best_member}
    return result, state


# ----------------------------------------------------------------------------- figures
# Drawing helpers for this experiment's two figures (decision regions with hidden units' lines);
# candidates for actlab.plot once another experiment needs them.

_LIM = 1.25
_CLASS_COLORS = ("#4c72b0", "#dd8452")
_LINE_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _grid(resolution: int = 121) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.linspace(-_LIM, _LIM, resolution, dtype=np.float32)
    gx, gy = np.meshgrid(s, s)
    return gx, gy, np.stack([gx.ravel(), gy.ravel()], axis=1)


def _draw_lines(ax: Any, layer: tuple[jax.Array, jax.Array]) -> None:
    """Each hidden unit's line ``w . x + b = 0`` across the plotting box."""
    w, b = (np.asarray(a, dtype=np.float64) for a in layer)
    t = np.linspace(-_LIM, _LIM, 2)
    for unit in range(w.shape[1]):
        (w0, w1), c = w[:, unit], b[unit]
        color = _LINE_COLORS[unit % len(_LINE_COLORS)]
        if abs(w1) >= abs(w0):
            ax.plot(t, -(w0 * t + c) / w1, "--", color=color, lw=1.2)
        elif w0 != 0:
            ax.plot(-(w1 * t + c) / w0, t, "--", color=color, lw=1.2)


def _draw_panel(
    ax: Any,
    ds: data.Dataset,
    logits: np.ndarray,
    layer: tuple[jax.Array, jax.Array],
    title: str,
) -> None:
    """Data, predicted class regions, the decision boundary and the hidden units' lines."""
    gx, gy, _ = _grid()
    z = logits.reshape(gx.shape)
    regions = ax.contourf(gx, gy, z > 0, levels=[-0.5, 0.5, 1.5], colors=_CLASS_COLORS, alpha=0.18)
    regions.set_rasterized(True)  # a bitmap inside the SVG: a third of the size
    if z.min() < 0 < z.max():
        ax.contour(gx, gy, z, levels=[0.0], colors="k", linewidths=1.5)
    for c in (0, 1):
        pts = ds.x[ds.y == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=5, color=_CLASS_COLORS[c], linewidths=0)
    _draw_lines(ax, layer)
    ax.set_xlim(-_LIM, _LIM)
    ax.set_ylim(-_LIM, _LIM)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def _quadrant_figure(cfg: Config, result: dict[str, Any], state: dict[str, Any]) -> Any:
    ds, ensembles = state["data"], state["ensembles"]
    cols = min(cfg.panels, cfg.seeds)
    fig = Figure(figsize=(2.3 * cols + 3.2, 4.9), layout="constrained")
    grid = fig.add_gridspec(2, cols + 1, width_ratios=[1] * cols + [1.3])
    for row, activation in enumerate(("identity", "relu")):
        accuracy = result[activation]["accuracy"]
        for col in range(cols):
            ax = fig.add_subplot(grid[row, col])
            member = ensembles[activation].member(col)
            _draw_panel(
                ax,
                ds,
                state["grids"][activation][col],
                hidden_layers(member)[0],
                f"{activation}, seed {col}: {100 * accuracy[col]:.1f}%",
            )
    ax = fig.add_subplot(grid[:, cols])
    for k, activation in enumerate(("identity", "relu")):
        acc = 100 * np.asarray(result[activation]["accuracy"])
        jitter = np.linspace(-0.15, 0.15, len(acc))
        ax.scatter(k + jitter, acc, s=14, color=_LINE_COLORS[k])
    ax.axhline(100, color="k", lw=0.8, ls=":")
    ax.set_xticks([0, 1], ["identity", "ReLU"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel("training accuracy (%)")
    ax.set_title(
        f"{cfg.seeds} seeds, 2 hidden units\n"
        f"collapse_linear gap {result['collapse_max_abs_diff']:.1e}",
        fontsize=8,
    )
    fig.suptitle("Quadrants: a linear network draws one line; two ReLU units carve the quadrant")
    return fig


def _xor_figure(cfg: Config, result: dict[str, Any], state: dict[str, Any]) -> Any:
    margins, widths = cfg.xor_margins, cfg.xor_widths
    best = 100 * np.asarray(result["best_accuracy"])
    fig = Figure(figsize=(3.6 + 2.1 * len(margins), 4.9), layout="constrained")
    grid = fig.add_gridspec(2, len(margins) + 1, width_ratios=[1.7] + [1] * len(margins))
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(best, cmap="viridis", vmin=min(50.0, best.min()), vmax=100, aspect="auto")
    for i in range(len(margins)):
        for j in range(len(widths)):
            solved = result["seeds_at_100"][i][j] > 0
            style = {"color": "k", "weight": "bold"} if solved else {"color": "w"}
            ax.text(j, i, f"{best[i, j]:.1f}", ha="center", va="center", fontsize=7, **style)
    ax.set_xticks(range(len(widths)), [str(w) for w in widths])
    ax.set_yticks(range(len(margins)), [f"{m:g}" for m in margins])
    ax.set_xlabel("ReLU units")
    ax.set_ylabel("margin")
    ax.set_title("best training accuracy (%)\nbold: some seed reaches 100%", fontsize=8)
    for i, margin in enumerate(margins):
        ds = state["data"][i]
        fewest = result["fewest_units_at_100"][i]
        # top: the narrowest network; bottom: the fewest units reaching 100% (or the widest)
        shown = [widths[0], fewest if fewest is not None else widths[-1]]
        for row, width in enumerate(shown):
            ax = fig.add_subplot(grid[row, i + 1])
            if row == 1 and width == widths[0]:
                ax.axis("off")
                ax.text(0.5, 0.5, f"{width} units suffice", ha="center", va="center", fontsize=8)
                continue
            j = widths.index(width)
            member = state["best_member"][i, j]
            title = f"margin {margin:g}, {width} units: {best[i, j]:.1f}%"
            layer = hidden_layers(state["ensembles"][i, j].member(member))[0]
            _draw_panel(ax, ds, state["grids"][i, j][member], layer, title)
    fig.suptitle("XOR: two ReLU units suffice only with a wide margin (best seed shown)")
    return fig


# ----------------------------------------------------------------------------- results


def _percent(values: list[float]) -> str:
    return f"{100 * max(values):.1f}%"


def _table(quadrants: dict[str, Any], xor: dict[str, Any], claims: dict[str, bool]) -> list[dict]:
    """One row per measured claim, for the report."""

    def row(measurement: str, value: str, holds: bool | None) -> dict[str, str]:
        verdict = "-" if holds is None else "yes" if holds else "no"
        return {"measurement": measurement, "value": value, "claim holds": verdict}

    seeds = len(quadrants["relu"]["accuracy"])
    rows = [
        row(
            "quadrants, identity, 2 units: best training accuracy",
            f"{_percent(quadrants['identity']['accuracy'])} "
            f"({quadrants['identity']['seeds_at_100']} of {seeds} seeds at 100%)",
            claims["linear_never_reaches_100"],
        ),
        row(
            "quadrants, ReLU, 2 units: best training accuracy",
            f"{_percent(quadrants['relu']['accuracy'])} "
            f"({quadrants['relu']['seeds_at_100']} of {seeds} seeds at 100%)",
            claims["relu_reaches_100"],
        ),
        row(
            "trained linear network against collapse_linear: max |difference|",
            f"{quadrants['collapse_max_abs_diff']:.1e}",
            claims["linear_equals_collapsed"],
        ),
    ]
    last = len(xor["margins"]) - 1
    for i, (margin, fewest) in enumerate(
        zip(xor["margins"], xor["fewest_units_at_100"], strict=True)
    ):
        # the claim is about the widest margin (two units suffice) and the narrowest (they do not)
        holds = {0: claims["xor_two_units_suffice_at_widest_margin"],
                 last: claims["xor_narrowest_margin_needs_more_units"]}.get(i)  # fmt: skip
        value = str(fewest) if fewest is not None else f"more than {xor['widths'][-1]}"
        rows.append(row(f"XOR, margin {margin:g}: fewest ReLU units reaching 100%", value, holds))
    return rows


def _summary(quadrants: dict[str, Any], xor: dict[str, Any]) -> str:
    fewest = ", ".join(
        f"{w if w is not None else '>' + str(xor['widths'][-1])} at margin {m:g}"
        for m, w in zip(xor["margins"], xor["fewest_units_at_100"], strict=True)
    )
    return (
        "Stacked linear layers collapse into one affine map, so a network with identity "
        "activations draws one straight boundary: on the quadrant data its best seed reaches "
        f"{_percent(quadrants['identity']['accuracy'])}, while two ReLU units with a sigmoid "
        f"read-out reach {_percent(quadrants['relu']['accuracy'])} (class 1 where both units are "
        "off). Every trained linear network equals its collapse_linear form to "
        f"{quadrants['collapse_max_abs_diff']:.0e}. On XOR the fewest ReLU units reaching 100% "
        f"training accuracy are {fewest}: two suffice only with a wide margin."
    )


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``linear_vs_relu.json``, in the report's section format: ``title``,
    ``summary``, ``figures`` (file names in ``out_dir``), ``table`` (one row per measured
    claim); and the data: ``config``, per-seed accuracies on ``quadrants`` for both
    activations with the largest gap between a trained linear network and its collapsed form,
    the ``xor`` accuracy table with the fewest units per margin, and ``claims`` (verdicts).
    """
    tx = optax.adam(cfg.learning_rate)  # one object: every run of a shape shares compiled code

    quadrants, quad_state = _quadrants(cfg, seed, tx)
    xor, xor_state = _xor(cfg, seed, tx)
    wide, narrow = xor["fewest_units_at_100"][0], xor["fewest_units_at_100"][-1]
    claims = {
        "linear_never_reaches_100": quadrants["identity"]["seeds_at_100"] == 0,
        "relu_reaches_100": quadrants["relu"]["seeds_at_100"] > 0,
        "linear_equals_collapsed": quadrants["collapse_max_abs_diff"] < 1e-4,
        "xor_two_units_suffice_at_widest_margin": wide == 2,
        "xor_narrowest_margin_needs_more_units": narrow is None or narrow > 2,
    }
    return _setup.finish(
        out, NAME, cfg, seed=seed, title="Why not a linear activation",
        summary=_summary(quadrants, xor), table=_table(quadrants, xor, claims), claims=claims,
        figures={NAME: _quadrant_figure(cfg, quadrants, quad_state),
                 "xor_units_vs_margin": _xor_figure(cfg, xor, xor_state)},
        data={"quadrants": quadrants, "xor": xor},
    )  # fmt: skip
