"""``actlab bench``: run (or list) the benchmark scripts of ``benchmarks/``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import actlab
from actlab.cli._common import console

CONTEXT = {
    "allow_extra_args": True,
    "allow_interspersed_args": False,
    "ignore_unknown_options": True,
}
"""Arguments after NAME go to the script."""


def _benchmarks_dir() -> Path:
    """``benchmarks/`` of the source tree this actlab was installed from (editable installs)."""
    return Path(actlab.__file__).resolve().parent.parent / "benchmarks"


def _benchmarks(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise typer.BadParameter(
            f"expected a benchmarks folder at {folder}, received none: the benchmark scripts "
            "live in the source repository, not in an installed wheel; run from a clone "
            "(pip install -e .)"
        )
    found = {p.stem: p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")}
    if "run_all" in found:  # every benchmark in one run: `actlab bench all`
        found["all"] = found.pop("run_all")
    return found


def _summary(script: Path) -> str:
    import ast

    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


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
    actlab bench all --device gpu    every benchmark, sized for the GPU, within 8 minutes
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
            f"expected one of {', '.join(scripts)}, received {name!r}", param_hint="NAME"
        )
    args = ctx.args[1:] if ctx.args[:1] == ["--"] else ctx.args  # `bench NAME -- ARGS` too
    code = subprocess.call([sys.executable, str(scripts[name]), *args])
    raise typer.Exit(code)
