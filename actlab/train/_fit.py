"""Training and evaluating one model: :func:`fit` and :func:`evaluate`."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import optax
from flax import nnx
from jax.typing import ArrayLike

from actlab.checks import message, prng_key
from actlab.train import losses
from actlab.train._history import History
from actlab.train._loop import check_data, check_optimizer, plan, run


class Evaluation(NamedTuple):
    """Eval-mode loss and accuracy on a data set.

    Attributes:
      loss: the mean loss; a ``float`` for one model, ``(members,)`` for an ensemble.
      accuracy: the accuracy in ``[0, 1]`` (same type), or ``None`` for losses without one.
    """

    loss: Any
    accuracy: Any


def check_module(model: Any, where: str) -> None:
    if not isinstance(model, nnx.Module):
        raise TypeError(message("model", "an nnx.Module", type(model).__name__, where=where))


def fit(
    model: nnx.Module,
    x: ArrayLike,
    y: ArrayLike,
    *,
    optimizer: optax.GradientTransformation,
    loss: losses.Loss,
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

        >>> import optax
        >>> from actlab import data
        >>> from actlab.models import MLP
        >>> model = MLP(64, [32], 10, rngs=nnx.Rngs(0))
        >>> train_set, _ = data.digits()
        >>> h = fit(model, train_set.x, train_set.y, optimizer=optax.adam(1e-2),
        ...         loss="softmax_cross_entropy", steps=200, batch_size=128, key=0,
        ...         progress=False)
        >>> h.loss.shape
        (200,)
    """
    where = "fit"
    check_module(model, where)
    tx = check_optimizer(optimizer, where)
    x, y = check_data(x, y, loss, where)
    planned = plan(x.shape[0], steps=steps, batch_size=batch_size, key=key,
                   record_every=record_every, layer_steps=layer_steps, chunk_steps=chunk_steps,
                   clip_norm=clip_norm, on_nonfinite=on_nonfinite, where=where)  # fmt: skip
    shuffle_key = prng_key(key, where=where) if key is not None else jax.random.key(0)

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    carry = (params, rest, tx.init(params))
    (params, rest, _), history = run(
        carry, shuffle_key, x, y, graphdef=graphdef, tx=tx, loss=loss, plan=planned,
        progress=progress, ensemble=False,
    )  # fmt: skip
    nnx.update(model, params, rest)
    return history


def eval_outputs(graphdef: Any, params: Any, rest: Any, x: jax.Array) -> jax.Array:
    """The outputs of the model ``(graphdef, params, rest)`` in eval mode (on a copy)."""
    model = nnx.merge(graphdef, params, rest)
    model.eval()
    return model(x)


@functools.partial(jax.jit, static_argnames=("graphdef", "loss"))
def _evaluate(graphdef: Any, params: Any, rest: Any, x: jax.Array, y: jax.Array, loss: losses.Loss):
    return losses.resolve(loss)(eval_outputs(graphdef, params, rest, x), y)


def evaluate(model: nnx.Module, x: ArrayLike, y: ArrayLike, *, loss: losses.Loss) -> Evaluation:
    """Loss and accuracy of ``model`` in eval mode on the whole of ``(x, y)``.

    The model itself is left in the mode it was in.

    Returns:
      An :class:`Evaluation` of Python floats (accuracy ``None`` for ``"mse"`` and custom
      losses).
    """
    where = "evaluate"
    check_module(model, where)
    x, y = check_data(x, y, loss, where)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    value, accuracy = _evaluate(graphdef, params, rest, x, y, loss)
    return Evaluation(float(value), float(accuracy) if losses.has_accuracy(loss) else None)
