"""The ``actlab`` command line: it parses, calls the library, and prints (a table, or JSON).

Subcommands: ``reproduce`` (the report), ``plot`` and ``activations`` (the gallery),
``regions line|plane|depth`` (exact region counts of a random MLP beside the bounds),
``gradflow`` (mean-field numbers and per-layer gradient norms), ``bench`` (the benchmark scripts).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

import actlab

app = typer.Typer(
    help="actlab: measure what activation functions do (exact derivatives, gradient flow, regions).",
    no_args_is_help=True,
    add_completion=False,
)
regions_app = typer.Typer(
    help="Exact activation-region counts of a random MLP (on a segment, on a plane, versus depth), "
    "beside the theoretical bounds.",
    no_args_is_help=True,
)
app.add_typer(regions_app, name="regions")
console = Console()


def _version(value: bool) -> None:
    if value:
        console.print(f"actlab {actlab.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:  # fmt: skip
    """actlab command line."""


# ----------------------------------------------------------------------------- argument helpers
def _writable_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise typer.BadParameter(f"cannot create output folder {path}: {err.strerror}") from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"output folder {path} is not writable")
    return path


@contextlib.contextmanager
def _user_errors(param_hint: str | None = None) -> Iterator[None]:
    """Report the library's ``ValueError`` (bad input) as a usage error instead of a traceback."""
    try:
        yield
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=param_hint) from None


def _numbers(text: str, option: str, kind: type) -> list:
    try:
        return [kind(part) for part in text.split(",")]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise typer.BadParameter(
            f"expected comma-separated {what}, got {text!r}", param_hint=option
        ) from None


def _architecture(
    widths: str | None, width: int | None, depth: int | None, default_depth: int = 3
) -> list[int]:
    """Hidden widths from ``--widths 16,16,16`` or ``--width W --depth L`` (default width 16)."""
    if widths is not None:
        if width is not None or depth is not None:
            raise typer.BadParameter("give either --widths or --width/--depth, not both")
        sizes = _numbers(widths, "--widths", int)
        if min(sizes) < 1:
            raise typer.BadParameter(
                f"expected positive widths, got {widths}", param_hint="--widths"
            )
        return sizes
    for option, value in (("--width", width), ("--depth", depth)):
        if value is not None and value < 1:
            raise typer.BadParameter(f"expected a positive integer, got {value}", param_hint=option)
    return [16 if width is None else width] * (default_depth if depth is None else depth)


def _activation(name: str, params: Sequence[str] | None, *, piecewise_linear: bool = False):
    """The registry activation ``name`` with ``--param NAME=VALUE`` bound, and those params."""
    from actlab import activations as A

    with _user_errors("--activation"):
        spec = A.spec(name)
    if not spec.elementwise:
        raise typer.BadParameter(
            f"expected an elementwise activation, got {name!r}", param_hint="--activation"
        )
    if piecewise_linear and not spec.piecewise_linear:
        valid = ", ".join(n for n in A.names() if A.spec(n).piecewise_linear)
        raise typer.BadParameter(
            f"region counting needs a piecewise-linear activation ({valid}); got {name!r}",
            param_hint="--activation",
        )
    bound = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        try:
            bound[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise typer.BadParameter(f"expected NAME=NUMBER, got {item!r}", param_hint="--param")
    with _user_errors("--param"):
        return A.get(name, **bound), bound


def _check_init(init: str) -> str:
    from actlab.models import INIT_SCHEMES

    if init not in INIT_SCHEMES:
        raise typer.BadParameter(
            f"expected one of {INIT_SCHEMES}, got {init!r}", param_hint="--init"
        )
    return init


def _mlp(inputs, widths, act, *, init, sigma_w2, sigma_b2, seed, out_features=1):
    """The random MLP (eval mode) these commands measure."""
    from flax import nnx

    from actlab.models import MLP

    with _user_errors():
        model = MLP(
            inputs,
            widths,
            out_features,
            activation=act,
            init=_check_init(init),
            sigma_w2=sigma_w2,
            sigma_b2=sigma_b2,
            rngs=nnx.Rngs(seed),
        )
    model.eval()
    return model


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and abs(value) >= 10**9:
        return f"{value:.3e}"
    return str(value)


def _plain(value: Any) -> Any:
    """``value`` for strict JSON: NumPy scalars as Python numbers, non-finite floats as the
    strings "inf", "-inf", "nan"."""
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _print_json(payload: Mapping[str, Any]) -> None:
    print(json.dumps(_plain(payload), indent=2, allow_nan=False))


def _emit(
    payload: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    as_json: bool,
    *,
    title: str,
    notes: Sequence[str] = (),
) -> None:
    """Print ``payload`` as JSON, or ``rows`` as a table followed by ``notes``."""
    if as_json:
        _print_json(payload)
        return
    table = Table(*rows[0].keys(), title=title)
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)
    for note in notes:
        console.print(note)


# ----------------------------------------------------------------------------- reproduce, plot
@app.command()
def reproduce(
    quick: Annotated[
        bool, typer.Option(help="Small configuration: a few minutes on a 2-core CPU.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("report"),
    force: Annotated[bool, typer.Option(help="Recompute experiments already on disk.")] = False,
    seed: Annotated[int, typer.Option(help="Base random seed.")] = 0,
) -> None:
    """Run every experiment and write OUT/index.html and OUT/results.json."""
    from actlab.reproduce import reproduce as run

    index = run(_writable_dir(out), quick=quick, force=force, seed=seed)
    console.print(f"report written to {index}")


@app.command()
def plot(
    names: Annotated[
        list[str] | None, typer.Argument(help="Activation names (default: relu leaky_relu).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Figure path without suffix; PNG and SVG are written.")
    ] = Path("activations"),
    xmin: float = -19.0,
    xmax: float = 19.0,
) -> None:
    """Draw activations and their derivatives (the activation gallery)."""
    from actlab import activations as A
    from actlab import plot as plotting

    names = names or ["relu", "leaky_relu"]
    for name in names:
        try:
            A.spec(name)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="NAMES") from None
    if xmin >= xmax:
        raise typer.BadParameter(f"--xmin must be below --xmax, got {xmin} >= {xmax}")
    _writable_dir(out.parent)
    paths = plotting.save(plotting.activations(names, xlim=(xmin, xmax)), out)
    console.print("wrote " + ", ".join(map(str, paths)))


@app.command("activations")
def list_activations(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every activation with its parameters and its derivative at the kinks."""
    from actlab.experiments.gallery import conventions

    rows = conventions()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)


# ----------------------------------------------------------------------------- regions
WidthsOption = Annotated[
    str | None, typer.Option("--widths", help="Hidden widths, comma-separated (e.g. 16,16,16).")
]
WidthOption = Annotated[
    int | None, typer.Option(help="Width of every hidden layer (default 16; with --depth).")
]
DepthOption = Annotated[int | None, typer.Option(help="Number of hidden layers (default 3).")]
InputsOption = Annotated[int, typer.Option(help="Input dimension of the network.", min=1)]
PwlOption = Annotated[
    str,
    typer.Option(
        help="Piecewise-linear activation: relu, leaky_relu, prelu, relu6, hard_tanh, ..."
    ),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param", help="Activation parameter NAME=VALUE (repeatable), e.g. negative_slope=0.1."
    ),
]
InitOption = Annotated[str, typer.Option(help="Weight init: he, lecun, orthogonal or glorot.")]
SigmaW2Option = Annotated[
    float | None, typer.Option(help="Weight variance times fan-in (default: the init's own).")
]
SeedOption = Annotated[int, typer.Option(help="Seed of the random network.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _bounds(n0: int, widths: Sequence[int], pieces: int) -> dict[str, int | None]:
    """Best-case lower and worst-case upper bounds (Serra et al. 2018) for two-piece units."""
    from actlab.regions import bounds

    if pieces > 2:  # the bounds are for units with two pieces (ReLU, leaky ReLU, PReLU)
        return {"best-case lower": None, "upper": None}
    try:
        lower = bounds.serra_lower(n0, widths)
    except ValueError:  # needs widths >= 3 n0
        lower = None
    return {"best-case lower": lower, "upper": bounds.serra_upper(n0, widths)}


def _region_setup(
    widths,
    width,
    depth,
    inputs,
    activation,
    param,
    init,
    sigma_w2,
    sigma_b2,
    seed,
    out,
    *,
    radius: float | None = None,
    default_depth: int = 3,
):
    """Check the shared options and build the network: ``(model, layers, params, config)``.

    ``layers`` are the hidden layers ``[(W, b), ...]`` that ``actlab.regions`` counts; ``radius``
    is given by the commands that count on a plane (which needs two inputs).
    """
    from actlab.models import hidden_layers

    sizes = _architecture(widths, width, depth, default_depth)
    act, params = _activation(activation, param, piecewise_linear=True)
    if radius is not None:
        if not radius > 0:
            raise typer.BadParameter(
                f"expected a positive radius, got {radius}", param_hint="--radius"
            )
        if inputs < 2:
            raise typer.BadParameter(
                f"a plane needs at least 2 inputs, got {inputs}", param_hint="--inputs"
            )
    _writable_dir(out.parent)
    model = _mlp(inputs, sizes, act, init=init, sigma_w2=sigma_w2, sigma_b2=sigma_b2, seed=seed)
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
    return model, hidden_layers(model), params, config


def _pieces(activation: str) -> int:
    from actlab import activations as A

    return len(A.spec(activation).kinks) + 1


def _save(fig, out: Path) -> list[str]:
    from actlab import plot as plotting

    return [str(p) for p in plotting.save(fig, out)]


def _segment(text: str | None, default: float, inputs: int, option: str) -> list[float]:
    if text is None:
        return [default] * inputs
    point = _numbers(text, option, float)
    if len(point) != inputs:
        raise typer.BadParameter(
            f"expected {inputs} coordinates (--inputs), got {len(point)}", param_hint=option
        )
    return point


BiasOption = Annotated[
    float, typer.Option(help="Bias variance (0 puts every first-layer kink through the origin).")
]
FigureOption = Annotated[Path, typer.Option(help="Figure path without suffix (PNG and SVG).")]


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
    import numpy as np

    from actlab import regions

    a = np.array(_segment(start, -1.0, inputs, "--start"))
    b = np.array(_segment(end, 1.0, inputs, "--end"))
    model, layers, params, config = _region_setup(
        widths, width, depth, inputs, activation, param, init, sigma_w2, sigma_b2, seed, out
    )
    with _user_errors():
        count, t = regions.count_line(
            layers, a, b, activation=activation, activation_params=params, return_breakpoints=True
        )
    sizes = config["widths"]
    row = {"widths": ",".join(map(str, sizes)), "neurons": sum(sizes), "regions": count}
    row |= _bounds(1, sizes, _pieces(activation))
    figure = _save(_line_figure(model, a, b, t), out)
    payload = {
        "config": config | {"start": a.tolist(), "end": b.tolist()},
        "rows": [row],
        "breakpoints": t.tolist(),
        "figure": figure,
    }
    _emit(
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
    import numpy as np

    from actlab import regions

    _, layers, params, config = _region_setup(
        widths,
        width,
        depth,
        inputs,
        activation,
        param,
        init,
        sigma_w2,
        sigma_b2,
        seed,
        out,
        radius=radius,
    )
    with _user_errors():
        part = regions.partition_plane(
            layers,
            bounds=((-radius, radius), (-radius, radius)),
            basis=np.eye(inputs)[:2],
            activation=activation,
            activation_params=params,
        )
    sizes = config["widths"]
    row = {
        "widths": ",".join(map(str, sizes)),
        "neurons": sum(sizes),
        "regions": part.count,
        "linear regions": part.count_linear(),
    }
    row |= _bounds(2, sizes, _pieces(activation))
    figure = _save(_plane_figure(part), out)
    payload = {"config": config, "rows": [row], "figure": figure}
    _emit(
        payload,
        [row],
        as_json,
        title=f"regions in [-{radius:g}, {radius:g}]^2",
        notes=[f"wrote {', '.join(figure)}"],
    )


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
    import numpy as np

    from actlab import regions

    _, layers, params, config = _region_setup(
        widths,
        width,
        depth,
        inputs,
        activation,
        param,
        init,
        sigma_w2,
        sigma_b2,
        seed,
        out,
        radius=radius,
        default_depth=6,
    )
    sizes, pieces = config["widths"], _pieces(activation)
    ends, box = radius * np.ones(inputs), ((-radius, radius), (-radius, radius))
    kwargs = {"activation": activation, "activation_params": params}
    rows = []
    with _user_errors():
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
    figure = _save(_depth_figure(rows), out)
    payload = {"config": config, "rows": rows, "figure": figure}
    _emit(
        payload,
        rows,
        as_json,
        title="regions after each layer of one network",
        notes=[f"wrote {', '.join(figure)}"],
    )


def _line_figure(model, start, end, breakpoints):
    """The network output along the segment, with the region boundaries marked."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = np.union1d(np.linspace(0.0, 1.0, 2001), breakpoints)
    y = np.asarray(model(start + t[:, None] * (end - start)))[:, 0]
    fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    for b in breakpoints:
        ax.axvline(b, color="0.85", lw=0.6)
    ax.plot(t, y, color="C0", lw=1.2)
    ax.set(
        xlabel="t (x = start + t (end - start))",
        ylabel="network output",
        title=f"{len(breakpoints) + 1} activation regions on the segment",
    )
    return fig


def _plane_figure(part):
    """The partition: one colour per linear region, white edges between activation regions."""
    import matplotlib.pyplot as plt

    from actlab import plot as plotting

    fig, ax = plt.subplots(figsize=(5.5, 5.5), layout="constrained")
    plotting.draw_partition(ax, part)
    ax.set(aspect="equal", xlabel="input 1", ylabel="input 2",
           title=f"{part.count} activation regions, {part.count_linear()} linear regions")  # fmt: skip
    return fig


def _depth_figure(rows):
    """Counts after each layer against the upper bounds, on a log scale."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    depths = [r["depth"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    for key, style in (("line", "o-C0"), ("plane", "s-C1")):
        ax.plot(depths, [r[key] for r in rows], style[:-2], color=style[-2:], label=f"{key}")
        upper = [r[f"{key} upper"] for r in rows]
        if None not in upper:
            ax.plot(depths, upper, "--", color=style[-2:], label=f"{key} upper bound")
    ax.set(
        yscale="log",
        xlabel="depth (hidden layers)",
        ylabel="regions",
        title="regions after each layer",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    return fig


# ----------------------------------------------------------------------------- gradflow
def _mean_field(act, sigma_w2: float, sigma_b2: float) -> dict[str, Any]:
    """q*, chi_1, phase, depth scales and the critical sigma_w2; a failing number becomes None
    with its reason under ``notes``."""
    from actlab import gradflow

    mf = gradflow.MeanField(act)
    values: dict[str, Any] = {"sigma_w2": sigma_w2, "sigma_b2": sigma_b2}
    notes = {}
    for name, fn in (
        ("q*", lambda: mf.q_star(sigma_w2, sigma_b2)),
        ("chi1", lambda: mf.chi1(sigma_w2, sigma_b2)),
        ("phase", lambda: mf.phase(sigma_w2, sigma_b2)),
        ("xi_q", lambda: mf.xi_q(sigma_w2, sigma_b2)),
        ("xi_c", lambda: mf.xi_c(sigma_w2, sigma_b2)),
        ("critical sigma_w2", lambda: mf.critical_sigma_w2(sigma_b2)),
    ):
        try:
            values[name] = fn()
        except ValueError as err:  # DivergenceError, no critical point, ...
            values[name], notes[name] = None, str(err)
    values["notes"] = notes
    return values


@app.command()
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
    import jax
    import numpy as np

    from actlab.gradflow import signals
    from actlab.models._init import _DEFAULT_SIGMA_W2

    act, params = _activation(activation, param)
    if init not in _DEFAULT_SIGMA_W2:
        raise typer.BadParameter(
            f"expected one of {tuple(_DEFAULT_SIGMA_W2)} (an init with a weight variance "
            f"sigma_w2 for the mean-field theory), got {init!r}",
            param_hint="--init",
        )
    for option, value in (("--width", width), ("--depth", depth), ("--batch", batch)):
        if value < 1:
            raise typer.BadParameter(f"expected a positive integer, got {value}", param_hint=option)
    if sigma_w2 is not None and not sigma_w2 > 0:
        raise typer.BadParameter(f"expected sigma_w2 > 0, got {sigma_w2}", param_hint="--sigma-w2")
    if not sigma_b2 >= 0:
        raise typer.BadParameter(f"expected sigma_b2 >= 0, got {sigma_b2}", param_hint="--sigma-b2")
    sw2 = _DEFAULT_SIGMA_W2[init] if sigma_w2 is None else sigma_w2
    theory = _mean_field(act, sw2, sigma_b2)

    model = _mlp(
        width, [width] * depth, act, init=init, sigma_w2=sigma_w2, sigma_b2=sigma_b2, seed=seed
    )
    kx, ky = jax.random.split(jax.random.key(seed))
    q_star = theory["q*"]
    scale = math.sqrt((q_star - sigma_b2) / sw2) if q_star and q_star > sigma_b2 else 1.0
    x = scale * jax.random.normal(kx, (batch, width))
    y = jax.random.normal(ky, (batch, 1))
    measured = jax.tree.map(np.asarray, signals(model, x, y, loss="mse"))
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
    if as_json:
        _print_json(payload)
        return
    numbers = {k: v for k, v in theory.items() if k != "notes"}
    _emit(
        payload,
        [numbers],
        False,
        title=f"mean field: {act!r}",
        notes=[f"{k}: {v}" for k, v in theory["notes"].items()],
    )
    _emit(
        payload,
        rows,
        False,
        title=f"random MLP, width {width}, depth {depth}, batch {batch}",
        notes=[
            f"chi1 per layer (geometric mean): measured {_cell(chi_measured)}, mean field "
            f"{_cell(theory['chi1'])}; global gradient norm "
            f"{_cell(payload['global_grad_norm'])}"
        ],
    )


# ----------------------------------------------------------------------------- bench
def _benchmarks_dir() -> Path:
    """``benchmarks/`` of the source tree this actlab was installed from (editable installs)."""
    return Path(actlab.__file__).resolve().parent.parent / "benchmarks"


def _benchmarks(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise typer.BadParameter(
            f"no benchmarks folder at {folder}: the benchmark scripts live in the source "
            "repository, not in an installed wheel; run from a clone (pip install -e .)"
        )
    return {p.stem: p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")}


def _summary(script: Path) -> str:
    import ast

    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


@app.command(
    context_settings={
        "allow_extra_args": True,
        "allow_interspersed_args": False,
        "ignore_unknown_options": True,
    }
)
def bench(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME [ARGS]...", help="Benchmark to run; without one, list them."),
    ] = None,
) -> None:
    """Run a benchmark script of benchmarks/ (arguments after NAME go to it), or list them.

    actlab bench                     list the benchmarks
    actlab bench regions --quick     run benchmarks/regions.py --quick
    actlab bench activations -- --sizes-mib 1 --names relu gelu
    actlab bench training --help     the script's own options
    """
    scripts = _benchmarks(_benchmarks_dir())
    if name is None:
        table = Table("benchmark", "what it measures", title=f"benchmarks in {_benchmarks_dir()}")
        for stem, path in scripts.items():
            table.add_row(stem, _summary(path))
        console.print(table)
        console.print("run one with: actlab bench NAME [ARGS]  (actlab bench NAME --help)")
        return
    if name not in scripts:
        raise typer.BadParameter(
            f"unknown benchmark {name!r}; available: {', '.join(scripts)}", param_hint="NAME"
        )
    args = ctx.args[1:] if ctx.args[:1] == ["--"] else ctx.args  # `bench NAME -- ARGS` too
    code = subprocess.call([sys.executable, str(scripts[name]), *args])
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    app()
