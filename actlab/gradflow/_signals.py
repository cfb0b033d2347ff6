r"""Forward and backward signals and gradient norms of an MLP on one batch.

Hidden layers are ``l = 0 .. L-1`` (0-based here and in the arrays), with pre-activations
``z^l`` (what the activation receives: ``h^{l-1} @ W_l + b_l``, after normalisation if the MLP has
any), ``h^{-1} = x``, then an affine read-out. The batch has ``B`` examples and the loss is the
batch mean of a per-example loss, ``L = (1/B) sum_i l_i`` (true of every ``actlab.train`` loss).

* **Forward signal** ``q[l] = mean_{i, j} (z^l_ij)^2``: mean squared pre-activation over examples
  and units, the finite-width counterpart of the mean-field length-map iterate
  (:func:`actlab.gradflow.length_map`).
* **Backward signal** ``delta^l_i = dl_i / dz^l_i = B dL/dz^l_i``, the gradient of example ``i``'s
  own loss with respect to its pre-activations (independent of the batch size), and
  ``delta_norm[l] = sqrt(mean_i ||delta^l_i||^2)``: its root mean square over the batch, so
  ``delta_norm[l]^2`` is the backward signal. Mean-field theory (Schoenholz et al. 2017) predicts
  ``delta_norm[l]^2 = chi_1(q[l]) delta_norm[l+1]^2``, so the layer-to-layer ratio
  ``delta_ratio[l] = (delta_norm[l] / delta_norm[l+1])^2`` estimates ``chi_1``
  (:func:`actlab.gradflow.chi1`).
* **Weight gradients** ``weight_grad_norm[l] = ||dL/dW_l||_F`` (hidden kernels) and
  ``readout_grad_norm = ||dL/dW_out||_F``.
* **Global norm** ``global_grad_norm = sqrt(sum over all trainable parameters of ||dL/dp||^2)``,
  equal to ``optax.tree.norm(grads)`` (formerly ``optax.global_norm``): the norm that
  ``optax.clip_by_global_norm`` compares with its threshold, and the ``grad_norm`` that
  :func:`actlab.train.fit` records.

Norms are taken after dividing by the largest magnitude, so gradients far below ``1e-19`` (the
square root of float32's smallest normal number), common in deep sigmoid networks, do not
underflow when squared; ``delta_norm`` is reported rather than its square for the same reason.

Two entry points, with the same definitions and norms:

* :func:`signals` for a network: an :class:`actlab.models.MLP` (any activation, normalisation,
  dropout, in its current train or eval mode; the model is not modified), or ``(W, b)`` hidden
  layers with an activation and a read-out;
* :func:`stack_signals` for stacked equal-width layers ``(L, n, n)``, run as one ``lax.scan``,
  with a possibly traced ``depth`` (layers from ``depth`` on are the exact identity, so one
  compiled function serves every depth) and :func:`actlab.activations.switch` to choose the
  activation by a traced index: a sweep over activations, depths and seeds is then one ``vmap``. It
  differentiates with respect to the pre-activations only and derives the parameter-gradient
  norms from them (``dL/dW_l = h_{l-1}^T dL/dz_l``), so many networks sharing one set of weights
  under ``vmap`` never materialise a weight gradient each.

All are pure functions of arrays: they run under ``jax.jit``, ``jax.vmap`` (over seeds, say)
and ``jax.grad``.

References:
  Schoenholz, Gilmer, Ganguli, Sohl-Dickstein. Deep information propagation. ICLR 2017.
  Pennington, Schoenholz, Ganguli. Resurrecting the sigmoid in deep learning through dynamical
  isometry. NeurIPS 2017.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.checks import floating_batch, message
from actlab.models import Network, check_layers, check_readout, forward, is_mlp
from actlab.train import losses

__all__ = ["Signals", "signals", "stack_signals"]


class Signals(NamedTuple):
    """Per-layer signals of one network on one batch (see the module docstring for definitions).

    Shapes are for one network with ``L`` hidden layers; ``jax.vmap`` adds leading axes. In
    :func:`stack_signals` with ``depth < L``, entries of layers ``>= depth`` (which do not exist in
    the depth-``depth`` network) are NaN.

    Attributes:
      loss: ``()``, the batch loss ``L``.
      q: ``(L,)``, mean squared pre-activation of each hidden layer.
      delta_norm: ``(L,)``, root mean square over the batch of ``||dl_i / dz^l_i||``.
      delta_ratio: ``(L - 1,)``, ``(delta_norm[l] / delta_norm[l + 1]) ** 2``: the per-layer
        factor of the backward signal, ``chi_1`` in mean-field theory (``(0,)`` if ``L <= 1``).
      weight_grad_norm: ``(L,)``, Frobenius norm of ``dL/dW_l`` for each hidden kernel.
      readout_grad_norm: ``()``, Frobenius norm of ``dL/dW_out``.
      global_grad_norm: ``()``, ``optax.tree.norm`` of the gradient of every trainable
        parameter (kernels, biases, normalisation and activation parameters).
    """

    loss: jax.Array
    q: jax.Array
    delta_norm: jax.Array
    delta_ratio: jax.Array
    weight_grad_norm: jax.Array
    readout_grad_norm: jax.Array
    global_grad_norm: jax.Array


# ----------------------------------------------------------------------------- helpers


def _norm(x: jax.Array) -> jax.Array:
    """``sqrt(sum(x ** 2))`` without underflow: computed as ``m sqrt(sum((x / m) ** 2))``."""
    scale = jnp.max(jnp.abs(x))
    safe = jnp.where(scale > 0, scale, jnp.ones_like(scale))
    return scale * jnp.sqrt(jnp.sum(jnp.square(x / safe)))


def _rms_example_norm(grad: jax.Array) -> jax.Array:
    """``sqrt(mean_i ||B grad_i||^2)`` for ``grad = dL/dz`` of shape ``(B, n)``."""
    batch = grad.shape[0]
    return _norm(grad) * jnp.sqrt(jnp.asarray(batch, grad.dtype))


def _product_norm(h: jax.Array, g: jax.Array) -> jax.Array:
    """``||h^T g||_F`` for ``h (B, m)``, ``g (B, n)``: a weight gradient's norm from its factors.

    Uses ``||h^T g||_F^2 = sum((h h^T) * (g g^T))`` (``B x B`` Gram matrices) when that is cheaper
    than the ``m x n`` product; both factors are first divided by their largest magnitude.
    """
    batch, m = h.shape
    n = g.shape[1]
    h_scale, g_scale = jnp.max(jnp.abs(h)), jnp.max(jnp.abs(g))
    h = h / jnp.where(h_scale > 0, h_scale, jnp.ones_like(h_scale))
    g = g / jnp.where(g_scale > 0, g_scale, jnp.ones_like(g_scale))
    if batch * (m + n) < m * n:
        square = jnp.sum((h @ h.T) * (g @ g.T))
    else:
        square = jnp.sum(jnp.square(h.T @ g))
    return h_scale * g_scale * jnp.sqrt(jnp.maximum(square, 0.0))


def _ratios(norms: jax.Array) -> jax.Array:
    """``(norms[l] / norms[l + 1]) ** 2``, shape ``(L - 1,)``."""
    return jnp.square(norms[:-1] / norms[1:])


def _assemble(
    loss: jax.Array,
    zs: Sequence[jax.Array],
    delta_grads: Sequence[jax.Array],
    kernel_grads: Sequence[jax.Array],
    readout_grad: jax.Array,
    all_grads: Any,
) -> Signals:
    """``Signals`` from per-layer pre-activations and gradients, and the full gradient tree."""

    def stack(values: list[jax.Array]) -> jax.Array:
        return jnp.stack(values) if values else jnp.zeros((0,), loss.dtype)

    delta = stack([_rms_example_norm(g) for g in delta_grads])
    return Signals(
        loss=loss,
        q=stack([jnp.mean(jnp.square(z)) for z in zs]),
        delta_norm=delta,
        delta_ratio=_ratios(delta),
        weight_grad_norm=stack([_norm(g) for g in kernel_grads]),
        readout_grad_norm=_norm(readout_grad),
        global_grad_norm=optax.tree.norm(all_grads),
    )


# ----------------------------------------------------------------------------- networks


def _zeros_like_preactivations(trace: Any, *args: Any) -> list[jax.Array]:
    """Zero perturbations shaped and typed like the pre-activations (half precision stays half)."""
    shapes = jax.eval_shape(lambda *a: trace(*a).preactivations, *args)
    return [jnp.zeros(s.shape, s.dtype) for s in shapes]


@functools.partial(jax.jit, static_argnames=("graphdef", "loss"))
def _model_signals(
    graphdef: Any, params: Any, rest: Any, x: jax.Array, y: jax.Array, loss: losses.Loss
) -> Signals:
    loss_fn = losses.resolve(loss)

    def trace(p: Any, e: list[jax.Array] | None = None) -> Any:
        # fresh Variables for the other state, owned by this trace (as actlab.train does): batch
        # norm in training mode updates its statistics on this copy, never on the caller's model
        return nnx.merge(graphdef, p, jax.tree.map(lambda a: a, rest)).trace(x, perturb=e)

    def objective(p: Any, e: list[jax.Array]) -> tuple[jax.Array, tuple[jax.Array, ...]]:
        t = trace(p, e)
        return loss_fn(t.output, y)[0], t.preactivations

    eps = _zeros_like_preactivations(trace, params)
    (value, zs), (grads, delta_grads) = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)(
        params, eps
    )
    kernels = [grads["hidden"][i]["kernel"][...] for i in range(len(eps))]
    return _assemble(value, zs, delta_grads, kernels, grads["output"]["kernel"][...], grads)


def _layer_signals(
    layers: list, readout: tuple, activation: Any, x: jax.Array, y: jax.Array, loss: losses.Loss
) -> Signals:
    loss_fn = losses.resolve(loss)

    def trace(p: list, e: list[jax.Array] | None = None) -> Any:
        return forward(p[:-1], x, activation=activation, readout=p[-1], perturb=e)

    def objective(p: list, e: list[jax.Array]) -> tuple[jax.Array, tuple[jax.Array, ...]]:
        t = trace(p, e)
        return loss_fn(t.output, y)[0], t.preactivations

    params = [*layers, readout]
    eps = _zeros_like_preactivations(trace, params)
    (value, zs), (grads, delta_grads) = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)(
        params, eps
    )
    return _assemble(value, zs, delta_grads, [w for w, _ in grads[:-1]], grads[-1][0], grads)


def signals(
    network: Network,
    x: ArrayLike,
    y: ArrayLike,
    *,
    activation: Any = None,
    readout: tuple[ArrayLike, ArrayLike] | None = None,
    loss: losses.Loss = "mse",
) -> Signals:
    """Forward and backward signals and gradient norms of a network on the batch ``(x, y)``.

    An MLP is evaluated as it is (train or eval mode; with dropout active the masks are drawn
    from a copy of its random state) and is not modified: batch-norm statistics and random
    streams of the caller's model stay as they were; its gradients are with respect to every
    ``nnx.Param``, as in :func:`actlab.train.fit`. Layers given as arrays compute
    ``h = act(h @ W_l + b_l)`` and then the read-out; their gradients are with respect to every
    kernel and bias, read-out included.

    Args:
      network: an :class:`actlab.models.MLP`, or hidden layers ``[(W_0, b_0), ...]`` with ``W_l``
        of shape ``(in, out)`` (as :func:`actlab.models.hidden_layers` returns; may be empty).
      x: inputs, ``(B, in_features)``, ``B >= 1``.
      y: targets as the loss expects them (see :mod:`actlab.train.losses`).
      activation: only with layers: the activation after every layer (or one per layer).
      readout: only with layers: ``(W_out, b_out)`` (as :func:`actlab.models.output_layer`).
      loss: a loss name or callable (:mod:`actlab.train.losses`) that averages a per-example loss
        over the batch.

    Returns:
      :class:`Signals` with ``L`` = the number of hidden layers.

    Raises:
      TypeError: ``network`` neither an MLP nor layers. ValueError: ``x`` not
      ``(B, in_features)``, layers that do not chain, targets that do not fit the loss, an
      unknown loss name, an activation or read-out given with an MLP (or missing with layers).

    Example:
      >>> from actlab.models import MLP
      >>> model = MLP(64, [64] * 5, 1, activation="relu", init="he", rngs=nnx.Rngs(0))
      >>> x = jax.random.normal(jax.random.key(1), (32, 64))
      >>> s = signals(model, x, jnp.zeros(32))
      >>> s.q.shape, s.delta_ratio.shape  # 5 hidden layers
      ((5,), (4,))
      >>> layers = [(jnp.eye(64), jnp.zeros(64))] * 3
      >>> signals(layers, x, jnp.zeros(32), activation="tanh",
      ...         readout=(jnp.ones((64, 1)) / 8, jnp.zeros(1))).delta_norm.shape
      (3,)
    """
    where = "signals"
    losses.resolve(loss)
    if is_mlp(network, activation=activation, readout=readout, where=where):
        x = floating_batch(x, features=network.in_features, where=where)
        graphdef, params, rest = nnx.split(network, nnx.Param, ...)
        return _model_signals(graphdef, params, rest, x, jnp.asarray(y), loss)
    x = floating_batch(x, where=where)
    layers = check_layers(network, where=where, inputs=x.shape[1], allow_empty=True)
    for name, value in (("activation", activation), ("readout", readout)):
        if value is None:
            raise ValueError(message(name, f"the {name} of the (W, b) layers", "None", where=where))
    width = layers[-1][0].shape[1] if layers else x.shape[1]
    out = check_readout(readout, inputs=width, where=where)
    return _layer_signals(list(layers), out, activation, x, jnp.asarray(y), loss)


# ----------------------------------------------------------------------------- stacked layers


def stack_signals(
    weights: ArrayLike,
    biases: ArrayLike,
    readout: tuple[ArrayLike, ArrayLike],
    x: ArrayLike,
    y: ArrayLike,
    *,
    activation: A.ActivationLike,
    depth: ArrayLike | None = None,
    weight_scale: ArrayLike = 1.0,
    loss: losses.Loss = "mse",
) -> Signals:
    r""":func:`signals` for ``L`` equal-width layers, as one ``lax.scan`` with a traced depth.

    Layer ``l`` computes ``z = weight_scale * (h @ weights[l]) + biases[l]``, ``h = act(z)`` for
    ``l < depth``; layers ``l >= depth`` pass ``h`` through unchanged (exactly: a select, not a
    multiplication), so the result is that of the network made of the first ``depth`` layers and
    the read-out, and its entries for layers ``>= depth`` are NaN. ``depth`` and
    ``weight_scale`` may be traced, and ``activation`` may come from :func:`actlab.activations.switch`
    with a traced index: vmapping over them compiles one program for every depth, scale and
    activation (a masked layer still costs its matrix product).

    Args:
      weights: ``(L, n, n)`` kernels (unit-scale weights if ``weight_scale`` is used).
      biases: ``(L, n)``.
      readout: ``(W_out (n, out), b_out (out,))``.
      x: inputs ``(B, n)``; y: targets for ``loss``.
      activation: an activation (see :func:`actlab.activations.resolve`), e.g. one chosen by
        a traced index with :func:`actlab.activations.switch`.
      depth: number of layers used, ``0 <= depth <= L`` (checked when concrete); ``None``: all.
      weight_scale: scalar multiplying every hidden layer's product ``h @ W`` (the effective
        kernel is ``weight_scale * W``: one draw of unit-variance weights serves every
        ``sigma_w``, even under ``vmap``, without scaled copies). ``weight_grad_norm`` and
        ``global_grad_norm`` are with respect to the effective kernels. Must be nonzero.
      loss: as in :func:`signals`.

    Returns:
      :class:`Signals` with arrays of length ``L`` (``L - 1`` for ``delta_ratio``).

    Example:
      >>> w = jax.random.normal(jax.random.key(0), (50, 64, 64)) / 8  # N(0, 1/n)
      >>> readout = (jax.random.normal(jax.random.key(1), (64, 1)) / 8, jnp.zeros(1))
      >>> x, y = jax.random.normal(jax.random.key(2), (16, 64)), jnp.zeros(16)
      >>> run = jax.jit(lambda d: stack_signals(w, jnp.zeros((50, 64)), readout, x, y,
      ...                                       activation="relu", depth=d, weight_scale=2**0.5))
      >>> [int(jnp.sum(~jnp.isnan(run(d).q))) for d in (3, 50)]  # one compilation
      [3, 50]
    """
    where = "stack_signals"
    act = A.resolve(activation, where=where)
    weights, biases = jnp.asarray(weights), jnp.asarray(biases)
    if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(
            message("weights", "shape (L, n, n)", f"shape {weights.shape}", where=where)
        )
    n_layers, width = weights.shape[:2]
    if biases.shape != (n_layers, width):
        raise ValueError(
            message("biases", f"shape (L, n) = ({n_layers}, {width})", f"shape {biases.shape}",
                    where=where)
        )  # fmt: skip
    x = floating_batch(x, features=width, where=where)
    w_out, b_out = check_readout(readout, inputs=width, where=where)
    if depth is not None:
        if isinstance(depth, numbers.Integral) and not isinstance(depth, bool):
            if not 0 <= depth <= n_layers:
                raise ValueError(
                    message("depth", f"an int in [0, {n_layers}]", str(depth), where=where)
                )
        depth = jnp.asarray(depth)
        if depth.shape != () or not jnp.issubdtype(depth.dtype, jnp.integer):
            raise ValueError(
                message("depth", "an integer scalar", f"{depth.dtype}{depth.shape}", where=where)
            )
    scale = jnp.asarray(weight_scale)
    if scale.shape != ():
        raise ValueError(message("weight_scale", "a scalar", f"shape {scale.shape}", where=where))
    loss_fn = losses.resolve(loss)
    dtype = jnp.result_type(x, weights)
    eps = jnp.zeros((n_layers, x.shape[0], width), dtype)
    eps_out = jnp.zeros((x.shape[0], w_out.shape[1]), jnp.result_type(dtype, w_out))

    # Gradients with respect to perturbations of the pre-activations and of the output only: the
    # parameter gradients follow from them (dL/dW_l = h_{l-1}^T dL/dz_l, dL/db_l = sum_i
    # dL/dz_l,i), whose norms need no (n, n) array per network -- under vmap over many networks
    # sharing one draw of weights, materialising them would dominate time and memory.
    def objective(e: jax.Array, e_out: jax.Array) -> tuple[jax.Array, tuple]:
        def layer(h: jax.Array, inputs: tuple) -> tuple[jax.Array, tuple]:
            w_l, b_l, e_l, l = inputs
            z = scale * (h @ w_l) + b_l[None, :] + e_l
            new = act(z)
            return (new if depth is None else jnp.where(l < depth, new, h)), (z, h)

        h, (zs, inputs) = jax.lax.scan(layer, x, (weights, biases, e, jnp.arange(n_layers)))
        return loss_fn(h @ w_out + b_out[None, :] + e_out, y)[0], (zs, inputs, h)

    (value, (zs, inputs, last)), (delta_grads, out_grad) = jax.value_and_grad(
        objective, argnums=(0, 1), has_aux=True
    )(eps, eps_out)
    # norms with respect to the effective kernels weight_scale * W
    kernel_norms = jax.vmap(_product_norm)(inputs, delta_grads)
    bias_norms = jax.vmap(_norm)(jnp.sum(delta_grads, axis=1))
    readout_norm = _product_norm(last, out_grad)
    parts = jnp.concatenate(
        [kernel_norms, bias_norms, jnp.stack([readout_norm, _norm(out_grad.sum(0))])]
    )
    delta = jax.vmap(_rms_example_norm)(delta_grads)
    result = Signals(
        loss=value,
        q=jnp.mean(jnp.square(zs), axis=(1, 2)),
        delta_norm=delta,
        delta_ratio=_ratios(delta),
        weight_grad_norm=kernel_norms,
        readout_grad_norm=readout_norm,
        global_grad_norm=_norm(parts),
    )
    if depth is None:
        return result
    valid = jnp.arange(n_layers) < depth
    nan = jnp.asarray(np.nan, result.q.dtype)
    return result._replace(
        q=jnp.where(valid, result.q, nan),
        delta_norm=jnp.where(valid, result.delta_norm, nan),
        delta_ratio=jnp.where(valid[1:], result.delta_ratio, nan),
        weight_grad_norm=jnp.where(valid, result.weight_grad_norm, nan),
    )
