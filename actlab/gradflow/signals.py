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

Three entry points, with the same definitions and norms:

* :func:`signals` for an :class:`actlab.models.MLP` (any activation, normalisation, dropout, in
  its current train or eval mode; the model is not modified);
* :func:`layer_signals` for a list of ``(W, b)`` hidden layers, an activation and a read-out;
* :func:`stack_signals` for stacked equal-width layers ``(L, n, n)``, run as one ``lax.scan``,
  with a possibly traced ``depth`` (layers from ``depth`` on are the exact identity, so one
  compiled function serves every depth) and :func:`switch_activation` to choose the activation by
  a traced index: a sweep over activations, depths and seeds is then a single ``vmap``. It
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
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.models import MLP
from actlab.train import LossArg, _loss_fn

__all__ = [
    "Layer",
    "Signals",
    "layer_signals",
    "signals",
    "stack_signals",
    "switch_activation",
]

Layer = tuple[ArrayLike, ArrayLike]
"""One affine map ``(W, b)``: ``W`` of shape ``(in, out)``, ``b`` of shape ``(out,)``."""

ActivationLike = str | Callable[[jax.Array], jax.Array]


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


def _batch(x: ArrayLike, features: int | None, where: str) -> jax.Array:
    """``x`` as a ``(B, features)`` array with ``B >= 1``, or a ValueError saying what it got."""
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0 or (features is not None and x.shape[1] != features):
        expected = f"(batch, {features})" if features is not None else "(batch, features)"
        raise ValueError(
            f"{where}: x must be a non-empty batch of shape {expected}, got shape {x.shape}"
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"{where}: x must have a floating dtype, got {x.dtype}")
    return x


def _activation(activation: ActivationLike, where: str) -> Callable[[jax.Array], jax.Array]:
    if isinstance(activation, str):
        return A.get(activation)  # ValueError listing the names
    if not callable(activation):
        raise TypeError(
            f"{where}: activation must be a registry name or a callable, "
            f"got {type(activation).__name__} {activation!r}"
        )
    return activation


def _affine(layer: Any, d_in: int, name: str, where: str) -> tuple[jax.Array, jax.Array]:
    """``layer`` as ``(W (d_in, out), b (out,))``, or a ValueError naming ``name``."""
    if not isinstance(layer, tuple | list) or len(layer) != 2:
        raise ValueError(f"{where}: {name} must be a pair (W, b), got {type(layer).__name__}")
    w, b = jnp.asarray(layer[0]), jnp.asarray(layer[1])
    if w.ndim != 2 or w.shape[0] != d_in or b.shape != w.shape[1:]:
        raise ValueError(
            f"{where}: {name} must be (W, b) with W of shape ({d_in}, out) and b of shape "
            f"(out,), got W {w.shape} and b {b.shape}"
        )
    return w, b


def switch_activation(
    activations: Sequence[ActivationLike], index: ArrayLike
) -> Callable[[jax.Array], jax.Array]:
    """The activation ``activations[index]``, chosen by a (possibly traced) integer.

    With a traced ``index`` the result applies ``jax.lax.switch``, so a function of the activation
    can be vmapped over activations: one compiled program serves them all (under ``vmap`` every
    branch is computed and the right one selected, exactly). ``lax.switch`` clamps an index
    outside ``[0, len(activations))`` to the nearest end; a concrete index is checked instead.

    Args:
      activations: registry names or elementwise callables, at least one.
      index: integer scalar, Python or traced.

    Returns:
      A callable ``z -> activations[index](z)``.

    Example:
      >>> act = switch_activation(("relu", "tanh"), jnp.int32(1))
      >>> float(act(jnp.float32(0.5)))  # tanh(0.5)
      0.46211...
    """
    fns = tuple(_activation(a, "switch_activation") for a in activations)
    if not fns:
        raise ValueError("switch_activation: activations must hold at least one activation")
    if isinstance(index, numbers.Integral) and not isinstance(index, bool):
        if not 0 <= index < len(fns):
            raise ValueError(f"switch_activation: index must be in [0, {len(fns)}), got {index}")
        return fns[int(index)]
    index = jnp.asarray(index)
    if index.shape != () or not jnp.issubdtype(index.dtype, jnp.integer):
        raise ValueError(
            f"switch_activation: index must be an integer scalar, got {index.dtype}{index.shape}"
        )
    return lambda z: jax.lax.switch(index, fns, z)


# ----------------------------------------------------------------------------- shared core


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


# ----------------------------------------------------------------------------- MLP


def _hidden_model(
    model: MLP, x: jax.Array, eps: Sequence[jax.Array] | None = None
) -> tuple[jax.Array, list[jax.Array]]:
    """``MLP.__call__`` up to the read-out, adding ``eps[l]`` to each pre-activation.

    Returns the last hidden layer's output and the pre-activations. Mirrors ``MLP.__call__``
    (linear, norm, activation, dropout); a test pins the two to the same outputs.
    """
    h, zs = x, []
    for i, layer in enumerate(model.hidden):
        z = layer(h)
        if model.norms is not None:
            z = model.norms[i](z)
        if eps is not None:
            z = z + eps[i]
        zs.append(z)
        h = model.activations[i](z) if model.activations is not None else model.activation(z)
        if model.dropouts is not None:
            h = model.dropouts[i](h)
    return h, zs


@functools.partial(jax.jit, static_argnames=("graphdef", "loss"))
def _model_signals(
    graphdef: Any, params: Any, rest: Any, x: jax.Array, y: jax.Array, loss: LossArg
) -> Signals:
    loss_fn = _loss_fn(loss)

    def merged(p: Any) -> MLP:
        # fresh Variables for the other state, owned by this trace (as actlab.train does): batch
        # norm in training mode updates its statistics on this copy, never on the caller's model
        return nnx.merge(graphdef, p, jax.tree.map(lambda a: a, rest))

    # zero perturbations shaped and typed like the pre-activations (half precision stays half)
    shapes = jax.eval_shape(lambda p: _hidden_model(merged(p), x)[1], params)
    eps = [jnp.zeros(s.shape, s.dtype) for s in shapes]

    def objective(p: Any, e: list[jax.Array]) -> tuple[jax.Array, list[jax.Array]]:
        model = merged(p)
        h, zs = _hidden_model(model, x, e)
        value, _ = loss_fn(model.output(h), y)
        return value, zs

    (value, zs), (grads, delta_grads) = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)(
        params, eps
    )
    kernels = [grads["hidden"][i]["kernel"][...] for i in range(len(eps))]
    return _assemble(value, zs, delta_grads, kernels, grads["output"]["kernel"][...], grads)


def signals(model: MLP, x: ArrayLike, y: ArrayLike, *, loss: LossArg = "mse") -> Signals:
    """Forward and backward signals and gradient norms of an MLP on the batch ``(x, y)``.

    The model is evaluated as it is (train or eval mode; with dropout active the masks are drawn
    from a copy of its random state) and is not modified: batch-norm statistics and random
    streams of the caller's model stay as they were. The gradients are with respect to every
    ``nnx.Param``, as in :func:`actlab.train.fit`.

    Args:
      model: an :class:`actlab.models.MLP`.
      x: inputs, ``(B, in_features)``, ``B >= 1``.
      y: targets as the loss expects them (see ``actlab.train.LOSSES``).
      loss: ``"mse"``, ``"sigmoid_binary_cross_entropy"``, ``"softmax_cross_entropy"`` or a callable
        ``loss(outputs, y) -> scalar`` that averages a per-example loss over the batch.

    Returns:
      :class:`Signals` with ``L = len(model.widths)``.

    Raises:
      TypeError: ``model`` is not an MLP. ValueError: ``x`` not ``(B, in_features)``, targets
        that do not fit the loss, an unknown loss name.

    Example:
      >>> model = MLP(64, [64] * 5, 1, activation="relu", init="he", rngs=nnx.Rngs(0))
      >>> x = jax.random.normal(jax.random.key(1), (32, 64))
      >>> s = signals(model, x, jnp.zeros(32))
      >>> s.q.shape, s.delta_ratio.shape  # 5 hidden layers
      ((5,), (4,))
    """
    if not isinstance(model, MLP):
        raise TypeError(f"signals: expected an actlab.models.MLP, got {type(model).__name__}")
    x = _batch(x, model.in_features, "signals")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return _model_signals(graphdef, params, rest, x, jnp.asarray(y), loss)


# ----------------------------------------------------------------------------- functional


def layer_signals(
    layers: Sequence[Layer],
    readout: Layer,
    x: ArrayLike,
    y: ArrayLike,
    *,
    activation: ActivationLike,
    loss: LossArg = "mse",
) -> Signals:
    """:func:`signals` for a network given as arrays: ``h = act(h @ W_l + b_l)``, then a read-out.

    Args:
      layers: hidden layers ``[(W_0, b_0), ...]``, ``W_l`` of shape ``(in, out)`` (the layout of
        :func:`actlab.models.hidden_layers`); may be empty.
      readout: ``(W_out, b_out)`` (as :func:`actlab.models.output_layer` returns).
      x: inputs ``(B, in)``; y: targets for ``loss``.
      activation: registry name or elementwise callable, applied after every hidden layer.
      loss: as in :func:`signals`.

    Returns:
      :class:`Signals`; ``global_grad_norm`` covers every kernel and bias, read-out included.

    Example:
      >>> keys = jax.random.split(jax.random.key(0), 4)
      >>> layers = [(jax.random.normal(k, (64, 64)) / 8, jnp.zeros(64)) for k in keys[:3]]
      >>> readout = (jax.random.normal(keys[3], (64, 1)) / 8, jnp.zeros(1))
      >>> x = jax.random.normal(jax.random.key(1), (16, 64))
      >>> layer_signals(layers, readout, x, jnp.zeros(16), activation="tanh").delta_norm.shape
      (3,)
    """
    where = "layer_signals"
    act = _activation(activation, where)
    if not isinstance(layers, tuple | list):
        raise ValueError(f"{where}: layers must be a sequence of (W, b) pairs, got {layers!r:.60}")
    x = _batch(x, None, where)
    params, width = [], x.shape[1]
    for i, layer in enumerate(layers):
        params.append(_affine(layer, width, f"layers[{i}]", where))
        width = params[-1][0].shape[1]
    params.append(_affine(readout, width, "readout", where))
    loss_fn = _loss_fn(loss)
    eps = [jnp.zeros((x.shape[0], w.shape[1]), jnp.result_type(x, w)) for w, _ in params[:-1]]

    def objective(p: list, e: list) -> tuple[jax.Array, list[jax.Array]]:
        h, zs = x, []
        for (w, b), e_l in zip(p[:-1], e, strict=True):
            z = h @ w + b[None, :] + e_l
            zs.append(z)
            h = act(z)
        w, b = p[-1]
        return loss_fn(h @ w + b[None, :], y)[0], zs

    (value, zs), (grads, delta_grads) = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)(
        params, eps
    )
    kernels = [w for w, _ in grads[:-1]]
    return _assemble(value, zs, delta_grads, kernels, grads[-1][0], grads)


def stack_signals(
    weights: ArrayLike,
    biases: ArrayLike,
    readout: Layer,
    x: ArrayLike,
    y: ArrayLike,
    *,
    activation: ActivationLike,
    depth: ArrayLike | None = None,
    weight_scale: ArrayLike = 1.0,
    loss: LossArg = "mse",
) -> Signals:
    r""":func:`layer_signals` for ``L`` equal-width layers, as one ``lax.scan`` with a traced depth.

    Layer ``l`` computes ``z = weight_scale * (h @ weights[l]) + biases[l]``, ``h = act(z)`` for
    ``l < depth``; layers ``l >= depth`` pass ``h`` through unchanged (exactly: a select, not a
    multiplication), so the result is that of the network made of the first ``depth`` layers and
    the read-out, and its entries for layers ``>= depth`` are NaN. ``depth`` and
    ``weight_scale`` may be traced, and ``activation`` may come from :func:`switch_activation`
    with a traced index: vmapping over them compiles one program for every depth, scale and
    activation (a masked layer still costs its matrix product).

    Args:
      weights: ``(L, n, n)`` kernels (unit-scale weights if ``weight_scale`` is used).
      biases: ``(L, n)``.
      readout: ``(W_out (n, out), b_out (out,))``.
      x: inputs ``(B, n)``; y: targets for ``loss``.
      activation: registry name or callable (e.g. :func:`switch_activation`).
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
    act = _activation(activation, where)
    weights, biases = jnp.asarray(weights), jnp.asarray(biases)
    if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(f"{where}: weights must have shape (L, n, n), got {weights.shape}")
    n_layers, width = weights.shape[:2]
    if biases.shape != (n_layers, width):
        raise ValueError(
            f"{where}: biases must have shape (L, n) = ({n_layers}, {width}), got {biases.shape}"
        )
    x = _batch(x, width, where)
    w_out, b_out = _affine(readout, width, "readout", where)
    if depth is not None:
        if isinstance(depth, numbers.Integral) and not isinstance(depth, bool):
            if not 0 <= depth <= n_layers:
                raise ValueError(f"{where}: depth must be in [0, {n_layers}], got {depth}")
        depth = jnp.asarray(depth)
        if depth.shape != () or not jnp.issubdtype(depth.dtype, jnp.integer):
            raise ValueError(
                f"{where}: depth must be an integer scalar, got {depth.dtype}{depth.shape}"
            )
    scale = jnp.asarray(weight_scale)
    if scale.shape != ():
        raise ValueError(f"{where}: weight_scale must be a scalar, got shape {scale.shape}")
    loss_fn = _loss_fn(loss)
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
