"""Shared benchmark plumbing: timing, environment facts, and the RESULTS.md log."""

from __future__ import annotations

import datetime
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax

RESULTS = Path(__file__).with_name("RESULTS.md")


def select_device(kind: str) -> jax.Device:
    """The first JAX device of ``kind`` ('cpu' or 'gpu'); SystemExit with a clear message if none."""
    try:
        return jax.devices(kind)[0]
    except RuntimeError:
        raise SystemExit(f"no {kind} device available to JAX (have: {jax.devices()})") from None


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn()`` (which must block until its result is ready) over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(fns: Sequence[Callable[[], Any]], repeats: int) -> list[float]:
    """Median time of each blocking callable, calls interleaved so drift affects all equally.

    Each callable is called once untimed first (compilation, allocation).
    """
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def environment(device: jax.Device) -> dict[str, Any]:
    """Device and library versions for the record."""
    import flax
    import numpy
    import optax

    return {
        "device": f"{device.platform}: {device.device_kind}",
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": numpy.__version__,
        "date": datetime.date.today().isoformat(),
    }


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of equal keys as a GitHub markdown table."""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def append_results(title: str, env: dict[str, Any], table: str, notes: str = "") -> None:
    """Append a dated section with the command line, environment and table to RESULTS.md."""
    command = "python " + " ".join([str(Path(sys.argv[0]).as_posix()), *sys.argv[1:]])
    env_line = ", ".join(f"{k} {v}" for k, v in env.items())
    section = f"\n## {title}\n\nCommand: `{command}`\n\nEnvironment: {env_line}\n\n{table}\n"
    if notes:
        section += f"\n{notes}\n"
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nEach section is appended by the script that produced it.\n"
        )
    with RESULTS.open("a") as f:
        f.write(section)
