"""Activation kernels: actlab vs jax.nn and PyTorch (where importable), same run, same data.

For every array size (float32, ``--sizes-mib``):

* **Ceiling**: the device's copy bandwidth, measured in the same run (a jitted copy; GB/s =
  2 x bytes / time: one read, one write).
* **Kernels**: for every activation, forward (reads ``x``, writes ``y``) and forward+backward
  (one ``jax.vjp``: reads ``x`` and the cotangent, writes ``y`` and ``dx``) of actlab, of the
  reference with the same formula (``jax.nn``, or a naive ``jnp`` one where jax.nn has none) and
  of PyTorch. Two times per case: **pipelined** throughput (many calls queued, one wait at the
  end; shown as GB/s) and the **latency of one synchronous call** (each call waited for; "sync
  GB/s"). "% copy" is the time of a jitted copy of the same bytes (timed interleaved with the
  kernels, so load drift hits both alike) over actlab's pipelined time. Ratios are
  ``other_time / actlab_time`` (>= 1: actlab at least as fast), pipelined. XLA's compiled
  temporary memory of forward+backward is shown too.
* **Per-call overhead** (``--overhead-names``, at 4 KiB and at the largest size): synchronous
  latency and pipelined time per call of eager calls as a user writes them (``A.relu(x)``,
  ``jax.nn.relu(x)``, ``torch.relu(t)``) and of the same functions under ``jax.jit``, in
  microseconds. At 4 KiB the kernel is negligible and the synchronous latency is the fixed cost
  of one call; at the largest size, synchronous - pipelined is what waiting adds per call.
  (In jax 0.10, ``jax.nn.relu`` is a ``custom_jvp`` outside any ``jit``, so each eager call
  traces it again: hundreds of microseconds on a CPU. actlab's functions validate and then call
  a jitted core.)

Keeping research loops out of the dispatch-bound regime: every eager or jitted call costs the
host tens of microseconds (see the overhead table), whatever the array size, so a loop of small
calls measures Python, not the device. Jit the whole step (forward, loss, gradient and optimizer
update in one ``jax.jit``/``nnx.jit`` function) rather than jitting pieces, and run many steps
per call with ``jax.lax.scan`` or ``jax.lax.fori_loop`` (``actlab.train.fit`` runs chunks of up
to 1000 steps per call this way); bring metrics to the host once per chunk, not per step.
Measured by ``benchmarks/training_torch.py`` on this 2-core CPU (loaded, load average 7.8): an
Adam step of ``MLP(64, [32, 32], 10)`` on 64 examples took 2.0 ms per call with ``nnx.jit`` +
``nnx.Optimizer``, 0.40 ms per call with ``jax.jit`` on the split NNX state, and 0.16 ms per
step with 20 steps in one ``lax.scan`` (PyTorch eager: 1.1 ms); at ``MLP(64, [512, 512], 10)``
on 512 examples the step itself dominates and the three differ by less than 20%.

    python benchmarks/activations.py --sizes-mib 1 64 1024 --json act.json
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from actlab import activations as A
from actlab.io import write_json
from actlab.timing import (
    calls_for,
    interleaved_medians,
    memory_bound_kernels,
    pipelined,
    synchronous,
)

try:
    from _timing import (
        append_results,
        environment,
        markdown_table,
        select_device,
        torch_device,
    )
except ImportError:  # imported as benchmarks.activations
    from benchmarks._timing import (
        append_results,
        environment,
        markdown_table,
        select_device,
        torch_device,
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
    "log_sigmoid": jax.nn.log_sigmoid,
    "squareplus": jax.nn.squareplus,
    "sparse_plus": jax.nn.sparse_plus,
    "sparse_sigmoid": jax.nn.sparse_sigmoid,
    "hard_silu": jax.nn.hard_silu,
}
NAIVE = {"prelu", "sbaf", "arelu", "identity"}
SMALL_MIB = 4 / 1024  # the "small array" of the overhead table: 4 KiB


def torch_references(torch: Any, device: Any) -> dict[str, Callable]:
    """actlab name -> the PyTorch function with the same formula and defaults."""
    F = torch.nn.functional
    slope = torch.tensor([0.25], device=device)
    return {
        "identity": lambda t: t.clone(),
        "relu": torch.relu,
        "relu6": F.relu6,
        "leaky_relu": F.leaky_relu,
        "prelu": lambda t: F.prelu(t, slope),
        "hard_tanh": F.hardtanh,
        "hard_sigmoid": F.hardsigmoid,
        "elu": F.elu,
        "selu": F.selu,
        "celu": F.celu,
        "gelu": F.gelu,
        "silu": F.silu,
        "mish": F.mish,
        "softplus": F.softplus,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softsign": F.softsign,
        "softmax": lambda t: torch.softmax(t, -1),
        "log_softmax": lambda t: torch.log_softmax(t, -1),
        "log_sigmoid": F.logsigmoid,
        "hard_silu": F.hardswish,
    }


def _torch_fwd_bwd(torch: Any, f: Callable) -> Callable:
    def step(x: Any, g: Any) -> tuple[Any, Any]:
        x = x.detach().requires_grad_(True)
        y = f(x)
        return y, torch.autograd.grad(y, x, g)[0]

    return step


def _temp_bytes(fn: Callable, *args: Any) -> int:
    analysis = jax.jit(fn).lower(*args).compile().memory_analysis()
    return int(getattr(analysis, "temp_size_in_bytes", -1)) if analysis is not None else -1


class Bench:
    """The arrays of one size on the JAX device (and the PyTorch one), and how to time calls."""

    def __init__(self, mib: float, device: jax.Device, torch_env: tuple | None, args: Any):
        n = max(1, int(mib * 2**20 / 4))
        width = min(n, 1024)
        key_x, key_g = jax.random.split(jax.random.key(0))
        with jax.default_device(device):
            self.x = jax.random.normal(key_x, (n // width, width), jnp.float32)
            self.g = jax.random.normal(key_g, self.x.shape, jnp.float32)
            self.x01 = jax.nn.sigmoid(self.x)  # sbaf's domain is [0, 1]
        self.mib, self.nbytes = mib, self.x.size * 4
        self.repeats = max(3, min(args.repeats, int(args.repeats * 64 / max(mib, 64))))
        self.target = args.target_ms / 1e3
        self.torch = None
        if torch_env is not None:
            torch, tdev, wait = torch_env
            self.torch, self.twait = torch, wait
            self.tx = torch.from_numpy(np.array(self.x)).to(tdev)
            self.tg = torch.from_numpy(np.array(self.g)).to(tdev)

    def time(
        self, fns: list[Callable], waits: list[Callable], min_calls: int = 1
    ) -> dict[str, list[float]]:
        """Pipelined and synchronous seconds per call of each thunk, each with its own wait.

        All thunks get the same number of calls per batch (at least ``min_calls``); batches are
        interleaved.
        """
        calls = calls_for([lambda f=f, w=w: w(f()) for f, w in zip(fns, waits, strict=True)],
                          self.target, wait=lambda r: r, low=min_calls)  # fmt: skip
        out = {}
        for mode, batch in (("pipelined", pipelined), ("synchronous", synchronous)):
            batches = [batch(f, calls, w) for f, w in zip(fns, waits, strict=True)]
            out[mode] = [t / calls for t in interleaved_medians(batches, self.repeats)]
        return out


_COPY = {  # the ceilings: copies moving the bytes of a forward and of a forward+backward
    "fwd": jax.jit(jnp.copy),
    "fwd+bwd": jax.jit(lambda x, g: (jnp.copy(x), jnp.copy(g))),
}


def copy_row(bench: Bench) -> dict[str, Any]:
    """The ceiling: a jitted copy (and PyTorch's ``clone``), pipelined and synchronous."""
    fns, waits = [lambda: _COPY["fwd"](bench.x)], [jax.block_until_ready]
    if bench.torch is not None:
        fns.append(lambda: bench.tx.clone())
        waits.append(bench.twait)
    t = bench.time(fns, waits)
    gbs = lambda s: round(2 * bench.nbytes / s / 1e9, 2)  # noqa: E731
    row = {
        "MiB": bench.mib,
        "copy GB/s": gbs(t["pipelined"][0]),
        "copy sync GB/s": gbs(t["synchronous"][0]),
        "torch clone GB/s": gbs(t["pipelined"][1]) if bench.torch is not None else "-",
    }
    print(json.dumps(row), flush=True)
    return row


def kernel_row(bench: Bench, name: str) -> dict[str, Any]:
    """actlab, reference and PyTorch: forward and forward+backward, pipelined and synchronous.

    A copy of the same bytes is timed interleaved with them: "% copy" is its time over actlab's
    (pipelined), so drift in the machine's load affects the ceiling and the kernel alike.
    """
    x = bench.x01 if name == "sbaf" else bench.x
    ours, ref = A.get(name), REFERENCES[name]
    tref = None
    if bench.torch is not None:
        tref = torch_references(bench.torch, bench.tx.device).get(name)
    row: dict[str, Any] = {
        "activation": name,
        "MiB": bench.mib,
        "reference": "naive jnp" if name in NAIVE else "jax.nn",
    }
    detail: dict[str, Any] = {}
    for label, moved in (("fwd", 2), ("fwd+bwd", 4)):
        kernels = [memory_bound_kernels(f)[label == "fwd+bwd"] for f in (ours, ref)]
        args = (x,) if label == "fwd" else (x, bench.g)
        fns = [functools.partial(k, *args) for k in kernels]
        waits = [jax.block_until_ready] * 2
        if tref is not None:
            tf = tref if label == "fwd" else _torch_fwd_bwd(bench.torch, tref)
            targs = (bench.tx,) if label == "fwd" else (bench.tx, bench.tg)
            fns.append(functools.partial(tf, *targs))
            waits.append(bench.twait)
        fns.append(functools.partial(_COPY[label], *args))
        waits.append(jax.block_until_ready)
        times = bench.time(fns, waits)
        (*pipe, copy), (*sync, _) = times["pipelined"], times["synchronous"]
        gbs = moved * bench.nbytes / pipe[0] / 1e9
        row[f"{label} GB/s"] = round(gbs, 2)
        row[f"{label} % copy"] = round(100 * copy / pipe[0], 1)
        row[f"{label} ratio"] = round(pipe[1] / pipe[0], 3)
        row[f"{label} torch ratio"] = round(pipe[2] / pipe[0], 3) if len(pipe) > 2 else "-"
        row[f"{label} sync GB/s"] = round(moved * bench.nbytes / sync[0] / 1e9, 2)
        detail[label] = {"pipelined_s": pipe, "synchronous_s": sync, "copy_pipelined_s": copy,
                         "order": ["actlab", "reference", "torch"][: len(pipe)]}  # fmt: skip
    both = [memory_bound_kernels(f)[1] for f in (ours, ref)]
    row["temp MiB"] = round(_temp_bytes(both[0], x, bench.g) / 2**20, 2)
    row["temp ref MiB"] = round(_temp_bytes(both[1], x, bench.g) / 2**20, 2)
    row["detail"] = detail
    print(json.dumps({k: v for k, v in row.items() if k != "detail"}), flush=True)
    return row


def overhead_rows(bench: Bench, name: str) -> list[dict[str, Any]]:
    """Per-call cost of eager and jitted calls of ``name``: synchronous and pipelined, in us."""
    x = bench.x01 if name == "sbaf" else bench.x
    ours, ref = A.get(name), REFERENCES[name]
    cases = [
        ("actlab, eager", lambda: ours(x), jax.block_until_ready),
        ("actlab, jax.jit", functools.partial(jax.jit(ours), x), jax.block_until_ready),
        (f"{'jnp' if name in NAIVE else 'jax.nn'}, eager", lambda: ref(x), jax.block_until_ready),
        ("reference, jax.jit", functools.partial(jax.jit(ref), x), jax.block_until_ready),
    ]
    if bench.torch is not None and name in torch_references(bench.torch, bench.tx.device):
        tf = torch_references(bench.torch, bench.tx.device)[name]
        cases.append(("torch, eager", lambda: tf(bench.tx), bench.twait))
    times = bench.time([c[1] for c in cases], [c[2] for c in cases], min_calls=5)
    rows = []
    for (label, _, _), pipe, sync in zip(
        cases, times["pipelined"], times["synchronous"], strict=True
    ):
        rows.append({"activation": name, "call": label, "MiB": round(bench.mib, 4),
                     "sync us": round(1e6 * sync, 1), "pipelined us": round(1e6 * pipe, 1),
                     "sync - pipelined us": round(1e6 * (sync - pipe), 1)})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--sizes-mib", type=float, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--names", nargs="+", default=list(REFERENCES), choices=list(REFERENCES))
    parser.add_argument(
        "--overhead-names", nargs="*", default=["relu"], choices=list(REFERENCES),
        help="activations of the per-call overhead table (none: skip it)",
    )  # fmt: skip
    parser.add_argument(
        "--repeats", type=int, default=30, help="timed batches per case (fewer for big arrays)"
    )
    parser.add_argument(
        "--target-ms", type=float, default=50.0, help="approximate duration of one timed batch"
    )
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if importable")
    parser.add_argument("--json", help="write all rows to this JSON file")
    parser.add_argument(
        "--record", action="store_true", help="append the tables to benchmarks/RESULTS.md"
    )
    args = parser.parse_args(argv)
    if args.repeats <= 0 or args.target_ms <= 0 or min(args.sizes_mib) <= 0:
        parser.error("--repeats, --target-ms and --sizes-mib must be positive")
    device = select_device(args.device)
    torch_env = None if args.no_torch else torch_device(args.device)
    rows, copies, overheads = [], [], []
    for mib in args.sizes_mib:
        bench = Bench(mib, device, torch_env, args)
        copies.append(copy_row(bench))
        rows += [kernel_row(bench, name) for name in args.names]
    if args.overhead_names:
        for mib in sorted({SMALL_MIB, max(args.sizes_mib)}):
            bench = Bench(mib, device, torch_env, args)
            for name in args.overhead_names:
                overheads += overhead_rows(bench, name)
    env = environment(device)
    print("\nEnvironment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print("\nCopy bandwidth (the ceiling)\n" + markdown_table(copies))
    table = [{k: v for k, v in r.items() if k != "detail"} for r in rows]
    print(
        "\nKernels (pipelined unless 'sync'; ratio = other / actlab time)\n" + markdown_table(table)
    )
    if overheads:
        print("\nPer-call overhead\n" + markdown_table(overheads))
    worst = min(rows, key=lambda r: min(r["fwd ratio"], r["fwd+bwd ratio"]))
    print(f"lowest ratio: {worst['activation']} at {worst['MiB']} MiB "
          f"(fwd {worst['fwd ratio']}, fwd+bwd {worst['fwd+bwd ratio']})")  # fmt: skip
    least = min(rows, key=lambda r: r["fwd % copy"])
    print(f"lowest % of copy (fwd): {least['activation']} at {least['MiB']} MiB: "
          f"{least['fwd % copy']}%")  # fmt: skip
    if args.json:
        write_json(
            args.json, {"environment": env, "copy": copies, "rows": rows, "overhead": overheads}
        )
    if args.record:
        tables = [markdown_table(copies), markdown_table(table)]
        tables += [markdown_table(overheads)] if overheads else []
        append_results("Activation kernels (actlab vs jax.nn and PyTorch)", env,
                       "\n\n".join(tables))  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
