r"""Unit-level measurements of a network on a batch: dead units, sparsity, saturation, kinks.

For a network with hidden layers ``z^l = h^{l-1} @ W_l + b_l``, ``h^l = phi_l(z^l)`` (``h^0 = x``)
and a batch of ``B`` inputs, :func:`unit_stats` reports per hidden layer:

* ``dead``: the fraction of units that are never active over the batch, i.e. ``z_j <= 0`` for
  every example (a unit is *on* when its pre-activation is ``> 0``, the convention of
  :mod:`actlab.regions`). A dead ReLU outputs 0 and passes no gradient for any example.
* ``zero_grad``: the fraction of units with ``phi'(z_j) == 0`` for every example: units that pass
  no gradient back at all. For ReLU these are the dead units (give or take pre-activations that
  are exactly 0 when ``grad_at_zero > 0``); leaky ReLU, PReLU with a non-zero slope and ELU have
  none, even when they are never on.
* ``sparsity``: the fraction of units whose output is exactly zero (``|h_j| <= zero_tol``, with
  ``zero_tol = 0`` by default), per example, averaged over the batch.
* ``saturation``: the fraction of units with ``|phi'(z_j)| < saturation_threshold`` per example,
  averaged over the batch. It is meant for bounded activations (tanh, sigmoid, hard_tanh, ...),
  whose derivative vanishes in both tails; for ReLU it counts the units that are off.
* ``silent``: the fraction of examples for which every unit of the layer outputs zero: the layer
  passes nothing forward for them (a network with zero biases is constant on such an example).
* ``zero_preactivation``: the fraction of (example, unit) pairs with ``z_j == 0`` exactly: where
  the derivative chosen at the kink (``relu``'s ``grad_at_zero``) enters back-propagation.

``phi'`` is the activation's own derivative (``jax.jvp``), so at a kink it is the registry's
documented choice. The default ``saturation_threshold = 0.01`` means ``|z| > 2.99`` for tanh
(``1 - tanh^2 < 0.01``), ``|z| > 4.60`` for sigmoid (whose largest slope is 1/4) and ``|z| > 1``
for hard_tanh.

Everything is a pure function of arrays: it works under ``jax.jit`` and ``jax.vmap`` (over seeds,
say), and :func:`ensemble_unit_stats` measures every member of a trained
:class:`actlab.train.Ensemble` in one compiled call.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from actlab.models import MLP
    >>> x = jax.random.normal(jax.random.key(0), (256, 8))
    >>> stats = unit_stats(MLP(8, [32, 32], 1, rngs=nnx.Rngs(0)), x)
    >>> stats.sparsity.shape  # one value per hidden layer; about half the ReLUs are off
    (2,)
    >>> per_seed = jax.vmap(lambda k: unit_stats(MLP(8, [32, 32], 1, rngs=nnx.Rngs(k)), x))(
    ...     jax.random.split(jax.random.key(1), 16))
    >>> per_seed.dead.shape  # (seeds, layers)
    (16, 2)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from actlab.checks import floating_batch, message, number
from actlab.models import MLP, Network, check_layers, forward, is_mlp, layer_activations
from actlab.train import Ensemble

__all__ = ["SATURATION_THRESHOLD", "UnitStats", "ensemble_unit_stats", "unit_stats"]

SATURATION_THRESHOLD = 0.01
"""Default bound on ``|phi'(z)|`` below which a unit counts as saturated."""


class UnitStats(NamedTuple):
    """Per-layer statistics of the hidden units of one network on one batch.

    Every field is a float32 array of fractions in ``[0, 1]`` with shape ``(L,)`` for ``L`` hidden
    layers, first layer first; under ``jax.vmap`` (over seeds, say) or from
    :func:`ensemble_unit_stats` a leading axis is added: ``(seeds, L)``. See the module docstring
    for the definitions.

    Attributes:
      dead: fraction of units never active over the batch (``z <= 0`` for every example).
      zero_grad: fraction of units with ``phi'(z) == 0`` for every example (no gradient passes).
      sparsity: fraction of outputs ``|phi(z)| <= zero_tol`` per example, averaged over examples.
      saturation: fraction of units with ``|phi'(z)| < saturation_threshold`` per example,
        averaged over examples.
      silent: fraction of examples for which the whole layer outputs zero.
      zero_preactivation: fraction of (example, unit) pairs with ``z == 0`` exactly.
    """

    dead: jax.Array
    zero_grad: jax.Array
    sparsity: jax.Array
    saturation: jax.Array
    silent: jax.Array
    zero_preactivation: jax.Array


# ----------------------------------------------------------------------------- checks


def _check_level(name: str, value: Any, *, positive: bool, where: str) -> None:
    """``ValueError`` unless ``value`` is a finite number ``> 0`` (``>= 0``); a traced value has
    nothing to check."""
    if np.ndim(value) != 0:
        raise ValueError(message(name, "a scalar", f"shape {np.shape(value)}", where=where))
    try:
        np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return  # traced: nothing to check
    number(value, name, low=0.0, low_open=positive, where=where)


# ----------------------------------------------------------------------------- statistics


def _layer_stats(
    z: jax.Array, h: jax.Array, act: Callable[[jax.Array], jax.Array], threshold: Any,
    zero_tol: Any,
) -> tuple[jax.Array, ...]:  # fmt: skip
    """The six statistics of one layer; ``z``, ``h = act(z)`` of shape ``(batch, units)``."""
    _, slope = jax.jvp(act, (z,), (jnp.ones_like(z),))
    zero_out = jnp.abs(h) <= jnp.asarray(zero_tol, h.dtype)
    stats = (
        jnp.mean(jnp.all(z <= 0, axis=0)),
        jnp.mean(jnp.all(slope == 0, axis=0)),
        jnp.mean(zero_out),  # every example has the same units: the mean of per-example means
        jnp.mean(jnp.abs(slope.astype(jnp.float32)) < threshold),
        jnp.mean(jnp.all(zero_out, axis=1)),
        jnp.mean(z == 0),
    )
    return tuple(s.astype(jnp.float32) for s in stats)


def _stats(trace: Any, acts: Sequence[Callable], threshold: Any, zero_tol: Any) -> UnitStats:
    per_layer = [
        _layer_stats(z, h, act, threshold, zero_tol)
        for z, h, act in zip(trace.preactivations, trace.activations, acts, strict=True)
    ]
    return UnitStats(*(jnp.stack(column) for column in zip(*per_layer, strict=True)))


def _mlp_stats(model: MLP, x: jax.Array, threshold: Any, zero_tol: Any) -> UnitStats:
    """The MLP's hidden layers as it computes them (normalisation included, dropout left out)."""
    # a copy with fresh variables: batch norm in training mode updates its statistics
    graphdef, state = nnx.split(model)
    model = nnx.merge(graphdef, jax.tree.map(lambda a: a, state))
    for dropout in model.dropouts or ():
        dropout.deterministic = True
    acts = [model.layer_activation(l) for l in range(len(model.widths))]
    return _stats(model.trace(x), acts, threshold, zero_tol)


def unit_stats(
    network: Network,
    x: ArrayLike,
    *,
    activation: Any = None,
    saturation_threshold: float = SATURATION_THRESHOLD,
    zero_tol: float = 0.0,
) -> UnitStats:
    r"""Dead units, sparsity, saturation and exact kink hits of every hidden layer on a batch.

    Args:
      network: an :class:`actlab.models.MLP` with at least one hidden layer, measured as it
        computes (normalisation in its current train/eval mode, without changing its batch
        statistics; dropout is left out); or hidden layers ``[(W_1, b_1), ...]`` with ``W_l`` of
        shape ``(in, out)`` (as :func:`actlab.models.hidden_layers` returns), each followed by
        ``activation``.
      x: inputs, shape ``(batch, in_features)``, floating point.
      activation: only with layers: an elementwise activation for every layer (see
        :func:`actlab.activations.resolve`), or a sequence of them, one per layer.
      saturation_threshold: a unit is saturated where ``|phi'(z)| <`` this (default 0.01).
      zero_tol: an output counts as zero where ``|phi(z)| <=`` this (default 0: exact zeros).

    Returns:
      A :class:`UnitStats` of ``(L,)`` float32 arrays, one entry per hidden layer.

    Raises:
      ValueError: an empty network, layers that do not chain, ``x`` of the wrong shape, an
        activation given with an MLP (or missing with layers), or a bad threshold.

    Example::

        >>> layers = [(jnp.eye(2), jnp.array([0.0, -5.0]))]  # unit 1 is off on [-1, 1]^2
        >>> x = jnp.array([[0.5, 1.0], [-0.5, -1.0]])
        >>> s = unit_stats(layers, x, activation="relu")
        >>> s.dead, s.sparsity
        (Array([0.5], dtype=float32), Array([0.75], dtype=float32))
    """
    where = "unit_stats"
    _check_level("saturation_threshold", saturation_threshold, positive=True, where=where)
    _check_level("zero_tol", zero_tol, positive=False, where=where)
    if is_mlp(network, activation=activation, where=where):
        if not network.widths:
            raise ValueError(
                message("network", "an MLP with a hidden layer", "widths=()", where=where)
            )
        x = floating_batch(x, features=network.in_features, where=where)
        return _mlp_stats(network, x, saturation_threshold, zero_tol)
    layers = check_layers(network, where=where)
    acts = layer_activations(activation, len(layers), where=where)
    x = floating_batch(x, features=np.shape(layers[0][0])[0], where=where)
    trace = forward(layers, x, activation=list(acts))
    return _stats(trace, acts, saturation_threshold, zero_tol)


@functools.partial(jax.jit, static_argnames=("graphdef",))
def _members_stats(
    graphdef: Any, params: Any, rest: Any, x: jax.Array, threshold: Any, zero_tol: Any
) -> UnitStats:
    def one(p: Any, r: Any) -> UnitStats:
        return _mlp_stats(nnx.merge(graphdef, p, r), x, threshold, zero_tol)

    return jax.vmap(one)(params, rest)


def ensemble_unit_stats(
    ensemble: Ensemble,
    x: ArrayLike,
    *,
    saturation_threshold: float = SATURATION_THRESHOLD,
    zero_tol: float = 0.0,
) -> UnitStats:
    """:func:`unit_stats` of every member of an ensemble of MLPs, as one compiled call.

    Members are measured in training mode (as :func:`actlab.train.fit_ensemble` computes them:
    batch norm with batch statistics), without dropout. Compiled once per graph definition and
    shapes; thresholds are traced, so changing them does not recompile.

    Args:
      ensemble: from :func:`actlab.train.init_ensemble` or :func:`actlab.train.fit_ensemble`,
        of :class:`actlab.models.MLP` members with at least one hidden layer.
      x: inputs, shape ``(batch, in_features)``.
      saturation_threshold: as in :func:`unit_stats`.
      zero_tol: as in :func:`unit_stats`.

    Returns:
      A :class:`UnitStats` whose fields have shape ``(members, L)``.
    """
    where = "ensemble_unit_stats"
    if not isinstance(ensemble, Ensemble):
        raise TypeError(
            message("ensemble", "an actlab.train.Ensemble", type(ensemble).__name__, where=where)
        )
    one = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), (ensemble.params, ensemble.rest)
    )
    model = nnx.merge(ensemble.graphdef, *one)  # abstract: no arrays sliced
    if not isinstance(model, MLP) or not model.widths:
        raise ValueError(
            message("ensemble", "members that are MLPs with a hidden layer",
                    type(model).__name__, where=where)
        )  # fmt: skip
    _check_level("saturation_threshold", saturation_threshold, positive=True, where=where)
    _check_level("zero_tol", zero_tol, positive=False, where=where)
    x = floating_batch(x, features=model.in_features, where=where)
    threshold = np.float32(saturation_threshold)
    return _members_stats(
        ensemble.graphdef, ensemble.params, ensemble.rest, x, threshold, np.float32(zero_tol)
    )
