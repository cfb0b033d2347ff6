"""Activation kernels: actlab vs jax.nn (and PyTorch where importable), same run, same data.

For every activation: forward time and forward+backward time (one ``jax.vjp``: reads x and the
cotangent, writes y and dx) on float32 arrays of the given sizes. Reports the median per-call time
(each call synchronised), the effective bandwidth (bytes that must move / time), the ratio
``reference_time / actlab_time`` (>= 1 means actlab is at least as fast), and XLA's compiled
temporary memory for the forward+backward function.

    python benchmarks/activations.py --sizes-mib 1 64 1024 --record
"""

from __future__ import annotations

import argparse
import functools
import json

import jax
import jax.numpy as jnp

from actlab import activations as A

try:
    from _timing import (
        append_results,
        environment,
        interleaved_medians,
        markdown_table,
        select_device,
    )
except ImportError:  # imported as benchmarks.activations
    from benchmarks._timing import (
        append_results,
        environment,
        interleaved_medians,
        markdown_table,
        select_device,
    )

# actlab name -> the reference with the same formula and defaults ("naive" when jax.nn has none).
REFERENCES = {
    "identity": lambda x: x,
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "leaky_relu": jax.nn.leaky_relu,
    "prelu": lambda x: jnp.where(x >= 0, x, 0.25 * x),
    "hard_tanh": jax.nn.hard_tanh,
    "hard_sigmoid": jax.nn.hard_sigmoid,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "celu": jax.nn.celu,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "silu": jax.nn.silu,
    "mish": jax.nn.mish,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softsign": jax.nn.soft_sign,
    "softmax": jax.nn.softmax,
    "log_softmax": jax.nn.log_softmax,
    "sbaf": lambda x: 1 / (1 + jnp.sqrt(x) * jnp.sqrt(1 - x)),
    "arelu": lambda x: jnp.where(x > 0, jnp.maximum(x, 0) ** 1.5, 0.0),
}
NAIVE = {"prelu", "sbaf", "arelu", "identity"}


def _forward_backward(f):
    def step(x, g):
        y, pullback = jax.vjp(f, x)
        return y, pullback(g)[0]

    return step


def _run(fn, *args):
    return jax.block_until_ready(fn(*args))


def _temp_bytes(fn, *args) -> int:
    analysis = jax.jit(fn).lower(*args).compile().memory_analysis()
    return int(getattr(analysis, "temp_size_in_bytes", -1)) if analysis is not None else -1


def bench(names, sizes_mib, repeats, device) -> list[dict]:
    rows = []
    for mib in sizes_mib:
        n = max(1, int(mib * 2**20 / 4))
        key_x, key_g = jax.random.split(jax.random.key(0))
        with jax.default_device(device):
            x = jax.random.normal(key_x, (n // 1024 or 1, min(n, 1024)), jnp.float32)
            g = jax.random.normal(key_g, x.shape, jnp.float32)
        nbytes = x.size * 4
        reps = max(3, min(repeats, int(repeats * 64 / max(mib, 64))))
        for name in names:
            xin = jax.nn.sigmoid(x) if name == "sbaf" else x  # sbaf's domain is [0, 1]
            ours, ref = A.get(name), REFERENCES[name]
            fwd = [jax.jit(ours), jax.jit(ref)]
            both = [jax.jit(_forward_backward(ours)), jax.jit(_forward_backward(ref))]
            t_fwd = interleaved_medians([functools.partial(_run, f, xin) for f in fwd], reps)
            t_both = interleaved_medians([functools.partial(_run, f, xin, g) for f in both], reps)
            rows.append(
                {
                    "activation": name,
                    "MiB": mib,
                    "reference": "naive jnp" if name in NAIVE else "jax.nn",
                    "fwd ms": round(t_fwd[0] * 1e3, 3),
                    "fwd ref ms": round(t_fwd[1] * 1e3, 3),
                    "fwd GB/s": round(2 * nbytes / t_fwd[0] / 1e9, 2),
                    "fwd ratio": round(t_fwd[1] / t_fwd[0], 3),
                    "fwd+bwd ms": round(t_both[0] * 1e3, 3),
                    "fwd+bwd ref ms": round(t_both[1] * 1e3, 3),
                    "fwd+bwd GB/s": round(4 * nbytes / t_both[0] / 1e9, 2),
                    "fwd+bwd ratio": round(t_both[1] / t_both[0], 3),
                    "temp MiB": round(_temp_bytes(_forward_backward(ours), xin, g) / 2**20, 2),
                    "temp ref MiB": round(_temp_bytes(_forward_backward(ref), xin, g) / 2**20, 2),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--sizes-mib", type=float, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--names", nargs="+", default=list(REFERENCES), choices=list(REFERENCES))
    parser.add_argument(
        "--repeats", type=int, default=30, help="timed calls per case (fewer for big arrays)"
    )
    parser.add_argument("--json", help="write all rows to this JSON file")
    parser.add_argument(
        "--record", action="store_true", help="append the table to benchmarks/RESULTS.md"
    )
    args = parser.parse_args(argv)
    device = select_device(args.device)
    rows = bench(args.names, args.sizes_mib, args.repeats, device)
    table = markdown_table(rows)
    print(table)
    worst = min(rows, key=lambda r: min(r["fwd ratio"], r["fwd+bwd ratio"]))
    print(f"lowest ratio: {worst['activation']} at {worst['MiB']} MiB "
          f"(fwd {worst['fwd ratio']}, fwd+bwd {worst['fwd+bwd ratio']})")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": environment(device), "rows": rows}, f, indent=2)
    if args.record:
        append_results("Activation kernels (actlab vs reference)", environment(device), table)
    return rows


if __name__ == "__main__":
    main()
