"""Accuracy in ulp of every elementwise activation, value and derivative, beside jax.nn and PyTorch.

The measurement is ``actlab.accuracy``'s; this script adds PyTorch and the mpmath check of the
reference. For each dtype the inputs are every finite float16 and bfloat16 number, every float32 (``--float32
exhaustive``; by default a stride sample of about 2^20 bit patterns, which covers every binade),
and 2^20 float64 numbers: half random bit patterns (every magnitude, both tails), half uniform on
[-50, 50]. Errors are integer ulp distances from the reference rounded to the dtype; reported as the
maximum and the 99th percentile over the checked points.

The reference is the function's stable formula evaluated in more precision than the dtype: NumPy
float64 for float32 and below, x87 ``longdouble`` (64-bit significand) for float64; exact GELU in
float64 uses mpmath directly on a 2^15-point subsample (NumPy has no ``longdouble`` erfc). Each run
checks the reference against mpmath (``tests/mpmath_reference.py``, 40 digits) on a subsample and
records the largest disagreement, which must be 0 ulp (the reference correctly rounded there).

Not checked, for every implementation alike: inputs that are subnormal where XLA flushes them
(float32, float64, bfloat16 on the CPU; see the README's "Subnormal inputs"), results below the
smallest normal number (for the flushing dtypes, below twice the smallest normal: such a result may
round up from a flushed intermediate), derivatives at the kinks (a convention, not an accuracy: see the README's
kink table) and within 0.1 of a zero of the derivative (where relative error is unbounded for any
formula; the tests check the absolute error there).

    python benchmarks/accuracy.py --record                       # minutes on a CPU
    python benchmarks/accuracy.py --float32 exhaustive --record  # all 2^32 float32: ~12 h on 2 CPU cores
    python benchmarks/accuracy.py --device gpu --record          # the functions on a GPU (reference on the host)
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import jax
import numpy as np

from actlab import accuracy
from actlab.accuracy import DTYPES, checked, inputs, measure, names, ulp_distance
from actlab.io import write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mpmath_reference import REFERENCE, evaluate

try:
    from _timing import append_results, environment, markdown_table, select_device
    from activations import torch_references
except ImportError:  # imported as benchmarks.accuracy
    from benchmarks._timing import append_results, environment, markdown_table, select_device
    from benchmarks.activations import torch_references

GELU_FLOAT64_POINTS = 2**15
_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def reference(name: str, xs: np.ndarray, dtype_name: str) -> tuple[np.ndarray, np.ndarray]:
    """``actlab.accuracy.reference``, and mpmath for exact GELU in float64 (no long double erfc)."""
    if name == "gelu" and dtype_name == "float64":
        f, df = REFERENCE["gelu"]
        return evaluate(f, xs, DTYPES[dtype_name]), evaluate(df, xs, DTYPES[dtype_name])
    return accuracy.reference(name, xs, dtype_name)


class Torch:
    """PyTorch's function of the same name on ``device`` ('cpu' or 'gpu'), value and derivative."""

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.device = torch.device("cuda" if device == "gpu" else "cpu")
        refs = torch_references(torch, self.device)
        refs["gelu_tanh"] = functools.partial(torch.nn.functional.gelu, approximate="tanh")
        self.refs = refs
        self.dtypes = {"float16": torch.float16, "bfloat16": torch.bfloat16,
                       "float32": torch.float32, "float64": torch.float64}  # fmt: skip

    def run(
        self, name: str, xs: np.ndarray, dtype_name: str
    ) -> tuple[np.ndarray, np.ndarray] | None:
        fn = self.refs.get(name)
        if fn is None:
            return None
        torch, dtype = self.torch, self.dtypes[dtype_name]
        width = xs.dtype.itemsize
        x = torch.from_numpy(xs.view(_INT[width]).copy()).view(dtype).to(self.device)
        x.requires_grad_(True)
        try:
            y = fn(x)
            (g,) = torch.autograd.grad(y, x, torch.ones_like(y))
        except RuntimeError:  # an op without a kernel for this dtype
            return None

        def back(t):
            ints = {2: torch.int16, 4: torch.int32, 8: torch.int64}[width]
            return t.detach().view(ints).cpu().numpy().view(xs.dtype)

        return back(y), back(g)


def check_reference(name: str, xs: np.ndarray, dtype_name: str, points: int, seed: int) -> float:
    """Largest ulp distance between the NumPy reference and mpmath on ``points`` of ``xs``."""
    mp_name = name
    rng = np.random.default_rng(seed)
    sample = xs[rng.choice(xs.size, min(points, xs.size), replace=False)]
    if name == "sbaf":
        sample = sample[(sample.astype(np.float64) >= 0) & (sample.astype(np.float64) <= 1)]
    ref, dref = reference(name, sample, dtype_name)
    f, df = REFERENCE[mp_name]
    worst = 0.0
    for got, exact, derivative in ((ref, evaluate(f, sample, DTYPES[dtype_name]), False),
                                   (dref, evaluate(df, sample, DTYPES[dtype_name]), True)):  # fmt: skip
        keep = checked(name, sample, exact, dtype_name, derivative)
        if np.any(keep):
            worst = max(worst, float(np.max(ulp_distance(got[keep], exact[keep]))))
    return worst


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--names", nargs="+", default=names(), choices=names())
    parser.add_argument("--float32", choices=["sampled", "exhaustive"], default="sampled")
    parser.add_argument(
        "--check-points", type=int, default=64, help="mpmath check of the reference"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if importable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write all rows to this JSON file")
    parser.add_argument("--record", action="store_true", help="append the tables to RESULTS.md")
    args = parser.parse_args(argv)
    device = select_device(args.device)
    torch = None
    if not args.no_torch:
        try:
            torch = Torch(args.device)
        except ImportError:
            torch = None
    runners = {"actlab": accuracy.run_actlab, "jax.nn": accuracy.run_jax_nn}
    runners["torch"] = torch.run if torch is not None else lambda *_: None
    rows, checks = [], []
    for dtype_name in args.dtypes:
        for name in args.names:
            start = time.perf_counter()
            chunks = inputs(dtype_name, args.float32, args.seed)
            mpmath_gelu = name == "gelu" and dtype_name == "float64"
            with jax.default_device(device):
                row, first = measure(
                    name, dtype_name, chunks, runners, reference,
                    subsample=GELU_FLOAT64_POINTS if mpmath_gelu else None,
                )  # fmt: skip
            row["reference vs mpmath"] = check_reference(
                name, first, dtype_name, args.check_points, args.seed
            )
            checks.append(row["reference vs mpmath"])
            rows.append(row)
            print(f"{dtype_name} {name} ({time.perf_counter() - start:.1f} s): {row}", flush=True)
    env = environment(device)
    tables = {
        d: [{k: v for k, v in r.items() if k != "dtype"} for r in rows if r["dtype"] == d]
        for d in args.dtypes
    }
    text = "\n\n".join(
        f"{d} ({tables[d][0]['points']} points{'' if d != 'float32' else ', ' + args.float32})\n\n"
        + markdown_table(t)
        for d, t in tables.items()
        if t
    )
    print(text)
    if args.json:
        write_json(args.json, {"environment": env, "rows": rows})
    if args.record:
        notes = (
            "Cells: max / 99th percentile of the ulp distance to the correctly rounded value over "
            "the checked points (module docstring of benchmarks/accuracy.py); '-': no such "
            f"function. Largest reference-vs-mpmath disagreement: {max(checks):g} ulp."
        )
        append_results("Accuracy in ulp (benchmarks/accuracy.py)", env, text, notes)
    return rows


if __name__ == "__main__":
    main()
