"""The activation gallery: every activation and its derivative, with its conventions at the kinks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from actlab import activations as A
from actlab import plot
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


def run(out_dir: str | Path, *, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Draw the classic ReLU / leaky ReLU picture and each family; write the conventions table.

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
    result = {
        "title": "The activation gallery",
        "summary": (
            "Every registered activation and its derivative as jax.grad computes it, so each "
            "kink shows the derivative actlab uses there (a documented, selectable choice). "
            "ReLU is drawn over [-19, 19] beside a leaky ReLU with slope 0.1: identical for x > 0, "
            "and only the leaky one passes a gradient for x < 0."
        ),
        "figures": figures,
        "table": conventions(),
    }
    write_json(out_dir / "gallery.json", result)
    return result
