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
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from actlab.checks import floating_batch, message
from actlab.models import Network, check_layers, forward, is_mlp

__all__ = ["JacobianSpectrum", "jacobian_spectrum"]


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
        trace = model.trace(example[None, :])
        return (trace.output if include_readout else trace.activations[-1])[0]

    return _spectrum(fn, x)


def jacobian_spectrum(
    network: Network,
    x: ArrayLike,
    *,
    activation: Any = None,
    readout: tuple[ArrayLike, ArrayLike] | None = None,
    include_readout: bool = False,
) -> JacobianSpectrum:
    """Singular values of ``d h(x_i) / d x_i`` for every example of the batch.

    ``h`` is the output of the last hidden layer (``include_readout=True``: the network's output).
    An MLP must be a function of one example: batch norm in training mode (which mixes the
    examples) and active dropout (random) raise; call ``model.eval()`` first.

    Args:
      network: an :class:`actlab.models.MLP`, or hidden layers ``[(W_0, b_0), ...]`` (``W_l`` of
        shape ``(in, out)``).
      x: inputs ``(B, in_features)``.
      activation: only with layers: the activation after every layer (or one per layer).
      readout: only with layers: ``(W_out, b_out)``, needed for ``include_readout``.
      include_readout: differentiate the network's output instead of the last hidden layer.

    Returns:
      :class:`JacobianSpectrum`.

    Example:
      >>> from actlab.models import MLP
      >>> model = MLP(128, [128] * 4, 1, activation="identity", init="orthogonal",
      ...             rngs=nnx.Rngs(0))
      >>> spectrum = jacobian_spectrum(model, jnp.ones((2, 128)))
      >>> bool(jnp.allclose(spectrum.singular_values, 1.0, atol=1e-4))  # isometry
      True
    """
    where = "jacobian_spectrum"
    include_readout = bool(include_readout)
    if is_mlp(network, activation=activation, readout=readout, where=where):
        if not network.widths and not include_readout:
            raise ValueError(
                message("network", "at least one hidden layer, or include_readout=True",
                        "an MLP without hidden layers", where=where)
            )  # fmt: skip
        if network.norm == "batch" and not all(bn.use_running_average for bn in network.norms):
            raise ValueError(
                message("network", "a function of one example: call model.eval() first",
                        "batch norm in training mode, which couples the examples of a batch",
                        where=where)
            )  # fmt: skip
        if network.dropouts is not None and not all(d.deterministic for d in network.dropouts):
            raise ValueError(
                message("network", "a deterministic network: call model.eval() first",
                        "active dropout", where=where)
            )  # fmt: skip
        x = floating_batch(x, features=network.in_features, where=where)
        graphdef, state = nnx.split(network)
        return _model_spectrum(graphdef, state, x, include_readout)
    x = floating_batch(x, where=where)
    layers = check_layers(network, where=where, inputs=x.shape[1], allow_empty=include_readout)
    if include_readout and readout is None:
        raise ValueError(message("readout", "(W_out, b_out) with include_readout=True", "None",
                                 where=where))  # fmt: skip
    if activation is None:
        raise ValueError(message("activation", "the activation of the (W, b) layers", "None",
                                 where=where))  # fmt: skip

    def fn(example: jax.Array) -> jax.Array:
        out = readout if include_readout else None
        trace = forward(layers, example, activation=activation, readout=out)
        return trace.output

    return _spectrum(fn, x)
