"""Flax NNX models: the MLP builder, learnable activations, initializers and linear collapse.

Example::

    >>> from flax import nnx
    >>> from actlab.models import MLP, PReLU, collapse_linear, hidden_layers
    >>> model = MLP(2, [16], 1, activation=PReLU, init="he", rngs=nnx.Rngs(0))
    >>> [w.shape for w, _ in hidden_layers(model)]
    [(2, 16)]
"""

from actlab.models._analysis import collapse_linear, hidden_layers, output_layer
from actlab.models._init import INIT_SCHEMES, Initializer, bias_init, kernel_init
from actlab.models._learnable import LearnableELU, PReLU, Swish
from actlab.models._mlp import MLP, ActivationArg

__all__ = [
    "INIT_SCHEMES",
    "MLP",
    "ActivationArg",
    "Initializer",
    "LearnableELU",
    "PReLU",
    "Swish",
    "bias_init",
    "collapse_linear",
    "hidden_layers",
    "kernel_init",
    "output_layer",
]
