"""Is ReLU faster? Each activation's cost as a ratio to ReLU, memory-bound and compute-bound.

The measurement of ``actlab.experiments.relu_speed`` (shared code: ``actlab.timing``) at
benchmark sizes, for actlab's activations and for the references of ``benchmarks/activations.py``
(jax.nn, or a naive jnp formula where jax.nn has none), each relative to its own ReLU:

* memory-bound: one application per element of a large array (``--memory-mib``);
* compute-bound: ``--passes`` x ``--unroll`` applications per element of a small array
  (``--compute-elements``) in one jitted ``fori_loop``, ``--unroll`` applications fused per
  iteration (see ``actlab.timing.Setting``).

Times are pipelined (many calls queued, one wait), medians of interleaved batches. Defaults
depend on ``--device``: on the CPU a 256 KiB array stays in the L2 cache and one application per
iteration is cleanest; on a GPU every loop iteration is a kernel launch, so 8 applications are
fused per iteration on a 16 MiB array (inside an H100's L2 cache).

    python benchmarks/relu_speed.py --device cpu --json relu_speed.json
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

from actlab import activations as A
from actlab.io import write_json
from actlab.timing import PASSES, Setting, activation_costs, ratios_to

try:
    from _timing import environment, markdown_table, select_device
    from activations import REFERENCES
except ImportError:  # imported as benchmarks.relu_speed
    from benchmarks._timing import environment, markdown_table, select_device
    from benchmarks.activations import REFERENCES

DEFAULTS = {  # device -> (memory MiB, compute elements, passes, unroll)
    "cpu": (256.0, 2**16, 256, 1),
    "gpu": (1024.0, 2**22, 32, 8),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    shaped = [n for n in A.names() if n != "glu"]  # glu halves its input: no repeated application
    parser.add_argument("--names", nargs="+", default=shaped, choices=shaped)
    parser.add_argument(
        "--impls", nargs="+", default=["actlab", "reference"], choices=["actlab", "reference"]
    )
    parser.add_argument("--memory-mib", type=float, help="memory-bound array size")
    parser.add_argument("--compute-elements", type=int, help="compute-bound array elements")
    parser.add_argument("--passes", type=int, help="compute-bound loop iterations")
    parser.add_argument("--unroll", type=int, help="applications fused per loop iteration")
    parser.add_argument("--repeats", type=int, default=11, help="timed batches (median)")
    parser.add_argument("--target-ms", type=float, default=50.0, help="duration of one batch")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    defaults = dict(zip(("memory_mib", "compute_elements", "passes", "unroll"),
                        DEFAULTS[args.device], strict=True))  # fmt: skip
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if "relu" not in args.names:
        parser.error("--names must include relu (the baseline)")
    if args.memory_mib <= 0 or args.repeats <= 0 or args.target_ms <= 0:
        parser.error("--memory-mib, --repeats and --target-ms must be positive")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = select_device(args.device)
    try:
        settings = {
            "memory": Setting("memory", elements=int(args.memory_mib * 2**20) // 4),
            "compute": Setting("compute", args.compute_elements, args.passes, args.unroll),
        }
    except ValueError as e:
        raise SystemExit(f"bad setting: {e}") from None
    impls = {
        "actlab": {n: A.get(n) for n in args.names},
        "reference": {n: REFERENCES[n] for n in args.names},
    }
    costs: dict = {impl: {} for impl in args.impls}
    ratios: dict = {impl: {} for impl in args.impls}
    for key, setting in settings.items():
        for impl in args.impls:
            costs[impl][key] = activation_costs(impls[impl], setting, repeats=args.repeats,
                                                target_seconds=args.target_ms / 1e3,
                                                device=device)  # fmt: skip
            ratios[impl][key] = ratios_to(costs[impl][key], "relu")
            print(f"{impl}, {key}-bound: " + ", ".join(
                f"{n} {r['fwd']:.2f}x" for n, r in ratios[impl][key].items()), flush=True)  # fmt: skip
    rows = []
    for name in args.names:
        for impl in args.impls:
            row = {"activation": name, "impl": impl}
            for key in settings:
                for p in PASSES:
                    if name == "relu":
                        row[f"{key} {p}"] = f"{costs[impl][key][name][f'{p} ns/elem']:.3g} ns"
                    else:
                        row[f"{key} {p}"] = f"{ratios[impl][key][name][p]:.2f}x"
            rows.append(row)
    env = environment(device)
    print("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print("Settings: " + "; ".join(f"{k}: {s}" for k, s in settings.items()))
    print("Ratio to the same implementation's ReLU (ReLU's row: ns per element and application)")
    print(markdown_table(rows))
    for impl in args.impls:
        for key in settings:
            others = [ratios[impl][key][n]["fwd"] for n in args.names if n != "relu"]
            if others:
                print(f"{impl}, {key}-bound, fwd: median {statistics.median(others):.2f}x relu, "
                      f"range {min(others):.2f}-{max(others):.2f}x")  # fmt: skip
    result = {"environment": env, "settings": {k: dataclasses.asdict(s) for k, s in settings.items()},
              "costs": costs, "ratios": ratios, "table": rows}  # fmt: skip
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
