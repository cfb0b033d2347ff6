"""The activation gallery: every activation and its derivative, with its conventions at the kinks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from actlab import accuracy, plot
from actlab import activations as A
from actlab.io import write_json

GROUPS = {
    "relu_family": ("relu", "leaky_relu", "prelu", "relu6", "elu", "selu", "celu"),
    "smooth": ("gelu", "silu", "mish", "softplus", "arelu"),
    "bounded": ("sigmoid", "tanh", "hard_sigmoid", "hard_tanh", "softsign"),
    "sparse_and_algebraic": (
        "squareplus",
        "sparse_plus",
        "sparse_sigmoid",
        "hard_silu",
        "log_sigmoid",
    ),
}
"""The figures' groups; with ``relu_vs_leaky`` and ``sbaf`` they draw every elementwise activation."""


def _fmt(value: float) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"


def conventions() -> list[dict[str, Any]]:
    """One row per activation: parameters, kinks, the derivative used there, range, monotonicity."""
    rows = []
    for name in A.names():
        s = A.spec(name)
        rows.append(
            {
                "activation": name,
                "parameters": ", ".join(
                    f"{k}={p.default:g} in {p.interval()}" for k, p in s.params.items()
                ),
                "kinks": ", ".join(f"{k:g}" for k in s.kinks) or "-",
                "derivative at kinks": f"{s.kink_keyword}: {s.kink_default}"
                if s.kink_keyword
                else "-",
                "piecewise linear": s.piecewise_linear,
                "output range": f"[{_fmt(s.output_range[0])}, {_fmt(s.output_range[1])}]",
                "monotone": s.monotone,
            }
        )
    return rows


ACCURACY_DTYPES = ("float16", "bfloat16")


def accuracy_columns(dtypes: tuple[str, ...] = ACCURACY_DTYPES) -> dict[str, dict[str, str]]:
    """Per elementwise activation: max ulp of value / derivative, actlab and jax.nn, every input.

    Measured over every finite input of each (half-precision) dtype by :mod:`actlab.accuracy`;
    ``"-"`` where jax.nn has no such function.
    """
    runners = {"actlab": accuracy.run_actlab, "jax.nn": accuracy.run_jax_nn}
    columns: dict[str, dict[str, str]] = {}
    for name in (n for n in A.names() if A.spec(n).elementwise):
        cells = {}
        for dtype in dtypes:
            row, _ = accuracy.measure(name, dtype, accuracy.inputs(dtype, "sampled", 0), runners)
            for impl in runners:
                value, grad = row[f"{impl} value"], row[f"{impl} grad"]
                worst = lambda cell: cell.split(" / ")[0]  # noqa: E731
                both = "-" if value == "-" else f"{worst(value)} / {worst(grad)}"
                cells[f"{dtype} max ulp ({impl})"] = both
        columns[name] = cells
    return columns


def run(out_dir: str | Path, *, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Draw the classic ReLU / leaky ReLU picture and each family; write the conventions table.

    The table also holds :func:`accuracy_columns` (every float16 and bfloat16 input).

    Args:
      out_dir: folder for ``gallery.json`` and the figures (PNG and SVG).
      quick: fewer sample points per curve.
      seed: unused (the gallery is deterministic); accepted for a uniform experiment signature.

    Returns:
      ``{"title", "summary", "figures", "table"}``; the same is written to ``gallery.json``.
    """
    out_dir = Path(out_dir)
    num = 401 if quick else 2001
    figures = []
    drawings = {
        "relu_vs_leaky": plot.activations(
            ("relu", "leaky_relu"), num=num, params={"leaky_relu": {"negative_slope": 0.1}}
        )
    }
    drawings |= {
        group: plot.activations(names, xlim=(-4.0, 4.0), num=num) for group, names in GROUPS.items()
    }
    drawings["sbaf"] = plot.activations(("sbaf",), xlim=(-0.25, 1.25), num=num)
    for key, fig in drawings.items():
        figures += [p.name for p in plot.save(fig, out_dir / f"gallery_{key}")]
    accuracy_table = accuracy_columns()
    result = {
        "title": "The activation gallery",
        "summary": (
            "Every registered activation and its derivative as jax.grad computes it, so each "
            "kink shows the derivative actlab uses there (a documented, selectable choice). "
            "ReLU is drawn over [-19, 19] beside a leaky ReLU with slope 0.1: identical for x > 0, "
            "and only the leaky one passes a gradient for x < 0. The table adds the largest "
            "error in ulp of value / derivative over every finite float16 and bfloat16 input, "
            "actlab beside jax.nn (benchmarks/accuracy.py measures float32, float64 and PyTorch "
            "too; the README has those tables)."
        ),
        "figures": figures,
        "table": [row | accuracy_table.get(row["activation"], {}) for row in conventions()],
    }
    write_json(out_dir / "gallery.json", result)
    return result
