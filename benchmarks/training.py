"""Training loop: vmapped ensembles against sequential runs, and NNX against plain functional JAX.

1. Ensemble: ``S`` seeds trained as one vmapped computation (``actlab.train.fit_ensemble``)
   against ``S`` sequential ``actlab.train.fit`` runs of the same model, both end to end (models
   built, trained, results on the host). Target: >= 5x faster on a CPU.
2. NNX overhead: per-step time of ``actlab.train.fit`` on a Flax NNX ``MLP`` against a plain
   functional JAX MLP of the same shape, trained by a hand-written loop of the same structure
   (``lax.scan`` chunks, the same Optax optimizer, loss and per-step metrics). Target: < 5%.
   Also shown: the compiled chunks alone, and one-step-per-call training as NNX users often write
   it (``nnx.jit`` + ``nnx.Optimizer``) against ``jax.jit`` on a functional step (not a target:
   it shows the Python cost per call that running many steps per call avoids).

Every timing is the median of ``--repeats`` calls after one untimed warm-up call (compilation),
each call ending in ``block_until_ready`` (or a host copy); calls of the things compared are
interleaved.

    python benchmarks/training.py --device cpu --json training.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from actlab import activations as A
from actlab import data, train
from actlab.io import write_json
from actlab.models import MLP, hidden_layers, output_layer
from actlab.train import _loop  # the compiled chunk, timed on its own

try:
    from _timing import environment, interleaved_medians, markdown_table, select_device
except ImportError:  # imported as benchmarks.training
    from benchmarks._timing import environment, interleaved_medians, markdown_table, select_device

LOSS = "sigmoid_binary_cross_entropy"


@dataclasses.dataclass(frozen=True)
class MakeMLP:
    """``rngs -> MLP(2, [width] * depth, 1)``; hashable by value, so builds compile once."""

    width: int
    depth: int

    def __call__(self, rngs: nnx.Rngs) -> MLP:
        return MLP(2, [self.width] * self.depth, 1, rngs=rngs)


# ----------------------------------------------------------------------------- 1. ensembles


@dataclasses.dataclass(frozen=True)
class Setup:
    """One model and data size: ``MLP(2, [width] * depth, 1)`` on ``n`` quadrant points."""

    width: int
    depth: int
    n: int
    batch_size: int | None  # None: full batch

    @classmethod
    def parse(cls, text: str) -> Setup:
        """``"W,D,N,B"`` (``B = 0``: full batch)."""
        try:
            width, depth, n, batch = (int(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected W,D,N,B (ints), got {text!r}") from None
        if min(width, depth, n) <= 0 or not 0 <= batch <= n:
            raise argparse.ArgumentTypeError(f"need W, D, N > 0 and 0 <= B <= N, got {text!r}")
        return cls(width, depth, n, batch or None)

    def describe(self) -> str:
        batch = "full batch" if self.batch_size is None else f"batch {self.batch_size}"
        return f"MLP(2, {[self.width] * self.depth}, 1), n={self.n}, {batch}"

    def data(self) -> data.Dataset:
        return data.quadrants(self.n, seed=0, margin=0.05)


def bench_ensemble(args: argparse.Namespace, setup: Setup, tx: Any) -> dict:
    make = MakeMLP(setup.width, setup.depth)
    ds = setup.data()
    x, y = ds.x, ds.y
    keys = jax.random.split(jax.random.key(0), args.seeds)
    common = {"optimizer": tx, "loss": LOSS, "steps": args.steps, "progress": False,
              "batch_size": setup.batch_size}  # fmt: skip

    def vmapped() -> None:
        ensemble = train.init_ensemble(make, keys)
        ensemble = train.fit_ensemble(ensemble, x, y, **common)
        jax.block_until_ready(ensemble.params)

    def sequential() -> None:
        for key in keys:
            init_key, data_key = jax.random.split(key)
            model = make(nnx.Rngs(init_key))
            train.fit(model, x, y, key=data_key, **common)
            jax.block_until_ready(nnx.state(model))

    t_vmap, t_seq = interleaved_medians([vmapped, sequential], args.repeats)
    return {"vmapped_s": t_vmap, "sequential_s": t_seq, "speedup": t_seq / t_vmap}


# ----------------------------------------------------------------------------- 2. NNX overhead


def functional_params(model: MLP) -> list[tuple[jax.Array, jax.Array]]:
    """The NNX model's weights as a plain list of ``(W, b)``, read-out last."""
    return [*hidden_layers(model), output_layer(model)]


def functional_forward(params: list[tuple[jax.Array, jax.Array]], x: jax.Array) -> jax.Array:
    h = x
    for w, b in params[:-1]:
        h = A.relu(h @ w + b[None, :])
    w, b = params[-1]
    return h @ w + b[None, :]


def functional_chunk(tx: Any, chunk: int, with_metrics: bool):
    """A jitted ``chunk``-step training loop of the functional MLP, mirroring actlab.train."""

    def loss_fn(params, x, y):
        logits = functional_forward(params, x)[:, 0]
        labels = y.astype(logits.dtype)
        value = optax.sigmoid_binary_cross_entropy(logits, labels).mean()
        return value, jnp.mean((logits > 0) == (labels > 0.5))

    @jax.jit
    def run(carry, x, y):
        def step(carry, _):
            params, opt_state = carry
            (value, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, y)
            if with_metrics:  # the per-step work actlab.train does besides the update
                squares = jnp.stack(
                    [jnp.sum(jnp.square(w)) + jnp.sum(jnp.square(b)) for w, b in grads]
                )
                grad_norm = jnp.sqrt(jnp.sum(squares))
                metrics = (value, accuracy, grad_norm, jnp.sqrt(squares))
            else:
                metrics = value
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), metrics

        return jax.lax.scan(step, carry, None, length=chunk)

    return run


def bench_overhead(args: argparse.Namespace, setup: Setup, tx: Any) -> dict:
    make = MakeMLP(setup.width, setup.depth)
    ds = setup.data()
    x, y = ds.x, ds.y
    steps = args.steps
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    inf = jnp.asarray(np.inf, jnp.float32)

    # end to end: actlab.train.fit against the same chunked loop written functionally
    def nnx_fit() -> None:
        model = make(nnx.Rngs(0))
        train.fit(model, x, y, optimizer=tx, loss=LOSS, steps=steps, progress=False)
        jax.block_until_ready(nnx.state(model))

    run_metrics = functional_chunk(tx, min(steps, 1000), with_metrics=True)
    run_bare = functional_chunk(tx, min(steps, 1000), with_metrics=False)

    def functional_fit(run) -> None:
        params = functional_params(make(nnx.Rngs(0)))
        carry = (params, tx.init(params))
        for _ in range(0, steps, min(steps, 1000)):
            carry, metrics = run(carry, xj, yj)
            jax.tree.map(np.asarray, metrics)  # the host copy actlab.train makes per chunk
        jax.block_until_ready(carry)

    t_nnx, t_fun, t_bare = interleaved_medians(
        [nnx_fit, lambda: functional_fit(run_metrics), lambda: functional_fit(run_bare)],
        args.repeats,
    )

    # the compiled chunks alone (no model building, no host loop)
    model = make(nnx.Rngs(0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    chunk = min(steps, 1000)
    nnx_carry = (params, rest, tx.init(params))
    fparams = functional_params(model)
    f_carry = (fparams, tx.init(fparams))
    static = {"graphdef": graphdef, "tx": tx, "loss": LOSS, "batch_size": None, "chunk": chunk,
              "masked": False, "clip": False}  # fmt: skip
    key, first, total = jax.random.key(0), jnp.int32(0), jnp.int32(chunk)

    def nnx_chunk() -> None:
        jax.block_until_ready(_loop._run_chunk_single(nnx_carry, key, xj, yj, first, total, inf,
                                                      **static))  # fmt: skip

    def fun_chunk() -> None:
        jax.block_until_ready(run_metrics(f_carry, xj, yj))

    c_nnx, c_fun = interleaved_medians([nnx_chunk, fun_chunk], args.repeats)

    # one step per call: nnx.jit + nnx.Optimizer against jax.jit on a functional step
    model = make(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def nnx_step(model, optimizer, x, y):
        def loss(m):
            logits = m(x)[:, 0]
            return optax.sigmoid_binary_cross_entropy(logits, y.astype(logits.dtype)).mean()

        value, grads = nnx.value_and_grad(loss)(model)
        optimizer.update(model, grads)
        return value

    @jax.jit
    def fun_step(params, opt_state, x, y):
        def loss(p):
            logits = functional_forward(p, x)[:, 0]
            return optax.sigmoid_binary_cross_entropy(logits, y.astype(logits.dtype)).mean()

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    state = {"p": fparams, "s": tx.init(fparams)}
    calls = args.calls

    def nnx_calls() -> None:
        for _ in range(calls):
            value = nnx_step(model, optimizer, xj, yj)
        value.block_until_ready()

    def fun_calls() -> None:
        for _ in range(calls):
            state["p"], state["s"], value = fun_step(state["p"], state["s"], xj, yj)
        value.block_until_ready()

    p_nnx, p_fun = interleaved_medians([nnx_calls, fun_calls], args.repeats)
    return {
        "fit_step_us": 1e6 * t_nnx / steps,
        "functional_step_us": 1e6 * t_fun / steps,
        "functional_bare_step_us": 1e6 * t_bare / steps,
        "fit_overhead_pct": 100 * (t_nnx / t_fun - 1),
        "chunk_step_us": 1e6 * c_nnx / chunk,
        "functional_chunk_step_us": 1e6 * c_fun / chunk,
        "chunk_overhead_pct": 100 * (c_nnx / c_fun - 1),
        "nnx_jit_call_us": 1e6 * p_nnx / calls,
        "jax_jit_call_us": 1e6 * p_fun / calls,
        "per_call_overhead_pct": 100 * (p_nnx / p_fun - 1),
    }


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--seeds", type=int, default=16, help="ensemble members (and runs)")
    parser.add_argument("--steps", type=int, default=2000, help="full-batch steps per run")
    parser.add_argument(
        "--ensemble-setups",
        type=Setup.parse,
        nargs="+",
        default=[
            Setup(2, 1, 200, None),
            Setup(8, 1, 256, 16),
            Setup(16, 2, 256, 32),
            Setup(64, 2, 1024, 64),
        ],
        metavar="W,D,N,B",
        help="models and data for the ensemble timing: width, depth, points, batch (0: full)",
    )
    parser.add_argument(
        "--overhead-setup",
        type=Setup.parse,
        default=Setup(16, 2, 256, None),
        metavar="W,D,N,B",
        help="model and data for the NNX-overhead timing (full batch only: B = 0 or N)",
    )
    parser.add_argument("--calls", type=int, default=200, help="calls in the one-step timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (median)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    for name in ("seeds", "steps", "calls", "repeats"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.overhead_setup.batch_size not in (None, args.overhead_setup.n):
        parser.error("--overhead-setup must be full batch (B = 0)")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = select_device(args.device)
    tx = optax.adam(1e-2)
    rows, ensembles = [], []
    with jax.default_device(device):
        for setup in args.ensemble_setups:
            result = bench_ensemble(args, setup, tx)
            ensembles.append({"setup": setup.describe(), **result})
            rows.append(
                {
                    "benchmark": f"{args.seeds} seeds vmapped: {setup.describe()}",
                    "time": f"{result['vmapped_s']:.3f} s",
                    "reference": f"{args.seeds} sequential fit: {result['sequential_s']:.3f} s",
                    "ratio": f"{result['speedup']:.1f}x faster",
                }
            )
        overhead = bench_overhead(args, args.overhead_setup, tx)
    what = args.overhead_setup.describe()
    rows += [
        {
            "benchmark": f"NNX, train.fit, per step: {what}",
            "time": f"{overhead['fit_step_us']:.1f} us",
            "reference": f"functional JAX, same loop: {overhead['functional_step_us']:.1f} us",
            "ratio": f"{overhead['fit_overhead_pct']:+.1f}%",
        },
        {
            "benchmark": "NNX, compiled chunk only, per step",
            "time": f"{overhead['chunk_step_us']:.1f} us",
            "reference": f"functional JAX chunk: {overhead['functional_chunk_step_us']:.1f} us",
            "ratio": f"{overhead['chunk_overhead_pct']:+.1f}%",
        },
        {
            "benchmark": "functional JAX without the per-step metrics",
            "time": f"{overhead['functional_bare_step_us']:.1f} us",
            "reference": f"with them: {overhead['functional_step_us']:.1f} us",
            "ratio": f"{overhead['functional_step_us'] / overhead['functional_bare_step_us']:.2f}x",
        },
        {
            "benchmark": "nnx.jit + nnx.Optimizer, 1 step per call",
            "time": f"{overhead['nnx_jit_call_us']:.1f} us",
            "reference": f"jax.jit functional step: {overhead['jax_jit_call_us']:.1f} us",
            "ratio": f"{overhead['per_call_overhead_pct']:+.1f}%",
        },
    ]
    env = environment(device)
    command = " ".join(["python benchmarks/training.py", *(sys.argv[1:] if argv is None else argv)])
    print(
        f"{command}\n{args.steps} steps per run, Adam; {env['device']}; medians of {args.repeats}"
    )
    print(markdown_table(rows))
    result = {"command": command, "environment": env, "steps": args.steps, "seeds": args.seeds,
              "ensemble": ensembles, "overhead": {"setup": what, **overhead}, "table": rows}  # fmt: skip
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
