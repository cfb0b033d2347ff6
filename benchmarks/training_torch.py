"""Training step: a Flax NNX MLP (actlab.models.MLP + Optax Adam) against the same model in PyTorch.

Both sides train ``MLP(inputs, [width] * depth, classes)`` with ReLU, softmax cross-entropy on
integer labels and Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8) on the same batch, on the same
device, in float32 with the same matmul precision (``--precision float32``: JAX's
``jax_default_matmul_precision="float32"`` and ``torch.set_float32_matmul_precision("highest")``;
``tf32``: ``"tensorfloat32"`` and ``"high"``). PyTorch starts from the NNX model's weights, and
the losses of both after ``--check-steps`` steps are compared (they agree to float32 rounding),
so the two really compute the same thing.

Timed, per step (medians of interleaved batches of ``--steps`` steps, one wait per batch):

* ``nnx.jit`` step with ``nnx.Optimizer`` (the usual NNX idiom), one step per call;
* ``jax.jit`` step on the split NNX state (``nnx.split``/``nnx.merge`` inside), one step per call;
* the same step, ``--steps`` steps in one call (``jax.lax.scan``): no per-step host work;
* PyTorch eager (``zero_grad``, forward, ``backward``, ``step``), one Python step per step.

The ratio is PyTorch's time over each JAX variant's (> 1: JAX faster).

    python benchmarks/training_torch.py --device cpu --json training_torch.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

from actlab.io import write_json
from actlab.models import MLP, hidden_layers, output_layer
from actlab.timing import interleaved_medians

try:
    from _timing import environment, markdown_table, select_device, torch_device
except ImportError:  # imported as benchmarks.training_torch
    from benchmarks._timing import environment, markdown_table, select_device, torch_device

PRECISION = {"float32": ("float32", "highest"), "tf32": ("tensorfloat32", "high")}
LR = 1e-3


def parse_setup(text: str) -> tuple[int, int, int]:
    """``"W,D,B"``: hidden width, depth, batch size."""
    try:
        width, depth, batch = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected W,D,B (ints), got {text!r}") from None
    if min(width, depth, batch) <= 0:
        raise argparse.ArgumentTypeError(f"W, D and B must be positive, got {text!r}")
    return width, depth, batch


def _loss(model: MLP, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


class JaxSide:
    """The NNX model and its Optax state, stepped three ways."""

    def __init__(self, args: argparse.Namespace, width: int, depth: int):
        model = MLP(args.inputs, [width] * depth, args.classes, rngs=nnx.Rngs(0))
        self.tx = tx = optax.adam(LR)
        self.graphdef, self.initial = nnx.split(model)
        self.model = nnx.merge(self.graphdef, self.initial)
        self.optimizer = nnx.Optimizer(self.model, tx, wrt=nnx.Param)

        @nnx.jit
        def nnx_step(model: MLP, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array):
            value, grads = nnx.value_and_grad(_loss)(model, x, y)
            optimizer.update(model, grads)
            return value

        def step(carry: tuple, x: jax.Array, y: jax.Array) -> tuple[tuple, jax.Array]:
            state, opt_state = carry
            model = nnx.merge(self.graphdef, state)
            value, grads = nnx.value_and_grad(_loss)(model, x, y)
            params = nnx.state(model, nnx.Param)
            updates, opt_state = tx.update(grads, opt_state, params)
            nnx.update(model, optax.apply_updates(params, updates))
            return (nnx.state(model), opt_state), value

        self.nnx_step = nnx_step
        self.jit_step = jax.jit(step)
        self.step = step

    def fresh_carry(self) -> tuple:
        """The initial state (the NNX model's) and a new Adam state."""
        model = nnx.merge(self.graphdef, self.initial)
        return nnx.state(model), self.tx.init(nnx.state(model, nnx.Param))

    def scan(self, steps: int):
        """A jitted ``(carry, x, y) -> (carry, losses)`` running ``steps`` steps."""

        def run(carry: tuple, x: jax.Array, y: jax.Array) -> tuple[tuple, jax.Array]:
            return jax.lax.scan(lambda c, _: self.step(c, x, y), carry, None, length=steps)

        return jax.jit(run)


def torch_model(torch: Any, model: MLP, device: Any) -> Any:
    """A ``torch.nn.Sequential`` with the NNX model's weights (``Linear.weight = W.T``)."""
    layers: list[Any] = []
    pairs = [*hidden_layers(model), output_layer(model)]
    for i, (w, b) in enumerate(pairs):
        linear = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(w).T))
            linear.bias.copy_(torch.from_numpy(np.array(b)))
        layers.append(linear)
        if i < len(pairs) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(device)


def bench_setup(args: argparse.Namespace, setup: tuple[int, int, int], device: jax.Device,
                torch_env: tuple | None) -> dict[str, Any]:  # fmt: skip
    width, depth, batch = setup
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((batch, args.inputs), dtype=np.float32)
    y_np = rng.integers(0, args.classes, batch).astype(np.int32)
    x, y = jax.device_put(x_np, device), jax.device_put(y_np, device)
    side = JaxSide(args, width, depth)
    steps = args.steps
    result: dict[str, Any] = {"setup": f"MLP({args.inputs}, [{width}] * {depth}, "
                              f"{args.classes}), batch {batch}"}  # fmt: skip

    # correctness first: the same losses from the same weights
    losses: dict[str, list[float]] = {"jax": []}
    carry = side.fresh_carry()
    for _ in range(args.check_steps):
        carry, value = side.jit_step(carry, x, y)
        losses["jax"].append(float(value))
    if torch_env is not None:
        torch, tdev, twait = torch_env
        tmodel = torch_model(torch, nnx.merge(side.graphdef, side.initial), tdev)
        topt = torch.optim.Adam(tmodel.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)
        tx_, ty_ = torch.from_numpy(x_np).to(tdev), torch.from_numpy(y_np).long().to(tdev)
        ce = torch.nn.CrossEntropyLoss()

        def torch_step() -> Any:
            topt.zero_grad(set_to_none=True)
            loss = ce(tmodel(tx_), ty_)
            loss.backward()
            topt.step()
            return loss

        losses["torch"] = [torch_step().item() for _ in range(args.check_steps)]
        result["loss_max_abs_diff"] = float(np.max(np.abs(np.subtract(losses["jax"],
                                                                      losses["torch"]))))  # fmt: skip
    result["losses"] = losses

    # timing: batches of `steps` steps, one wait per batch, interleaved
    state = {"carry": side.fresh_carry()}
    scan = side.scan(steps)

    def nnx_calls() -> None:
        for _ in range(steps):
            value = side.nnx_step(side.model, side.optimizer, x, y)
        jax.block_until_ready(value)

    def jit_calls() -> None:
        carry = state["carry"]
        for _ in range(steps):
            carry, value = side.jit_step(carry, x, y)
        state["carry"] = carry
        jax.block_until_ready(value)

    def scan_call() -> None:
        state["carry"], values = scan(state["carry"], x, y)
        jax.block_until_ready(values)

    fns = {"nnx.jit + nnx.Optimizer, 1 step per call": nnx_calls,
           "jax.jit on split NNX state, 1 step per call": jit_calls,
           f"jax.jit + lax.scan, {steps} steps per call": scan_call}  # fmt: skip
    if torch_env is not None:

        def torch_calls() -> None:
            for _ in range(steps):
                loss = torch_step()
            twait(loss)

        fns["PyTorch eager, 1 step per call"] = torch_calls
    times = interleaved_medians(list(fns.values()), args.repeats)
    result["us_per_step"] = {k: 1e6 * t / steps for k, t in zip(fns, times, strict=True)}
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument(
        "--setups", type=parse_setup, nargs="+",
        default=[(32, 2, 64), (256, 2, 128), (512, 2, 512)],
        metavar="W,D,B", help="hidden width, depth and batch size of each model timed",
    )  # fmt: skip
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--precision", choices=list(PRECISION), default="float32")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed batch")
    parser.add_argument("--check-steps", type=int, default=5, help="steps of the loss check")
    parser.add_argument("--repeats", type=int, default=7, help="timed batches (median)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if importable")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    for name in ("inputs", "classes", "steps", "check_steps", "repeats"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    device = select_device(args.device)
    torch_env = None if args.no_torch else torch_device(args.device)
    jax_precision, torch_precision = PRECISION[args.precision]
    if torch_env is not None:
        torch_env[0].set_float32_matmul_precision(torch_precision)
    results = []
    with jax.default_matmul_precision(jax_precision), jax.default_device(device):
        for setup in args.setups:
            results.append(bench_setup(args, setup, device, torch_env))
            print(json.dumps(results[-1]), flush=True)
    rows = []
    for r in results:
        torch_us = r["us_per_step"].get("PyTorch eager, 1 step per call")
        for name, us in r["us_per_step"].items():
            rows.append({"setup": r["setup"], "implementation": name, "us/step": round(us, 1),
                         "PyTorch / this": f"{torch_us / us:.2f}x" if torch_us else "-"})  # fmt: skip
    env = environment(device)
    print("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print(f"matmul precision: JAX {jax_precision!r}, PyTorch {torch_precision!r}; Adam lr {LR}; "
          f"{args.steps} steps per timed batch, median of {args.repeats}")  # fmt: skip
    for r in results:
        if "loss_max_abs_diff" in r:
            print(f"{r['setup']}: |loss JAX - loss PyTorch| <= {r['loss_max_abs_diff']:.1e} "
                  f"over {args.check_steps} steps")  # fmt: skip
    print(markdown_table(rows))
    result = {"environment": env, "precision": {"jax": jax_precision, "torch": torch_precision},
              "steps": args.steps, "results": results, "table": rows}  # fmt: skip
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
