"""Activation functions with exact, selectable derivatives at their kinks.

Every function maps an array to an array of the same shape and dtype (``softmax`` and
``log_softmax`` normalise along an axis), works under ``jit``, ``vmap``, ``grad`` and higher-order
derivatives, and is accurate to a few ulp including the tails. See ``spec(name)`` for metadata.
"""

from actlab.activations._resolve import ActivationLike, describe, resolve, switch
from actlab.activations.exponential import celu, elu, selu
from actlab.activations.normalized import log_softmax, softmax
from actlab.activations.piecewise import (
    hard_sigmoid,
    hard_tanh,
    identity,
    leaky_relu,
    prelu,
    relu,
    relu6,
)
from actlab.activations.power import arelu, sbaf
from actlab.activations.registry import Activation, ActivationSpec, ParamSpec, get, names, spec
from actlab.activations.smooth import gelu, mish, sigmoid, silu, softplus, softsign, tanh

__all__ = [
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
    "hard_sigmoid",
    "hard_tanh",
    "identity",
    "leaky_relu",
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
    "softmax",
    "softplus",
    "softsign",
    "spec",
    "switch",
    "tanh",
]
