"""Benchmark of actlab.regions.count_space: exact regions of the whole input space.

He-initialised ReLU networks (weights ``N(0, 2 / fan_in)``, biases ``N(0, sigma_b2)``) on
``[-1, 1]^d``; each row the median of several timed calls after an untimed warm-up (the counter is
NumPy on the host: its results are host integers, so nothing is left running when the timer
stops). Targets on 2 CPU cores: d = 3, widths [16, 16, 16] under 5 s; d = 4, widths [8, 8, 8, 8]
under 10 s.

Peers, in the same run, must find the same counts:

- ``lp``: a straightforward reference (``_lp_regions.py``): a search over single-unit pattern
  flips from the box's centre, one HiGHS linear program per candidate pattern.
- ``relucent`` 1.0 (``pip install relucent``; it needs ``gurobipy``, whose pip wheel carries a
  size-limited licence that these networks fit): a local search over the polyhedral complex,
  ``Complex.bfs(cube_radius=1, cube_mode="intersect")``, one worker process. Skipped where it is
  not installed; its column is then ``-``.

Usage:
  python benchmarks/regions_space.py --json results/regions_space.json
  python benchmarks/regions_space.py --quick   # small sizes, a smoke test
  python benchmarks/regions_space.py --record  # also append the table to RESULTS.md
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _lp_regions import count_regions as lp_count
from _networks import he_layers
from _timing import append_results, environment, markdown_table, median_seconds, select_device

# (d, widths, sigma_b2, peers): the peers are slow (one LP per candidate region), so they run on
# the smaller networks only
CONFIGS = [
    (3, [8, 8, 8], 0.01, True),
    (4, [6, 6, 6], 0.01, True),
    (3, [16, 16, 16], 0.0, False),
    (3, [16, 16, 16], 0.01, False),
    (4, [8, 8, 8, 8], 0.01, False),
    (5, [8, 8, 8], 0.01, False),
    (6, [6, 6, 6], 0.01, False),
]
QUICK = [(3, [4, 4], 0.01, True), (4, [3, 3], 0.01, True)]
TARGETS = {(3, (16, 16, 16)): 5.0, (4, (8, 8, 8, 8)): 10.0}


def relucent_count(layers) -> int | None:
    """Regions of ``[-1, 1]^d`` found by relucent, or None where it is not installed."""
    try:
        import relucent
        import torch
    except ImportError:
        return None
    modules = []
    for w, b in layers:
        linear = torch.nn.Linear(*w.shape, dtype=torch.float64)
        linear.weight.data, linear.bias.data = torch.tensor(w.T), torch.tensor(b)
        modules += [linear, torch.nn.ReLU()]
    modules.append(torch.nn.Linear(layers[-1][0].shape[1], 1, dtype=torch.float64))
    complex_ = relucent.Complex(torch.nn.Sequential(*modules))
    complex_.bfs(cube_radius=1.0, cube_mode="intersect", nworkers=1, verbose=0)
    return len(complex_)


def once(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def measure(d: int, widths: list[int], sigma_b2: float, *, repeats: int, peers: bool) -> dict:
    """One row: actlab's time and counts, and the peers' where ``peers``."""
    from actlab import regions

    layers = he_layers(0, d, widths, sigma_b2)
    box = [(-1.0, 1.0)] * d
    part = regions.partition_space(layers, bounds=box)  # also the warm-up
    seconds = median_seconds(lambda: regions.count_space(layers, bounds=box), repeats)
    linear_seconds, linear = once(part.count_linear)
    target = TARGETS.get((d, tuple(widths)))
    row = {
        "network": f"d={d} {'x'.join(map(str, widths))} sigma_b2={sigma_b2:g}",
        "regions": part.count,
        "linear regions": linear,
        "seconds": round(seconds, 4),
        "regions/s": round(part.count / seconds),
        "linear s": round(linear_seconds, 3),
        "target": "-" if target is None else f"< {target:g} s",
        "met": "-" if target is None else ("yes" if seconds < target else "NO"),
        "lp s": "-",
        "lp ratio": "-",
        "relucent s": "-",
        "relucent ratio": "-",
        "agrees": "-",
    }
    if not peers:
        return row
    lp_seconds, (lp_regions, _) = once(lambda: lp_count(layers, np.array(box)))
    row["lp s"], row["lp ratio"] = round(lp_seconds, 3), f"{lp_seconds / seconds:.0f}x"
    row["agrees"] = lp_regions == part.count
    try:
        relucent_seconds, found = once(lambda: relucent_count(layers))
    except Exception as error:  # a peer's failure is a finding, not a crash of the benchmark
        row["relucent s"] = f"failed: {type(error).__name__}"
        return row
    if found is not None:
        row["relucent s"] = round(relucent_seconds, 2)
        row["relucent ratio"] = f"{relucent_seconds / seconds:.0f}x"
        row["agrees"] &= found == part.count
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the rows to this JSON file")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--no-peers", action="store_true", help="skip the LP and relucent peers")
    parser.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    args = parser.parse_args(argv)

    from actlab.io import write_json

    rows = []
    for d, widths, sigma_b2, peers in QUICK if args.quick else CONFIGS:
        row = measure(d, widths, sigma_b2, repeats=args.repeats, peers=peers and not args.no_peers)
        rows.append(row)
        print(markdown_table([row]).splitlines()[-1], flush=True)

    env = environment(select_device("cpu"))
    table = markdown_table(rows)
    print(table)
    if args.json:
        write_json(args.json, {"environment": env, "rows": rows})
    if args.record:
        append_results("Regions of the whole input space (count_space)", env, table)
    return rows


if __name__ == "__main__":
    rows = main()
    raise SystemExit(0 if all(row["agrees"] in (True, "-") for row in rows) else 1)
