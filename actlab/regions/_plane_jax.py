"""The dense part of each layer of the plane partition as jitted JAX, for a GPU.

For a large network the partition's time goes to arrays of every polygon by every unit: the maps
``C`` and companions ``M`` of the layer's pre-activations on every polygon (a gather of the
parent's maps, the activation's slopes, a matrix product) and the test of every line against
every polygon's enclosing disc (:class:`actlab.regions._polygons.NumpyLayer` does the same on
the host, and is the reference). :class:`JaxLayer` computes them on JAX's default device in
float64; the cutting itself, which touches only the few polygons each line crosses, stays on
the host. The arithmetic is the same, so the decisions are the same up to the order of the
matrix product's sums (ulps, far inside the tolerance); the tests check that the counts agree.

Rows are padded to a few sizes (:func:`rows_bucket`), so a partition compiles a handful of
programs per layer shape, cached across calls.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from actlab.checks import one_of
from actlab.regions._polygons import NumpyLayer
from actlab.regions._validate import Layers

BACKENDS = ("auto", "numpy", "jax")
AUTO_UNITS = 256
"""``backend="auto"`` runs JAX on a GPU for networks of at least this many hidden units."""


def rows_bucket(rows: int) -> int:
    """Padded row count: a power of two (at least 64), or above 4096 the next multiple of an
    eighth of one (at most an eighth more work)."""
    if rows <= 4096:
        return max(64, 1 << (rows - 1).bit_length())
    step = 1 << ((rows - 1).bit_length() - 3)
    return -(-rows // step) * step


def _pad_rows(array: np.ndarray, rows: int) -> np.ndarray:
    if len(array) == rows:
        return array
    out = np.zeros((rows, *array.shape[1:]), array.dtype)
    out[: len(array)] = array
    return out


@functools.partial(jax.jit, static_argnames=("rtol", "slopes", "intercepts"))
def _layer(
    coef, scale, parent, piece, weight, bias, item, center, radius, spread, kinks, *,
    rtol, slopes, intercepts,
):  # fmt: skip
    """:class:`NumpyLayer` in JAX (shapes as there, rows padded; ``piece`` ``None`` for the
    first layer)."""
    maps, maps_scale = coef[parent], scale[parent]
    if piece is not None:
        slope = jnp.asarray(slopes)[piece][:, None, :]
        maps, maps_scale = maps * slope, maps_scale * jnp.abs(slope)
        if any(intercepts):
            intercept = jnp.asarray(intercepts)[piece]
            maps = maps.at[:, 2].add(intercept)
            maps_scale = maps_scale.at[:, 2].add(jnp.abs(intercept))
    rows, _, fan_in = maps.shape
    if weight.shape[0] == 1:
        coef = (maps.reshape(-1, fan_in) @ weight[0]).reshape(rows, 3, -1)
        scale = (maps_scale.reshape(-1, fan_in) @ jnp.abs(weight[0])).reshape(rows, 3, -1)
        shift = bias[0]
    else:
        coef = jnp.einsum("pkn,pnm->pkm", maps, weight[item])
        scale = jnp.einsum("pkn,pnm->pkm", maps_scale, jnp.abs(weight[item]))
        shift = bias[item]
    coef = coef.at[:, 2].add(shift)
    scale = scale.at[:, 2].add(jnp.abs(shift))
    s, t, r = center[:, :1], center[:, 1:], radius[:, None]
    z_center = coef[:, 2] + s * coef[:, 0] + t * coef[:, 1]
    rim = r + spread[:, None]
    reach = r * jnp.sqrt(coef[:, 0] * coef[:, 0] + coef[:, 1] * coef[:, 1])
    reach = reach + (rtol * (jnp.abs(s) + rim)) * scale[:, 0]
    reach = reach + (rtol * (jnp.abs(t) + rim)) * scale[:, 1] + rtol * scale[:, 2]
    above = z_center[..., None] > kinks[None, None, :]
    may_cut = jnp.abs(z_center[..., None] - kinks[None, None, :]) <= reach[..., None]
    return coef, scale, above, may_cut.reshape(rows, -1)


class JaxLayer:
    """:class:`NumpyLayer`'s work on JAX's default device (float64), same arguments and
    results (NumPy arrays)."""

    def __call__(self, previous, parent, piece, weight, bias, item, discs, kinks, rtol, pwl):
        rows, padded = len(parent), rows_bucket(len(parent))
        before = rows_bucket(len(previous[0]))
        with jax.enable_x64(True):
            coef, scale, above, may_cut = _layer(
                _pad_rows(previous[0], before), _pad_rows(previous[1], before),
                _pad_rows(parent, padded), None if piece is None else _pad_rows(piece, padded),
                weight, bias, _pad_rows(item, padded),
                *(_pad_rows(a, padded) for a in discs), np.asarray(kinks, np.float64),
                rtol=rtol, slopes=pwl.slopes, intercepts=pwl.intercepts,
            )  # fmt: skip
            coef, scale, above, may_cut = jax.device_get((coef, scale, above, may_cut))
        return coef[:rows], scale[:rows], above[:rows], may_cut[:rows]


def layer_backend(backend: str, layers: Layers) -> NumpyLayer | JaxLayer:
    """The dense part of a layer for ``backend`` (``"auto"``: JAX when JAX's default device is a
    GPU and the network has at least :data:`AUTO_UNITS` hidden units, else NumPy)."""
    one_of(backend, "backend", BACKENDS)
    if backend == "auto":
        units = sum(w.shape[1] for w, _ in layers)
        backend = "jax" if units >= AUTO_UNITS and jax.default_backend() == "gpu" else "numpy"
    return JaxLayer() if backend == "jax" else NumpyLayer()
