"""The measurements: networks born dead, and dead units during training."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from actlab import data, train
from actlab.experiments._setup import DigitsNetwork
from actlab.experiments.dying_relu._config import ACTIVATIONS, LOSS, Config
from actlab.gradflow import ensemble_unit_stats, unit_stats
from actlab.models import PReLU


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


def measure_born_dead(cfg: Config, seed: int) -> dict[str, Any]:
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


_CHOICES = ("relu", "leaky_relu", PReLU, "elu")  # ACTIVATIONS, as ActivationChoice builds them


def _members(cfg: Config, seed: int) -> Any:
    """Members for activations x conditions x seeds (in that order), from the same weights.

    Each (activation, condition) block starts from the same initial weights, with its hidden
    biases set to the condition's constant and its learning rate; all of them train together.
    """
    base = train.init_ensemble(
        DigitsNetwork(cfg.width, cfg.depth, _CHOICES),
        [seed * 1000 + i for i in range(cfg.seeds)],
        learning_rates=[cfg.learning_rates[0]],
    )
    parts = []
    for k in range(len(ACTIVATIONS)):
        for _, lr, bias in cfg.conditions():
            part = train.replace_params(
                train.choose_activation(base, k),
                lambda p, v, b=bias: (
                    np.full_like(v, b) if p[0] == "hidden" and p[-1] == "bias" else None
                ),
            )
            parts.append(dataclasses.replace(part, learning_rate=np.full(cfg.seeds, lr)))
    return train.concat(parts)


def measure_training(cfg: Config, seed: int) -> dict[str, Any]:
    train_set, test_set = data.digits(seed=seed)
    x, y = train_set.x[: cfg.train_size], train_set.y[: cfg.train_size]
    conditions = cfg.conditions()
    shape = (len(ACTIVATIONS), len(conditions), cfg.seeds)

    def measure(ens: Any) -> dict[str, np.ndarray]:
        stats = ensemble_unit_stats(ens, x)
        return {"dead": np.asarray(stats.dead), "zero_grad": np.asarray(stats.zero_grad)}

    ens, history, measured = train.fit_segments(
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
    ok = train.finite_members(ens).reshape(shape)
    accuracy = ens.evaluate(test_set.x, test_set.y, loss=LOSS).accuracy.reshape(shape)
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
