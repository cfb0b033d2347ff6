"""Flax NNX models: the MLP builder, learnable activations, initializers, the forward pass and
linear collapse.

A *network* is an :class:`MLP` or its hidden layers as arrays ``[(W, b), ...]`` (:data:`Layers`);
:func:`forward` runs either and keeps every layer (:class:`Trace`), and :func:`check_layers` is
the one check of layers given as arrays.

Example::

    >>> from flax import nnx
    >>> from actlab.models import MLP, PReLU, collapse_linear, hidden_layers
    >>> model = MLP(2, [16], 1, activation=PReLU, init="he", rngs=nnx.Rngs(0))
    >>> [w.shape for w, _ in hidden_layers(model)]
    [(2, 16)]
"""

from actlab.models._analysis import collapse_linear, hidden_layers, output_layer
from actlab.models._choice import ActivationChoice
from actlab.models._init import INIT_SCHEMES, Initializer, bias_init, default_sigma_w2, kernel_init
from actlab.models._learnable import LearnableELU, PReLU, Swish
from actlab.models._mlp import MLP, ActivationArg
from actlab.models._network import (
    Layers,
    Network,
    check_layers,
    check_readout,
    forward,
    is_mlp,
    layer_activations,
)
from actlab.models._trace import Trace

__all__ = [
    "INIT_SCHEMES",
    "MLP",
    "ActivationArg",
    "ActivationChoice",
    "Initializer",
    "Layers",
    "LearnableELU",
    "Network",
    "PReLU",
    "Swish",
    "Trace",
    "bias_init",
    "check_layers",
    "check_readout",
    "collapse_linear",
    "default_sigma_w2",
    "forward",
    "hidden_layers",
    "is_mlp",
    "kernel_init",
    "layer_activations",
    "output_layer",
]
