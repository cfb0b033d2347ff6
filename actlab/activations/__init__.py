"""Activation functions with exact, selectable derivatives at their kinks.

Every function maps an array to an array of the same shape and dtype (``softmax`` and
``log_softmax`` normalise along an axis; ``glu`` halves one), works under ``jit``, ``vmap``,
``grad`` and higher-order derivatives, and is accurate to a few ulp including the tails. See ``spec(name)`` for metadata.
Every activation of ``jax.nn`` has a counterpart here, under the same name (``ALIASES`` maps
``jax.nn``'s second names, such as ``swish``, to the registry's).
"""

from actlab.activations._resolve import ActivationLike, describe, resolve, switch
from actlab.activations.exponential import celu, elu, selu
from actlab.activations.gated import glu
from actlab.activations.normalized import log_softmax, softmax
from actlab.activations.piecewise import (
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    identity,
    leaky_relu,
    prelu,
    relu,
    relu6,
    sparse_plus,
    sparse_sigmoid,
)
from actlab.activations.power import arelu, sbaf
from actlab.activations.registry import (
    ALIASES,
    Activation,
    ActivationSpec,
    ParamSpec,
    get,
    names,
    spec,
)
from actlab.activations.smooth import (
    gelu,
    log_sigmoid,
    mish,
    sigmoid,
    silu,
    soft_sign,
    softplus,
    softsign,
    squareplus,
    swish,
    tanh,
)

__all__ = [
    "ALIASES",
    "Activation",
    "ActivationLike",
    "ActivationSpec",
    "ParamSpec",
    "arelu",
    "celu",
    "describe",
    "elu",
    "gelu",
    "get",
    "glu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "identity",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "names",
    "prelu",
    "relu",
    "relu6",
    "resolve",
    "sbaf",
    "selu",
    "sigmoid",
    "silu",
    "soft_sign",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "spec",
    "squareplus",
    "swish",
    "switch",
    "tanh",
]
