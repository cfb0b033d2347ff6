"""``actlab gradflow``: mean-field numbers beside the measured signals of a random MLP."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import jax
import numpy as np
import typer

from actlab import gradflow as gf
from actlab import plot
from actlab.cli._common import (
    JsonOption,
    ParamOption,
    SeedOption,
    SigmaW2Option,
    cell,
    emit,
    print_json,
    random_mlp,
    registry_activation,
    writable_dir,
)
from actlab.models import default_sigma_w2


def gradflow(
    activation: Annotated[
        str, typer.Option(help="Activation name (any elementwise one).")
    ] = "relu",
    param: ParamOption = None,
    init: Annotated[str, typer.Option(help="Weight init: he, lecun or orthogonal.")] = "he",
    sigma_w2: SigmaW2Option = None,
    sigma_b2: Annotated[float, typer.Option(help="Bias variance.")] = 0.0,
    width: Annotated[int, typer.Option(help="Width of the random MLP (and its input).")] = 128,
    depth: Annotated[int, typer.Option(help="Hidden layers of the random MLP.")] = 20,
    batch: Annotated[int, typer.Option(help="Gaussian inputs in the batch.")] = 64,
    seed: SeedOption = 0,
    phase_diagram: Annotated[
        Path | None,
        typer.Option(
            help="Also draw the activation's order-to-chaos phase diagram (chi_1 over "
            "sigma_w2 and sigma_b2, this network marked) to this path (PNG and SVG)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Mean-field numbers (q*, chi_1, phase, depth scales, critical sigma_w^2) beside the
    per-layer signals and gradient norms of a random MLP with that activation and init.

    Per hidden layer (from actlab.gradflow.signals):
    - q: mean squared pre-activation (the theory's fixed point is q*);
    - backward signal: root mean square over examples of ||dl_i/dz^l||;
    - grad norm: ||dL/dW_l||, L the mean squared error to Gaussian targets;
    - chi1 estimate: (backward signal l / backward signal l+1)^2, which
      the theory predicts to be chi_1 (< 1: vanishing, > 1: exploding).
    Gaussian inputs, scaled to put the first layer at q* (unit variance
    where q* is 0 or infinite): every layer sits at the theory's fixed point.
    """
    act, params = registry_activation(activation, param)
    if init not in ("he", "lecun", "orthogonal"):
        raise typer.BadParameter(
            "expected one of 'he', 'lecun', 'orthogonal' (an init with a weight variance "
            f"sigma_w2 for the mean-field theory), received {init!r}",
            param_hint="--init",
        )
    for option, value in (("--width", width), ("--depth", depth), ("--batch", batch)):
        if value < 1:
            raise typer.BadParameter(
                f"expected a positive integer, received {value}", param_hint=option
            )
    if sigma_w2 is not None and not sigma_w2 > 0:
        raise typer.BadParameter(
            f"expected sigma_w2 > 0, received {sigma_w2}", param_hint="--sigma-w2"
        )
    if not sigma_b2 >= 0:
        raise typer.BadParameter(
            f"expected sigma_b2 >= 0, received {sigma_b2}", param_hint="--sigma-b2"
        )
    sw2 = default_sigma_w2(init) if sigma_w2 is None else sigma_w2
    theory = gf.mean_field_numbers(act, sw2, sigma_b2)

    model = random_mlp(
        width, [width] * depth, act, init=init, sigma_w2=sigma_w2, sigma_b2=sigma_b2, seed=seed
    )
    kx, ky = jax.random.split(jax.random.key(seed))
    q_star = theory["q*"]
    scale = math.sqrt((q_star - sigma_b2) / sw2) if q_star and q_star > sigma_b2 else 1.0
    x = scale * jax.random.normal(kx, (batch, width))
    y = jax.random.normal(ky, (batch, 1))
    measured = jax.tree.map(np.asarray, gf.signals(model, x, y, loss="mse"))
    rows = [
        {
            "layer": l + 1,
            "q": float(measured.q[l]),
            "backward signal": float(measured.delta_norm[l]),
            "grad norm": float(measured.weight_grad_norm[l]),
            "chi1 estimate": float(measured.delta_ratio[l]) if l + 1 < depth else None,
        }
        for l in range(depth)
    ]
    delta = measured.delta_norm
    # geometric mean of the per-layer ratios (delta[l] / delta[l + 1])^2
    chi_measured = float((delta[0] / delta[-1]) ** (2 / (depth - 1))) if depth > 1 else None
    payload = {
        "config": dict(
            activation=activation,
            params=params,
            init=init,
            sigma_w2=sw2,
            sigma_b2=sigma_b2,
            width=width,
            depth=depth,
            batch=batch,
            seed=seed,
            input_std=scale,
        ),
        "mean_field": theory,
        "layers": rows,
        "chi1": {"measured": chi_measured, "mean_field": theory["chi1"]},
        "global_grad_norm": float(measured.global_grad_norm),
    }
    notes = []
    if phase_diagram is not None:
        writable_dir(phase_diagram.parent)
        grid = gf.phase_diagram(
            [act],
            np.linspace(0.5, max(4.0, 1.5 * sw2), 24),
            np.linspace(0.0, max(0.5, 2 * sigma_b2), 11),
        )
        fig = plot.phase_diagram(grid, points=[(sw2, sigma_b2, "this network")])
        payload["phase_diagram"] = [str(path) for path in plot.save(fig, phase_diagram)]
        notes.append(f"wrote {', '.join(payload['phase_diagram'])}")
    if as_json:
        print_json(payload)
        return
    numbers = {k: v for k, v in theory.items() if k != "notes"}
    emit(
        payload,
        [numbers],
        False,
        title=f"mean field: {act!r}",
        notes=[f"{k}: {v}" for k, v in theory["notes"].items()],
    )
    emit(
        payload,
        rows,
        False,
        title=f"random MLP, width {width}, depth {depth}, batch {batch}",
        notes=[
            f"chi1 per layer (geometric mean): measured {cell(chi_measured)}, mean field "
            f"{cell(theory['chi1'])}; global gradient norm "
            f"{cell(payload['global_grad_norm'])}",
            *notes,
        ],
    )
