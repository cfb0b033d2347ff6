"""What every experiment's ``run`` starts with (its seed, configuration and folder) and ends with
(figures saved, the report section assembled and written as JSON)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from matplotlib.figure import Figure

from actlab import plot
from actlab.checks import seed as check_seed
from actlab.io import write_json

C = TypeVar("C")


def config(config_type: type[C], *, quick: bool, seed: Any, config: Any) -> C:
    """``config`` if given, else ``config_type.quick()`` or ``.full()``; after checking ``seed``.

    Raises:
      TypeError: ``seed`` is not an int, or ``config`` is not a ``config_type``.
      ValueError: ``seed`` is negative.
    """
    check_seed(seed)
    cfg = config if config is not None else (config_type.quick() if quick else config_type.full())
    if not isinstance(cfg, config_type):
        parts = config_type.__module__.split(".")  # actlab.experiments.<name>[._config]
        home = parts[parts.index("experiments") + 1] if "experiments" in parts else parts[-1]
        name = f"{home}.{config_type.__name__}"
        article = "an" if name[0] in "aeiou" else "a"
        raise TypeError(f"config: expected {article} {name}, received {type(cfg).__name__}")
    return cfg


def out_folder(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a ``Path``, created with its parents if missing."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def finish(
    out: Path,
    name: str,
    cfg: Any,
    *,
    seed: int,
    title: str,
    summary: str,
    table: Sequence[Mapping[str, Any]],
    claims: Mapping[str, bool],
    figures: Mapping[str, Figure],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """Save ``figures`` (stem -> figure, PNG and SVG) and write ``out/<name>.json``.

    Returns:
      The report section: ``title``, ``summary``, ``figures`` (file names), ``table``,
      ``experiment``, ``quick`` (whether ``cfg`` is the quick preset), ``seed``, ``config``,
      the experiment's ``data`` entries, and ``claims``.
    """
    saved = [p.name for stem, fig in figures.items() for p in plot.save(fig, out / stem)]
    result: dict[str, Any] = {
        "title": title,
        "summary": summary,
        "figures": saved,
        "table": list(table),
        "experiment": name,
        "quick": cfg == type(cfg).quick(),
        "seed": seed,
        "config": dataclasses.asdict(cfg),
        **data,
        "claims": dict(claims),
    }
    write_json(out / f"{name}.json", result)
    return result
