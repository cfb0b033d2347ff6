"""``actlab reproduce``: run every experiment, resume finished ones, and write the report."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import actlab
from actlab import experiments, report
from actlab.io import read_json, write_json

Experiment = Callable[..., dict[str, Any]]


def _finished(done: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The saved result if ``done`` holds one for the same configuration, else ``None``."""
    if not done.exists():
        return None
    saved = read_json(done)
    return saved["result"] if saved.get("config") == config else None


def reproduce(
    out_dir: str | Path = "report",
    *,
    quick: bool = False,
    force: bool = False,
    seed: int = 0,
    only: Sequence[str] | None = None,
    progress: bool = True,
) -> Path:
    """Run the experiments in report order and write ``out_dir/index.html`` and ``results.json``.

    An experiment whose result is already on disk for the same configuration (``quick``, ``seed``
    and the actlab version) is not run again unless ``force``; so an interrupted run resumes.

    Args:
      out_dir: report folder; experiment ``key`` writes into ``out_dir / key``.
      quick: the small configuration (minutes on a 2-core CPU) instead of the full one.
      force: recompute every experiment.
      seed: base seed passed to every experiment.
      only: run only these experiment names (the report then holds only them).
      progress: show a progress bar.

    Returns:
      The path of ``index.html``.
    """
    out_dir = Path(out_dir)
    keys = experiments.names() if only is None else tuple(only)
    for key in keys:
        experiments.get(key)  # unknown names fail before anything runs
    config = {"quick": quick, "seed": seed, "version": actlab.__version__}
    sections, timings = [], {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), disable=not progress) as bar:  # fmt: skip
        task = bar.add_task("experiments", total=len(keys))
        for key in keys:
            bar.update(task, description=f"running {key}")
            done = out_dir / key / "done.json"
            result = None if force else _finished(done, config)
            if result is None:
                start = time.perf_counter()
                result = experiments.get(key)(out_dir / key, quick=quick, seed=seed)
                timings[key] = round(time.perf_counter() - start, 2)
                write_json(done, {"config": config, "result": result})
            sections.append({"key": key, "claim": experiments.claim(key), **result})
            bar.advance(task)
    meta = {
        "actlab": actlab.__version__,
        "jax": jax.__version__,
        "device": jax.devices()[0].device_kind,
        "python": platform.python_version(),
        "mode": "quick" if quick else "full",
        "seed": seed,
        "seconds per experiment run now": timings or "all resumed from disk",
    }
    return report.write(out_dir, sections, meta)
