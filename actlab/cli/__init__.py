"""The ``actlab`` command line: it parses, calls the library, and prints (a table, or JSON).

Subcommands, one module each: ``reproduce`` (the report), ``plot`` and ``activations`` (the
gallery), ``regions line|plane|depth`` (exact region counts of a random MLP beside the bounds),
``gradflow`` (mean-field numbers and per-layer gradient norms, optionally the phase diagram),
``bench`` (the benchmark scripts). Figures come from :mod:`actlab.plot`.
"""

from __future__ import annotations

from typing import Annotated

import typer

import actlab
from actlab.cli._bench import CONTEXT, bench
from actlab.cli._common import console
from actlab.cli._gradflow import gradflow
from actlab.cli._regions import regions_app
from actlab.cli._report import list_activations, plot, reproduce

app = typer.Typer(
    help="actlab: measure what activation functions do (exact derivatives, gradient flow, regions).",
    no_args_is_help=True,
    add_completion=False,
)


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


app.command()(reproduce)
app.command()(plot)
app.command("activations")(list_activations)
app.add_typer(regions_app, name="regions")
app.command()(gradflow)
app.command(context_settings=CONTEXT)(bench)


def main() -> None:
    """Console-script entry point."""
    app()
