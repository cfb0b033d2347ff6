"""Gradient-flow sweep: experiment 1 through actlab.sweep against plain per-configuration loops.

The computation is the vanishing-gradients experiment's cell (``actlab.experiments.
vanishing_gradients``): per-layer forward signal, backward signal ``||delta^l||``, weight-gradient
norms and global gradient norm of a random MLP (Gaussian weights, ``sigma_w^2`` per activation,
a random linear read-out, squared-output loss) for every (activation, depth, seed): by default 7
activations x depths 1..50 x 8 seeds, width 256, 32 inputs per network. Modes, each timed once
from a cold start, compilation included (a sweep is run once):

- sweep: ``vanishing_gradients.sweep``: activation (``lax.switch`` by index) and depth (layers
  beyond it are the exact identity) batched, one compiled program per seed (the seed's weights
  drawn once for its 350 cells), sharded over the chosen device, written to disk per seed;
- sweep, all devices: the same sharded over every local device of the platform: on CPU,
  ``--cpu-devices`` host devices (one per core by default), so that both cores of a 2-core
  machine compute (one XLA CPU device runs a program on one core);
- sweep, rerun: the finished sweep run again: everything is read from disk;
- loop, jit per config: ``jax.jit(reference_cell(cfg, activation, depth))`` compiled for each
  (activation, depth), then a Python loop over the seeds; only ``depth`` layers are drawn and
  computed, nothing is masked;
- loop, eager: the same cell without ``jit``, one call per (activation, depth, seed). It is slow,
  so ``--eager-every K`` times every K-th configuration and scales the time by the number of
  configurations (marked "estimated").

Every mode's numbers are compared with the jit loop's (``max rel diff``: largest difference
relative to the largest value of each output of each configuration; NaN entries of layers beyond
a network's depth excluded). In float32 they differ in the last bits, since the sweep multiplies
all cells' matrices in one product, which XLA blocks and rounds differently; at a kink (ReLU,
leaky ReLU, SELU at 0) a pre-activation within rounding of 0 can then take the other side and
move a gradient norm by about ``1 / (width x inputs)``, up to ~5e-3. With ``--x64`` the two
agree to ~1e-14. Times are wall-clock seconds (``total s``) and CPU seconds of this process
(``cpu s``, less sensitive to other processes on a shared machine); ``vs ...`` columns are the
loops' times divided by each mode's.

    python benchmarks/gradflow.py --device cpu --json /tmp/gradflow.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from actlab.experiments import vanishing_gradients as vg
from actlab.io import write_json

try:
    from _timing import environment, markdown_table, select_device
except ImportError:  # imported as benchmarks.gradflow
    from benchmarks._timing import environment, markdown_table, select_device

OUTPUTS = ("q", "delta_norm", "weight_grad_norm", "global_grad_norm", "loss")


def make_config(args) -> vg.Config:
    """The experiment's full configuration with the sizes asked for."""
    full = vg.Config.full()
    sigma_w2 = dict(zip(full.activations, full.sigma_w2, strict=True))
    return dataclasses.replace(
        full,
        activations=tuple(args.activations),
        sigma_w2=tuple(sigma_w2.get(a, 1.0) for a in args.activations),
        depths=tuple(args.depths),
        seeds=args.seeds,
        width=args.width,
        batch=args.batch,
        chunk=args.chunk,
        shown_depths=(args.depths[-1],),
        batch_seeds=False,
    )


def configs(cfg: vg.Config) -> list[tuple[int, int]]:
    """Every (activation index, depth), depth-major (so every K-th spreads over both)."""
    return [(a, d) for d in cfg.depths for a in range(len(cfg.activations))]


def timed_sweep(cfg: vg.Config, out_dir: Path, devices: list) -> tuple[dict, dict]:
    """The experiment's sweep into ``out_dir``: timing and values per (activation, depth)."""
    start, cpu = time.perf_counter(), time.process_time()
    results = vg.sweep(cfg, out_dir, devices=devices)
    data = vg.collect(cfg, results)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    groups = json.loads((out_dir / "index.json").read_text())["groups"]
    computed = [g for g in groups if not g["loaded"]]
    timing = {
        "total": total,
        "cpu": cpu,
        "compile": sum(g["compile_seconds"] or 0.0 for g in computed),
        "compiles": len(computed),
        "devices": len(devices),
    }
    values = {}
    for a, d in configs(cfg):
        i = cfg.depths.index(d)
        values[a, d] = {k: data[k][:, a, i, ..., :d] if data[k].ndim == 4 else data[k][:, a, i]
                        for k in OUTPUTS}  # fmt: skip
    return timing, values


def loop(cfg: vg.Config, device, *, jit: bool, every: int = 1) -> tuple[dict, dict]:
    """Each (activation, depth) on its own, every ``every``-th one: a plain Python loop."""
    chosen = configs(cfg)[::every]
    values, compile_s = {}, 0.0
    start, cpu = time.perf_counter(), time.process_time()
    with jax.default_device(device):
        for a, d in chosen:
            fn = vg.reference_cell(cfg, a, d)
            if jit:
                t0 = time.perf_counter()
                fn = jax.jit(fn).lower(np.int32(0)).compile()
                compile_s += time.perf_counter() - t0
            per_seed = [fn(np.int32(s)) for s in range(cfg.seeds)]
            per_seed = jax.block_until_ready(per_seed)
            values[a, d] = {k: np.stack([np.asarray(getattr(p, k)) for p in per_seed])
                            for k in OUTPUTS}  # fmt: skip
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    scale = len(configs(cfg)) / len(chosen)
    timing = {
        "total": total * scale,
        "cpu": cpu * scale,
        "compile": compile_s * scale,
        "compiles": len(configs(cfg)) if jit else 0,
        "measured": f"{len(chosen)} of {len(configs(cfg))} configs" if every > 1 else "all",
    }
    return timing, values


def max_rel_diff(values: dict, reference: dict) -> float:
    """Largest ``|a - b| / max|b|`` over the configurations both hold (0.0: bitwise equal)."""
    worst = 0.0
    for key in values.keys() & reference.keys():
        for name, ref in reference[key].items():
            a, r = np.asarray(values[key][name], np.float64), np.asarray(ref, np.float64)
            if a.shape != r.shape or not np.array_equal(np.isnan(a), np.isnan(r)):
                return math.inf
            ok = ~np.isnan(r)
            if ok.any():
                scale = max(float(np.max(np.abs(r[ok]))), 1e-30)
                worst = max(worst, float(np.max(np.abs(a[ok] - r[ok]))) / scale)
    return worst


def bench(args, device, tmp: Path) -> list[dict]:
    """Every mode once, in the order sweep, loops, rerun; rows compare each with the jit loop."""
    cfg = make_config(args)
    runs: list[tuple[str, dict, dict]] = [("sweep", *timed_sweep(cfg, tmp / "sweep", [device]))]
    print("sweep done", json.dumps(runs[-1][1]), flush=True)
    local = jax.local_devices(backend=device.platform)
    if len(local) > 1:
        runs.append(("sweep, all devices", *timed_sweep(cfg, tmp / "sharded", local)))
        print("sharded sweep done", json.dumps(runs[-1][1]), flush=True)
    if "jit" in args.loops:
        runs.append(("loop, jit per config", *loop(cfg, device, jit=True)))
        print("jit loop done", json.dumps(runs[-1][1]), flush=True)
    if "eager" in args.loops:
        mode = "loop, eager" + (" (estimated)" if args.eager_every > 1 else "")
        runs.append((mode, *loop(cfg, device, jit=False, every=args.eager_every)))
        print("eager loop done", json.dumps(runs[-1][1]), flush=True)
    runs.append(("sweep, rerun (all loaded)", *timed_sweep(cfg, tmp / "sweep", [device])))
    reference = next((v for m, _, v in runs if m == "loop, jit per config"), runs[0][2])
    rows = []
    for mode, timing, values in runs:
        diff = max_rel_diff(values, reference)
        rows.append(
            {
                "mode": mode,
                "devices": timing.get("devices", 1),
                "configs timed": timing.get("measured", "all"),
                "compiles": timing["compiles"],
                "total s": round(timing["total"], 2),
                "compile s": round(timing["compile"], 2),
                "run s": round(timing["total"] - timing["compile"], 2),
                "cpu s": round(timing["cpu"], 1),
                "max rel diff": "bitwise" if diff == 0.0 else f"{diff:.1e}",
            }
        )
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--activations", nargs="+", default=list(vg.Config.full().activations))
    parser.add_argument("--depths", type=int, nargs="+", default=list(range(1, 51)))
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32, help="inputs per network")
    parser.add_argument("--chunk", type=int, default=vg.Config.full().chunk,
                        help="sweep cells per compiled call")  # fmt: skip
    parser.add_argument("--loops", nargs="*", default=["jit", "eager"], choices=["eager", "jit"])
    parser.add_argument("--eager-every", type=int, default=50,
                        help="time the eager loop on every K-th configuration and scale")  # fmt: skip
    parser.add_argument("--cpu-devices", type=int, default=os.cpu_count() or 1,
                        help="CPU devices for the sharded sweep (XLA host devices; one per core "
                        "by default); 1 to skip it")  # fmt: skip
    parser.add_argument("--x64", action="store_true",
                        help="compute in float64 (then the sweep equals the loop to ~1e-14)")  # fmt: skip
    parser.add_argument("--json", help="write environment and rows to this JSON file")
    args = parser.parse_args(argv)
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    if args.device == "cpu" and args.cpu_devices > 1:  # before JAX starts its CPU backend
        flag = f"--xla_force_host_platform_device_count={args.cpu_devices}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    if args.eager_every < 1:
        parser.error(f"--eager-every must be >= 1, got {args.eager_every}")
    device = select_device(args.device)
    with tempfile.TemporaryDirectory(prefix="actlab-gradflow-bench-") as tmp:
        rows = bench(args, device, Path(tmp))
    cells = len(args.activations) * len(args.depths) * args.seeds
    print(f"\n{len(args.activations)} activations x {len(args.depths)} depths "
          f"({args.depths[0]}..{args.depths[-1]}) x {args.seeds} seeds = {cells} networks, "
          f"width {args.width}, {args.batch} inputs; device {device}")  # fmt: skip
    loops = [r for r in rows if r["mode"].startswith("loop")]
    for r in rows:  # speed-up over each loop: wall time (compilation included), and CPU time
        for ref in loops:
            name = ref["mode"].removeprefix("loop, ").removesuffix(" (estimated)")
            r[f"vs {name}"] = round(ref["total s"] / max(r["total s"], 0.01), 1)
            r[f"vs {name}, cpu"] = round(ref["cpu s"] / max(r["cpu s"], 0.01), 1)
    print(markdown_table(rows))
    if args.json:
        write_json(
            args.json, {"environment": environment(device), "args": vars(args), "rows": rows}
        )
    return rows


if __name__ == "__main__":
    main()
