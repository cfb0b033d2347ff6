"""The compiled training loop shared by a single model and an ensemble of them.

The loop runs inside ``jax.jit`` as a ``lax.scan`` over chunks of steps (``chunk_steps``), so a
run of thousands of small steps costs one compiled call per chunk. Between chunks the host checks
the loss for NaN/inf and advances the progress bar. The model is split once (``nnx.split``) into
its parameters and other state, and merged back inside the traced step, so the compiled step is
the same as a hand-written functional one.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import ArrayLike
from tqdm.auto import tqdm

from actlab.checks import integer, message, number, one_of, show
from actlab.train import losses
from actlab.train._history import History


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite.

    Attributes:
      step: index of the first update (0-based) whose mini-batch loss was not finite.
      member: ensemble member where it happened first (``None`` for a single model).
    """

    def __init__(self, message: str, step: int, member: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.member = member


# ----------------------------------------------------------------------------- the compiled chunk


def _module_paths(state: nnx.State) -> tuple[str, ...]:
    """For each leaf of ``state`` (flat order), the path of the module that owns it."""
    return tuple("/".join(str(k) for k in path[:-1]) or "/" for path, _ in nnx.to_flat_state(state))


def _group_names(params: nnx.State) -> tuple[str, ...]:
    return tuple(sorted(set(_module_paths(params))))


def _group_square_norms(grads: nnx.State) -> jax.Array:
    """Squared L2 norm of the gradient of each module (sorted by path), shape ``(groups,)``."""
    owners = _module_paths(grads)
    names = sorted(set(owners))
    sums = {name: jnp.zeros((), jnp.float32) for name in names}
    for owner, (_, leaf) in zip(owners, nnx.to_flat_state(grads), strict=True):
        sums[owner] = sums[owner] + jnp.sum(jnp.square(leaf[...].astype(jnp.float32)))
    return jnp.stack([sums[name] for name in names])


def _keep_where(active: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(active, a, b), new, old)


def _batch_indices(
    key: jax.Array, first_step: jax.Array, n: int, batch_size: int, chunk: int
) -> jax.Array:
    """Row indices of the ``chunk`` mini-batches from ``first_step`` on, shape ``(chunk, batch)``.

    Epoch ``e`` visits the rows in the order ``permutation(fold_in(key, e), n)``, in
    ``n // batch_size`` batches (the last ``n % batch_size`` rows of each permutation are dropped).
    ``first_step`` and ``chunk`` are multiples of the number of batches per epoch.
    """
    per_epoch = n // batch_size
    first_epoch = first_step // per_epoch

    def epoch(e: jax.Array) -> jax.Array:
        order = jax.random.permutation(jax.random.fold_in(key, e), n)
        return order[: per_epoch * batch_size]

    orders = jax.vmap(epoch)(first_epoch + jnp.arange(chunk // per_epoch))
    return jnp.reshape(orders, (chunk, batch_size))


def _run_chunk(
    carry: tuple[Any, Any, Any],
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    first_step: jax.Array,
    total_steps: jax.Array,
    clip_norm: jax.Array,
    *,
    graphdef: Any,
    tx: optax.GradientTransformation,
    loss: losses.Loss,
    batch_size: int | None,
    chunk: int,
    masked: bool,
    clip: bool,
) -> tuple[tuple[Any, Any, Any], dict[str, jax.Array]]:
    """``chunk`` optimizer steps of one model; steps ``>= total_steps`` leave the state as is."""
    loss_fn = losses.resolve(loss)
    steps = first_step + jnp.arange(chunk)
    if batch_size is None:
        indices = jnp.zeros((chunk, 0), jnp.int32)  # unused: full batch
    else:
        indices = _batch_indices(key, first_step, x.shape[0], batch_size, chunk)

    def step(state: tuple[Any, Any, Any], inputs: tuple[jax.Array, jax.Array]):
        params, rest, opt_state = state
        t, idx = inputs
        xb, yb = (x, y) if batch_size is None else (x[idx], y[idx])

        def objective(p: Any) -> tuple[jax.Array, tuple[jax.Array, Any]]:
            # fresh Variables for the non-parameter state, owned by this trace (batch norm
            # updates its statistics in place)
            model = nnx.merge(graphdef, p, jax.tree.map(lambda a: a, rest))
            value, accuracy = loss_fn(model(xb), yb)
            _, _, new_rest = nnx.split(model, nnx.Param, ...)
            return value, (accuracy, new_rest)

        (value, (accuracy, new_rest)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        square_norms = _group_square_norms(grads)
        grad_norm = jnp.sqrt(jnp.sum(square_norms))
        if clip:  # the rule of optax.clip_by_global_norm, written out so clip_norm is traced
            factor = jnp.where(grad_norm < clip_norm, 1.0, clip_norm / grad_norm)
            grads = jax.tree.map(lambda g: (g * factor).astype(g.dtype), grads)
        updates, new_opt_state = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        new_state = (new_params, new_rest, new_opt_state)
        if masked:  # the last chunk runs past total_steps: keep the state of the final step
            new_state = _keep_where(t < total_steps, new_state, (params, rest, opt_state))
        metrics = {
            "loss": value.astype(jnp.float32),
            "accuracy": accuracy.astype(jnp.float32),
            "grad_norm": grad_norm,
            "layer_grad_norms": jnp.sqrt(square_norms),
        }
        return new_state, metrics

    return jax.lax.scan(step, carry, (steps, indices))


_STATIC = ("graphdef", "tx", "loss", "batch_size", "chunk", "masked", "clip")
_run_chunk_single = jax.jit(_run_chunk, static_argnames=_STATIC)


def _run_chunk_members(carry, keys, x, y, first_step, total_steps, clip_norm, **static):
    """:func:`_run_chunk` for every ensemble member (leading axis of ``carry`` and ``keys``).

    ``keys`` are the members' keys; each shuffles with the second half of its split.
    """
    data_keys = jax.vmap(lambda k: jax.random.split(k)[1])(keys)
    run = functools.partial(_run_chunk, **static)
    return jax.vmap(run, in_axes=(0, 0, None, None, None, None, None))(
        carry, data_keys, x, y, first_step, total_steps, clip_norm
    )


_run_chunk_ensemble = jax.jit(_run_chunk_members, static_argnames=_STATIC)

# ----------------------------------------------------------------------------- argument checks


def check_optimizer(optimizer: Any, where: str) -> optax.GradientTransformation:
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            message("optimizer", "an optax.GradientTransformation (for example optax.adam(1e-3))",
                    type(optimizer).__name__, where=where)
        )  # fmt: skip
    return optimizer


def check_data(
    x: ArrayLike, y: ArrayLike, loss: losses.Loss, where: str
) -> tuple[jax.Array, jax.Array]:
    """Inputs and targets with the same positive number of examples; targets fit the loss."""
    losses.resolve(loss)
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(
            message("x and y", "the same positive number of examples along axis 0",
                    f"x of shape {x.shape} and y of shape {y.shape}", where=where)
        )  # fmt: skip
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(message("x", "a floating-point array", f"dtype {x.dtype}", where=where))
    if loss == "softmax_cross_entropy" and not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(
            message("y", f"integer class labels for loss={loss!r}", f"dtype {y.dtype}",
                    where=where)
        )  # fmt: skip
    if loss == "mse" and not jnp.issubdtype(y.dtype, jnp.floating):
        y = y.astype(x.dtype)
    return x, y


@dataclasses.dataclass(frozen=True)
class Plan:
    """How a run is cut into compiled chunks, which steps are kept, and how it is checked."""

    steps: int
    batch_size: int | None
    chunk: int
    record: np.ndarray
    layer_record: np.ndarray
    clip_norm: float
    on_nonfinite: str


def plan(
    n: int,
    *,
    steps: Any,
    batch_size: Any,
    key: Any,
    record_every: Any,
    layer_steps: Any,
    chunk_steps: Any,
    clip_norm: Any,
    on_nonfinite: Any,
    where: str,
) -> Plan:
    """Check the options of a run on ``n`` examples and plan it."""
    steps = integer(steps, "steps", minimum=1, where=where)
    record_every = integer(record_every, "record_every", minimum=1, where=where)
    chunk_steps = integer(chunk_steps, "chunk_steps", minimum=1, where=where)
    if batch_size is not None:
        batch_size = integer(batch_size, "batch_size", minimum=1, where=where)
        if batch_size > n:
            raise ValueError(
                message("batch_size", f"at most the {n} examples", str(batch_size), where=where)
            )
        if batch_size == n:
            batch_size = None  # one full batch per step; no shuffling needed
        elif key is None:
            raise ValueError(
                message("key", f"a key to shuffle mini-batches of {batch_size} < {n} examples "
                        "(pass key=...)", "None", where=where)
            )  # fmt: skip
    per_epoch = 1 if batch_size is None else n // batch_size
    epochs_needed = math.ceil(steps / per_epoch)
    chunk = per_epoch * max(1, min(epochs_needed, chunk_steps // per_epoch))
    record = np.unique(np.append(np.arange(0, steps, record_every), steps - 1))
    if layer_steps is None:
        layer_record = record
    elif isinstance(layer_steps, numbers.Integral) and not isinstance(layer_steps, bool):
        every = integer(layer_steps, "layer_steps", minimum=1, where=where)
        layer_record = np.unique(np.append(np.arange(0, steps, every), steps - 1))
    else:
        layer_record = np.unique(np.asarray(layer_steps, dtype=np.int64))
        if layer_record.ndim != 1 or np.any((layer_record < 0) | (layer_record >= steps)):
            raise ValueError(
                message("layer_steps", f"an int or a sequence of steps in [0, {steps})",
                        show(layer_steps), where=where)
            )  # fmt: skip
    clip = (
        math.inf
        if clip_norm is None
        else number(clip_norm, "clip_norm", low=0.0, low_open=True, where=where)
    )
    one_of(on_nonfinite, "on_nonfinite", ("raise", "continue"), where=where)
    return Plan(steps, batch_size, chunk, record, layer_record, clip, on_nonfinite)


# ----------------------------------------------------------------------------- the driver


def run(
    carry: tuple[Any, Any, Any],
    keys: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    graphdef: Any,
    tx: optax.GradientTransformation,
    loss: losses.Loss,
    plan: Plan,
    progress: bool,
    ensemble: bool,
) -> tuple[tuple[Any, Any, Any], History]:
    """Train from ``carry = (params, rest, opt_state)`` (leading member axis for an ensemble)
    as planned; returns the final carry and the :class:`History`."""
    run_chunk = _run_chunk_ensemble if ensemble else _run_chunk_single
    static = dict(
        graphdef=graphdef,
        tx=tx,
        loss=loss,
        batch_size=plan.batch_size,
        chunk=plan.chunk,
        masked=plan.steps % plan.chunk != 0,
        clip=math.isfinite(plan.clip_norm),
    )
    total, clip = jnp.asarray(plan.steps, jnp.int32), jnp.asarray(plan.clip_norm, jnp.float32)
    kept: dict[str, list[np.ndarray]] = {"loss": [], "accuracy": [], "grad_norm": [], "layer": []}
    bar = tqdm(total=plan.steps, disable=not progress, delay=2.0, unit="step", leave=False)
    try:
        for first in range(0, plan.steps, plan.chunk):
            carry, metrics = run_chunk(
                carry, keys, x, y, jnp.asarray(first, jnp.int32), total, clip, **static
            )
            valid = min(plan.chunk, plan.steps - first)
            loss_values = np.asarray(metrics["loss"])[..., :valid]
            if plan.on_nonfinite == "raise":
                _check_finite(loss_values, first, ensemble)
            # keep only the recorded steps on the host
            rows = _steps_in(plan.record, first, valid)
            kept["loss"].append(loss_values[..., rows])
            kept["accuracy"].append(np.asarray(metrics["accuracy"])[..., rows])
            kept["grad_norm"].append(np.asarray(metrics["grad_norm"])[..., rows])
            layer_rows = _steps_in(plan.layer_record, first, valid)
            kept["layer"].append(np.asarray(metrics["layer_grad_norms"])[..., layer_rows, :])
            bar.update(valid)
            if progress:
                bar.set_postfix(loss=float(np.mean(loss_values[..., -1])), refresh=False)
    finally:
        bar.close()
    joined = {k: np.concatenate(v, axis=-2 if k == "layer" else -1) for k, v in kept.items()}
    history = History(
        step=plan.record.copy(),
        loss=joined["loss"],
        accuracy=joined["accuracy"] if losses.has_accuracy(loss) else None,
        grad_norm=joined["grad_norm"],
        layer_step=plan.layer_record.copy(),
        layer_grad_norms={
            name: joined["layer"][..., i] for i, name in enumerate(_group_names(carry[0]))
        },
    )
    return carry, history


def _steps_in(steps: np.ndarray, first: int, count: int) -> np.ndarray:
    """Positions within the chunk ``[first, first + count)`` of the given (sorted) steps."""
    return steps[(steps >= first) & (steps < first + count)] - first


def _check_finite(loss: np.ndarray, first: int, ensemble: bool) -> None:
    bad = ~np.isfinite(loss)
    if not bad.any():
        return
    if ensemble:  # loss has shape (members, steps): the earliest step, then the first member
        offset = int(np.argmax(bad.any(axis=0)))
        member = int(np.argmax(bad[:, offset]))
        value = loss[member, offset]
    else:
        offset, member = int(np.argmax(bad)), None
        value = loss[offset]
    step = first + offset
    where = "" if member is None else f" in ensemble member {member}"
    raise NonFiniteLossError(
        f"training loss became {value} at step {step}{where}; lower the learning rate, clip "
        "gradients (clip_norm=...), or pass on_nonfinite='continue' to train on regardless",
        step=step,
        member=member,
    )
