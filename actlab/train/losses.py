"""Training losses: each maps a batch of outputs and targets to ``(loss, accuracy)``.

A loss argument (``loss=`` of :func:`actlab.train.fit`, :func:`actlab.gradflow.signals`, ...) is a
name in :data:`LOSSES` or any callable ``loss(outputs, targets) -> scalar``; :func:`resolve` turns
it into ``f(outputs, targets) -> (loss, accuracy)``, with accuracy NaN where it has no meaning
(regression, custom losses). Every loss is the batch mean of a per-example loss. Outputs in
float16 or bfloat16 (a model computing in half precision) are cast to float32 first, as
mixed-precision training does, so the loss and its gradient are computed in float32.

Example:
  >>> import jax.numpy as jnp
  >>> from actlab.train import losses
  >>> value, accuracy = losses.resolve("softmax_cross_entropy")(jnp.eye(3) * 9, jnp.arange(3))
  >>> round(float(value), 4), float(accuracy)
  (0.0002, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from actlab.checks import message, show

__all__ = [
    "LOSSES",
    "Loss",
    "LossFn",
    "has_accuracy",
    "mse",
    "resolve",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy",
]

LOSSES = ("softmax_cross_entropy", "sigmoid_binary_cross_entropy", "mse")
Loss = str | Callable[[jax.Array, jax.Array], jax.Array]
"""A name in :data:`LOSSES`, or ``loss(outputs, targets) -> scalar`` (no accuracy then)."""
LossFn = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
"""``f(outputs, targets) -> (loss, accuracy)``."""


def softmax_cross_entropy(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy of logits ``(batch, classes)`` against integer labels ``(batch,)``, and
    the accuracy of their arg-max."""
    if outputs.ndim != 2 or y.shape != outputs.shape[:1]:
        raise ValueError(
            message("outputs and labels", "logits (batch, classes) and integer labels (batch,)",
                    f"logits {outputs.shape} and labels {y.shape}",
                    where="loss='softmax_cross_entropy'")
        )  # fmt: skip
    value = optax.softmax_cross_entropy_with_integer_labels(outputs, y).mean()
    accuracy = jnp.mean(jnp.argmax(outputs, axis=-1) == y)
    return value, accuracy


def sigmoid_binary_cross_entropy(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean binary cross-entropy of logits ``(batch, 1)`` or ``(batch,)`` against 0/1 labels
    ``(batch,)``, and the accuracy of the sign of the logit."""
    if outputs.shape not in (y.shape, (*y.shape, 1)) or y.ndim != 1:
        raise ValueError(
            message("outputs and labels", "logits (batch, 1) or (batch,) and 0/1 labels (batch,)",
                    f"logits {outputs.shape} and labels {y.shape}",
                    where="loss='sigmoid_binary_cross_entropy'")
        )  # fmt: skip
    logits = jnp.reshape(outputs, y.shape)
    labels = y.astype(logits.dtype)
    value = optax.sigmoid_binary_cross_entropy(logits, labels).mean()
    accuracy = jnp.mean((logits > 0) == (labels > 0.5))
    return value, accuracy


def mse(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean squared error over all elements (targets shaped like the outputs, or ``(batch,)``
    for outputs ``(batch, 1)``); accuracy NaN."""
    if outputs.shape not in (y.shape, (*y.shape, 1)):
        raise ValueError(
            message("outputs and targets", "the same shape (or targets (batch,) with outputs "
                    "(batch, 1))", f"outputs {outputs.shape} and targets {y.shape}",
                    where="loss='mse'")
        )  # fmt: skip
    value = jnp.mean(jnp.square(jnp.reshape(outputs, y.shape) - y))
    return value, jnp.full((), jnp.nan, value.dtype)


_TABLE: dict[str, LossFn] = {
    "softmax_cross_entropy": softmax_cross_entropy,
    "sigmoid_binary_cross_entropy": sigmoid_binary_cross_entropy,
    "mse": mse,
}


def _in_float32(fn: LossFn) -> LossFn:
    def wrapped(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        return fn(outputs.astype(jnp.promote_types(outputs.dtype, jnp.float32)), y)

    return wrapped


def resolve(loss: Loss) -> LossFn:
    """``f(outputs, y) -> (loss, accuracy)`` for a loss name or callable (module docstring).

    Raises:
      ValueError: an unknown name. TypeError: neither a name nor callable.
    """
    expected = f"one of {', '.join(repr(n) for n in LOSSES)} or a callable"
    if isinstance(loss, str):
        if loss not in _TABLE:
            raise ValueError(message("loss", expected, show(loss)))
        return _in_float32(_TABLE[loss])
    if not callable(loss):
        raise TypeError(message("loss", expected, type(loss).__name__))

    def custom(outputs: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        value = jnp.asarray(loss(outputs, y))
        if value.shape != ():
            raise ValueError(message("loss", "a callable returning a scalar",
                                     f"shape {value.shape}"))  # fmt: skip
        return value, jnp.full((), jnp.nan, value.dtype)

    return _in_float32(custom)


def has_accuracy(loss: Loss) -> bool:
    """Whether the loss reports an accuracy (the two classification losses)."""
    return loss in ("softmax_cross_entropy", "sigmoid_binary_cross_entropy")
