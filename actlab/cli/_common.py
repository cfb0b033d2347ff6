"""What every ``actlab`` subcommand shares: option parsing, the random MLP, and output."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from actlab.io import jsonable

console = Console()


def writable_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise typer.BadParameter(
            f"expected an output folder that can be created, received {path}: {err.strerror}"
        ) from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"expected a writable output folder, received {path}")
    return path


@contextlib.contextmanager
def user_errors(param_hint: str | None = None) -> Iterator[None]:
    """Report the library's ``ValueError`` (bad input) as a usage error instead of a traceback."""
    try:
        yield
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=param_hint) from None


def parse_numbers(text: str, option: str, kind: type) -> list:
    try:
        return [kind(part) for part in text.split(",")]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise typer.BadParameter(
            f"expected comma-separated {what}, received {text!r}", param_hint=option
        ) from None


def architecture(
    widths: str | None, width: int | None, depth: int | None, default_depth: int = 3
) -> list[int]:
    """Hidden widths from ``--widths 16,16,16`` or ``--width W --depth L`` (default width 16)."""
    if widths is not None:
        if width is not None or depth is not None:
            raise typer.BadParameter("expected either --widths or --width/--depth, received both")
        sizes = parse_numbers(widths, "--widths", int)
        if min(sizes) < 1:
            raise typer.BadParameter(
                f"expected positive widths, received {widths}", param_hint="--widths"
            )
        return sizes
    for option, value in (("--width", width), ("--depth", depth)):
        if value is not None and value < 1:
            raise typer.BadParameter(
                f"expected a positive integer, received {value}", param_hint=option
            )
    return [16 if width is None else width] * (default_depth if depth is None else depth)


def registry_activation(name: str, params: Sequence[str] | None, *, piecewise_linear: bool = False):
    """The registry activation ``name`` with ``--param NAME=VALUE`` bound, and those params."""
    from actlab import activations as A

    with user_errors("--activation"):
        spec = A.spec(name)
    if not spec.elementwise:
        raise typer.BadParameter(
            f"expected an elementwise activation, received {name!r}", param_hint="--activation"
        )
    if piecewise_linear and not spec.piecewise_linear:
        valid = ", ".join(n for n in A.names() if A.spec(n).piecewise_linear)
        raise typer.BadParameter(
            f"expected a piecewise-linear activation for region counting ({valid}), received {name!r}",
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
            raise typer.BadParameter(
                f"expected NAME=NUMBER, received {item!r}", param_hint="--param"
            )
    with user_errors("--param"):
        return A.get(name, **bound), bound


def check_init(init: str) -> str:
    from actlab.models import INIT_SCHEMES

    if init not in INIT_SCHEMES:
        raise typer.BadParameter(
            f"expected one of {INIT_SCHEMES}, received {init!r}", param_hint="--init"
        )
    return init


def random_mlp(inputs, widths, act, *, init, sigma_w2, sigma_b2, seed, out_features=1):
    """The random MLP (eval mode) these commands measure."""
    from flax import nnx

    from actlab.models import MLP

    with user_errors():
        model = MLP(
            inputs,
            widths,
            out_features,
            activation=act,
            init=check_init(init),
            sigma_w2=sigma_w2,
            sigma_b2=sigma_b2,
            rngs=nnx.Rngs(seed),
        )
    model.eval()
    return model


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and abs(value) >= 10**9:
        return f"{value:.3e}"
    return str(value)


def print_json(payload: Any) -> None:
    """``payload`` as strict JSON (:func:`actlab.io.jsonable`: NaN as null, infinities as
    "inf")."""
    print(json.dumps(jsonable(payload), indent=2, allow_nan=False))


def emit(
    payload: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    as_json: bool,
    *,
    title: str,
    notes: Sequence[str] = (),
) -> None:
    """Print ``payload`` as JSON, or ``rows`` as a table followed by ``notes``."""
    if as_json:
        print_json(payload)
        return
    table = Table(*rows[0].keys(), title=title)
    for row in rows:
        table.add_row(*(cell(v) for v in row.values()))
    console.print(table)
    for note in notes:
        console.print(note)


# ----------------------------------------------------------------------------- options
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


BiasOption = Annotated[
    float, typer.Option(help="Bias variance (0 puts every first-layer kink through the origin).")
]
FigureOption = Annotated[Path, typer.Option(help="Figure path without suffix (PNG and SVG).")]
