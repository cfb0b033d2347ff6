"""``actlab regions line|plane|space|depth``: exact region counts of a random MLP beside the
bounds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from actlab import activations as A
from actlab import plot, regions
from actlab.cli._common import (
    BiasOption,
    DepthOption,
    FigureOption,
    InitOption,
    InputsOption,
    JsonOption,
    ParamOption,
    PwlOption,
    SeedOption,
    SigmaW2Option,
    WidthOption,
    WidthsOption,
    architecture,
    emit,
    parse_numbers,
    random_mlp,
    registry_activation,
    user_errors,
    writable_dir,
)
from actlab.models import hidden_layers
from actlab.regions import bounds
from actlab.regions.space import MAX_DIMENSION

regions_app = typer.Typer(
    help="Exact activation-region counts of a random MLP (on a segment, on a plane, in the whole "
    "input space, versus depth), beside the theoretical bounds.",
    no_args_is_help=True,
)


def _bounds(n0: int, widths: Sequence[int], pieces: int) -> dict[str, int | None]:
    """Best-case lower and worst-case upper bounds (Serra et al. 2018) for two-piece units."""
    if pieces > 2:  # the bounds are for units with two pieces (ReLU, leaky ReLU, PReLU)
        return {"best-case lower": None, "upper": None}
    try:
        lower = bounds.serra_lower(n0, widths)
    except ValueError:  # needs widths >= 3 n0
        lower = None
    return {"best-case lower": lower, "upper": bounds.serra_upper(n0, widths)}


def _region_setup(
    options: dict, *, radius: float | None = None, default_depth: int = 3
):  # fmt: skip
    """Check the network options every ``regions`` command shares (a command passes its
    ``locals()``) and build the network: ``(model, layers, activation, config)``.

    ``layers`` are the hidden layers ``[(W, b), ...]`` that ``actlab.regions`` counts; ``radius``
    is given by the commands that count on a plane (which needs two inputs).
    """
    widths, width, depth, inputs, activation, param, init, sigma_w2, sigma_b2, seed, out = (
        options.get(k) for k in ("widths", "width", "depth", "inputs", "activation", "param",
                                 "init", "sigma_w2", "sigma_b2", "seed", "out")
    )  # fmt: skip
    sizes = architecture(widths, width, depth, default_depth)
    act, params = registry_activation(activation, param, piecewise_linear=True)
    if radius is not None:
        if not radius > 0:
            raise typer.BadParameter(
                f"expected a positive radius, received {radius}", param_hint="--radius"
            )
        if inputs < 2:
            raise typer.BadParameter(
                f"expected at least 2 inputs for a plane, received {inputs}", param_hint="--inputs"
            )
    if out is not None:
        writable_dir(out.parent)
    model = random_mlp(
        inputs, sizes, act, init=init, sigma_w2=sigma_w2, sigma_b2=sigma_b2, seed=seed
    )
    config = {
        "widths": sizes,
        "inputs": inputs,
        "activation": activation,
        "params": params,
        "init": init,
        "sigma_w2": sigma_w2,
        "sigma_b2": sigma_b2,
        "seed": seed,
    }
    if radius is not None:
        config["radius"] = radius
    return model, hidden_layers(model), act, config


def _pieces(activation: str) -> int:
    return len(A.spec(activation).kinks) + 1


def _save(fig, out: Path) -> list[str]:
    return [str(p) for p in plot.save(fig, out)]


def _segment(text: str | None, default: float, inputs: int, option: str) -> list[float]:
    if text is None:
        return [default] * inputs
    point = parse_numbers(text, option, float)
    if len(point) != inputs:
        raise typer.BadParameter(
            f"expected {inputs} coordinates (--inputs), received {len(point)}", param_hint=option
        )
    return point


@regions_app.command("line")
def regions_line(
    widths: WidthsOption = None,
    width: WidthOption = None,
    depth: DepthOption = None,
    inputs: InputsOption = 2,
    activation: PwlOption = "relu",
    param: ParamOption = None,
    init: InitOption = "he",
    sigma_w2: SigmaW2Option = None,
    sigma_b2: BiasOption = 0.01,
    seed: SeedOption = 0,
    start: Annotated[
        str | None, typer.Option(help="Segment start, comma-separated (default -1,...,-1).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Segment end, comma-separated (default 1,...,1).")
    ] = None,
    out: FigureOption = Path("regions_line"),
    as_json: JsonOption = False,
) -> None:
    """Exact number of activation regions met by a segment, beside the bounds for a line."""
    a = np.array(_segment(start, -1.0, inputs, "--start"))
    b = np.array(_segment(end, 1.0, inputs, "--end"))
    model, layers, act, config = _region_setup(locals())
    with user_errors():
        line = regions.partition_line(layers, a, b, activation=act)
    sizes, t = config["widths"], line.breakpoints
    row = {"widths": ",".join(map(str, sizes)), "neurons": sum(sizes), "regions": line.count}
    row |= _bounds(1, sizes, _pieces(activation))
    figure = _save(plot.line_regions(model, a, b, t), out)
    payload = {
        "config": config | {"start": a.tolist(), "end": b.tolist()},
        "rows": [row],
        "breakpoints": t.tolist(),
        "figure": figure,
    }
    emit(
        payload,
        [row],
        as_json,
        title="activation regions on the segment",
        notes=[f"wrote {', '.join(figure)}"],
    )


@regions_app.command("plane")
def regions_plane(
    widths: WidthsOption = None,
    width: WidthOption = None,
    depth: DepthOption = None,
    inputs: InputsOption = 2,
    activation: PwlOption = "relu",
    param: ParamOption = None,
    init: InitOption = "he",
    sigma_w2: SigmaW2Option = None,
    sigma_b2: BiasOption = 0.01,
    seed: SeedOption = 0,
    radius: Annotated[
        float, typer.Option(help="Half side of the box [-r, r]^2 on the plane of inputs 1 and 2.")
    ] = 1.0,
    out: FigureOption = Path("regions_plane"),
    as_json: JsonOption = False,
) -> None:
    """Exact activation and linear regions in a box of the plane of the first two inputs."""
    _, layers, act, config = _region_setup(locals(), radius=radius)
    with user_errors():
        part = regions.partition_plane(
            layers,
            bounds=((-radius, radius), (-radius, radius)),
            basis=np.eye(inputs)[:2],
            activation=act,
        )
    sizes = config["widths"]
    row = {
        "widths": ",".join(map(str, sizes)),
        "neurons": sum(sizes),
        "regions": part.count,
        "linear regions": part.count_linear(),
    }
    row |= _bounds(2, sizes, _pieces(activation))
    figure = _save(plot.plane_regions(part), out)
    payload = {"config": config, "rows": [row], "figure": figure}
    emit(
        payload,
        [row],
        as_json,
        title=f"regions in [-{radius:g}, {radius:g}]^2",
        notes=[f"wrote {', '.join(figure)}"],
    )


@regions_app.command("space")
def regions_space(
    widths: WidthsOption = None,
    width: WidthOption = None,
    depth: DepthOption = None,
    inputs: Annotated[int, typer.Option(help=f"Input dimension d (1 to {MAX_DIMENSION}).")] = 3,
    activation: PwlOption = "relu",
    param: ParamOption = None,
    init: InitOption = "he",
    sigma_w2: SigmaW2Option = None,
    sigma_b2: BiasOption = 0.01,
    seed: SeedOption = 0,
    radius: Annotated[float, typer.Option(help="Half side of the box [-r, r]^d.")] = 1.0,
    max_regions: Annotated[
        int, typer.Option(help="Stop with an error beyond this many regions.")
    ] = 1_000_000,
    as_json: JsonOption = False,
) -> None:
    """Exact activation and linear regions in the box [-r, r]^d of the whole input space."""
    if not radius > 0:
        raise typer.BadParameter(
            f"expected a positive radius, received {radius}", param_hint="--radius"
        )
    _, layers, act, config = _region_setup(locals())
    with user_errors():
        part = regions.partition_space(
            layers, bounds=[(-radius, radius)] * inputs, activation=act, max_regions=max_regions,
            progress=not as_json,
        )  # fmt: skip
    sizes = config["widths"]
    row = {
        "widths": ",".join(map(str, sizes)),
        "neurons": sum(sizes),
        "regions": part.count,
        "linear regions": part.count_linear(),
    }
    row |= _bounds(inputs, sizes, _pieces(activation))
    payload = {"config": config | {"radius": radius}, "rows": [row]}
    emit(payload, [row], as_json, title=f"regions in [-{radius:g}, {radius:g}]^{inputs}")


@regions_app.command("depth")
def regions_depth(
    widths: WidthsOption = None,
    width: WidthOption = None,
    depth: Annotated[int | None, typer.Option(help="Number of hidden layers (default 6).")] = None,
    inputs: InputsOption = 2,
    activation: PwlOption = "relu",
    param: ParamOption = None,
    init: InitOption = "he",
    sigma_w2: SigmaW2Option = None,
    sigma_b2: BiasOption = 0.01,
    seed: SeedOption = 0,
    radius: Annotated[
        float,
        typer.Option(
            help="The segment runs from -r(1,...,1) to r(1,...,1); the box is [-r, r]^2 "
            "on the plane of inputs 1 and 2."
        ),
    ] = 1.0,
    out: FigureOption = Path("regions_depth"),
    as_json: JsonOption = False,
) -> None:
    """Regions of one random network after each of its layers: on a segment and on a plane."""
    _, layers, act, config = _region_setup(locals(), radius=radius, default_depth=6)
    sizes, pieces = config["widths"], _pieces(activation)
    ends, box = radius * np.ones(inputs), ((-radius, radius), (-radius, radius))
    kwargs = {"activation": act}
    rows = []
    with user_errors():
        for l in range(1, len(sizes) + 1):
            line = regions.count_line(layers[:l], -ends, ends, **kwargs)
            plane = regions.count_plane(layers[:l], bounds=box, basis=np.eye(inputs)[:2], **kwargs)
            line_bounds, plane_bounds = _bounds(1, sizes[:l], pieces), _bounds(2, sizes[:l], pieces)
            rows.append(
                {
                    "depth": l,
                    "neurons": sum(sizes[:l]),
                    "line": line,
                    "line upper": line_bounds["upper"],
                    "plane": plane,
                    "plane best-case lower": plane_bounds["best-case lower"],
                    "plane upper": plane_bounds["upper"],
                }
            )
    figure = _save(plot.depth_counts(rows), out)
    payload = {"config": config, "rows": rows, "figure": figure}
    emit(
        payload,
        rows,
        as_json,
        title="regions after each layer of one network",
        notes=[f"wrote {', '.join(figure)}"],
    )
