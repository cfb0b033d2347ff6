"""An activation chosen per network by an integer state: many activations, one compiled program."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from actlab import activations as A


class ActivationChoice(nnx.Module):
    """The activation ``choices[which]``, with ``which`` an integer state (not trained).

    Pass ``functools.partial(ActivationChoice, choices=(...))`` as ``MLP(activation=...)``: each
    hidden layer gets its own instance. A choice is a registry name (``"relu"``) or a learnable
    activation class such as :class:`actlab.models.PReLU` (built as ``cls(num_features,
    rngs=rngs)``; its parameters exist in every member and get gradient only where chosen).
    Applied with :func:`actlab.activations.switch`: a single model runs only its branch
    (``lax.switch``); under ``vmap`` with a batched ``which`` (an ensemble of models, see
    :func:`actlab.train.choose`) every branch is computed and the chosen value selected exactly,
    derivatives included.

    Example:
      >>> import functools
      >>> from actlab.models import MLP
      >>> act = functools.partial(ActivationChoice, choices=("relu", "tanh"))
      >>> model = MLP(2, [4], 1, activation=act, rngs=nnx.Rngs(0))
      >>> model.activations[0].which[...]
      Array(0, dtype=int32)
    """

    def __init__(
        self, num_features: int | None = None, *, choices: tuple[Any, ...], rngs: Any = None
    ) -> None:
        self.choices = tuple(choices)
        self.which = nnx.Variable(jnp.zeros((), jnp.int32))
        self.learnable = nnx.List(
            [c(num_features, rngs=rngs) for c in self.choices if isinstance(c, type)]
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        learnable = iter(self.learnable)
        branches = [c if not isinstance(c, type) else next(learnable) for c in self.choices]
        return A.switch(branches, self.which[...])(x)
