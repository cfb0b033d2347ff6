"""Training memory: what a training step keeps for the backward pass, per hidden unit and example.

For ``MLP(in, [width] * depth, out)`` (``actlab.models.MLP``, Adam, softmax cross-entropy) with
each activation, measured two ways, both as bytes per hidden unit per example:

* **residuals**: the arrays ``jax.vjp`` of the loss saves for the backward pass (the leaves of
  the pullback it returns, shapes only, via ``jax.eval_shape``), before XLA optimises anything;
* **compiled**: XLA's ``temp_size_in_bytes`` from ``jax.jit(step).lower(...).compile()
  .memory_analysis()`` of the whole training step (loss, gradient, Adam update). XLA stores
  some residuals in the output buffers (the gradients are written last), so the per-unit figure
  is the slope between two batch sizes large enough that those buffers are exhausted;
  parameter-sized buffers cancel in the slope.

Besides every activation: ``jax.nn.relu``, ``jnp.tanh`` (the derivative from the output,
``1 - y^2``), and two variants of the ReLU rule (``custom_vjp``) that keep less: the bool sign
mask ``x > 0`` (1 byte instead of the float32 slope), and nothing beyond the output ``y`` that
the next layer's weight gradient keeps anyway (the mask is ``y > 0``). Each saved value passes
through ``lax.optimization_barrier`` so that XLA cannot recompute it from the pre-activation.

    python benchmarks/memory.py --device cpu --json memory.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from actlab.io import write_json
from actlab.models import MLP

try:
    from _timing import environment, markdown_table, select_device
except ImportError:  # imported as benchmarks.memory
    from benchmarks._timing import environment, markdown_table, select_device


@jax.custom_vjp
def relu_bool_mask(x: jax.Array) -> jax.Array:
    """ReLU whose backward pass keeps only the bool mask ``x > 0`` (derivative 0 at 0)."""
    return jnp.maximum(x, 0)


def _mask_fwd(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jnp.maximum(x, 0), jax.lax.optimization_barrier(x > 0)


relu_bool_mask.defvjp(_mask_fwd, lambda mask, g: (jnp.where(mask, g, 0),))


@jax.custom_vjp
def relu_from_output(x: jax.Array) -> jax.Array:
    """ReLU whose backward pass reads the derivative from its output: ``y > 0``."""
    return jnp.maximum(x, 0)


def _output_fwd(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    y = jax.lax.optimization_barrier(jnp.maximum(x, 0))
    return y, y


relu_from_output.defvjp(_output_fwd, lambda y, g: (jnp.where(y > 0, g, 0),))

VARIANTS: dict[str, Any] = {
    "relu": "relu",
    "relu (jax.nn)": jax.nn.relu,
    "relu, bool mask kept": relu_bool_mask,
    "relu, derivative from output": relu_from_output,
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "gelu": "gelu",
    "silu": "silu",
    "softplus": "softplus",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "tanh (jnp, from output)": jnp.tanh,
}


def _step_and_loss(model: MLP, tx: Any) -> tuple[Callable, Callable, Any, Any]:
    graphdef, params = nnx.split(model, nnx.Param)

    def loss(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
        logits = nnx.merge(graphdef, params)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params: Any, opt_state: Any, x: jax.Array, y: jax.Array) -> tuple:
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step, loss, params, tx.init(params)


def measure(activation: Any, args: argparse.Namespace, batch: int) -> dict[str, Any]:
    """Residual bytes (jaxpr level) and XLA's memory analysis of one training step."""
    model = MLP(args.inputs, [args.width] * args.depth, args.classes, activation=activation,
                rngs=nnx.Rngs(0))  # fmt: skip
    step, loss, params, opt_state = _step_and_loss(model, optax.adam(1e-3))
    x = jax.ShapeDtypeStruct((batch, args.inputs), jnp.float32)
    y = jax.ShapeDtypeStruct((batch,), jnp.int32)
    pullback = jax.eval_shape(lambda p, x, y: jax.vjp(loss, p, x, y)[1], params, x, y)
    residual = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(pullback))
    analysis = jax.jit(step).lower(params, opt_state, x, y).compile().memory_analysis()
    stats = {}
    for field in ("temp_size_in_bytes", "argument_size_in_bytes", "output_size_in_bytes",
                  "alias_size_in_bytes", "peak_memory_in_bytes"):  # fmt: skip
        stats[field] = getattr(analysis, field, None) if analysis is not None else None
    return {"residual_bytes": residual, **stats}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument(
        "--batches", type=int, nargs=2, default=[1024, 2048], metavar=("B1", "B2"),
        help="two batch sizes; per-example figures are the slope between them",
    )  # fmt: skip
    parser.add_argument("--names", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    b1, b2 = args.batches
    if min(args.width, args.depth, args.inputs, args.classes, b1) <= 0 or b2 <= b1:
        parser.error("sizes must be positive and B2 > B1")
    device = select_device(args.device)
    units = args.width * args.depth
    rows, raw = [], {}
    with jax.default_device(device):
        for name in args.names:
            m1, m2 = (measure(VARIANTS[name], args, b) for b in (b1, b2))
            raw[name] = {str(b1): m1, str(b2): m2}
            per = {key: (m2[key] - m1[key]) / ((b2 - b1) * units)
                   for key in ("residual_bytes", "temp_size_in_bytes")}  # fmt: skip
            rows.append({
                "activation": name,
                "residuals B/unit": round(per["residual_bytes"], 2),
                "compiled temp B/unit": round(per["temp_size_in_bytes"], 2),
                f"compiled temp MiB (B={b2})": round(m2["temp_size_in_bytes"] / 2**20, 2),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["compiled temp B/unit"] if args.names[0] == "relu" else None
    for row in rows:
        ratio = row["compiled temp B/unit"] / base if base else None
        row["compiled vs relu"] = f"{ratio:.2f}x" if ratio is not None else "-"
    env = environment(device)
    print("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print(f"MLP({args.inputs}, [{args.width}] * {args.depth}, {args.classes}), Adam, float32; "
          f"bytes per hidden unit per example (slope between batch {b1} and {b2})")  # fmt: skip
    print(markdown_table(rows))
    fields = []
    if raw:
        fields = [k for k, v in next(iter(raw.values()))[str(b2)].items() if v is not None]
    result = {"environment": env, "model": {"inputs": args.inputs, "width": args.width,
              "depth": args.depth, "classes": args.classes}, "batches": [b1, b2],
              "memory_analysis_fields": fields, "table": rows, "raw": raw}  # fmt: skip
    if args.json:
        write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
