"""Shared benchmark plumbing: devices (JAX and optional PyTorch), environment facts, tables and
the RESULTS.md log. The timing itself lives in :mod:`actlab.timing`."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax

from actlab.timing import interleaved_medians, median_seconds  # re-exported for the scripts

__all__ = [
    "RESULTS",
    "append_results",
    "environment",
    "interleaved_medians",
    "markdown_table",
    "median_seconds",
    "select_device",
    "torch_device",
]

RESULTS = Path(__file__).with_name("RESULTS.md")


def select_device(kind: str) -> jax.Device:
    """The first JAX device of ``kind`` ('cpu' or 'gpu'); SystemExit with a clear message if none."""
    try:
        return jax.devices(kind)[0]
    except RuntimeError:
        raise SystemExit(f"no {kind} device available to JAX (have: {jax.devices()})") from None


def torch_device(kind: str) -> tuple[Any, Any, Callable[[Any], Any]] | None:
    """``(torch, device, wait)`` for ``kind`` ('cpu' or 'gpu'), or None without a usable PyTorch.

    ``wait(result)`` blocks until the device's queued work is done (a CUDA synchronisation; on
    the CPU PyTorch runs synchronously). Matmuls use full float32 precision
    (``torch.set_float32_matmul_precision("highest")``) unless the caller changes it.

    Unless set already, ``OMP_WAIT_POLICY=PASSIVE`` is set before PyTorch is imported: its
    OpenMP threads otherwise spin after every parallel region and starve JAX's threads running
    in the same process (and any other load): on a loaded 2-core machine a small MLP step took
    0.38 s instead of 7 ms.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
    except ImportError:
        return None
    if kind == "gpu":
        if not torch.cuda.is_available():
            return None
        device = torch.device("cuda")

        def wait(result: Any) -> Any:
            torch.cuda.synchronize()
            return result
    else:
        device = torch.device("cpu")

        def wait(result: Any) -> Any:
            return result

    torch.set_float32_matmul_precision("highest")
    return torch, device, wait


def environment(device: jax.Device) -> dict[str, Any]:
    """Device and library versions for the record (PyTorch's too when it has been imported)."""
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
        **({"torch": sys.modules["torch"].__version__} if "torch" in sys.modules else {}),
        "date": datetime.date.today().isoformat(),
        "load": f"{os.getloadavg()[0]:.1f} (1-min load average, {os.cpu_count()} CPUs)",
    }


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of equal keys as a GitHub markdown table."""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def append_results(
    title: str,
    env: dict[str, Any],
    table: str,
    notes: str = "",
    *,
    path: Path = RESULTS,
    command: str | None = None,
) -> None:
    """Append a dated section with the command line (default: this process's), environment
    and table to ``path`` (default ``benchmarks/RESULTS.md``)."""
    if command is None:
        command = "python " + " ".join([str(Path(sys.argv[0]).as_posix()), *sys.argv[1:]])
    env_line = ", ".join(f"{k} {v}" for k, v in env.items())
    section = f"\n## {title}\n\nCommand: `{command}`\n\nEnvironment: {env_line}\n\n{table}\n"
    if notes:
        section += f"\n{notes}\n"
    path = Path(path)
    if not path.exists():
        path.write_text(
            "# Benchmark results\n\nEach section is appended by the script that produced it.\n"
        )
    with path.open("a") as f:
        f.write(section)
