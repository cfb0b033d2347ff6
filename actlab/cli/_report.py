"""``actlab reproduce``, ``actlab plot`` and ``actlab activations``: the report and the gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from actlab.cli._common import console, print_json, writable_dir


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

    index = run(writable_dir(out), quick=quick, force=force, seed=seed)
    console.print(f"report written to {index}")


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
        raise typer.BadParameter(
            f"--xmin: expected a value below --xmax, received {xmin} >= {xmax}"
        )
    writable_dir(out.parent)
    paths = plotting.save(plotting.activations(names, xlim=(xmin, xmax)), out)
    console.print("wrote " + ", ".join(map(str, paths)))


def list_activations(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every activation with its parameters and its derivative at the kinks."""
    from actlab.experiments.gallery import conventions

    rows = conventions()
    if as_json:
        print_json(rows)
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
