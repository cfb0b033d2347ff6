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
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.models import MLP
from actlab.train import Ensemble

__all__ = ["SATURATION_THRESHOLD", "UnitStats", "ensemble_unit_stats", "unit_stats"]

SATURATION_THRESHOLD = 0.01
"""Default bound on ``|phi'(z)|`` below which a unit counts as saturated."""

Layers = Sequence[tuple[ArrayLike, ArrayLike]]
ActivationLike = str | Callable[[jax.Array], jax.Array]


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


def _concrete(name: str, value: Any) -> float | None:
    """``value`` as a float, or ``None`` when it is traced (no value to check)."""
    try:
        return float(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None
    except (TypeError, ValueError):
        raise ValueError(f"unit_stats: {name} must be a number, got {value!r}") from None


def _check_level(name: str, value: Any, *, positive: bool) -> None:
    """``ValueError`` unless a concrete ``value`` is a finite number (``> 0`` or ``>= 0``)."""
    if np.ndim(value) != 0:
        raise ValueError(f"unit_stats: {name} must be a scalar, got shape {np.shape(value)}")
    v = _concrete(name, value)
    if v is None:
        return
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"unit_stats: {name} must be a finite number {bound}, got {value!r}")


def _check_batch(x: ArrayLike, in_features: int) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"unit_stats: x must be floating point, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != in_features:
        raise ValueError(
            f"unit_stats: x must be a batch of shape (batch >= 1, {in_features}), got {x.shape}"
        )
    return x


def _activation(act: Any, where: str) -> Callable[[jax.Array], jax.Array]:
    if isinstance(act, str):
        if not A.spec(act).elementwise:  # ValueError listing the names if unknown
            raise ValueError(f"unit_stats: {where} must be elementwise, got {act!r}")
        return A.get(act)
    if not callable(act):
        raise TypeError(
            f"unit_stats: {where} must be a registry name or an elementwise callable, "
            f"got {type(act).__name__}"
        )
    return act


def _check_layers(layers: Any, activation: Any) -> tuple[list, list]:
    """The layers as ``[(W, b)]`` arrays and one activation per layer; errors say what is wrong."""
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence) or not layers:
        raise ValueError(
            "unit_stats: network must be an actlab.models.MLP or a non-empty sequence of "
            f"(W, b) hidden layers, got {type(layers).__name__}"
        )
    checked, fan_in = [], None
    for i, pair in enumerate(layers):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"unit_stats: layers[{i}] must be a pair (W, b), got {pair!r:.60}")
        w, b = jnp.asarray(pair[0]), jnp.asarray(pair[1])
        if w.ndim != 2 or b.shape != (w.shape[1],) or 0 in w.shape:
            raise ValueError(
                f"unit_stats: layers[{i}] must be W of shape (in, out) and b of shape (out,), "
                f"got W {w.shape} and b {b.shape}"
            )
        if fan_in is not None and w.shape[0] != fan_in:
            raise ValueError(
                f"unit_stats: layers[{i}] has W of shape {w.shape}, but the previous layer has "
                f"{fan_in} units"
            )
        checked.append((w, b))
        fan_in = w.shape[1]
    if activation is None:
        raise ValueError("unit_stats: pass activation=... with a list of (W, b) layers")
    if isinstance(activation, Sequence) and not isinstance(activation, str):
        if len(activation) != len(checked):
            raise ValueError(
                f"unit_stats: {len(activation)} activations for {len(checked)} layers; pass one "
                "per layer, or a single one for all"
            )
        acts = [_activation(a, f"activation[{i}]") for i, a in enumerate(activation)]
    else:
        acts = [_activation(activation, "activation")] * len(checked)
    return checked, acts


# ----------------------------------------------------------------------------- forward passes


def _layer_stats(
    z: jax.Array, act: Callable[[jax.Array], jax.Array], threshold: Any, zero_tol: Any
) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """``phi(z)`` and the six statistics of one layer; ``z`` of shape ``(batch, units)``."""
    h, slope = jax.jvp(act, (z,), (jnp.ones_like(z),))
    zero_out = jnp.abs(h) <= jnp.asarray(zero_tol, h.dtype)
    stats = (
        jnp.mean(jnp.all(z <= 0, axis=0)),
        jnp.mean(jnp.all(slope == 0, axis=0)),
        jnp.mean(zero_out),  # every example has the same units: the mean of per-example means
        jnp.mean(jnp.abs(slope.astype(jnp.float32)) < threshold),
        jnp.mean(jnp.all(zero_out, axis=1)),
        jnp.mean(z == 0),
    )
    return h, tuple(s.astype(jnp.float32) for s in stats)


def _stack(per_layer: list[tuple[jax.Array, ...]]) -> UnitStats:
    return UnitStats(*(jnp.stack(column) for column in zip(*per_layer, strict=True)))


def _mlp_stats(model: MLP, x: jax.Array, threshold: Any, zero_tol: Any) -> UnitStats:
    """The MLP's hidden layers as it computes them (normalisation included, dropout left out).

    Mirrors the hidden part of ``MLP.__call__`` (a test pins it to ``hidden_layers``).
    """
    # a copy with fresh variables: batch norm in training mode updates its statistics
    graphdef, state = nnx.split(model)
    model = nnx.merge(graphdef, jax.tree.map(lambda a: a, state))
    per_layer, h = [], x
    for i, layer in enumerate(model.hidden):
        z = layer(h)
        if model.norms is not None:
            z = model.norms[i](z)
        act = model.activations[i] if model.activations is not None else model.activation
        h, stats = _layer_stats(z, act, threshold, zero_tol)
        per_layer.append(stats)
    return _stack(per_layer)


def _layers_stats(
    layers: list, acts: list, x: jax.Array, threshold: Any, zero_tol: Any
) -> UnitStats:
    per_layer, h = [], x
    for (w, b), act in zip(layers, acts, strict=True):
        h, stats = _layer_stats(h @ w + b[None, :], act, threshold, zero_tol)
        per_layer.append(stats)
    return _stack(per_layer)


def unit_stats(
    network: MLP | Layers,
    x: ArrayLike,
    *,
    activation: ActivationLike | Sequence[ActivationLike] | None = None,
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
      activation: only with a list of layers: a registry name or an elementwise callable for
        every layer, or a sequence of them, one per layer.
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
    _check_level("saturation_threshold", saturation_threshold, positive=True)
    _check_level("zero_tol", zero_tol, positive=False)
    if isinstance(network, MLP):
        if activation is not None:
            raise ValueError(
                "unit_stats: activation=... is only for a list of (W, b) layers; an MLP uses "
                "its own activation"
            )
        if not network.widths:
            raise ValueError("unit_stats: the MLP has no hidden layer (widths is empty)")
        x = _check_batch(x, network.in_features)
        return _mlp_stats(network, x, saturation_threshold, zero_tol)
    if isinstance(network, nnx.Module):
        raise TypeError(
            f"unit_stats: expected an actlab.models.MLP or (W, b) layers, got "
            f"{type(network).__name__}"
        )
    layers, acts = _check_layers(network, activation)
    x = _check_batch(x, layers[0][0].shape[0])
    return _layers_stats(layers, acts, x, saturation_threshold, zero_tol)


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
    if not isinstance(ensemble, Ensemble):
        raise TypeError(
            f"ensemble_unit_stats: expected an actlab.train.Ensemble, got {type(ensemble).__name__}"
        )
    one = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), (ensemble.params, ensemble.rest)
    )
    model = nnx.merge(ensemble.graphdef, *one)  # abstract: no arrays sliced
    if not isinstance(model, MLP) or not model.widths:
        raise ValueError("ensemble_unit_stats: the members must be MLPs with a hidden layer")
    _check_level("saturation_threshold", saturation_threshold, positive=True)
    _check_level("zero_tol", zero_tol, positive=False)
    x = _check_batch(x, model.in_features)
    threshold = np.float32(saturation_threshold)
    return _members_stats(
        ensemble.graphdef, ensemble.params, ensemble.rest, x, threshold, np.float32(zero_tol)
    )
