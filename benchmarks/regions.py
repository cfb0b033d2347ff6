"""Benchmark of actlab.regions: exact plane and line counts, and the sampled estimator.

Measured in one run, each as the median of several timed calls after an untimed warm-up:

0. ``count_plane`` against ``regioncam`` 0.5.2 (Rust, float32; ``pip install regioncam==0.5.2``,
   the ``bench`` extra), side by side on the sizes of issue 11 (width x depth 5x3, 20x2, 32x4,
   50x2, 16x12, 32x8, 64x6), calls interleaved. The networks are rounded to float32 so both
   count the same network (actlab in float64); the counts must be equal. Target: ratio >= 1.
   ``count_plane`` runs its default, compiled loops; the vectorised NumPy engine
   (``backend="numpy"``) is timed beside it and must count the same. Zero-bias networks
   (``sigma_b2 = 0``) go through the cone count (every region a cone from the origin, counted
   along the box's boundary). Then ``count_planes`` of 1,000 width-16 depth-4
   networks, generic and zero-bias (target: seconds), against
   ``count_plane`` one by one and regioncam one by one, and the JAX path of the partition's
   dense part (``backend="jax"``) against the NumPy one and the compiled count on large networks. Skipped cleanly
   (``-``) where regioncam is not installed.
1. ``count_plane`` of a width-32, depth-8 He-initialised ReLU network on ``[-1, 1]^2`` against a
   straightforward neuron-by-neuron polygon splitter in plain Python/NumPy (below), which must
   find the same count. Targets: >= 20x faster, >= 20,000 regions/s on 2 CPU cores.
2. ``count_lines`` of 1,024 segments (end points uniform in ``[-1, 1]^2``) through a width-64,
   depth-16 He-initialised ReLU network, by both exact methods. Target: < 5 s.
3. ``count_sampled`` on a 2048 x 2048 grid over ``[-1, 1]^2`` for the network of (1), the points
   already on the device. Target on a GPU: < 50 ms.

He initialisation: weights ``N(0, 2 / fan_in)``; biases ``N(0, sigma_b2)`` with ``sigma_b2`` 0 (the
project's convention, every hyperplane through the origin) and 0.01 (a generic network).

Usage:
  python benchmarks/regions.py --device cpu --json results/regions_cpu.json
  python benchmarks/regions.py --only regioncam --record   # section 0 only, into RESULTS.md
  taskset -c 0,1 python benchmarks/regions.py --device cpu   # two cores
  python benchmarks/regions.py --device gpu
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from _networks import he_layers

BOX = ((-1.0, 1.0), (-1.0, 1.0))


# --- the reference: one polygon, one unit, one vertex at a time --------------------------------


def _split(polygon, a, b, c, eps):
    """Sutherland-Hodgman: the parts of ``polygon`` where ``a x + b y + c`` is >= 0 and <= 0."""
    values = [a * x + b * y + c for x, y in polygon]
    if all(v >= -eps for v in values):
        return polygon, None
    if all(v <= eps for v in values):
        return None, polygon
    upper, lower = [], []
    for i, (p, vp) in enumerate(zip(polygon, values, strict=True)):
        q, vq = polygon[(i + 1) % len(polygon)], values[(i + 1) % len(polygon)]
        if vp >= -eps:
            upper.append(p)
        if vp <= eps:
            lower.append(p)
        if (vp > eps and vq < -eps) or (vp < -eps and vq > eps):
            f = vp / (vp - vq)
            crossing = (p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1]))
            upper.append(crossing)
            lower.append(crossing)
    return upper, lower


def reference_count_plane(layers, box=BOX, eps=1e-12) -> int:
    """Activation regions of a ReLU network in a box: split every polygon by every unit's line."""
    (s0, s1), (t0, t1) = box
    square = [(s0, t0), (s1, t0), (s1, t1), (s0, t1)]
    regions = [(square, np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))]  # h = [x, y, 1] @ A
    for weight, bias in layers:
        following = []
        for polygon, affine in regions:
            z = affine @ weight
            z[2] += bias
            pieces = [polygon]
            for unit in range(weight.shape[1]):
                a, b, c = z[:, unit]
                pieces = [part for piece in pieces for part in _split(piece, a, b, c, eps) if part]
            for piece in pieces:
                x = sum(p[0] for p in piece) / len(piece)
                y = sum(p[1] for p in piece) / len(piece)
                following.append((piece, z * (x * z[0] + y * z[1] + z[2] > 0)))
        regions = following
    return len(regions)


# --- measurement --------------------------------------------------------------------------------


def median_time(call: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Median wall and process-CPU times of ``repeats`` calls after one untimed warm-up; and the
    last result. CPU time (all threads) is less sensitive than wall time to other processes.

    Every call returns host values (Python ints or NumPy arrays), so the device work is done when
    the timer stops (the equivalent of ``block_until_ready``).
    """
    result = call()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


# --- regioncam, the Rust peer: side by side on the sizes of issue 11 ----------------------------

ISSUE_SIZES = [(5, 3), (20, 2), (32, 4), (50, 2), (16, 12), (32, 8), (64, 6)]
QUICK_SIZES = [(5, 3), (20, 2)]


def regioncam_count(layers, size: float = 1.0) -> int:
    """Faces of regioncam's partition of ``[-size, size]^2`` by a ReLU network (float32)."""
    import regioncam

    cam = regioncam.Regioncam(size=size)
    for weight, bias in layers:
        cam.linear(np.asarray(weight, np.float32), np.asarray(bias, np.float32))
        cam.relu()
    return cam.num_faces


def have_regioncam() -> bool:
    try:
        import regioncam  # noqa: F401
    except ImportError:
        return False
    return True


def as_float32(layers):
    """The network rounded to float32 (held in float64): the network regioncam sees."""
    return [(np.float32(w).astype(np.float64), np.float32(b).astype(np.float64)) for w, b in layers]


def _repeats(call, budget: float, most: int) -> int:
    """Timed calls that fit in ``budget`` seconds (at least 3, at most ``most``)."""
    start = time.perf_counter()
    call()
    return int(min(most, max(3, budget / max(time.perf_counter() - start, 1e-6))))


def regioncam_rows(sizes, budget: float) -> list[dict]:
    """count_plane against regioncam, interleaved calls, per size and bias variance."""
    from _timing import interleaved_medians

    from actlab import regions

    peer = have_regioncam()
    rows = []
    for width, depth in sizes:
        for sigma_b2 in (0.0, 0.01):
            layers = as_float32(he_layers(0, 2, [width] * depth, sigma_b2))
            ours = lambda layers=layers: regions.count_plane(layers)  # noqa: E731
            engine = lambda layers=layers: regions.count_plane(layers, backend="numpy")  # noqa: E731
            theirs = lambda layers=layers: regioncam_count(layers)  # noqa: E731
            repeats = _repeats(engine, budget, 200)
            calls = [ours, engine, theirs] if peer else [ours, engine]
            seconds = interleaved_medians(calls, repeats)
            ours_s, engine_s = seconds[:2]
            theirs_s = seconds[2] if peer else None
            count, expected = ours(), theirs() if peer else None
            rows.append(
                {
                    "network": f"{width}x{depth} sigma_b2={sigma_b2:g}",
                    "regions": count,
                    "actlab ms": round(1e3 * ours_s, 3),
                    "numpy engine ms": round(1e3 * engine_s, 3),
                    "regioncam ms": "-" if theirs_s is None else round(1e3 * theirs_s, 3),
                    "ratio": "-" if theirs_s is None else round(theirs_s / ours_s, 2),
                    "agrees": (
                        count == engine() if expected is None else count == expected == engine()
                    ),
                    "repeats": repeats,
                }
            )
            print(rows[-1], flush=True)
    return rows


def sweep_rows(networks: int, repeats: int, sigma_b2: float = 0.01) -> list[dict]:
    """count_planes of many width-16 depth-4 networks against one call per network."""
    from _timing import interleaved_medians

    from actlab import regions

    nets = [as_float32(he_layers(seed, 2, [16] * 4, sigma_b2)) for seed in range(networks)]
    calls = [
        lambda: regions.count_planes(nets),
        lambda: [regions.count_plane(net) for net in nets],
    ]
    peer = have_regioncam()
    if peer:
        calls.append(lambda: [regioncam_count(net) for net in nets])
    seconds = interleaved_medians(calls, repeats, warmup=0)
    together = regions.count_planes(nets)
    one_by_one = [regions.count_plane(net) for net in nets]
    rows = [
        {
            "call": f"count_planes, {networks} networks, sigma_b2={sigma_b2:g}",
            "seconds": round(seconds[0], 3),
            "ms per network": round(1e3 * seconds[0] / networks, 3),
            "regions": int(together.sum()),
            "agrees": bool(np.array_equal(together, one_by_one)),
        },
        {
            "call": "count_plane, one call per network",
            "seconds": round(seconds[1], 3),
            "ms per network": round(1e3 * seconds[1] / networks, 3),
            "regions": int(sum(one_by_one)),
            "agrees": True,
        },
    ]
    if peer:
        theirs = np.array([regioncam_count(net) for net in nets])
        differ = np.flatnonzero(theirs != together)
        rows.append(
            {
                "call": "regioncam, one call per network",
                "seconds": round(seconds[2], 3),
                "ms per network": round(1e3 * seconds[2] / networks, 3),
                "regions": int(theirs.sum()),
                # float32 can lose a sliver region (seed 7: area 1e-14, confirmed by the exact
                # rational count); listed, not a failure
                "agrees": "yes" if differ.size == 0 else f"differs on seeds {differ.tolist()}",
            }
        )
    for row in rows:
        print(row, flush=True)
    return rows


def backend_rows(sizes, repeats: int) -> list[dict]:
    """The partition's dense part as jitted JAX (JAX's default device) against NumPy."""
    from _timing import interleaved_medians

    from actlab import regions

    rows = []
    for width, depth in sizes:
        layers = he_layers(0, 2, [width] * depth, 0.01)
        calls = [
            lambda layers=layers, b=backend: regions.count_plane(layers, backend=b)
            for backend in ("numba", "numpy", "jax")
        ]
        numba_s, numpy_s, jax_s = interleaved_medians(calls, repeats)
        counts = [call() for call in calls]
        rows.append(
            {
                "network": f"{width}x{depth} sigma_b2=0.01",
                "regions": counts[0],
                "numba s": round(numba_s, 3),
                "numpy s": round(numpy_s, 3),
                "jax s": round(jax_s, 3),
                "numpy / jax": round(numpy_s / jax_s, 2),
                "agrees": counts[0] == counts[1] == counts[2],
            }
        )
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    return 0 if run(arguments(argv))["ok"] else 1


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument(
        "--only",
        choices=["regioncam", "all"],
        default="all",
        help="regioncam: only section 0 (regioncam, count_planes, JAX path)",
    )
    parser.add_argument("--networks", type=int, default=1000, help="networks for count_planes")
    parser.add_argument("--record", action="store_true", help="append section 0 to RESULTS.md")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """All sections; returns their rows and whether every count agrees."""

    import jax

    if args.device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp

    from actlab import __version__, regions
    from actlab.io import write_json

    if args.device == "gpu" and jax.default_backend() != "gpu":
        raise SystemExit("no GPU found by JAX")
    repeats = max(1, args.repeats)
    rows = []

    # 0. regioncam side by side, count_planes, the JAX path
    peer = regioncam_rows(QUICK_SIZES if args.quick else ISSUE_SIZES, 0.3 if args.quick else 3.0)
    networks = 20 if args.quick else args.networks
    sweep = sweep_rows(networks, max(1, repeats // 3))
    # zero biases: every region a cone from the origin, counted along the box's boundary
    sweep_zero = sweep_rows(networks, max(1, repeats // 3), sigma_b2=0.0)
    backends = backend_rows([(16, 4)] if args.quick else [(32, 8), (64, 6)], 1 if args.quick else 3)
    section0 = {
        "regioncam": peer,
        "count_planes": sweep,
        "count_planes zero bias": sweep_zero,
        "backends": backends,
    }
    ok = all(row["agrees"] in (True, "-") for row in peer + backends)
    ok = ok and sweep[0]["agrees"] and sweep_zero[0]["agrees"]
    if args.record:
        from _timing import append_results, environment, markdown_table

        tables = "\n\n".join(markdown_table(t) for t in (peer, sweep, sweep_zero, backends))
        append_results(
            "Exact plane counts against regioncam (benchmarks/regions.py, section 0)",
            environment(jax.devices()[0]) | {"regioncam": _regioncam_version()},
            tables,
        )
    if args.only == "regioncam":
        if args.json:
            write_json(args.json, section0)
        return {"ok": ok, **section0}

    # 1. exact plane counts against the reference splitter
    for sigma_b2 in (0.0, 0.01):
        depth = 3 if args.quick else 8
        layers = he_layers(0, 2, [32] * depth, sigma_b2)
        ours, ours_cpu, count = median_time(
            lambda layers=layers: regions.count_plane(layers), repeats
        )
        reference, reference_cpu, expected = median_time(
            lambda layers=layers: reference_count_plane(layers), max(1, repeats // 2)
        )
        rows.append(
            {
                "benchmark": "count_plane",
                "config": f"w32 d{depth} He sigma_b2={sigma_b2:g}, [-1,1]^2",
                "seconds": ours,
                "cpu_seconds": ours_cpu,
                "reference_seconds": reference,
                "reference_cpu_seconds": reference_cpu,
                "ratio": reference / ours,
                "cpu_ratio": reference_cpu / ours_cpu,
                "regions": count,
                "regions_per_second": count / ours,
                "agrees": count == expected,
                "target": ">= 20x, >= 20000 regions/s",
            }
        )

    # 2. exact counts along 1,024 segments
    rng = np.random.default_rng(1)
    segments = 64 if args.quick else 1024
    starts, ends = rng.uniform(-1, 1, (2, segments, 2))
    depth = 4 if args.quick else 16
    for sigma_b2 in (0.0, 0.01):
        layers = he_layers(1, 2, [64] * depth, sigma_b2)
        counts = {}
        for method in ("refine", "walk"):
            seconds, cpu, counts[method] = median_time(
                lambda layers=layers, method=method: regions.count_lines(
                    layers, starts, ends, method=method
                ),
                max(1, repeats // 2),
            )
            rows.append(
                {
                    "benchmark": f"count_lines ({method})",
                    "config": f"w64 d{depth} He sigma_b2={sigma_b2:g}, {segments} segments",
                    "seconds": seconds,
                    "cpu_seconds": cpu,
                    "regions": int(counts[method].sum()),
                    "regions_per_second": counts[method].sum() / seconds,
                    "agrees": bool(np.array_equal(counts[method], counts["refine"])),
                    "target": "< 5 s",
                }
            )

    # 3. the sampled estimator on a grid, points on the device
    resolution = 256 if args.quick else 2048
    layers = he_layers(0, 2, [32] * 8, 0.01)
    with jax.enable_x64(True):
        points = jax.device_put(jnp.asarray(regions.grid_points(BOX, resolution)))
    seconds, cpu, count = median_time(lambda: regions.count_sampled(layers, points), repeats)
    exact = regions.count_plane(layers)
    rows.append(
        {
            "benchmark": "count_sampled",
            "config": f"w32 d8 He sigma_b2=0.01, {resolution}x{resolution} grid",
            "seconds": seconds,
            "cpu_seconds": cpu,
            "regions": count,
            "regions_per_second": count / seconds,
            "agrees": count <= exact,
            "target": "< 50 ms on GPU",
            "exact_regions": exact,
        }
    )

    device = jax.devices()[0]
    environment = {
        "device": f"{device.platform}: {getattr(device, 'device_kind', '')}",
        "cpus": len(os.sched_getaffinity(0)),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "actlab": __version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "command": " ".join(sys.argv),
        "repeats": repeats,
    }
    print(f"device {environment['device']}, {environment['cpus']} CPUs, load {os.getloadavg()}")
    print(f"jax {jax.__version__}, numpy {np.__version__}, python {platform.python_version()}")
    print(
        f"| {'benchmark':<20} | {'config':<40} | {'median s':>8} | {'CPU s':>7} | {'ref s':>7} "
        f"| {'ratio':>6} | {'CPU ratio':>9} | {'regions':>7} | {'regions/s':>9} | ok | target |"
    )
    for row in rows:
        reference = f"{row['reference_seconds']:.3f}" if "reference_seconds" in row else "-"
        ratio = f"{row['ratio']:.1f}x" if "ratio" in row else "-"
        cpu_ratio = f"{row['cpu_ratio']:.1f}x" if "cpu_ratio" in row else "-"
        print(
            f"| {row['benchmark']:<20} | {row['config']:<40} | {row['seconds']:>8.4f} "
            f"| {row['cpu_seconds']:>7.3f} | {reference:>7} | {ratio:>6} | {cpu_ratio:>9} "
            f"| {row['regions']:>7} | {row['regions_per_second']:>9.0f} "
            f"| {'yes' if row['agrees'] else 'NO'} | {row['target']} |"
        )
    if args.json:
        write_json(args.json, {"environment": environment, "results": rows, **section0})
    return {"ok": ok and all(row["agrees"] for row in rows), "results": rows, **section0}


def _regioncam_version() -> str:
    try:
        from importlib.metadata import version

        return version("regioncam")
    except Exception:  # not installed
        return "not installed"


if __name__ == "__main__":
    raise SystemExit(main())
