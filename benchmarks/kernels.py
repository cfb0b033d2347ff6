"""Benchmark of actlab.gradflow's kernels: the analytic NTK against the empirical NTK of a wide net.

The network is ``depth`` hidden layers (default 10) in the NTK parameterisation with
``sigma_w2 = 2``, ``sigma_b2 = 0.1`` (``1.5``, ``0.1`` for tanh), on ``--inputs`` points (default
1,024) of dimension 32 on the sphere of radius ``sqrt(32)`` (one first-layer variance, so
activations without a closed form take the interpolated quadrature; see
:func:`actlab.gradflow.kernels`). Rows, each timed as the median of ``--repeats`` calls after an
untimed warm-up (compilation), each ending in ``block_until_ready`` (a call over 2 s is timed
once):

- ``analytic``: :func:`actlab.gradflow.ntk` on all ``inputs x inputs`` pairs, in float32 and
  float64: ReLU by its closed form (arc-cosine kernel), GELU (and tanh) by quadrature at 129
  angles per layer (``method="interpolate"``, what ``"auto"`` picks for these inputs outside
  ``jit``). ``rel. error`` is the float32 kernel against the float64 one (Frobenius);
  ``temp MiB`` XLA's compiled scratch memory.
- ``pairs`` (the naive quadrature): the same kernel by one bivariate quadrature per input pair
  and layer (``method="pairs"``) on the first ``--pair-inputs`` inputs, its time per pair scaled
  to all ``inputs (inputs + 1) / 2`` pairs (marked ``extrapolated``); ``rel. error`` against the
  interpolated kernel on the same inputs.
- ``empirical``: :func:`actlab.gradflow.empirical_ntk` of one He-initialised network per width
  (``--widths``) on all inputs; ``rel. error`` against the float64 analytic kernel.
- ``jacrev`` (the naive empirical NTK): ``J J^T`` with the parameter Jacobian from ``jax.jacrev``,
  on ``--jacrev-inputs`` inputs (its memory grows as inputs x parameters), beside
  ``empirical_ntk`` on the same inputs; ``rel. error`` is the difference of the two.

Then the accuracy ladder: the empirical kernel's relative (Frobenius) error to the analytic one,
averaged over ``--seeds`` networks, at ``--error-widths`` on the first ``--error-inputs`` inputs
(the error's scale does not depend on the number of inputs; the full set costs as much as the
timing). A fit ``error = C width^p`` gives the width where the mean error reaches ``1e-2``
(``--target-error``); the empirical NTK's time at that width is the largest timed width's time
scaled by the flop count ``depth (6 n w^2 + 4 n^2 w)`` (the forward and backward passes and the
Gram matrices), marked ``extrapolated`` when the width was not timed. The ratio of that time to the
analytic float32 time is checked against the issue's target of 10x. The parameters at that width
(``depth w^2`` floats) usually exceed any device's memory: the analytic kernel is then not just
faster but the only way to that accuracy.

The peer that should be here, neural-tangents (``nt.stax`` kernels and ``nt.empirical_ntk_fn``),
is broken on current JAX (google/neural-tangents issue #209) and cannot be installed beside
it, so the naive references above stand in for it.

Usage:
  python benchmarks/kernels.py --device cpu --json /tmp/kernels.json
  python benchmarks/kernels.py --device gpu            # the issue's sizes, bigger width ladders
  python benchmarks/kernels.py --quick                 # small sizes, a smoke test
  python benchmarks/kernels.py --record                # also append the tables to RESULTS.md
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

try:
    from _timing import append_results, environment, markdown_table, median_seconds, select_device
except ImportError:  # imported as benchmarks.kernels
    from benchmarks._timing import (
        append_results,
        environment,
        markdown_table,
        median_seconds,
        select_device,
    )

from actlab.gradflow import empirical_ntk, ntk
from actlab.models import MLP

DIM = 32
SIGMA_W2 = {"tanh": 1.5}  # the others: 2.0
SIGMA_B2 = 0.1
SLOW_CALL_S = 2.0  # a call slower than this is timed once
#: Defaults per device: timed widths, accuracy-ladder widths.
WIDTHS = {"cpu": (256, 512, 1024), "gpu": (256, 1024, 4096)}
ERROR_WIDTHS = {"cpu": (256, 1024, 4096), "gpu": (256, 1024, 4096, 16384)}


def sphere_inputs(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """``(n, dim)`` float64 Gaussian points scaled to norm ``sqrt(dim)`` (first-layer variance
    ``sigma_w2 + sigma_b2`` for every input)."""
    x = np.random.default_rng(seed).normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True) * math.sqrt(dim)


def variances(act: str) -> dict[str, float]:
    return {"sigma_w2": SIGMA_W2.get(act, 2.0), "sigma_b2": SIGMA_B2}


def relative_error(a: Any, b: Any) -> float:
    """``||a - b||_F / ||b||_F`` in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def timed(call: Callable[[], jax.Array], repeats: int) -> tuple[float, float, jax.Array]:
    """``(median seconds, first-call seconds, result)``: one warm-up call, then ``repeats``
    timed calls (one if the warm-up took over ``SLOW_CALL_S``)."""
    start = time.perf_counter()
    result = call().block_until_ready()
    first = time.perf_counter() - start
    seconds = median_seconds(
        lambda: call().block_until_ready(), 1 if first > SLOW_CALL_S else repeats
    )
    return seconds, first, result


def network(act: str, width: int, depth: int, seed: int) -> MLP:
    return MLP(DIM, [width] * depth, 1, activation=act, init="he", rngs=nnx.Rngs(seed),
               **variances(act))  # fmt: skip


def empirical_flops(n: int, width: int, depth: int) -> float:
    """Multiply-adds x 2 of ``empirical_ntk`` on ``n`` inputs: the forward and backward passes
    (``6 n w^2`` per layer) and the per-layer Gram matrices of inputs and signals (``4 n^2 w``)."""
    return depth * (6.0 * n * width**2 + 4.0 * n**2 * width)


def jacobian_ntk(model: MLP, x: jax.Array, sigma_w2: float, sigma_b2: float) -> jax.Array:
    """The naive empirical NTK ``sum_p s_p J_p J_p^T`` in the NTK parameterisation, with the
    parameter Jacobian from ``jax.jacrev`` (``s_p = sigma_w2 / fan_in`` for weights,
    ``sigma_b2`` for biases)."""
    graphdef, params = nnx.split(model, nnx.Param)

    @jax.jit
    def kernel(params, x):
        jac = jax.jacrev(lambda p: nnx.merge(graphdef, p)(x)[:, 0])(params)
        theta = jnp.zeros((x.shape[0], x.shape[0]), x.dtype)
        for path, j in jax.tree_util.tree_leaves_with_path(jac):
            scale = sigma_w2 / j.shape[1] if "kernel" in jax.tree_util.keystr(path) else sigma_b2
            flat = j.reshape(x.shape[0], -1)
            theta = theta + scale * flat @ flat.T
        return theta

    return kernel(params, x)


def analytic_rows(act, x, depth, dtypes, repeats, device) -> tuple[list[dict], dict]:
    """The analytic kernel in each dtype; returns the rows and ``{dtype: (seconds, kernel)}``."""
    rows, kernels = [], {}
    for dtype in dtypes:
        with jax.enable_x64(dtype == "float64"), jax.default_device(device):
            xd = jax.device_put(jnp.asarray(x, dtype), device)
            # inside jit the inputs are traced, so "auto" cannot see their equal variances
            fn = jax.jit(lambda x: ntk(act, x, depth=depth, method="interpolate", **variances(act)))
            seconds, first, k = timed(lambda fn=fn, xd=xd: fn(xd), repeats)
            temp = fn.lower(xd).compile().memory_analysis()
            kernels[dtype] = (seconds, np.asarray(k, np.float64))
        rows.append({"kernel": "analytic", "activation": act, "dtype": dtype, "width": "inf",
                     "inputs": len(x), "seconds": f"{seconds:.3g}", "first call s": f"{first:.3g}",
                     "temp MiB": _mib(temp)})  # fmt: skip
    reference = kernels.get("float64", kernels[dtypes[0]])[1]
    for row in rows:
        row["rel. error"] = f"{relative_error(kernels[row['dtype']][1], reference):.1e}"
    return rows, kernels


def pairs_row(act, x, pair_inputs, depth, device) -> dict:
    """The per-pair quadrature on the first ``pair_inputs`` inputs, scaled to all pairs."""
    small = jnp.asarray(x[:pair_inputs], jnp.float32)
    with jax.default_device(device):
        fn = jax.jit(lambda x: ntk(act, x, depth=depth, method="pairs", **variances(act)))
        seconds, first, k = timed(lambda: fn(small), 1)
        interpolated = ntk(act, small, depth=depth, method="interpolate", **variances(act))
    pairs = pair_inputs * (pair_inputs + 1) / 2
    total = len(x) * (len(x) + 1) / 2
    return {"kernel": "pairs (naive quadrature)", "activation": act, "dtype": "float32",
            "width": "inf", "inputs": len(x),
            "seconds": f"{seconds * total / pairs:.3g} (extrapolated from {pair_inputs} inputs)",
            "first call s": f"{first:.3g}", "temp MiB": "-",
            "rel. error": f"{relative_error(k, interpolated):.1e}"}  # fmt: skip


def empirical_rows(act, x, widths, depth, repeats, device, reference) -> tuple[list[dict], dict]:
    """``empirical_ntk`` at each width on all inputs; returns rows and ``{width: seconds}``."""
    rows, times = [], {}
    xd = jax.device_put(jnp.asarray(x, jnp.float32), device)
    for width in widths:
        with jax.default_device(device):
            model = network(act, width, depth, seed=0)
            seconds, first, k = timed(
                lambda model=model: empirical_ntk(model, xd, batch_size=len(x), **variances(act)),
                repeats,
            )
        times[width] = seconds
        rows.append({"kernel": "empirical", "activation": act, "dtype": "float32", "width": width,
                     "inputs": len(x), "seconds": f"{seconds:.3g}", "first call s": f"{first:.3g}",
                     "temp MiB": "-", "rel. error": f"{relative_error(k, reference):.1e}"})  # fmt: skip
    return rows, times


def jacrev_rows(act, x, width, depth, inputs, device) -> list[dict]:
    """The naive ``jax.jacrev`` kernel beside ``empirical_ntk`` on ``inputs`` inputs."""
    small = jax.device_put(jnp.asarray(x[:inputs], jnp.float32), device)
    with jax.default_device(device):
        model = network(act, width, depth, seed=0)
        naive_s, naive_first, naive = timed(lambda: jacobian_ntk(model, small, **variances(act)), 1)
        ours_s, ours_first, ours = timed(lambda: empirical_ntk(model, small, **variances(act)), 3)
    error = f"{relative_error(ours, naive):.1e} (vs each other)"
    return [
        {"kernel": kernel, "activation": act, "dtype": "float32", "width": width,
         "inputs": inputs, "seconds": f"{seconds:.3g}", "first call s": f"{first:.3g}",
         "temp MiB": "-", "rel. error": error}
        for kernel, seconds, first in [("jacrev (naive empirical)", naive_s, naive_first),
                                       ("empirical", ours_s, ours_first)]
    ]  # fmt: skip


def error_ladder(act, x, widths, depth, seeds, device) -> list[float]:
    """Mean over ``seeds`` networks of the empirical kernel's relative error, per width."""
    xd = jax.device_put(jnp.asarray(x, jnp.float32), device)
    exact = ntk(act, xd, depth=depth, **variances(act))
    means = []
    for width in widths:
        errors = []
        for seed in range(seeds):
            with jax.default_device(device):
                model = network(act, width, depth, seed=1000 + seed)
                errors.append(relative_error(empirical_ntk(model, xd, **variances(act)), exact))
        means.append(float(np.mean(errors)))
    return means


def matching_row(act, widths, errors, times, analytic_s, n, depth, target) -> dict:
    """Where the empirical kernel reaches ``target`` and what it costs there."""
    slope, intercept = np.polyfit(np.log(widths), np.log(errors), 1)
    width = float(np.exp((math.log(target) - intercept) / slope)) if slope < 0 else math.inf
    widest = max(times)
    measured = min((w for w, e in zip(widths, errors, strict=True) if e <= target), default=None)
    if measured is not None and measured in times:
        seconds, how = times[measured], f"measured at width {measured}"
    else:
        scale = empirical_flops(n, width, depth) / empirical_flops(n, widest, depth)
        seconds, how = times[widest] * scale, f"extrapolated from width {widest}"
    ratio = seconds / analytic_s
    return {
        "activation": act,
        "mean error per width": ", ".join(
            f"{w}: {e:.3g}" for w, e in zip(widths, errors, strict=True)
        ),
        "fit": f"{math.exp(intercept):.3g} w^{slope:.2f}",
        f"width at {target:g}": f"{width:.3g}",
        "params GiB there": f"{depth * width**2 * 4 / 2**30:.3g}",
        "empirical s there": f"{seconds:.3g} ({how})",
        "analytic s (float32)": f"{analytic_s:.3g}",
        "ratio": f"{ratio:.3g}x",
        "target 10x": bool(ratio >= 10.0),
    }


def _mib(analysis: Any) -> str:
    size = getattr(analysis, "temp_size_in_bytes", None)
    return "-" if size is None else f"{size / 2**20:.1f}"


def main(argv: list[str] | None = None) -> dict[str, list[dict]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--activations", nargs="+", default=["relu", "gelu"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                        choices=["float32", "float64"])  # fmt: skip
    parser.add_argument("--inputs", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--widths", type=int, nargs="+", help="timed widths (default per device)")
    parser.add_argument("--error-widths", type=int, nargs="+",
                        help="widths of the accuracy ladder (default per device)")  # fmt: skip
    parser.add_argument("--error-inputs", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3, help="networks per ladder width")
    parser.add_argument("--pair-inputs", type=int, default=8, help="inputs of the naive quadrature")
    parser.add_argument("--jacrev-inputs", type=int, default=16)
    parser.add_argument("--target-error", type=float, default=1e-2)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", help="write the rows to this JSON file")
    parser.add_argument("--record", action="store_true", help="append the tables to RESULTS.md")
    args = parser.parse_args(argv)
    args.widths = args.widths or list(WIDTHS[args.device])
    args.error_widths = args.error_widths or list(ERROR_WIDTHS[args.device])
    if args.quick:
        args.inputs, args.depth, args.widths, args.error_widths = 32, 1, [32, 64], [32, 128]
        args.error_inputs, args.seeds, args.pair_inputs, args.jacrev_inputs = 16, 2, 3, 4
        args.repeats = 1

    from actlab.io import write_json

    device = select_device(args.device)
    x = sphere_inputs(args.inputs)
    rows, matching = [], []
    for act in args.activations:
        found, kernels = analytic_rows(act, x, args.depth, args.dtypes, args.repeats, device)
        if act != "relu":
            found.append(pairs_row(act, x, args.pair_inputs, args.depth, device))
        reference = kernels.get("float64", kernels[args.dtypes[0]])[1]
        timed_rows, times = empirical_rows(act, x, args.widths, args.depth, args.repeats, device,
                                           reference)  # fmt: skip
        found += timed_rows
        found += jacrev_rows(act, x, max(args.widths), args.depth, args.jacrev_inputs, device)
        for row in found:
            print(markdown_table([row]).splitlines()[-1], flush=True)
        rows += found
        errors = error_ladder(act, x[: args.error_inputs], args.error_widths, args.depth,
                              args.seeds, device)  # fmt: skip
        analytic_s = kernels["float32"][0] if "float32" in kernels else kernels[args.dtypes[0]][0]
        matching.append(matching_row(act, args.error_widths, errors, times, analytic_s,
                                     args.inputs, args.depth, args.target_error))  # fmt: skip
        print(markdown_table([matching[-1]]).splitlines()[-1], flush=True)
    env = environment(device)
    table, summary = markdown_table(rows), markdown_table(matching)
    print(table, summary, sep="\n\n")
    network_text = (f"{args.inputs} inputs on the sphere in d = {DIM}, depth {args.depth}, "
                    f"NTK parameterisation")  # fmt: skip
    if args.json:
        write_json(args.json, {"environment": env, "network": network_text, "rows": rows,
                               "matching": matching})  # fmt: skip
    if args.record:
        notes = (f"Accuracy ladder on the first {args.error_inputs} inputs, mean over "
                 f"{args.seeds} networks per width; time at the matching width scaled by flops "
                 f"from the widest timed width.\n\n{summary}")  # fmt: skip
        append_results(f"Kernels: analytic vs empirical NTK, {network_text}", env, table, notes)
    return {"rows": rows, "matching": matching}


if __name__ == "__main__":
    result = main()
    raise SystemExit(0 if all(r["target 10x"] for r in result["matching"]) else 1)
