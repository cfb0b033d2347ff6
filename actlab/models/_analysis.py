"""Read an MLP's affine maps out for analysis, and fold an all-identity network into one."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from actlab.checks import message
from actlab.models._mlp import MLP

__all__ = ["collapse_linear", "hidden_layers", "output_layer"]


def _check_mlp(model: object, where: str) -> None:
    if not isinstance(model, MLP):
        raise TypeError(message("model", "an actlab.models.MLP", type(model).__name__, where=where))


def _affine_norm(model: MLP, i: int, w: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Fold layer ``i``'s normalisation into ``(w, b)`` when it is affine (eval-mode batch norm)."""
    if model.norms is None:
        return w, b
    bn = model.norms[i]
    if model.norm != "batch" or not bn.use_running_average:
        mode = " in training mode" if model.norm == "batch" else ""
        raise ValueError(
            message("model", "affine normalisation: batch norm in eval mode (model.eval()), which "
                    "folds into (W, b)", f"norm={model.norm!r}{mode}", where="hidden_layers")
        )  # fmt: skip
    gain = jax.lax.rsqrt(bn.var[...] + bn.epsilon)
    if bn.scale is not None:
        gain = gain * bn.scale[...]
    shift = -bn.mean[...] * gain
    if bn.bias is not None:
        shift = shift + bn.bias[...]
    return w * gain[None, :], b * gain + shift


def hidden_layers(model: MLP) -> list[tuple[jax.Array, jax.Array]]:
    r"""The hidden layers' affine maps ``[(W_1, b_1), ..., (W_L, b_L)]``, read-out excluded.

    Layer ``l`` maps ``h`` to ``h @ W_l + b_l`` (``W_l`` of shape ``(in, out)``, Flax convention)
    before its activation, as ``actlab.regions`` expects. Batch normalisation in eval mode is
    folded into ``(W_l, b_l)``; layer normalisation, or batch norm in training mode, is not affine
    and raises ``ValueError``. Dropout is ignored (the eval-mode network).

    Args:
      model: an :class:`MLP`.

    Returns:
      One ``(W, b)`` pair per hidden layer, ``W`` of shape ``(in, out)`` and ``b`` of ``(out,)``.

    Example::

        >>> model = MLP(2, [3, 4], 1, rngs=nnx.Rngs(0))
        >>> [w.shape for w, _ in hidden_layers(model)]
        [(2, 3), (3, 4)]
    """
    _check_mlp(model, "hidden_layers")
    return [
        _affine_norm(model, i, layer.kernel[...], layer.bias[...])
        for i, layer in enumerate(model.hidden)
    ]


def output_layer(model: MLP) -> tuple[jax.Array, jax.Array]:
    """The read-out's affine map ``(W, b)``, ``W`` of shape ``(widths[-1], out)``."""
    _check_mlp(model, "output_layer")
    return model.output.kernel[...], model.output.bias[...]


def collapse_linear(model: MLP) -> tuple[jax.Array, jax.Array]:
    r"""Fold an all-identity network into the single affine map it computes.

    Stacked affine maps are affine: :math:`W_2(W_1 x + b_1) + b_2 = (W_2 W_1) x + (W_2 b_1 + b_2)`.
    In the Flax convention (``y = x @ W + b``) this gives ``W = W_1 @ W_2 @ ... @ W_out`` and
    ``b = ((b_1 @ W_2 + b_2) @ W_3 + ...) @ W_out + b_out``, so ``model(x) == x @ W + b`` up to
    rounding (for the eval-mode network; see :func:`hidden_layers` for normalisation).

    Args:
      model: an :class:`MLP` built with ``activation="identity"``
        (or ``actlab.activations.identity``).

    Returns:
      ``(W, b)`` with ``W`` of shape ``(in_features, out_features)`` and ``b`` of
      ``(out_features,)``.

    Raises:
      ValueError: the activation is not the identity (a nonlinear network has no such form).

    Example::

        >>> model = MLP(3, [8, 8], 2, activation="identity", rngs=nnx.Rngs(0))
        >>> w, b = collapse_linear(model)
        >>> x = jnp.ones((4, 3))
        >>> bool(jnp.allclose(model(x), x @ w + b[None, :], atol=1e-5))
        True
    """
    _check_mlp(model, "collapse_linear")
    if model.widths and model.activation_name != "identity":
        got = model.activation_name or type(model.activations or model.activation).__name__
        raise ValueError(
            message("model", "a network built with activation='identity'", repr(got),
                    where="collapse_linear")
        )  # fmt: skip
    w = jnp.eye(model.in_features, dtype=model.output.kernel[...].dtype)
    b = jnp.zeros((model.in_features,), dtype=w.dtype)
    for w_l, b_l in [*hidden_layers(model), output_layer(model)]:
        w, b = w @ w_l, b @ w_l + b_l
    return w, b
