"""Benchmark of actlab.regions.local_complexity: kinks crossing small neighbourhoods of many points.

A He-initialised ReLU network (weights ``N(0, 2 / fan_in)``, biases ``N(0, 0.01)``), input
dimension 64, four hidden layers of 64 units, at 10,000 Gaussian points: the cross-polytope of
radius 0.5 on the 64 coordinate axes (128 vertices per point) and on 16 random orthonormal
directions per point (32 vertices). actlab's time is the median of several calls after an
untimed warm-up (compilation), each ending in ``block_until_ready``; the reference's the median
of ``--naive-repeats`` runs.

The peer, in the same run and on the same points, is a straightforward reference: a Python loop
over the points in NumPy (float64), forming each point's vertices, propagating them layer by
layer and checking every unit for a vertex on each side of its kink. Its counts must equal
actlab's in float64 exactly and in float32 (the default) up to rare near-ties; the ``agrees``
column is the fraction of equal (point, layer) counts in float32.

Usage:
  python benchmarks/local_complexity.py --device cpu --json /tmp/local_complexity.json
  python benchmarks/local_complexity.py --device gpu --points 100000
  python benchmarks/local_complexity.py --quick   # small sizes, a smoke test
  python benchmarks/local_complexity.py --record  # also append the table to RESULTS.md
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _networks import he_layers
from _timing import append_results, environment, markdown_table, median_seconds, select_device


def naive_counts(layers, points: np.ndarray, radius: float, frames: np.ndarray) -> np.ndarray:
    """The reference: per point, its vertices through the ReLU network, unit by unit.

    ``frames`` is ``(k, d)`` (shared) or ``(n, k, d)`` (one per point); returns ``(n, L)``.
    """
    counts = np.zeros((len(points), len(layers)), dtype=np.int64)
    for i, x in enumerate(points):
        u = frames if frames.ndim == 2 else frames[i]
        h = np.concatenate([x + radius * u, x - radius * u])
        for l, (w, b) in enumerate(layers):
            z = h @ w + b
            counts[i, l] = np.count_nonzero((z.min(axis=0) < 0.0) & (z.max(axis=0) > 0.0))
            h = np.maximum(z, 0.0)
    return counts


def random_frames(key: jax.Array, n: int, dim: int, directions: int, dtype) -> np.ndarray:
    """The frames ``local_complexity(frame="random", key=key, dtype=dtype)`` draws, one per point
    (float64 as NumPy)."""
    from actlab import regions

    with jax.enable_x64(dtype == jnp.float64):
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))
        draw = jax.vmap(lambda k: regions.orthonormal_frame(k, dim, directions, dtype))
        return np.asarray(draw(keys), dtype=np.float64)


def measure(
    layers, points, *, frame: str, radius: float, device, repeats: int, naive_repeats: int
) -> dict:
    from actlab import regions

    dim = points.shape[1]
    directions = 16 if frame == "random" else None
    kwargs = dict(radius=radius, frame=frame, directions=directions, key=0)
    with jax.default_device(device):
        x = jax.device_put(jnp.asarray(points, jnp.float32), device)

        def call():
            return regions.local_complexity(layers, x, **kwargs).per_layer.block_until_ready()

        start = time.perf_counter()
        single = np.asarray(call())  # the warm-up: compiles
        first = time.perf_counter() - start
        seconds = median_seconds(call, repeats)
        with jax.enable_x64(True):
            double = np.asarray(
                regions.local_complexity(layers, points, dtype=jnp.float64, **kwargs).per_layer
            )
    if frame == "random":  # the frames each precision draws (different bits per dtype)
        frames = random_frames(jax.random.key(0), len(points), dim, directions, jnp.float32)
        frames64 = random_frames(jax.random.key(0), len(points), dim, directions, jnp.float64)
    else:
        frames = frames64 = np.eye(dim)
    reference = naive_counts(layers, points, radius, frames)
    naive = median_seconds(lambda: naive_counts(layers, points, radius, frames), naive_repeats)
    reference64 = reference if frame == "cross" else naive_counts(layers, points, radius, frames64)
    vertices = 2 * (directions or dim)
    return {
        "frame": f"{frame} ({vertices} vertices)",
        "points": len(points),
        "mean LC": round(float(single.sum(1).mean()), 3),
        "actlab s": round(seconds, 4),
        "points/s": f"{len(points) / seconds:.3g}",
        "first call s": round(first, 2),
        "naive NumPy s": f"{naive:.3g}",
        "ratio": f"{naive / seconds:.0f}x",
        "float64 equal": bool(np.array_equal(double, reference64)),
        "agrees": round(float(np.mean(single == reference)), 5),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--points", type=int, default=10_000, help="points per measurement")
    parser.add_argument("--dim", type=int, default=64, help="input dimension")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--radius", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per measurement")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed reference runs")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", help="write the rows to this JSON file")
    parser.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.dim, args.width, args.depth = 200, 16, 16, 2
        args.repeats, args.naive_repeats = 2, 1

    from actlab.io import write_json

    device = select_device(args.device)
    layers = he_layers(0, args.dim, [args.width] * args.depth)
    points = np.random.default_rng(1).normal(size=(args.points, args.dim))
    rows = []
    for frame in ("cross", "random"):
        row = measure(
            layers, points, frame=frame, radius=args.radius, device=device,
            repeats=args.repeats, naive_repeats=args.naive_repeats,
        )  # fmt: skip
        rows.append(row)
        print(markdown_table([row]).splitlines()[-1], flush=True)
    env = environment(device)
    table = markdown_table(rows)
    print(table)
    network = f"d = {args.dim}, {args.depth} x {args.width} ReLU (He), radius {args.radius:g}"
    if args.json:
        write_json(args.json, {"environment": env, "network": network, "rows": rows})
    if args.record:
        append_results(f"Local complexity (local_complexity), {network}", env, table)
    return rows


if __name__ == "__main__":
    rows = main()
    raise SystemExit(0 if all(r["float64 equal"] and r["agrees"] > 0.99 for r in rows) else 1)
