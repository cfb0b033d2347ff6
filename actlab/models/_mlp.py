"""The multilayer perceptron used throughout actlab, as a Flax NNX module."""

from __future__ import annotations

import functools
import itertools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.checks import integer, message, one_of, show
from actlab.models._init import Initializer, bias_init, kernel_init
from actlab.models._trace import Layer, Trace, run

__all__ = ["MLP", "ActivationArg"]

ActivationArg = str | Callable[[jax.Array], jax.Array] | nnx.Module | type | functools.partial
"""What ``MLP(activation=...)`` accepts; see :class:`MLP`."""

NORMS = (None, "batch", "layer")


def _is_module_factory(activation: Any) -> bool:
    """A Module subclass, or a ``functools.partial`` of one: built once per hidden layer."""
    target = activation.func if isinstance(activation, functools.partial) else activation
    return isinstance(target, type) and issubclass(target, nnx.Module)


class MLP(nnx.Module):
    r"""Fully connected network: ``widths`` hidden layers, then an affine read-out.

    Each hidden layer computes ``dropout(act(norm(x @ W + b)))``; the read-out is ``h @ W + b``
    with no activation (logits or regression outputs). Kernels ``W`` have shape ``(in, out)``.

    Train and eval modes are the usual NNX ones: a new model is in training mode (dropout active,
    batch norm uses batch statistics and updates its running averages); ``model.eval()`` switches
    both off, ``model.train()`` back on.

    Args:
      in_features: input dimension.
      widths: hidden-layer widths, outermost first; may be empty (a single affine map).
      out_features: output dimension.
      activation: a name in ``actlab.activations.names()``; a callable ``f(x) -> y`` (for example
        ``actlab.activations.get("leaky_relu", negative_slope=0.2)``); a learnable activation class
        such as :class:`PReLU`, or a ``functools.partial`` of one, built as
        ``activation(width, rngs=rngs)`` for each hidden layer (own parameters per layer); or an
        ``nnx.Module`` instance, shared by every hidden layer.
      init: ``"he"``, ``"lecun"``, ``"orthogonal"``, ``"glorot"`` or an initializer
        ``(key, shape, dtype) -> Array``, for every kernel (read-out included); see
        :func:`actlab.models.kernel_init`.
      sigma_w2: weight variance times fan-in (``W ~ N(0, sigma_w2 / fan_in)``); ``None`` for the
        scheme's default (2 for He, 1 for LeCun and orthogonal).
      sigma_b2: bias variance; biases are ``N(0, sigma_b2)`` (zeros by default).
      norm: ``None``, ``"batch"`` (``nnx.BatchNorm``) or ``"layer"`` (``nnx.LayerNorm``), applied to
        the pre-activations.
      dropout: dropout rate after each activation, in ``[0, 1)``; 0 builds no dropout layers.
      param_dtype: dtype of the parameters (float32, or float64 under ``jax.enable_x64``).
      dtype: computation dtype of the affine maps and normalisations (Flax's ``dtype``); ``None``
        (default) infers it from the inputs and parameters. ``jnp.bfloat16`` or ``jnp.float16``
        with float32 parameters is mixed precision: pre-activations, activations and outputs in
        half precision, parameters (and their updates) in float32.
      rngs: ``nnx.Rngs`` for the initial parameters and the dropout masks.

    Example::

        >>> model = MLP(2, [16, 16], 1, activation="tanh", init="lecun", rngs=nnx.Rngs(0))
        >>> model(jnp.ones((5, 2))).shape
        (5, 1)
    """

    def __init__(
        self,
        in_features: int,
        widths: Sequence[int],
        out_features: int,
        *,
        activation: ActivationArg = "relu",
        init: str | Initializer = "he",
        sigma_w2: float | None = None,
        sigma_b2: float = 0.0,
        norm: str | None = None,
        dropout: float = 0.0,
        param_dtype: Any = jnp.float32,
        dtype: Any = None,
        rngs: nnx.Rngs,
    ) -> None:
        where = "MLP"
        in_features = integer(in_features, "in_features", minimum=1, where=where)
        out_features = integer(out_features, "out_features", minimum=1, where=where)
        if isinstance(widths, numbers.Integral | str) or not isinstance(widths, Sequence):
            raise ValueError(
                message("widths", "a sequence of ints >= 1", show(widths), where=where)
            )
        widths = [integer(w, f"widths[{i}]", minimum=1, where=where) for i, w in enumerate(widths)]
        one_of(norm, "norm", NORMS, where=where)
        if not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(message("dropout", "a rate in [0, 1)", show(dropout), where=where))
        if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(message("dtype", "None or a floating dtype", show(dtype), where=where))
        if not isinstance(rngs, nnx.Rngs):
            raise TypeError(message("rngs", "an nnx.Rngs", type(rngs).__name__, where=where))
        w_init, b_init = kernel_init(init, sigma_w2), bias_init(sigma_b2)

        self.in_features, self.out_features = in_features, out_features
        self.widths = tuple(widths)
        self.norm = norm
        self.dropout_rate = float(dropout)
        self.activation_name: str | None = None

        dims = [in_features, *widths]
        self.hidden = nnx.List(
            [
                nnx.Linear(
                    d_in,
                    d_out,
                    kernel_init=w_init,
                    bias_init=b_init,
                    dtype=dtype,
                    param_dtype=param_dtype,
                    rngs=rngs,
                )
                for d_in, d_out in itertools.pairwise(dims)
            ]
        )
        self.output = nnx.Linear(
            dims[-1],
            out_features,
            kernel_init=w_init,
            bias_init=b_init,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
        )
        if norm == "batch":
            self.norms = nnx.List(
                [nnx.BatchNorm(w, dtype=dtype, param_dtype=param_dtype, rngs=rngs) for w in widths]
            )
        elif norm == "layer":
            self.norms = nnx.List(
                [nnx.LayerNorm(w, dtype=dtype, param_dtype=param_dtype, rngs=rngs) for w in widths]
            )
        else:
            self.norms = None
        self.dropouts = (
            nnx.List([nnx.Dropout(dropout, rngs=rngs) for _ in widths]) if dropout > 0 else None
        )

        # activation: one module per layer, one shared module, or a fixed function; a registry
        # activation is stored as its Activation (equal by value), so that two models built
        # alike have equal graph definitions and share compiled code
        activations, shared = None, None
        if _is_module_factory(activation):
            activations = nnx.List([activation(w, rngs=rngs) for w in widths])
        else:
            shared = A.resolve(activation, where=where)
            if not isinstance(shared, nnx.Module):
                registered = A.describe(shared)
                if registered is not None:
                    shared, self.activation_name = registered, registered.name
        self.activations = activations
        """One learnable activation module per hidden layer, or ``None``."""
        self.activation = shared
        """The activation shared by every hidden layer (function or module), or ``None``."""

    def layer_activation(self, l: int) -> Callable[[jax.Array], jax.Array]:
        """The activation of hidden layer ``l`` (its own module, or the shared one)."""
        return self.activations[l] if self.activations is not None else self.activation

    def trace(self, x: ArrayLike, *, perturb: Sequence[jax.Array] | None = None) -> Trace:
        """The forward pass, every hidden layer kept: see :class:`actlab.models.Trace`.

        Args:
          x: inputs ``(..., in_features)``.
          perturb: optional arrays added to each hidden layer's pre-activations, shaped like
            them (their gradient at zero is the gradient with respect to the pre-activations).

        Returns:
          The :class:`~actlab.models.Trace`; ``trace(x).output == model(x)``.
        """
        x = jnp.asarray(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                message("x", f"shape (..., {self.in_features})", f"shape {x.shape}", where="MLP")
            )

        def pre(l: int) -> Callable[[jax.Array], jax.Array]:
            if self.norms is None:
                return self.hidden[l]
            return lambda h: self.norms[l](self.hidden[l](h))

        layers = [
            Layer(pre(l), self.layer_activation(l), self.dropouts[l] if self.dropouts else None)
            for l in range(len(self.widths))
        ]
        return run(layers, self.output, x, perturb)

    def __call__(self, x: ArrayLike) -> jax.Array:
        """Forward pass: ``x`` of shape ``(..., in_features)`` to ``(..., out_features)``."""
        return self.trace(x).output
