"""The ``actlab`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import actlab

app = typer.Typer(
    help="actlab: measure what activation functions do (exact derivatives, gradient flow, regions).",
    no_args_is_help=True,
    add_completion=False,
)
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


def _writable_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise typer.BadParameter(f"cannot create output folder {path}: {err.strerror}") from None
    if not path.is_dir() or not (path.stat().st_mode & 0o222):
        raise typer.BadParameter(f"output folder {path} is not writable")
    return path


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


def main() -> None:
    """Console-script entry point."""
    app()
