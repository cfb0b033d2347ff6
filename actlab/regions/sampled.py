r"""Lower bounds on the number of activation regions: distinct patterns among sample points.

Any input dimension. Each point's activation pattern (the piece index of every unit) is reduced to
a 64-bit hash, :math:`\sum_i p_i r_i \bmod 2^{64}` with fixed random odd multipliers ``r_i``, on
the device, in float64 (enabled locally), in batches; the distinct hashes are counted after a sort.
Two different patterns share a hash with probability about :math:`2^{-64}`, and a shared hash can
only lower the count, so the result stays a lower bound.

Points within rounding of a region boundary are skipped: their pattern could be that of a region
without interior. A point is on a boundary when some pre-activation that varies there is within
``rtol * (|h| |W_{:, i}| + |b_i|)`` of a kink; "varies" means a non-zero derivative along a fixed
random direction (one forward-mode pass), so units that sit on a kink throughout a region (say,
all their inputs off and a zero bias) skip nothing. Every counted pattern is then the pattern of
a region with non-empty interior, so ``count_sampled <= count_plane`` (or ``count_line``) for
points in the same box.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from actlab import activations as A
from actlab.checks import integer, message, number
from actlab.models import Layers as NetworkLayers
from actlab.regions._activation import PiecewiseLinear, resolve
from actlab.regions._padding import pad_layers
from actlab.regions._validate import check_box, check_layers

__all__ = ["count_sampled", "grid_points", "uniform_points"]


def _constants(dim: int, widths: Sequence[int]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """A fixed random unit direction in the input space and fixed random odd 64-bit multipliers,
    one per unit (deterministic)."""
    rng = np.random.default_rng(0x5EED)
    direction = rng.normal(size=dim)
    multipliers = tuple(
        rng.integers(0, 2**64, size=width, dtype=np.uint64, endpoint=False) | np.uint64(1)
        for width in widths
    )
    return direction / np.linalg.norm(direction), multipliers


@functools.partial(jax.jit, static_argnames=("pwl", "rtol", "batch"))
def _distinct(layers, multipliers, direction, points, *, pwl: PiecewiseLinear, rtol, batch):
    """Number of distinct pattern hashes among points not on a boundary, and whether all points
    were finite."""
    dim = points.shape[1]

    def hashes(x):  # (batch, dim) -> (batch,) uint64, (batch,) bool
        key, clear = jnp.zeros(x.shape[0], jnp.uint64), jnp.ones(x.shape[0], bool)
        h, dh = x, jnp.broadcast_to(direction[None], x.shape)
        for (weight, bias), multiplier in zip(layers, multipliers, strict=True):
            z, dz = h @ weight + bias[None], dh @ weight
            column = jnp.linalg.norm(weight, axis=0)[None]
            tol = rtol * (jnp.linalg.norm(h, axis=1, keepdims=True) * column + jnp.abs(bias)[None])
            varies = jnp.abs(dz) > rtol * jnp.linalg.norm(dh, axis=1, keepdims=True) * column
            slope = jnp.full(z.shape, pwl.slopes[0], z.dtype)
            intercept = jnp.full(z.shape, pwl.intercepts[0], z.dtype)
            piece = jnp.zeros(z.shape, jnp.uint64)
            for i, kink in enumerate(pwl.kinks):
                above = z > kink
                clear &= ~jnp.any((jnp.abs(z - kink) <= tol) & varies, axis=1)
                piece += above.astype(jnp.uint64)
                slope = jnp.where(above, pwl.slopes[i + 1], slope)
                intercept = jnp.where(above, pwl.intercepts[i + 1], intercept)
            key += jnp.sum(piece * multiplier[None], axis=1, dtype=jnp.uint64)
            h, dh = slope * z + intercept, slope * dz
        return key, clear

    keys, clear = lax.map(hashes, points.reshape(-1, batch, dim))
    keys, clear = keys.reshape(-1), clear.reshape(-1)
    # skipped points take the key of a counted point, which changes nothing
    keys = jnp.sort(jnp.where(clear, keys, keys[jnp.argmax(clear)]))
    distinct = 1 + jnp.sum(keys[1:] != keys[:-1])
    return jnp.where(jnp.any(clear), distinct, 0), jnp.all(jnp.isfinite(points))


def _pad_points(points: jax.Array, size: int) -> jax.Array:
    extra = size - points.shape[0]
    return points if extra == 0 else jnp.concatenate([points, jnp.repeat(points[:1], extra, 0)])


def count_sampled(
    layers: NetworkLayers,
    points: np.ndarray | jax.Array,
    *,
    activation: A.ActivationLike = "relu",
    rtol: float = 1e-11,
    batch: int | None = None,
) -> int:
    """Number of distinct activation patterns among ``points``: a lower bound on the regions.

    Args:
      layers: hidden layers ``[(W, b), ...]``, ``W`` of shape ``(in, out)``, ``y = x @ W + b``,
        each followed by the activation.
      points: ``(n, d)`` sample points with ``d = W[0].shape[0]`` (NumPy or JAX; a JAX array
        stays on its device). See :func:`grid_points` and :func:`uniform_points`.
      activation: a piecewise-linear activation (see :func:`actlab.regions.count_lines`).
      rtol: points this close (relatively) to a boundary are skipped (module docstring).
      batch: points per batch (memory: a few ``batch * width`` floats); default 4096 on a CPU
        (cache-sized), ``2**20`` on an accelerator.

    Returns:
      The number of distinct patterns, an ``int`` (0 if every point was skipped).

    Example:
      >>> layers = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]
      >>> count_sampled(layers, grid_points(((-2, 3), (-2, 3)), 64))  # x = 0, y = 0, x + y = 1
      7
    """
    checked = check_layers(layers)
    pwl = resolve(activation)
    dim = checked[0][0].shape[0]
    if len(np.shape(points)) != 2 or np.shape(points)[1] != dim or np.shape(points)[0] == 0:
        raise ValueError(
            message("points", f"shape (n, {dim}) with n >= 1 (input dimension of layers[0])",
                    f"shape {np.shape(points)}")
        )  # fmt: skip
    if batch is None:
        batch = 4096 if jax.default_backend() == "cpu" else 2**20
    batch = integer(batch, "batch", minimum=1)
    # pad with copies of the first point (which changes no count) to a multiple of the batch;
    # small inputs get power-of-two sizes, so few shapes are compiled
    n = np.shape(points)[0]
    batch = min(batch, 1 << (n - 1).bit_length())
    padded = -(-n // batch) * batch
    direction, multipliers = _constants(dim, [weight.shape[1] for weight, _ in checked])
    # widths padded to a few shapes (one compilation serves many networks): a padded unit is in
    # piece 0 everywhere, which adds nothing to the hash
    padded_layers = pad_layers(checked, pwl, inputs=False)
    multipliers = tuple(
        np.pad(m, (0, w.shape[1] - m.size), constant_values=1)
        for m, (w, _) in zip(multipliers, padded_layers, strict=True)
    )
    with jax.enable_x64(True):
        count, finite = _distinct(
            tuple((jnp.asarray(w), jnp.asarray(b)) for w, b in padded_layers),
            tuple(jnp.asarray(m) for m in multipliers),
            jnp.asarray(direction),
            _pad_points(jnp.asarray(points, dtype=jnp.float64), padded),
            pwl=pwl,
            rtol=number(rtol, "rtol", low=0.0, low_open=True),
            batch=batch,
        )
        count, finite = int(count), bool(finite)
    if not finite:
        raise ValueError(message("points", "finite values", "NaN or inf"))
    return count


def grid_points(
    bounds: Sequence[tuple[float, float]], resolution: int | Sequence[int]
) -> np.ndarray:
    """Centres of the cells of a regular grid over a box (never on the box's boundary).

    Args:
      bounds: ``((lo_1, hi_1), ..., (lo_d, hi_d))`` with ``lo < hi``.
      resolution: cells per axis, one ``int`` for all axes or one per axis.

    Returns:
      ``(prod(resolution), d)`` float64 points, the last axis varying fastest.

    Example:
      >>> grid_points(((0, 1), (0, 2)), 2).tolist()
      [[0.25, 0.5], [0.25, 1.5], [0.75, 0.5], [0.75, 1.5]]
    """
    box = check_box("bounds", bounds)
    cells = np.broadcast_to(np.asarray(resolution), (box.shape[0],))
    if cells.dtype.kind not in "iu" or np.any(cells < 1):
        raise ValueError(message("resolution", "positive integers", repr(resolution)))
    axes = [
        lo + (np.arange(k) + 0.5) * (hi - lo) / k for (lo, hi), k in zip(box, cells, strict=True)
    ]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, box.shape[0])


def uniform_points(key: jax.Array, bounds: Sequence[tuple[float, float]], n: int) -> np.ndarray:
    """``n`` points drawn uniformly from a box, with an explicit PRNG key.

    Args:
      key: a ``jax.random`` key.
      bounds: ``((lo_1, hi_1), ..., (lo_d, hi_d))`` with ``lo < hi``.
      n: number of points, ``>= 1``.

    Returns:
      ``(n, d)`` float64 points.

    Example:
      >>> uniform_points(jax.random.key(0), ((0, 1), (0, 1)), 5).shape
      (5, 2)
    """
    box = check_box("bounds", bounds)
    n = integer(n, "n", minimum=1)
    with jax.enable_x64(True):
        unit = np.asarray(jax.random.uniform(key, (n, box.shape[0]), dtype=jnp.float64))
    return box[:, 0] + unit * (box[:, 1] - box[:, 0])
