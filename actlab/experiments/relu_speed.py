"""Is ReLU faster? The measured cost of every activation, as a ratio to ReLU, in two regimes.

The textbook claim: ReLU is cheap (a comparison) while smooth activations need exponentials, so
ReLU networks train faster. Whether that shows depends on what limits the computation. A single
activation layer reads its input from memory and writes its output back; on most hardware that
traffic, not the arithmetic, sets the time (memory-bound), and every activation costs about the
same. Only when many operations are done per element loaded (compute-bound) does the arithmetic
show.

:func:`run` times each activation (actlab's implementation, forward and forward+backward) with
:func:`actlab.timing.activation_costs` in both settings of :class:`actlab.timing.Setting`:
``memory`` (one application on an array larger than the caches) and ``compute`` (a small,
cache-resident array to which the activation is applied many times in one jitted loop). It
writes ``relu_speed.json`` and the figure ``relu_speed`` (PNG and SVG): bars of the ratio to
ReLU, per activation, in both settings. ``benchmarks/relu_speed.py`` runs the same measurement at
benchmark sizes, on CPU or GPU, for jax.nn too.

Timings depend on the machine and its load; the JSON records the settings and the absolute times.

Example::

    >>> from actlab.experiments import relu_speed
    >>> result = relu_speed.run("out/relu_speed", quick=True)
    >>> result["ratios"]["compute"]["tanh"]["fwd"] > 1
    True
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path
from typing import Any

import jax
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from actlab import activations as A
from actlab.experiments import _setup
from actlab.experiments._setup import Presets
from actlab.timing import PASSES, Setting, activation_costs, ratios_to

__all__ = ["Config", "run"]

NAME = "relu_speed"
BASELINE = "relu"


def _tick(value: float, _: Any) -> str:
    """Log-axis tick labels at 1, 2 and 5 times a power of ten, written plainly (2, not 2x10^0)."""
    if value <= 0:
        return ""
    lead = value / 10 ** math.floor(math.log10(value))
    return f"{value:g}" if round(lead, 6) in (1, 2, 5) else ""


_PLAIN = FuncFormatter(_tick)


TIMED = tuple(n for n in A.names() if n != "glu")
"""The activations that can be timed: all but ``glu``, which halves its input."""


@dataclasses.dataclass(frozen=True)
class Config(Presets):
    """Settings of one run; :meth:`full` and :meth:`quick` are the two presets.

    Attributes:
      names: registry names timed (must include ``"relu"``).
      memory_mib: size of the memory-bound array, in MiB of float32.
      compute_elements: elements of the cache-resident array of the compute-bound setting.
      compute_passes: applications per element in the compute-bound setting (loop iterations).
      repeats: timed batches per activation, setting and pass (the median is kept).
      target_ms: approximate duration of one timed batch.
      within: the memory-bound claim's tolerance: "within ``within`` of ReLU's time".
    """

    names: tuple[str, ...] = TIMED
    memory_mib: float = 256.0
    compute_elements: int = 2**16
    compute_passes: int = 256
    repeats: int = 11
    target_ms: float = 50.0
    within: float = 0.25

    @classmethod
    def quick(cls) -> Config:
        """Six activations, a 32 MiB array (x and y exceed a 32 MiB L3), short batches."""
        return cls(
            names=("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh"),
            memory_mib=32.0,
            compute_passes=128,
            repeats=5,
            target_ms=6.0,
        )

    def settings(self) -> dict[str, Setting]:
        return {
            "memory": Setting("memory", elements=int(self.memory_mib * 2**20) // 4),
            "compute": Setting(
                "compute", elements=self.compute_elements, passes=self.compute_passes
            ),
        }

    def check(self) -> None:
        if BASELINE not in self.names:
            raise ValueError(
                f"Config: names: expected names including {BASELINE!r}, received {self.names}"
            )
        unknown = sorted(set(self.names) - set(TIMED))
        if unknown:
            raise ValueError(
                f"Config: names: expected names among {', '.join(TIMED)}, received {unknown}"
            )
        if self.memory_mib <= 0 or self.target_ms <= 0 or self.within <= 0:
            raise ValueError(
                f"Config: memory_mib, target_ms and within: expected numbers > 0, received "
                f"{self.memory_mib}, {self.target_ms}, {self.within}"
            )
        self.settings()  # validates elements, passes


# ----------------------------------------------------------------------------- results


def _smooth(names: tuple[str, ...]) -> list[str]:
    """The activations that are not piecewise linear (they need transcendental functions)."""
    return [n for n in names if not A.spec(n).piecewise_linear]


def _claims(cfg: Config, ratios: dict[str, dict]) -> dict[str, bool]:
    # How close the memory-bound costs come to ReLU's depends on the machine's bandwidth against
    # its exp throughput; the summary reports it, but it is a measurement, not a verdict.
    smooth = _smooth(cfg.names)
    mem = [ratios["memory"][n]["fwd"] for n in smooth]
    comp = [ratios["compute"][n]["fwd"] for n in smooth]
    return {
        "compute_bound_every_smooth_activation_slower_than_relu": bool(smooth) and min(comp) > 1,
        "relu_advantage_larger_when_compute_bound": bool(smooth)
        and statistics.median(comp) > statistics.median(mem),
    }


def _table(cfg: Config, costs: dict, ratios: dict) -> list[dict[str, str]]:
    """One row per activation: ratios to ReLU (ReLU's row: its time per element)."""
    rows = []
    for name in cfg.names:
        row = {"activation": name}
        for setting in ("memory", "compute"):
            for p in PASSES:
                key = f"{setting}-bound {p}"
                if name == BASELINE:
                    row[key] = f"{costs[setting][name][f'{p} ns/elem']:.3g} ns/elem"
                else:
                    row[key] = f"{ratios[setting][name][p]:.2f}x"
        rows.append(row)
    return rows


def _summary(cfg: Config, costs: dict, ratios: dict, claims: dict[str, bool]) -> str:
    others = [n for n in cfg.names if n != BASELINE]
    smooth = _smooth(cfg.names)
    mem = {p: [ratios["memory"][n][p] for n in others] for p in PASSES}
    comp = {p: [ratios["compute"][n][p] for n in smooth] for p in PASSES}
    within = sum(r <= 1 + cfg.within for r in mem["fwd"])
    relu = costs["compute"][BASELINE]
    text = (
        f"In the memory-bound setting ({cfg.memory_mib:g} MiB of float32, one application per "
        f"element loaded) the {len(others)} other activations cost a median "
        f"{statistics.median(mem['fwd']):.2f}x ReLU's time forward (range "
        f"{min(mem['fwd']):.2f}-{max(mem['fwd']):.2f}x; {within} of {len(others)} within "
        f"{100 * cfg.within:.0f}%) and {statistics.median(mem['fwd+bwd']):.2f}x forward+backward"
    )
    if 2 * within > len(others):
        text += ": moving the bytes dominates and the arithmetic mostly hides behind it. "
    else:
        text += (
            ": on this machine one application of an exponential costs about as much as moving "
            "its bytes, so part of the gap remains even here. "
        )
    if smooth:
        text += (
            f"In the compute-bound setting ({cfg.compute_elements * 4 // 1024} KiB resident in "
            f"cache, {cfg.compute_passes} applications per element) ReLU costs "
            f"{relu['fwd ns/elem']:.2g} ns per element and application forward, and the "
            f"{len(smooth)} smooth activations cost {min(comp['fwd']):.1f}-"
            f"{max(comp['fwd']):.1f}x as much (median {statistics.median(comp['fwd']):.1f}x; "
            f"forward+backward median {statistics.median(comp['fwd+bwd']):.1f}x). "
        )
    if not claims["relu_advantage_larger_when_compute_bound"]:
        verdict = "On this machine the two settings did not separate as expected (see the table)."
    elif 2 * within > len(others):
        verdict = (
            "ReLU is faster where arithmetic is the bottleneck; in a memory-bound layer its "
            "advantage mostly vanishes."
        )
    else:
        verdict = (
            "ReLU is faster where arithmetic is the bottleneck; in a memory-bound layer its "
            "advantage shrinks but does not vanish on this machine."
        )
    return text + verdict + f" Measured on {jax.devices()[0].device_kind}; timings vary with load."


def _figure(cfg: Config, ratios: dict) -> Figure:
    names = list(cfg.names)
    fig = Figure(figsize=(max(7.0, 0.55 * len(names) + 2.5), 6.4), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(names))
    titles = {
        "memory": f"memory-bound: {cfg.memory_mib:g} MiB, one application per element",
        "compute": f"compute-bound: {cfg.compute_elements * 4 // 1024} KiB in cache, "
        f"{cfg.compute_passes} applications per element",
    }
    for ax, setting in zip(axes, ("memory", "compute"), strict=True):
        for k, (p, color) in enumerate(zip(PASSES, ("#4c72b0", "#dd8452"), strict=True)):
            values = [ratios[setting][n][p] for n in names]
            bars = ax.bar(x + (k - 0.5) * 0.4, values, width=0.4, color=color, label=p)
            ax.bar_label(bars, [f"{v:.2g}" for v in values], fontsize=6, padding=1)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.yaxis.set_minor_formatter(_PLAIN)
        ax.margins(y=0.15)
        ax.set_ylabel("time / ReLU's time")
        ax.set_title(titles[setting], fontsize=9)
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="upper left")
    axes[-1].set_xticks(x, names, rotation=45, ha="right")
    fig.suptitle("Is ReLU faster? Cost of each activation relative to ReLU")
    return fig


@_setup.experiment(Config)
def run(cfg: Config, seed: int, out: Path) -> dict[str, Any]:
    """The dict written to ``relu_speed.json``: ``title``, ``summary``, ``figures``, ``table``
    (one row per activation), ``claims``, ``config``, ``settings`` (the two
    :class:`~actlab.timing.Setting` s), ``costs`` (``{setting: {name: {"fwd": s, "fwd+bwd": s,
    "fwd ns/elem": ns, "fwd+bwd ns/elem": ns}}}``, seconds per call) and ``ratios``
    (``{setting: {name: {"fwd": r, "fwd+bwd": r}}}``, time over ReLU's time).
    """

    functions = {name: A.get(name) for name in cfg.names}
    costs, ratios = {}, {}
    for key, setting in cfg.settings().items():
        costs[key] = activation_costs(
            functions, setting, repeats=cfg.repeats, target_seconds=cfg.target_ms / 1e3, seed=seed
        )
        ratios[key] = ratios_to(costs[key], BASELINE)
    claims = _claims(cfg, ratios)
    return _setup.finish(
        out, NAME, cfg, seed=seed, title="Is ReLU faster?",
        summary=_summary(cfg, costs, ratios, claims), table=_table(cfg, costs, ratios),
        claims=claims, figures={NAME: _figure(cfg, ratios)},
        data={
            "device": jax.devices()[0].device_kind,
            "settings": {k: dataclasses.asdict(s) for k, s in cfg.settings().items()},
            "costs": costs,
            "ratios": ratios,
        },
    )  # fmt: skip
