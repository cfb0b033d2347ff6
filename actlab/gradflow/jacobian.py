r"""Singular values of the input-output Jacobian of an MLP, one example at a time.

For an example ``x_i`` the Jacobian ``J_i = dh^{L-1}(x_i) / dx_i`` maps input perturbations to
the output of the last hidden layer (the read-out excluded, as in the dynamical-isometry
literature; ``include_readout=True`` takes the network's output instead). Its squared singular
values describe how the network stretches the input space at ``x_i``. Mean-field theory predicts
their mean, ``mean_sq = ||J||_F^2 / k`` with ``k = min(out, in)``, to be
``prod_l chi_1(q^l)`` for equal widths (Pennington et al. 2017): 1 on the critical line. Their
variance tells isometry apart from mere criticality: a deep linear network with orthogonal
weights has every singular value equal to 1 (variance 0), one with Gaussian weights at
``sigma_w2 = 1`` has ``mean_sq -> 1`` and ``var_sq -> L`` as the width grows.

``J_i`` is computed with ``jax.jacfwd`` (``in <= out``) or ``jax.jacrev``, vmapped over the batch,
and its singular values with ``jnp.linalg.svd``: ``B`` matrices of ``out x in``, so keep widths
in the hundreds.

References:
  Pennington, Schoenholz, Ganguli. Resurrecting the sigmoid in deep learning through dynamical
  isometry. NeurIPS 2017.
  Saxe, McClelland, Ganguli. Exact solutions to the nonlinear dynamics of learning in deep linear
  neural networks. ICLR 2014.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from actlab.gradflow.signals import (
    ActivationLike,
    Layer,
    _activation,
    _affine,
    _batch,
    _hidden_model,
)
from actlab.models import MLP

__all__ = ["JacobianSpectrum", "jacobian_spectrum", "layer_jacobian_spectrum"]


class JacobianSpectrum(NamedTuple):
    """Singular values of each example's input-output Jacobian.

    Shapes are for a batch of ``B`` examples and a Jacobian of shape ``(out, in)``, with
    ``k = min(out, in)``; ``jax.vmap`` adds leading axes.

    Attributes:
      singular_values: ``(B, k)``, in decreasing order.
      mean_sq: ``(B,)``, mean of the squared singular values, ``||J_i||_F^2 / k``.
      var_sq: ``(B,)``, their variance (population variance over the ``k`` values).
    """

    singular_values: jax.Array
    mean_sq: jax.Array
    var_sq: jax.Array


def _spectrum(fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> JacobianSpectrum:
    """Spectrum of ``d fn(x_i) / d x_i`` for each row of ``x``; ``fn`` maps ``(in,)`` to ``(out,)``."""
    out = jax.eval_shape(fn, x[0]).shape[0]
    jacobian = jax.jacfwd(fn) if x.shape[1] <= out else jax.jacrev(fn)
    values = jnp.linalg.svd(jax.vmap(jacobian)(x), compute_uv=False)
    squares = jnp.square(values)
    return JacobianSpectrum(values, jnp.mean(squares, axis=-1), jnp.var(squares, axis=-1))


@functools.partial(jax.jit, static_argnames=("graphdef", "include_readout"))
def _model_spectrum(
    graphdef: Any, state: Any, x: jax.Array, include_readout: bool
) -> JacobianSpectrum:
    model = nnx.merge(graphdef, state)

    def fn(example: jax.Array) -> jax.Array:
        h, _ = _hidden_model(model, example[None, :])
        return (model.output(h) if include_readout else h)[0]

    return _spectrum(fn, x)


def jacobian_spectrum(
    model: MLP, x: ArrayLike, *, include_readout: bool = False
) -> JacobianSpectrum:
    """Singular values of ``d h(x_i) / d x_i`` for every example of the batch.

    ``h`` is the output of the last hidden layer (``include_readout=True``: the network's output).
    The network must be a function of one example: batch norm in training mode (which mixes the
    examples) and active dropout (random) raise; call ``model.eval()`` first.

    Args:
      model: an :class:`actlab.models.MLP` with at least one hidden layer (or
        ``include_readout=True``).
      x: inputs ``(B, in_features)``.
      include_readout: differentiate the network's output instead of the last hidden layer.

    Returns:
      :class:`JacobianSpectrum`.

    Example:
      >>> model = MLP(128, [128] * 4, 1, activation="identity", init="orthogonal",
      ...             rngs=nnx.Rngs(0))
      >>> spectrum = jacobian_spectrum(model, jnp.ones((2, 128)))
      >>> bool(jnp.allclose(spectrum.singular_values, 1.0, atol=1e-4))  # isometry
      True
    """
    where = "jacobian_spectrum"
    if not isinstance(model, MLP):
        raise TypeError(f"{where}: expected an actlab.models.MLP, got {type(model).__name__}")
    if not model.widths and not include_readout:
        raise ValueError(
            f"{where}: the model has no hidden layer; pass include_readout=True for the Jacobian "
            "of its output"
        )
    if model.norm == "batch" and not all(bn.use_running_average for bn in model.norms):
        raise ValueError(
            f"{where}: batch norm in training mode couples the examples of a batch, so the "
            "network is no function of one input; call model.eval() first"
        )
    if model.dropouts is not None and not all(d.deterministic for d in model.dropouts):
        raise ValueError(f"{where}: dropout is active (random); call model.eval() first")
    x = _batch(x, model.in_features, where)
    graphdef, state = nnx.split(model)
    return _model_spectrum(graphdef, state, x, bool(include_readout))


def layer_jacobian_spectrum(
    layers: Sequence[Layer],
    x: ArrayLike,
    *,
    activation: ActivationLike,
    readout: Layer | None = None,
) -> JacobianSpectrum:
    """:func:`jacobian_spectrum` for hidden layers given as ``[(W_0, b_0), ...]`` arrays.

    Args:
      layers: hidden layers, ``W_l`` of shape ``(in, out)``, at least one unless ``readout``.
      x: inputs ``(B, in)``.
      activation: registry name or elementwise callable after every hidden layer.
      readout: optional ``(W_out, b_out)``; if given, the Jacobian of the network's output.

    Returns:
      :class:`JacobianSpectrum`.
    """
    where = "layer_jacobian_spectrum"
    act = _activation(activation, where)
    if not isinstance(layers, tuple | list):
        raise ValueError(f"{where}: layers must be a sequence of (W, b) pairs, got {layers!r:.60}")
    if not layers and readout is None:
        raise ValueError(
            f"{where}: layers is empty and there is no readout: nothing to differentiate"
        )
    x = _batch(x, None, where)
    params, width = [], x.shape[1]
    for i, layer in enumerate(layers):
        params.append(_affine(layer, width, f"layers[{i}]", where))
        width = params[-1][0].shape[1]
    final = None if readout is None else _affine(readout, width, "readout", where)

    def fn(example: jax.Array) -> jax.Array:
        h = example
        for w, b in params:
            h = act(h @ w + b)
        return h if final is None else h @ final[0] + final[1]

    return _spectrum(fn, x)
