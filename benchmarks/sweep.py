"""Sweep engine: a gradient-flow sweep through actlab.sweep vs plain Python loops, 1 vs 8 devices.

The sweep: per-layer backward signal ||dL/dz^l|| and forward signal q^l = mean(z^l ** 2) of random
MLPs (width 256, 64 Gaussian inputs, a random linear readout, L = 0.5 mean(y^2); sigma_w^2 = 2 for
ReLU and leaky ReLU, 1 otherwise, no biases) for 7 activations x depths x 8 seeds, all drawn with
plain ``jax.random`` from the seed. Modes, each timed once from a cold start, compilation
included (a sweep is run once):

- loop, eager: a Python loop over (activation, depth, seed) calling the cell function unjitted;
- loop, jit per config: jit per (activation, depth), then a Python loop over the seeds;
- sweep, 1 device: ``actlab.sweep.run``, one vmapped call per (activation, depth);
- sweep, 1 device, chunk=1: the same in rounds of one cell (the reference for bitwise checks);
- sweep, virtual CPU devices: N of them (``--xla_force_host_platform_device_count``) in a
  subprocess; 8 seeds on 8 devices is one cell per device, so it must equal chunk=1 bit for bit;
- sweep, all local devices: only where the chosen platform has several (multi-GPU hosts);
- sweep, rerun: the finished sweep run again: everything is read from disk.

    python benchmarks/sweep.py --device cpu --json /tmp/sweep.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from actlab import activations as A
from actlab.io import write_json
from actlab.sweep import Grid, load, run

try:
    from _timing import environment, markdown_table, select_device
except ImportError:  # imported as benchmarks.sweep
    from benchmarks._timing import environment, markdown_table, select_device

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu")


def make_cell(width: int, batch_size: int):
    """The per-cell function: static (activation, depth), batch (seed) -> per-layer norms."""

    def cell(static, batch):
        depth, name = static["depth"], static["activation"]
        sigma_w2 = 2.0 if name in ("relu", "leaky_relu") else 1.0
        sizes = (batch_size * width, depth * width * width, width)
        noise = jax.random.normal(jax.random.key(batch["seed"]), (sum(sizes),))  # one draw
        x, w, v = jnp.split(noise, np.cumsum(sizes)[:-1])
        x = x.reshape(batch_size, width)
        w = w.reshape(depth, width, width) * jnp.sqrt(sigma_w2 / width)
        v = v / jnp.sqrt(width)
        act = A.get(name)

        def loss(eps):  # eps: zeros added to the pre-activations, so dL/deps = dL/dz
            def layer(h, w_eps):
                z = h @ w_eps[0] + w_eps[1]
                return act(z), jnp.mean(z**2)

            h, q = jax.lax.scan(layer, x, (w, eps))
            return 0.5 * jnp.mean((h @ v) ** 2), q

        delta, q = jax.grad(loss, has_aux=True)(jnp.zeros((depth, batch_size, width)))
        return {"grad_norm": jnp.sqrt(jnp.sum(delta**2, axis=(1, 2))), "q": q}

    return cell


def make_grid(args) -> Grid:
    return Grid(
        activation=tuple(args.activations), depth=tuple(args.depths), seed=range(args.seeds)
    )


def timed_sweep(args, out_dir: Path, devices, chunk=None) -> dict:
    """Run the sweep into ``out_dir``; wall time and the compile time recorded per group."""
    cell = make_cell(args.width, args.batch)
    start = time.perf_counter()
    run(cell, make_grid(args), out_dir, devices=devices, chunk=chunk, progress=False,
        meta={"width": args.width, "batch": args.batch})  # fmt: skip
    total = time.perf_counter() - start
    groups = json.loads((out_dir / "index.json").read_text())["groups"]
    compile_s = sum(g["compile_seconds"] or 0.0 for g in groups if not g["loaded"])
    return {
        "total": total,
        "compile": compile_s,
        "devices": len(devices),
        "chunk": groups[0]["chunk"],
    }


def loops(args, device, jit: bool) -> tuple[dict, dict]:
    """The same cells as a plain Python loop (eager, or jitted once per configuration)."""
    cell, grid = make_cell(args.width, args.batch), make_grid(args)
    values, compile_s = {}, 0.0
    start = time.perf_counter()
    with jax.default_device(device):
        for static in grid.configs(("activation", "depth")):
            fn = lambda batch, static=static: cell(static, batch)  # noqa: E731
            if jit:
                t0 = time.perf_counter()
                fn = jax.jit(fn).lower({"seed": jnp.int32(0)}).compile()
                compile_s += time.perf_counter() - t0
            per_seed = [fn({"seed": jnp.int32(s)}) for s in grid.axes["seed"]]
            per_seed = jax.block_until_ready(per_seed)
            values[json.dumps(static)] = jax.tree.map(lambda *v: np.stack(v), *per_seed)
    return {"total": time.perf_counter() - start, "compile": compile_s, "devices": 1}, values


def by_config(results) -> dict[str, dict[str, np.ndarray]]:
    """Sweep results as {json of (activation, depth): {output: (seed, layer) array}}."""
    return {json.dumps(static): values for static, values in results.items()}


def max_rel_diff(values: dict, reference: dict) -> float:
    """Largest |a - b| / max|b| over every output of every configuration (0.0: bitwise equal)."""
    worst = 0.0
    for key, ref in reference.items():
        for name, r in ref.items():
            a, r = np.asarray(values[key][name], np.float64), np.asarray(r, np.float64)
            worst = max(worst, float(np.max(np.abs(a - r)) / max(np.max(np.abs(r)), 1e-30)))
    return worst


def worker(args) -> None:
    """Subprocess entry: the sweep on all (virtual) devices of this process; prints timings."""
    timing = timed_sweep(args, Path(args.worker_out), jax.devices())
    print("TIMING " + json.dumps(timing), flush=True)


def virtual_devices_sweep(args, out_dir: Path) -> dict:
    """Run the sweep in a fresh process that has ``args.virtual_devices`` CPU devices."""
    flags = f"--xla_force_host_platform_device_count={args.virtual_devices}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()}  # fmt: skip
    command = [sys.executable, __file__, "--worker-out", str(out_dir), "--width", str(args.width),
               "--batch", str(args.batch), "--seeds", str(args.seeds), "--activations",
               *args.activations, "--depths", *map(str, args.depths)]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the {args.virtual_devices}-device subprocess failed:\n{proc.stderr}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("TIMING "))
    return json.loads(line.removeprefix("TIMING "))


def bench(args, device: jax.Device, tmp: Path) -> list[dict]:
    """Every mode once; rows with times and the difference to the 1-device chunk=1 sweep."""
    rows: list[dict] = []

    def row(mode: str, timing: dict, values: dict) -> None:
        diff = max_rel_diff(values, reference)
        rows.append(
            {
                "mode": mode,
                "devices": timing["devices"],
                "cells per call": timing.get("chunk", "1"),
                "total s": round(timing["total"], 2),
                "compile s": round(timing["compile"], 2),
                "run s": round(timing["total"] - timing["compile"], 3),
                "max rel diff": "bitwise" if diff == 0.0 else f"{diff:.1e}",
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    reference_timing = timed_sweep(args, tmp / "chunk1", [device], chunk=1)
    reference = by_config(load(tmp / "chunk1"))
    for kind in args.loops:
        timing, values = loops(args, device, jit=kind == "jit")
        row("loop, eager" if kind == "eager" else "loop, jit per config", timing, values)
    row("sweep", timed_sweep(args, tmp / "default", [device]), by_config(load(tmp / "default")))
    row("sweep", reference_timing, reference)
    if device.platform == "cpu" and args.virtual_devices > 1:
        timing = virtual_devices_sweep(args, tmp / "virtual")
        row("sweep, virtual CPU devices", timing, by_config(load(tmp / "virtual")))
    local = jax.local_devices(backend=device.platform)
    if len(local) > 1:
        timing = timed_sweep(args, tmp / "local", local)
        row("sweep, all local devices", timing, by_config(load(tmp / "local")))
    rerun = timed_sweep(args, tmp / "default", [device])
    row("sweep, rerun (all loaded)", rerun, by_config(load(tmp / "default")))
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--activations", nargs="+", default=list(ACTIVATIONS), choices=A.names())
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 10, 50])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64, help="inputs per network")
    parser.add_argument("--loops", nargs="*", default=["eager", "jit"], choices=["eager", "jit"])
    parser.add_argument("--virtual-devices", type=int, default=8, help="CPU only; 1 to skip")
    parser.add_argument("--json", help="write environment and rows to this JSON file")
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)  # the subprocess's sweep folder
    args = parser.parse_args(argv)
    if args.worker_out:
        worker(args)
        return []
    device = select_device(args.device)
    with tempfile.TemporaryDirectory(prefix="actlab-sweep-bench-") as tmp:
        rows = bench(args, device, Path(tmp))
    cells = len(args.activations) * len(args.depths) * args.seeds
    print(f"\n{len(args.activations)} activations x depths {args.depths} x {args.seeds} seeds "
          f"= {cells} cells, width {args.width}, {args.batch} inputs; device {device}")  # fmt: skip
    loops_total = {r["mode"]: r["total s"] for r in rows if r["mode"].startswith("loop")}
    for r in rows:  # speed-up of each mode over each loop, total time (compilation included)
        for mode, total in loops_total.items():
            r[f"speed-up vs {mode}"] = round(total / max(r["total s"], 1e-9), 2)
    print(markdown_table(rows))
    if args.json:
        write_json(args.json, {"environment": environment(device), "rows": rows})
    return rows


if __name__ == "__main__":
    main()
