"""Optax training loops for Flax NNX models: one model, or many seeds at once as one computation.

The loop runs inside ``jax.jit`` as a ``lax.scan`` over chunks of steps (``chunk_steps``), so a
run of thousands of small steps costs one compiled call per chunk. Between chunks the host checks
the loss for NaN/inf and advances the progress bar. The model is split once (``nnx.split``) into
its parameters and other state, and merged back inside the traced step, so the compiled step is the
same as a hand-written functional one.

Example::

    >>> import optax
    >>> from flax import nnx
    >>> from actlab import data, train
    >>> from actlab.models import MLP
    >>> ds = data.quadrants(256, seed=0, margin=0.1)
    >>> model = MLP(2, [8], 1, rngs=nnx.Rngs(0))
    >>> history = train.fit(model, ds.x, ds.y, optimizer=optax.adam(0.05),
    ...                     loss="sigmoid_binary_cross_entropy", steps=500, progress=False)
    >>> float(history.accuracy[-1]) > 0.95
    True
    >>> ens = train.init_ensemble(lambda rngs: MLP(2, [8], 1, rngs=rngs), seeds=16)
    >>> ens = train.fit_ensemble(ens, ds.x, ds.y, optimizer=optax.adam(0.05),
    ...                          loss="sigmoid_binary_cross_entropy", steps=500, progress=False)
    >>> ens.evaluate(ds.x, ds.y, loss="sigmoid_binary_cross_entropy")["accuracy"].shape
    (16,)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import ArrayLike
from tqdm.auto import tqdm

from actlab.io import read_json, write_json

__all__ = [
    "LOSSES",
    "Ensemble",
    "History",
    "NonFiniteLossError",
    "evaluate",
    "fit",
    "fit_ensemble",
    "init_ensemble",
    "load",
    "save",
]

LOSSES = ("softmax_cross_entropy", "sigmoid_binary_cross_entropy", "mse")
LossArg = str | Callable[[jax.Array, jax.Array], jax.Array]
"""A name in :data:`LOSSES`, or ``loss(outputs, targets) -> scalar`` (no accuracy then)."""


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


# ----------------------------------------------------------------------------- losses


def _softmax_cross_entropy(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    if outputs.ndim != 2 or y.shape != outputs.shape[:1]:
        raise ValueError(
            "loss='softmax_cross_entropy' needs logits of shape (batch, classes) and integer "
            f"labels of shape (batch,); got logits {outputs.shape} and labels {y.shape}"
        )
    value = optax.softmax_cross_entropy_with_integer_labels(outputs, y).mean()
    accuracy = jnp.mean(jnp.argmax(outputs, axis=-1) == y)
    return value, accuracy


def _sigmoid_binary_cross_entropy(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    if outputs.shape not in (y.shape, (*y.shape, 1)) or y.ndim != 1:
        raise ValueError(
            "loss='sigmoid_binary_cross_entropy' needs logits of shape (batch, 1) or (batch,) and "
            f"0/1 labels of shape (batch,); got logits {outputs.shape} and labels {y.shape}"
        )
    logits = jnp.reshape(outputs, y.shape)
    labels = y.astype(logits.dtype)
    value = optax.sigmoid_binary_cross_entropy(logits, labels).mean()
    accuracy = jnp.mean((logits > 0) == (labels > 0.5))
    return value, accuracy


def _mse(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    if outputs.shape not in (y.shape, (*y.shape, 1)):
        raise ValueError(
            "loss='mse' needs outputs and targets of the same shape (or targets (batch,) with "
            f"outputs (batch, 1)); got outputs {outputs.shape} and targets {y.shape}"
        )
    value = jnp.mean(jnp.square(jnp.reshape(outputs, y.shape) - y))
    return value, jnp.full((), jnp.nan, value.dtype)


def _in_float32(
    fn: Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]],
) -> Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """``fn`` on outputs cast to at least float32: a model computing in float16 or bfloat16
    (mixed precision) gets its loss, and the loss's gradient, in float32."""

    def wrapped(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        return fn(outputs.astype(jnp.promote_types(outputs.dtype, jnp.float32)), y)

    return wrapped


def _loss_fn(loss: LossArg) -> Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    """``f(outputs, y) -> (loss, accuracy)``; accuracy is NaN where it has no meaning.

    Half-precision outputs are cast to float32 first (see :func:`_in_float32`).
    """
    table = {
        "softmax_cross_entropy": _softmax_cross_entropy,
        "sigmoid_binary_cross_entropy": _sigmoid_binary_cross_entropy,
        "mse": _mse,
    }
    if isinstance(loss, str):
        if loss not in table:
            raise ValueError(f"loss must be one of {LOSSES} or a callable, got {loss!r}")
        return _in_float32(table[loss])
    if not callable(loss):
        raise TypeError(f"loss must be one of {LOSSES} or a callable, got {type(loss).__name__}")

    def custom(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        value = jnp.asarray(loss(outputs, y))
        if value.shape != ():
            raise ValueError(f"a custom loss must return a scalar, got shape {value.shape}")
        return value, jnp.full((), jnp.nan, value.dtype)

    return _in_float32(custom)


def _has_accuracy(loss: LossArg) -> bool:
    return loss in ("softmax_cross_entropy", "sigmoid_binary_cross_entropy")


# ----------------------------------------------------------------------------- history


@dataclasses.dataclass
class History:
    """Metrics recorded during training.

    The metrics at step ``t`` belong to update ``t`` (0-based): the loss and accuracy of its
    mini-batch and the norm of its gradient, all at the parameters before the update. For an
    ensemble every metric array has a leading member axis.

    Attributes:
      step: recorded steps, shape ``(r,)``, int.
      loss: mini-batch loss, shape ``(r,)`` (or ``(members, r)``).
      accuracy: mini-batch accuracy in ``[0, 1]``, same shape, or ``None`` for losses without one
        (``"mse"``, custom losses).
      grad_norm: global L2 norm of the gradient (before clipping), same shape.
      layer_step: steps at which per-layer norms were kept, shape ``(s,)``.
      layer_grad_norms: per-module gradient L2 norm, keyed by the module's path in the model
        (``"hidden/0"``, ``"output"``, ``"activations/1"``, ...), each ``(s,)`` (or
        ``(members, s)``).
    """

    step: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray | None
    grad_norm: np.ndarray
    layer_step: np.ndarray
    layer_grad_norms: dict[str, np.ndarray]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: lists of numbers, with NaN and infinities written as ``None``."""

        def encode(a: np.ndarray | None) -> Any:
            if a is None:
                return None
            a = np.asarray(a)
            out = np.where(np.isfinite(a), a, np.nan).astype(object) if a.dtype.kind == "f" else a
            if a.dtype.kind == "f":
                out[~np.isfinite(a)] = None
            return out.tolist()

        return {
            "step": encode(self.step),
            "loss": encode(self.loss),
            "accuracy": encode(self.accuracy),
            "grad_norm": encode(self.grad_norm),
            "layer_step": encode(self.layer_step),
            "layer_grad_norms": {k: encode(v) for k, v in self.layer_grad_norms.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict` (``None`` entries come back as NaN)."""

        def floats(v: Any) -> np.ndarray:
            return np.array(v, dtype=float) if v is not None else None

        return cls(
            step=np.asarray(d["step"], dtype=np.int64),
            loss=floats(d["loss"]),
            accuracy=floats(d["accuracy"]),
            grad_norm=floats(d["grad_norm"]),
            layer_step=np.asarray(d["layer_step"], dtype=np.int64),
            layer_grad_norms={k: floats(v) for k, v in d["layer_grad_norms"].items()},
        )

    def save_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` to ``path`` atomically (temporary file, then rename)."""
        return write_json(path, self.to_dict())

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> History:
        """Read a history written by :meth:`save_json`."""
        return cls.from_dict(read_json(path))


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
    loss: LossArg,
    batch_size: int | None,
    chunk: int,
    masked: bool,
    clip: bool,
) -> tuple[tuple[Any, Any, Any], dict[str, jax.Array]]:
    """``chunk`` optimizer steps of one model; steps ``>= total_steps`` leave the state as is."""
    loss_fn = _loss_fn(loss)
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


def _positive_int(name: str, value: Any) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _check_optimizer(optimizer: Any) -> optax.GradientTransformation:
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax.GradientTransformation (for example optax.adam(1e-3)), "
            f"got {type(optimizer).__name__}"
        )
    return optimizer


def _check_data(x: ArrayLike, y: ArrayLike, loss: LossArg) -> tuple[jax.Array, jax.Array]:
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(
            f"x and y must hold the same positive number of examples along axis 0; got x "
            f"{x.shape} and y {y.shape}"
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"x must be floating point, got dtype {x.dtype}")
    if loss == "softmax_cross_entropy" and not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"loss={loss!r} needs integer class labels y, got dtype {y.dtype}")
    if loss == "mse" and not jnp.issubdtype(y.dtype, jnp.floating):
        y = y.astype(x.dtype)
    return x, y


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How a run is cut into compiled chunks, and which steps are kept in the history."""

    steps: int
    batch_size: int | None
    chunk: int
    record: np.ndarray
    layer_record: np.ndarray


def _plan(
    n: int,
    steps: Any,
    batch_size: Any,
    key: Any,
    record_every: Any,
    layer_steps: Any,
    chunk_steps: Any,
) -> _Plan:
    steps = _positive_int("steps", steps)
    record_every = _positive_int("record_every", record_every)
    chunk_steps = _positive_int("chunk_steps", chunk_steps)
    if batch_size is not None:
        batch_size = _positive_int("batch_size", batch_size)
        if batch_size > n:
            raise ValueError(f"batch_size must be at most the {n} examples, got {batch_size}")
        if batch_size == n:
            batch_size = None  # one full batch per step; no shuffling needed
        elif key is None:
            raise ValueError(
                f"batch_size={batch_size} < {n} examples shuffles mini-batches: pass key=..."
            )
    per_epoch = 1 if batch_size is None else n // batch_size
    epochs_needed = math.ceil(steps / per_epoch)
    chunk = per_epoch * max(1, min(epochs_needed, chunk_steps // per_epoch))
    record = np.unique(np.append(np.arange(0, steps, record_every), steps - 1))
    if layer_steps is None:
        layer_record = record
    elif isinstance(layer_steps, numbers.Integral) and not isinstance(layer_steps, bool):
        every = _positive_int("layer_steps", layer_steps)
        layer_record = np.unique(np.append(np.arange(0, steps, every), steps - 1))
    else:
        layer_record = np.unique(np.asarray(layer_steps, dtype=np.int64))
        if layer_record.ndim != 1 or np.any((layer_record < 0) | (layer_record >= steps)):
            raise ValueError(
                f"layer_steps must be an int or a sequence of steps in [0, {steps}), got "
                f"{layer_steps!r}"
            )
    return _Plan(steps, batch_size, chunk, record, layer_record)


def _clip_value(clip_norm: Any) -> float:
    if clip_norm is None:
        return math.inf
    if not isinstance(clip_norm, numbers.Real) or not math.isfinite(clip_norm) or clip_norm <= 0:
        raise ValueError(f"clip_norm must be None or a finite number > 0, got {clip_norm!r}")
    return float(clip_norm)


def _as_key(key: Any, name: str = "key") -> jax.Array:
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array):
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ():
            return key
        if key.dtype == jnp.uint32 and key.shape == (2,):
            return jax.random.wrap_key_data(key)
    raise ValueError(f"{name} must be an int or a single jax.random key, got {key!r}")


# ----------------------------------------------------------------------------- the driver


def _train(
    carry: tuple[Any, Any, Any],
    keys: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    graphdef: Any,
    tx: optax.GradientTransformation,
    loss: LossArg,
    plan: _Plan,
    clip_norm: float,
    group_names: tuple[str, ...],
    progress: bool,
    on_nonfinite: str,
    ensemble: bool,
) -> tuple[tuple[Any, Any, Any], History]:
    run = _run_chunk_ensemble if ensemble else _run_chunk_single
    static = dict(
        graphdef=graphdef,
        tx=tx,
        loss=loss,
        batch_size=plan.batch_size,
        chunk=plan.chunk,
        masked=plan.steps % plan.chunk != 0,
        clip=math.isfinite(clip_norm),
    )
    total, clip = jnp.asarray(plan.steps, jnp.int32), jnp.asarray(clip_norm, jnp.float32)
    kept: dict[str, list[np.ndarray]] = {"loss": [], "accuracy": [], "grad_norm": [], "layer": []}
    bar = tqdm(total=plan.steps, disable=not progress, delay=2.0, unit="step", leave=False)
    try:
        for first in range(0, plan.steps, plan.chunk):
            carry, metrics = run(
                carry, keys, x, y, jnp.asarray(first, jnp.int32), total, clip, **static
            )
            valid = min(plan.chunk, plan.steps - first)
            loss_values = np.asarray(metrics["loss"])[..., :valid]
            if on_nonfinite == "raise":
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
        accuracy=joined["accuracy"] if _has_accuracy(loss) else None,
        grad_norm=joined["grad_norm"],
        layer_step=plan.layer_record.copy(),
        layer_grad_norms={name: joined["layer"][..., i] for i, name in enumerate(group_names)},
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


def _check_on_nonfinite(on_nonfinite: Any) -> str:
    if on_nonfinite not in ("raise", "continue"):
        raise ValueError(f"on_nonfinite must be 'raise' or 'continue', got {on_nonfinite!r}")
    return on_nonfinite


def fit(
    model: nnx.Module,
    x: ArrayLike,
    y: ArrayLike,
    *,
    optimizer: optax.GradientTransformation,
    loss: LossArg,
    steps: int,
    key: int | jax.Array | None = None,
    batch_size: int | None = None,
    clip_norm: float | None = None,
    record_every: int = 1,
    layer_steps: int | Sequence[int] | None = None,
    chunk_steps: int = 1000,
    progress: bool = True,
    on_nonfinite: str = "raise",
) -> History:
    r"""Train ``model`` in place for ``steps`` optimizer updates.

    Each step takes a mini-batch, computes the loss and its gradient with respect to every
    ``nnx.Param`` (learnable activations included), clips the gradient to global norm
    ``clip_norm`` if given, and applies ``optimizer``. Other state (batch statistics, dropout
    RNG counters) is carried along. Mini-batches visit the data in epochs, each a fresh
    permutation drawn from ``key`` (``n % batch_size`` examples are left out of each epoch).

    Args:
      model: an NNX module mapping ``x[:b]`` to outputs (for example :class:`actlab.models.MLP`).
        Its parameters are replaced by the trained ones; the optimizer state is not kept.
      x: inputs, shape ``(n, ...)``, floating point.
      y: targets, first axis ``n``: integer labels ``(n,)`` for ``"softmax_cross_entropy"``,
        0/1 labels ``(n,)`` for ``"sigmoid_binary_cross_entropy"`` (outputs ``(n, 1)``), and
        values shaped like the outputs for ``"mse"``.
      optimizer: any ``optax.GradientTransformation``.
      loss: ``"softmax_cross_entropy"``, ``"sigmoid_binary_cross_entropy"``, ``"mse"`` (mean over
        all elements), or ``loss(outputs, y) -> scalar``. Outputs in float16 or bfloat16 (a
        model computing in half precision, e.g. ``MLP(dtype=jnp.bfloat16)``) are cast to
        float32 before the loss, as mixed-precision training does.
      steps: number of updates.
      key: ``int`` or ``jax.random`` key for shuffling; required when ``batch_size < n``.
      batch_size: examples per step; ``None`` (default) or ``n`` for full-batch training.
      clip_norm: clip the gradient to this global L2 norm (``optax.clip_by_global_norm``).
      record_every: keep loss, accuracy and gradient norm every this many steps (and the last).
      layer_steps: steps at which per-layer gradient norms are kept: a sequence of steps, an int
        ``k`` (every ``k`` steps and the last) or ``None`` (the same steps as the other metrics).
      chunk_steps: steps per compiled call (between NaN checks and progress updates).
      progress: show a progress bar (it appears only once a run has taken 2 seconds).
      on_nonfinite: ``"raise"`` (default) stops with :class:`NonFiniteLossError` naming the first
        step whose loss is NaN or infinite; ``"continue"`` trains on.

    Returns:
      The :class:`History` of the run.

    Raises:
      NonFiniteLossError: the loss became NaN or infinite (with ``on_nonfinite="raise"``); the
        model is left as it was before the call.

    Compiled code is reused across calls with an equal graph definition (models built alike),
    the same ``optimizer`` object, loss, batch size, chunk length and data shapes.

    Example::

        >>> model = MLP(64, [32], 10, rngs=nnx.Rngs(0))
        >>> train_set, _ = data.digits()
        >>> h = fit(model, train_set.x, train_set.y, optimizer=optax.adam(1e-2),
        ...         loss="softmax_cross_entropy", steps=200, batch_size=128, key=0,
        ...         progress=False)
        >>> h.loss.shape
        (200,)
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"model must be an nnx.Module, got {type(model).__name__}")
    tx = _check_optimizer(optimizer)
    _loss_fn(loss)
    x, y = _check_data(x, y, loss)
    plan = _plan(x.shape[0], steps, batch_size, key, record_every, layer_steps, chunk_steps)
    clip = _clip_value(clip_norm)
    on_nonfinite = _check_on_nonfinite(on_nonfinite)
    shuffle_key = _as_key(key) if key is not None else jax.random.key(0)

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    carry = (params, rest, tx.init(params))
    (params, rest, _), history = _train(
        carry,
        shuffle_key,
        x,
        y,
        graphdef=graphdef,
        tx=tx,
        loss=loss,
        plan=plan,
        clip_norm=clip,
        group_names=_group_names(params),
        progress=progress,
        on_nonfinite=on_nonfinite,
        ensemble=False,
    )
    nnx.update(model, params, rest)
    return history


# ----------------------------------------------------------------------------- evaluation


def _eval_outputs(graphdef: Any, params: Any, rest: Any, x: jax.Array) -> jax.Array:
    model = nnx.merge(graphdef, params, rest)
    model.eval()
    return model(x)


@functools.partial(jax.jit, static_argnames=("graphdef", "loss"))
def _evaluate(graphdef: Any, params: Any, rest: Any, x: jax.Array, y: jax.Array, loss: LossArg):
    return _loss_fn(loss)(_eval_outputs(graphdef, params, rest, x), y)


@functools.partial(jax.jit, static_argnames=("graphdef", "loss"))
def _evaluate_members(
    graphdef: Any, params: Any, rest: Any, x: jax.Array, y: jax.Array, loss: LossArg
):
    def one(p: Any, r: Any) -> tuple[jax.Array, jax.Array]:
        return _loss_fn(loss)(_eval_outputs(graphdef, p, r, x), y)

    return jax.vmap(one)(params, rest)


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _apply_members(graphdef: Any, params: Any, rest: Any, x: jax.Array) -> jax.Array:
    return jax.vmap(lambda p, r: _eval_outputs(graphdef, p, r, x))(params, rest)


def evaluate(model: nnx.Module, x: ArrayLike, y: ArrayLike, *, loss: LossArg) -> dict[str, Any]:
    """Loss and accuracy of ``model`` in eval mode on the whole of ``(x, y)``.

    The model itself is left in the mode it was in.

    Returns:
      ``{"loss": float, "accuracy": float | None}`` (accuracy ``None`` for ``"mse"`` and custom
      losses).
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"model must be an nnx.Module, got {type(model).__name__}")
    _loss_fn(loss)
    x, y = _check_data(x, y, loss)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    value, accuracy = _evaluate(graphdef, params, rest, x, y, loss)
    return {"loss": float(value), "accuracy": float(accuracy) if _has_accuracy(loss) else None}


# ----------------------------------------------------------------------------- ensembles


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """Many copies of one architecture, held as stacked states (leading member axis).

    Members form the grid ``seeds x learning_rates x init_scales`` in that (row-major) order:
    member ``i`` has ``np.unravel_index(i, grid_shape)``. Member ``i``'s initial parameters come
    from ``make_model(nnx.Rngs(init_key))`` and its mini-batch order from ``data_key``, where
    ``init_key, data_key = jax.random.split(keys[i])``; so a member equals
    :func:`fit` on that model with ``key=data_key`` (up to rounding).

    Attributes:
      graphdef: the NNX graph definition shared by all members.
      params: stacked ``nnx.Param`` state, every leaf of shape ``(members, ...)``.
      rest: stacked other state (batch statistics, RNG streams).
      keys: one ``jax.random`` key per member, shape ``(members,)``.
      learning_rate: per-member learning rate, shape ``(members,)``, or ``None``.
      init_scale: per-member multiplier of the weight variance, shape ``(members,)``, or ``None``.
      grid_shape: ``(len(seeds), len(learning_rates) or 1, len(init_scales) or 1)``.
      history: the :class:`History` of the last :func:`fit_ensemble`, or ``None``.
    """

    graphdef: Any
    params: Any
    rest: Any
    keys: jax.Array
    learning_rate: np.ndarray | None
    init_scale: np.ndarray | None
    grid_shape: tuple[int, int, int]
    history: History | None = None

    @property
    def size(self) -> int:
        """Number of members."""
        return int(np.prod(self.grid_shape))

    def __len__(self) -> int:
        return self.size

    def member(self, i: int) -> nnx.Module:
        """Member ``i`` as a standalone NNX module (a copy)."""
        if not isinstance(i, numbers.Integral) or not -self.size <= i < self.size:
            raise IndexError(f"member index must be an int in [0, {self.size}), got {i!r}")
        take = functools.partial(jax.tree.map, lambda a: a[i])
        return nnx.merge(self.graphdef, take(self.params), take(self.rest))

    def apply(self, x: ArrayLike) -> jax.Array:
        """Every member's eval-mode outputs on ``x``: shape ``(members, *model(x).shape)``."""
        x = jnp.asarray(x)
        return _apply_members(self.graphdef, self.params, self.rest, x)

    def evaluate(self, x: ArrayLike, y: ArrayLike, *, loss: LossArg) -> dict[str, Any]:
        """Eval-mode loss and accuracy of every member on ``(x, y)``.

        Returns:
          ``{"loss": (members,), "accuracy": (members,) or None}`` as NumPy arrays.
        """
        _loss_fn(loss)
        x, y = _check_data(x, y, loss)
        value, accuracy = _evaluate_members(self.graphdef, self.params, self.rest, x, y, loss)
        return {
            "loss": np.asarray(value),
            "accuracy": np.asarray(accuracy) if _has_accuracy(loss) else None,
        }


def _seed_keys(seeds: Any) -> jax.Array:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = range(_positive_int("seeds", seeds))
    if isinstance(seeds, jax.Array) and jax.dtypes.issubdtype(seeds.dtype, jax.dtypes.prng_key):
        if seeds.ndim != 1 or seeds.shape[0] == 0:
            raise ValueError(f"seeds as keys must be a non-empty 1-D key array, got {seeds.shape}")
        return seeds
    values = list(seeds)
    if not values or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in values
    ):
        raise ValueError(
            "seeds must be a positive int (that many seeds 0, 1, ...), a non-empty sequence of "
            f"ints >= 0, or a 1-D jax.random key array; got {seeds!r}"
        )
    return jax.vmap(jax.random.key)(jnp.asarray(values, dtype=jnp.uint32))


def _positive_values(name: str, values: Any) -> np.ndarray | None:
    if values is None:
        return None
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if a.size == 0 or not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(
            f"{name} must be a non-empty sequence of finite numbers > 0, got {values!r}"
        )
    return a


def _scale_kernels(params: Any, scales: jax.Array) -> Any:
    """Multiply member ``i``'s ``kernel`` parameters by ``sqrt(scales[i])``."""

    def scale(v: Any) -> Any:
        factor = jnp.sqrt(scales).astype(v.dtype)
        return v.replace(v[...] * jnp.reshape(factor, (-1,) + (1,) * (v[...].ndim - 1)))

    flat = nnx.to_flat_state(params)
    return nnx.from_flat_state([(p, scale(v) if p[-1] == "kernel" else v) for p, v in flat])


class _ById:
    """Wraps an unhashable ``make_model`` so that it can be a static argument of ``jax.jit``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __hash__(self) -> int:
        return id(self.fn)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ById) and other.fn is self.fn


def _hashable(fn: Callable[..., Any]) -> Callable[..., Any]:
    try:
        hash(fn)
    except TypeError:
        return _ById(fn)
    return fn


@functools.partial(jax.jit, static_argnames=("make_model",))
def _build_members(
    make_model: Callable[[nnx.Rngs], nnx.Module], seed_keys: jax.Array
) -> tuple[Any, Any]:
    """Stacked initial states, one model per seed (``lax.map``: it compiles like one model).

    Compiled once per ``make_model`` and number of seeds: pass the same function, or an equal
    hashable one, to reuse the compilation across calls.
    """

    def build(seed_key: jax.Array) -> tuple[Any, Any]:
        init_key, _ = jax.random.split(seed_key)
        _, params, rest = nnx.split(make_model(nnx.Rngs(init_key)), nnx.Param, ...)
        return params, rest

    return jax.lax.map(build, seed_keys)


def init_ensemble(
    make_model: Callable[[nnx.Rngs], nnx.Module],
    seeds: int | Sequence[int] | jax.Array,
    *,
    learning_rates: Sequence[float] | None = None,
    init_scales: Sequence[float] | None = None,
) -> Ensemble:
    r"""Build the members of an ensemble in one vmapped call.

    Args:
      make_model: ``make_model(rngs) -> nnx.Module``, for example
        ``lambda rngs: MLP(2, [16], 1, rngs=rngs)``; it must build the same architecture for
        every key.
      seeds: a number ``k`` (seeds ``0 .. k-1``), a sequence of ints, or a 1-D key array.
      learning_rates: optional learning rates to cross with the seeds; :func:`fit_ensemble` then
        takes an optimizer factory such as ``optax.adam``.
      init_scales: optional multipliers ``c`` of the weight variance: every ``kernel`` parameter
        is multiplied by ``sqrt(c)`` after ``make_model`` (so ``sigma_w2`` becomes
        ``c * sigma_w2``). Members with the same seed share the unscaled draw.

    Returns:
      An :class:`Ensemble` of ``len(seeds) * len(learning_rates) * len(init_scales)`` members.

    The members are built by one compiled function per ``make_model`` and number of seeds; a
    ``make_model`` that is equal across calls (a module-level function, or a frozen dataclass
    with ``__call__``) reuses it, while a fresh ``lambda`` compiles anew (about a second).
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be callable (rngs -> module), got {make_model!r}")
    seed_keys = _seed_keys(seeds)
    lrs = _positive_values("learning_rates", learning_rates)
    scales = _positive_values("init_scales", init_scales)
    grid_shape = (
        seed_keys.shape[0],
        1 if lrs is None else lrs.size,
        1 if scales is None else scales.size,
    )
    s_idx, l_idx, c_idx = (a.reshape(-1) for a in np.indices(grid_shape))

    abstract = nnx.eval_shape(lambda: make_model(nnx.Rngs(0)))
    if not isinstance(abstract, nnx.Module):
        raise TypeError(f"make_model must return an nnx.Module, got {type(abstract).__name__}")
    graphdef, _, _ = nnx.split(abstract, nnx.Param, ...)

    params, rest = _build_members(_hashable(make_model), seed_keys)
    expected = jax.tree.map(lambda a: (seed_keys.shape[0], *a.shape), nnx.state(abstract))
    if jax.tree.map(jnp.shape, nnx.merge_state(params, rest)) != expected:
        # a cached build of the same make_model object that now builds another architecture
        # (it reads changed globals): build again, uncached
        params, rest = _build_members(_ById(make_model), seed_keys)
    if grid_shape[1:] != (1, 1):
        params, rest = jax.tree.map(lambda a: a[s_idx], (params, rest))
    if scales is not None:
        params = _scale_kernels(params, jnp.asarray(scales[c_idx], jnp.float32))
    return Ensemble(
        graphdef=graphdef,
        params=params,
        rest=rest,
        keys=seed_keys[s_idx],
        learning_rate=None if lrs is None else lrs[l_idx],
        init_scale=None if scales is None else scales[c_idx],
        grid_shape=grid_shape,
    )


@functools.partial(jax.jit, static_argnames=("tx",))
def _init_member_states(tx: optax.GradientTransformation, params: Any) -> Any:
    return jax.vmap(tx.init)(params)


@functools.partial(jax.jit, static_argnames=("factory",))
def _init_member_states_with_rates(
    factory: Callable[..., optax.GradientTransformation], params: Any, rates: jax.Array
) -> Any:
    def init(p: Any, rate: jax.Array) -> Any:
        return optax.inject_hyperparams(factory)(learning_rate=rate).init(p)

    return jax.vmap(init)(params, rates)


@functools.cache
def _injected(factory: Callable[..., optax.GradientTransformation]) -> optax.GradientTransformation:
    """``factory`` with its learning rate read from the optimizer state (one object per factory,
    so repeated runs reuse the compiled loop)."""
    return optax.inject_hyperparams(factory)(learning_rate=1.0)


def fit_ensemble(
    ensemble: Ensemble,
    x: ArrayLike,
    y: ArrayLike,
    *,
    optimizer: optax.GradientTransformation | Callable[..., optax.GradientTransformation],
    loss: LossArg,
    steps: int,
    batch_size: int | None = None,
    clip_norm: float | None = None,
    record_every: int = 1,
    layer_steps: int | Sequence[int] | None = None,
    chunk_steps: int = 1000,
    progress: bool = True,
    on_nonfinite: str = "raise",
) -> Ensemble:
    r"""Train every member of ``ensemble`` on the same data, as one vmapped computation.

    Arguments as in :func:`fit`, except:

    Args:
      ensemble: from :func:`init_ensemble` (or a previous :func:`fit_ensemble`; the optimizer
        state starts afresh).
      optimizer: an ``optax.GradientTransformation``; or, when the ensemble has learning rates, a
        factory ``optimizer(learning_rate=...) -> GradientTransformation`` such as ``optax.adam``
        (wrapped in ``optax.inject_hyperparams`` so each member gets its own rate).

    Returns:
      A new :class:`Ensemble` with the trained states and its ``history`` (metrics with a
      leading member axis). On NaN/inf the error names the step and the member.
    """
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"ensemble must come from init_ensemble, got {type(ensemble).__name__}")
    if ensemble.learning_rate is None:
        tx = _check_optimizer(optimizer)
        opt_state = _init_member_states(tx, ensemble.params)
    else:
        if isinstance(optimizer, optax.GradientTransformation) or not callable(optimizer):
            raise TypeError(
                "the ensemble has learning rates, so optimizer must be a factory taking "
                f"learning_rate (for example optax.adam), got {optimizer!r}"
            )
        tx = _injected(optimizer)
        opt_state = _init_member_states_with_rates(
            _hashable(optimizer), ensemble.params, jnp.asarray(ensemble.learning_rate, jnp.float32)
        )
    _loss_fn(loss)
    x, y = _check_data(x, y, loss)
    plan = _plan(x.shape[0], steps, batch_size, 0, record_every, layer_steps, chunk_steps)
    clip = _clip_value(clip_norm)
    on_nonfinite = _check_on_nonfinite(on_nonfinite)
    carry = (ensemble.params, ensemble.rest, opt_state)
    (params, rest, _), history = _train(
        carry,
        ensemble.keys,
        x,
        y,
        graphdef=ensemble.graphdef,
        tx=tx,
        loss=loss,
        plan=plan,
        clip_norm=clip,
        group_names=_group_names(ensemble.params),
        progress=progress,
        on_nonfinite=on_nonfinite,
        ensemble=True,
    )
    return dataclasses.replace(ensemble, params=params, rest=rest, history=history)


# ----------------------------------------------------------------------------- save and load


def _saveable(state: Any) -> Any:
    """``state`` without RNG streams (typed keys do not go through Orbax; they are rebuilt)."""
    return nnx.filter_state(state, nnx.Not(nnx.RngState))


def save(
    directory: str | os.PathLike,
    obj: nnx.Module | Ensemble,
    history: History | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Save a trained model or ensemble: parameters with Orbax, the history as JSON.

    Writes ``directory/state`` (Orbax checkpoint of the parameters and batch statistics, without
    RNG streams), ``directory/history.json`` (``history``, or the ensemble's own), and for an
    ensemble ``directory/ensemble.json`` (keys, learning rates, init scales, grid shape). Orbax
    finalises its directory atomically; JSON files are written to a temporary file, then renamed.

    Args:
      directory: destination folder (created).
      obj: an NNX module or an :class:`Ensemble`.
      history: the run's history (for a module); ``None`` writes no history.
      overwrite: replace an existing checkpoint in ``directory``.

    Returns:
      The absolute directory.
    """
    import orbax.checkpoint as ocp  # slow import, only here

    directory = Path(directory).absolute()
    if (directory / "state").exists() and not overwrite:
        raise FileExistsError(f"{directory / 'state'} exists; pass overwrite=True to replace it")
    if isinstance(obj, Ensemble):
        state = nnx.merge_state(obj.params, obj.rest)
        history = obj.history if history is None else history
        meta = {
            "keys": np.asarray(jax.random.key_data(obj.keys)).tolist(),
            "learning_rate": None if obj.learning_rate is None else obj.learning_rate.tolist(),
            "init_scale": None if obj.init_scale is None else obj.init_scale.tolist(),
            "grid_shape": list(obj.grid_shape),
        }
    elif isinstance(obj, nnx.Module):
        state, meta = nnx.state(obj), None
    else:
        raise TypeError(f"obj must be an nnx.Module or an Ensemble, got {type(obj).__name__}")
    directory.mkdir(parents=True, exist_ok=True)
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(directory / "state", nnx.to_pure_dict(_saveable(state)), force=overwrite)
        checkpointer.wait_until_finished()
    if meta is not None:
        write_json(directory / "ensemble.json", meta)
    if history is not None:
        history.save_json(directory / "history.json")
    elif (directory / "history.json").exists():
        (directory / "history.json").unlink()
    return directory


def load(
    directory: str | os.PathLike, like: nnx.Module | Ensemble
) -> tuple[nnx.Module | Ensemble, History | None]:
    """Load what :func:`save` wrote, into the structure of ``like``.

    Args:
      directory: the folder given to :func:`save`.
      like: a freshly built model of the same architecture (its parameters are replaced in
        place), or an ensemble from :func:`init_ensemble` with the same architecture and size.

    Returns:
      ``(model_or_ensemble, history)``; ``history`` is ``None`` when none was saved.
    """
    import orbax.checkpoint as ocp

    directory = Path(directory).absolute()
    if not (directory / "state").exists():
        raise FileNotFoundError(f"no checkpoint at {directory / 'state'}")
    if isinstance(like, Ensemble):
        template = nnx.merge_state(like.params, like.rest)
    elif isinstance(like, nnx.Module):
        template = nnx.state(like)
    else:
        raise TypeError(f"like must be an nnx.Module or an Ensemble, got {type(like).__name__}")
    meta = None
    if isinstance(like, Ensemble):
        meta = read_json(directory / "ensemble.json")
        if tuple(meta["grid_shape"]) != like.grid_shape:
            raise ValueError(
                f"the saved ensemble has grid shape {tuple(meta['grid_shape'])}, like has "
                f"{like.grid_shape}"
            )
    target = _saveable(template)
    abstract = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), nnx.to_pure_dict(target)
    )
    with ocp.StandardCheckpointer() as checkpointer:
        restored = checkpointer.restore(directory / "state", abstract)
    nnx.replace_by_pure_dict(target, restored)
    history_path = directory / "history.json"
    history = History.load_json(history_path) if history_path.exists() else None
    if isinstance(like, nnx.Module):
        nnx.update(like, target)
        return like, history
    merged = nnx.merge_state(template, target)
    params = nnx.filter_state(merged, nnx.Param)
    rest = nnx.filter_state(merged, nnx.Not(nnx.Param))
    lr, scale = meta["learning_rate"], meta["init_scale"]
    ensemble = Ensemble(
        graphdef=like.graphdef,
        params=params,
        rest=rest,
        keys=jax.random.wrap_key_data(jnp.asarray(meta["keys"], dtype=jnp.uint32)),
        learning_rate=None if lr is None else np.asarray(lr),
        init_scale=None if scale is None else np.asarray(scale),
        grid_shape=like.grid_shape,
        history=history,
    )
    return ensemble, history
