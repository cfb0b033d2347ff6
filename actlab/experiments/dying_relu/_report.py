"""The reading of the measurements: the claims, the report table and text."""

from __future__ import annotations

from typing import Any

import numpy as np

from actlab.experiments.dying_relu._config import ACTIVATIONS, LABELS, Config
from actlab.experiments.dying_relu._figures import index


def _pct(v: float | None) -> str:
    return "diverged" if v is None else f"{100 * v:.0f}%"


def find_claims(cfg: Config, res: dict[str, Any], born: dict[str, Any]) -> dict[str, bool]:
    base = index(cfg, "learning rate", cfg.baseline_lr)
    large = index(cfg, "learning rate", cfg.learning_rates[-1])
    low = index(cfg, "bias", cfg.highlight_bias)
    relu = res["relu"]
    relu_large = relu[large]["dead_final"]
    narrowest = born[str(min(cfg.born_widths))]
    bias_rows = [index(cfg, "bias", b) for b in cfg.biases]
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


def report_table(cfg: Config, res: dict[str, Any], born: dict[str, Any], claims: dict[str, bool]):
    def row(measurement: str, value: str, holds: bool | None) -> dict[str, str]:
        verdict = "-" if holds is None else "yes" if holds else "no"
        return {"measurement": measurement, "value": value, "claim holds": verdict}

    base = index(cfg, "learning rate", cfg.baseline_lr)
    large = index(cfg, "learning rate", cfg.learning_rates[-1])
    low = index(cfg, "bias", cfg.highlight_bias)
    rows = []
    for name in ACTIVATIONS:
        b, g = res[name][base], res[name][large]
        holds = claims["relu_dies_at_large_learning_rate"] if name == "relu" else None
        rows.append(
            row(
                f"{LABELS[name]}: dead units after training, lr {cfg.baseline_lr:g} -> "
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
                f"{LABELS[name]}, biases {cfg.highlight_bias:g}: dead units at init -> after "
                "(no-gradient units; test accuracy)",
                f"{_pct(r['dead_init'])} -> {_pct(r['dead_final'])} "
                f"({_pct(r['zero_grad_final'])}; {_pct(r['test_accuracy'])})",
                holds,
            )
        )
    first = [
        f"{b:g}: {_pct(res['relu'][i]['dead_per_layer_init'][0])} -> "
        f"{_pct(res['relu'][i]['dead_per_layer'][0])}"
        for b, i in ((b, index(cfg, "bias", b)) for b in cfg.biases)
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


def report_summary(cfg: Config, res: dict[str, Any], born: dict[str, Any]) -> str:
    base = index(cfg, "learning rate", cfg.baseline_lr)
    large = index(cfg, "learning rate", cfg.learning_rates[-1])
    low = index(cfg, "bias", cfg.highlight_bias)
    relu, leaky, prelu, elu = (res[n] for n in ACTIVATIONS)
    lr_hi = cfg.learning_rates[-1]

    def diverged_note(name: str) -> str:
        r = res[name][large]
        if r["dead_final"] is None:
            return f"{LABELS[name]} diverged (NaN) in every seed"
        return f"{LABELS[name]} ended with {_pct(r['dead_final'])} ({_pct(r['test_accuracy'])})"

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
