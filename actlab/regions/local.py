r"""Local complexity: how many kinks cross a small neighbourhood of each point, in any dimension.

Humayun, Balestriero and Baraniuk (2024) measure how densely the linear regions of a network tile
the input space near a point ``x`` by a neighbourhood of radius ``r``, the cross-polytope

.. math:: V(x) = \operatorname{conv}\{x \pm r\, u_1, \dots, x \pm r\, u_k\}

on an orthonormal frame ``u_1, ..., u_k`` (the coordinate axes, ``k = d``, or ``k`` random
orthonormal directions). Its ``2k`` vertices are propagated through the network; a hidden unit of
layer ``l`` counts when its pre-activation crosses a kink among the vertices: some vertex strictly
below the kink and some strictly above (a unit that only touches a kink does not count; a unit
crossing several kinks of a multi-kink activation such as ``hard_tanh`` counts once). The local
complexity of ``x`` is the number of such units per layer and in total.

In the first layer this is exact: the hyperplane ``z_j(y) = 0`` meets the interior of ``V(x)``
exactly when ``|z_j(x)| < r \max_i |u_i \cdot w_j|`` (a linear function is extreme at vertices).
In deeper layers it is exact while no earlier kink crosses ``V(x)`` (the network is affine there,
so the vertices' images span the image of ``V(x)``); otherwise it is the paper's approximation
through the vertices.

Everything runs as one jitted program, vmapped over the points of a batch and mapped over the
batches (``lax.map``), in float32 by default, so it runs on an accelerator for many thousands of
points; it can itself be called inside ``jit`` and ``vmap`` (over networks, say).

References:
  Humayun, Balestriero and Baraniuk, "Deep networks always grok and here is why", ICML 2024.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.checks import integer, message, number, one_of, prng_key, show
from actlab.models import Layers as NetworkLayers
from actlab.models import check_layers
from actlab.regions._activation import PiecewiseLinear, resolve

__all__ = ["LocalComplexity", "local_complexity", "orthonormal_frame"]

_WHERE = "local_complexity"
_FRAMES = ("cross", "random")


class LocalComplexity(NamedTuple):
    """The local complexity of a network around each point (a pytree: it passes ``jit``/``vmap``).

    Attributes:
      per_layer: ``(..., L)`` int32, the units of hidden layer ``l`` whose kink crosses the
        neighbourhood of each point (``...``: the points' leading axes).
      total: ``(...,)`` int32, the sum over the layers.
    """

    per_layer: jax.Array
    total: jax.Array


def orthonormal_frame(
    key: jax.Array | int, dim: int, directions: int, dtype: Any = jnp.float32
) -> jax.Array:
    """A random ``(directions, dim)`` frame with orthonormal rows (QR of a Gaussian matrix,
    uniformly distributed up to the rows' signs, which a cross-polytope ignores).

    Example:
      >>> frame = orthonormal_frame(0, 5, 3)
      >>> frame.shape, bool(jnp.allclose(frame @ frame.T, jnp.eye(3), atol=1e-6))
      ((3, 5), True)
    """
    key = prng_key(key, where="orthonormal_frame")
    q, _ = jnp.linalg.qr(jax.random.normal(key, (dim, directions), dtype))
    return q.T


def _keep(array: Any) -> Any:
    """A JAX array (or tracer) as it is, anything else as a NumPy array (no early rounding)."""
    return array if isinstance(array, jax.Array) else np.asarray(array)


def _finite(name: str, array: Any) -> Any:
    """``array``, after checking that it is finite where its values are known (not traced)."""
    if not isinstance(array, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(array))):
        raise ValueError(message(name, "finite values", "NaN or inf", where=_WHERE))
    return array


def _check_points(points: Any, dim: int) -> Any:
    points = _keep(points)
    if not (
        jnp.issubdtype(points.dtype, jnp.floating) or jnp.issubdtype(points.dtype, jnp.integer)
    ):
        raise TypeError(message("points", "a real array", f"dtype {points.dtype}", where=_WHERE))
    if points.ndim == 0 or points.shape[-1] != dim or 0 in points.shape:
        raise ValueError(
            message("points", f"shape (..., {dim}), non-empty (the input dimension of layers[0])",
                    f"shape {points.shape}", where=_WHERE)
        )  # fmt: skip
    return points


def _check_frame(frame: Any, dim: int, directions: Any, dtype: Any) -> jax.Array:
    """A shared frame: ``"cross"`` (the axes) or a ``(k, dim)`` array with orthonormal rows."""
    if isinstance(frame, str):
        one_of(frame, "frame", _FRAMES, where=_WHERE)
        if directions is not None:
            raise ValueError(
                message("directions", 'None with frame="cross" (it uses all d axes)',
                        show(directions), where=_WHERE)
            )  # fmt: skip
        return jnp.eye(dim, dtype=dtype)
    if directions is not None:
        raise ValueError(
            message("directions", "None with an explicit frame (its rows are the directions)",
                    show(directions), where=_WHERE)
        )  # fmt: skip
    array = np.asarray(frame, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != dim or not 1 <= array.shape[0] <= dim:
        raise ValueError(
            message("frame", f'"cross", "random" or an array (k, {dim}) with 1 <= k <= {dim}',
                    show(frame), where=_WHERE)
        )  # fmt: skip
    gram = array @ array.T
    if not np.all(np.isfinite(gram)) or np.max(np.abs(gram - np.eye(len(gram)))) > 1e-5:
        raise ValueError(
            message("frame", "orthonormal rows (frame @ frame.T = I within 1e-5)",
                    "rows that are not orthonormal", where=_WHERE)
        )  # fmt: skip
    return jnp.asarray(array, dtype=dtype)


def _pieces(pwl: PiecewiseLinear, z: jax.Array) -> jax.Array:
    """``sigma(z)``, piece by piece (exactly the pieces the counters use)."""
    out = pwl.slopes[0] * z + pwl.intercepts[0]
    for i, kink in enumerate(pwl.kinks):
        out = jnp.where(z > kink, pwl.slopes[i + 1] * z + pwl.intercepts[i + 1], out)
    return out


def _crossed(pwl: PiecewiseLinear, z: jax.Array) -> jax.Array:
    """Per unit, whether some kink lies strictly between the least and the greatest of its
    pre-activations at the vertices: ``z`` ``(2k, n)`` -> ``(n,)`` bool."""
    low, high = jnp.min(z, axis=0), jnp.max(z, axis=0)
    crossed = jnp.zeros(z.shape[1], bool)
    for kink in pwl.kinks:
        crossed |= (low < kink) & (high > kink)
    return crossed


def _one_point(layers, x: jax.Array, frame: jax.Array, radius: float, pwl: PiecewiseLinear):
    """Crossing units per layer at one point ``x`` ``(d,)`` with frame ``(k, d)``: ``(L,)``."""
    (w, b), rest = layers[0], layers[1:]
    # first layer: z(x +- r u_i) = z(x) +- r (u_i @ W), without forming the vertices
    step = radius * (frame @ w)
    z = (x @ w + b)[None] + jnp.concatenate([step, -step])
    counts = [jnp.sum(_crossed(pwl, z), dtype=jnp.int32)]
    for w, b in rest:
        z = _pieces(pwl, z) @ w + b[None]
        counts.append(jnp.sum(_crossed(pwl, z), dtype=jnp.int32))
    return jnp.stack(counts)


@functools.partial(jax.jit, static_argnames=("pwl", "batch", "random", "directions"))
def _per_layer(layers, points, frame, key, radius, *, pwl, batch, random, directions):
    """``(n, L)`` counts for ``points`` ``(n, d)``, ``n`` a multiple of ``batch``."""
    n, dim = points.shape

    def one(x, point_key):
        if random:
            u = orthonormal_frame(point_key, dim, directions, x.dtype)
        else:
            u = frame
        return _one_point(layers, x, u, radius, pwl)

    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n))
    blocks = lax.map(
        lambda args: jax.vmap(one)(*args), (points.reshape(-1, batch, dim), keys.reshape(-1, batch))
    )
    return blocks.reshape(n, len(layers))


def local_complexity(
    layers: NetworkLayers,
    points: ArrayLike,
    *,
    radius: float,
    frame: str | ArrayLike = "cross",
    directions: int | None = None,
    key: jax.Array | int = 0,
    activation: A.ActivationLike = "relu",
    dtype: Any = jnp.float32,
    batch: int | None = None,
) -> LocalComplexity:
    """Per point, the hidden units whose kink crosses a cross-polytope of radius ``radius``.

    Args:
      layers: hidden layers ``[(W, b), ...]``, ``W`` of shape ``(in, out)``, ``y = x @ W + b``,
        each followed by the activation (NumPy or JAX arrays, traced ones included).
      points: ``(..., d)`` centres with ``d = W[0].shape[0]``.
      radius: the neighbourhood's radius ``r > 0``: its vertices are ``x +- r u_i`` (a traced
        scalar too, under ``jit`` or ``vmap``; its sign is then not checked).
      frame: the directions ``u_i``: ``"cross"``, the ``d`` coordinate axes; ``"random"``, a
        random orthonormal frame of ``directions`` vectors for each point (point ``i`` of the
        flattened points gets ``orthonormal_frame(jax.random.fold_in(key, i), d, directions, dtype)``); or
        a ``(k, d)`` array with orthonormal rows shared by all points.
      directions: with ``frame="random"``, the number ``k`` of directions, ``1 <= k <= d``
        (default ``d``); ``2k`` vertices per point.
      key: with ``frame="random"``, a ``jax.random`` key or an ``int`` seed.
      activation: a piecewise-linear activation: a name, :func:`actlab.activations.get` of one,
        or a learnable module computing one (see :mod:`actlab.regions`).
      dtype: ``jnp.float32`` (default) or ``jnp.float64`` (computed with float64 enabled).
      batch: points per vmapped block (memory: about ``batch * 2k * width`` floats); default:
        about ``2**18`` such floats on a CPU (cache-sized blocks), ``2**27`` on an accelerator.

    Returns:
      A :class:`LocalComplexity`: ``per_layer`` ``(..., L)`` and ``total`` ``(...,)``, int32.

    Raises:
      ValueError: points of another dimension, ``radius <= 0``, a bad frame, a
        non-piecewise-linear activation (``TypeError`` for an object with no registry
        activation behind it).

    Example:
      >>> from actlab import regions
      >>> layers = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]
      >>> lc = regions.local_complexity(layers, [[0.05, 0.5], [0.5, 0.45]], radius=0.1)
      >>> lc.per_layer.tolist(), lc.total.tolist()  # x = 0 near the first, x + y = 1 near both
      ([[1], [1]], [1, 1])
    """
    checked = check_layers(layers, where=_WHERE, convert=_keep)
    for l, (w, b) in enumerate(checked):
        _finite(f"layers[{l}] W", w)
        _finite(f"layers[{l}] b", b)
    pwl = resolve(activation)
    dim = int(np.shape(checked[0][0])[0])
    points = _finite("points", _check_points(points, dim))
    if isinstance(radius, jax.core.Tracer):  # under jit or vmap: only its shape is known
        if radius.shape != ():
            raise ValueError(message("radius", "a scalar", f"shape {radius.shape}", where=_WHERE))
    else:
        radius = number(radius, "radius", low=0.0, low_open=True, where=_WHERE)
    dtype = jnp.dtype(one_of(jnp.dtype(dtype), "dtype", (jnp.dtype(jnp.float32),
                                                         jnp.dtype(jnp.float64)), where=_WHERE))  # fmt: skip
    random = isinstance(frame, str) and frame == "random"
    if random:
        directions = dim if directions is None else directions
        directions = integer(directions, "directions", minimum=1, where=_WHERE)
        if directions > dim:
            raise ValueError(
                message("directions", f"an int in [1, {dim}] (the input dimension)",
                        show(directions), where=_WHERE)
            )  # fmt: skip
    with jax.enable_x64(True) if dtype == jnp.float64 else contextlib.nullcontext():
        if random:
            frame_array = jnp.zeros((1, dim), dtype)  # unused: each point draws its own
        else:
            frame_array = _check_frame(frame, dim, directions, dtype)
        key = prng_key(key, where=_WHERE)
        lead = points.shape[:-1]
        flat = jnp.asarray(points, dtype).reshape(-1, dim)
        n = flat.shape[0]
        if batch is None:  # a block's pre-activations: about 1 MB on a CPU (cache), 512 MB else
            vertices = 2 * (directions if random else frame_array.shape[0])
            size = vertices * max(int(np.shape(w)[1]) for w, _ in checked)
            budget = 2**18 if jax.default_backend() == "cpu" else 2**27
            batch = max(1, budget // size)
        batch = min(integer(batch, "batch", minimum=1, where=_WHERE), n)
        padded = -(-n // batch) * batch
        if padded > n:  # copies of the first point, dropped again below
            flat = jnp.concatenate([flat, jnp.broadcast_to(flat[:1], (padded - n, dim))])
        per_layer = _per_layer(
            tuple((jnp.asarray(w, dtype), jnp.asarray(b, dtype)) for w, b in checked),
            flat,
            frame_array,
            key,
            jnp.asarray(radius, dtype),
            pwl=pwl,
            batch=batch,
            random=random,
            directions=directions if random else None,
        )[:n].reshape(*lead, len(checked))
    return LocalComplexity(per_layer=per_layer, total=jnp.sum(per_layer, axis=-1))
