r"""Exact partition of a box in a 2D slice of the input into activation regions.

The slice is :math:`x(s, t) = o + s\,u + t\,v` (``origin`` ``o``, ``basis = (u, v)``); with a
two-dimensional input and no basis it is the input plane itself. Every hidden unit is affine on
each activation region of the layers before it, so the regions are convex polygons, found by
cutting the box with each unit's kink lines, layer by layer (:mod:`actlab.regions._polygons`).

Float64 throughout; a vertex within ``rtol`` (default ``1e-11``) times the rounding its value and
its computed position can carry counts as on the line (:mod:`actlab.regions._polygons`), so lines
through existing vertices, along existing edges, repeated and opposite lines, box edges on kink
lines and units that touch a kink without crossing add no regions, and no polygon has zero area
(checked against an exact count in rational arithmetic on hundreds of degenerate networks).
Areas sum to the box
area up to rounding (relative error around ``1e-12``).

Each layer's dense part (every polygon's affine maps, every line against every polygon) can run
as jitted JAX on a GPU (``backend=``); the cutting stays on the host, and the counts are the same.
Counts alone (:func:`count_plane`) run the same decisions as compiled loops (numba) by default.
:func:`actlab.regions.count_planes` counts many networks or slices in one partition.

*Activation regions* are the polygons: each has its own pattern (the piece index of every unit,
e.g. on/off for ReLU). *Linear regions* merge neighbouring polygons on which the network computes
the same affine map (:meth:`PlanePartition.linear_labels`); they can be fewer, e.g. a leaky ReLU
with slope 1 is one linear region.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from actlab import activations as A
from actlab.checks import number
from actlab.models import Layers as NetworkLayers
from actlab.regions._activation import PiecewiseLinear, resolve
from actlab.regions._linear import linear_labels
from actlab.regions._plane_jax import layer_backend
from actlab.regions._polygons import partition, stack_layers
from actlab.regions._validate import Layers, check_box, check_layers, check_slice
from actlab.regions.planes import count_stacked

__all__ = ["PlanePartition", "count_plane", "partition_plane"]

Bounds = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True, eq=False)
class PlanePartition:
    """The activation regions of a network in a box of a 2D slice.

    Coordinates ``(s, t)`` are slice coordinates: the input point is
    ``origin + s * basis[0] + t * basis[1]``.

    Attributes:
      vertices: ``(P, V, 2)`` float64, the vertices of each convex polygon counter-clockwise,
        padded to a common length ``V`` with copies of the first vertex.
      num_vertices: ``(P,)`` the number of vertices of each polygon.
      patterns: ``(P, N)`` int8, the piece index of each of the ``N`` hidden units (layers
        concatenated) on each polygon: for ReLU 1 where the unit is on (pre-activation ``> 0``).
      maps: ``(P, 3, n_L)`` float64, the affine map of the last hidden layer's output on each
        polygon: ``h = [s, t, 1] @ maps[p]``.
      areas: ``(P,)`` float64, the polygons' areas in slice coordinates; they sum to the box area.
      bounds: ``(2, 2)`` the box ``((s_lo, s_hi), (t_lo, t_hi))``.
      origin: ``(d,)`` and basis: ``(2, d)``, the slice.
    """

    vertices: np.ndarray
    num_vertices: np.ndarray
    patterns: np.ndarray
    maps: np.ndarray
    areas: np.ndarray
    bounds: np.ndarray
    origin: np.ndarray
    basis: np.ndarray
    _layers: Layers
    _activation: PiecewiseLinear

    def __len__(self) -> int:
        return len(self.num_vertices)

    @property
    def count(self) -> int:
        """Number of activation regions (polygons)."""
        return len(self)

    def polygon(self, index: int) -> np.ndarray:
        """Vertices of polygon ``index``, shape ``(num_vertices[index], 2)``."""
        return self.vertices[index, : self.num_vertices[index]]

    def polygons(self) -> list[np.ndarray]:
        """All polygons as a list of ``(k, 2)`` vertex arrays (e.g. for a ``PolyCollection``)."""
        return [self.polygon(i) for i in range(len(self))]

    def centroids(self) -> np.ndarray:
        """An interior point of each polygon (its vertex mean), shape ``(P, 2)``."""
        valid = np.arange(self.vertices.shape[1]) < self.num_vertices[:, None]
        return (self.vertices * valid[..., None]).sum(axis=1) / self.num_vertices[:, None]

    def to_input(self, coords: np.ndarray) -> np.ndarray:
        """Input points of slice coordinates ``coords`` ``(..., 2)``: shape ``(..., d)``."""
        return self.origin + np.asarray(coords) @ self.basis

    @functools.cached_property
    def _linear(self) -> tuple[int, np.ndarray]:
        return linear_labels(
            self.vertices,
            self.num_vertices,
            self.patterns,
            self.maps,
            self.bounds,
            self.to_input,
            self._layers,
            self._activation,
        )

    def linear_labels(self) -> np.ndarray:
        """Linear region of each polygon, ``(P,)`` int: neighbouring polygons (sharing an edge)
        with the same affine map ``maps`` (to a relative ``1e-9``) get the same label."""
        return self._linear[1]

    def count_linear(self) -> int:
        """Number of linear regions: connected unions of polygons with the same affine map."""
        return self._linear[0]


def partition_plane(
    layers: NetworkLayers,
    *,
    bounds: Bounds = ((-1.0, 1.0), (-1.0, 1.0)),
    origin: np.ndarray | None = None,
    basis: np.ndarray | None = None,
    activation: A.ActivationLike = "relu",
    rtol: float = 1e-11,
    backend: str = "auto",
) -> PlanePartition:
    r"""Exact partition of a box of a 2D slice of the input into activation regions.

    Args:
      layers: hidden layers ``[(W, b), ...]``, ``W`` of shape ``(in, out)``, ``y = x @ W + b``,
        each followed by the activation.
      bounds: the box ``((s_lo, s_hi), (t_lo, t_hi))`` in slice coordinates, ``lo < hi``.
      origin: ``(d,)`` a point of the slice (default: zero).
      basis: ``(2, d)`` two independent directions spanning the slice; may be omitted when
        ``d == 2`` (then the slice is the input plane). See :func:`slice_through` for the slice
        through three data points.
      activation: a piecewise-linear activation: a registry name, ``activations.get(...)``
        (``get("leaky_relu", negative_slope=0.1)``) or a learnable module such as ``PReLU``.
      rtol: relative tolerance for "a vertex is on a line" (module docstring).
      backend: where each layer's dense part runs (every polygon's affine maps, the test of
        every line against every polygon): ``"numpy"`` on the host, ``"jax"`` as jitted JAX on
        JAX's default device (a GPU when there is one), ``"auto"`` (default) JAX on a GPU for
        large networks, NumPy otherwise. The counts are the same either way.

    Returns:
      A :class:`PlanePartition`: the polygons with their patterns, affine maps and areas.

    Example:
      >>> layers = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]
      >>> part = partition_plane(layers, bounds=((-2, 3), (-2, 3)))  # x = 0, y = 0, x + y = 1
      >>> part.count, float(part.areas.sum())
      (7, 25.0)
    """
    checked, pwl, box, origin_array, basis_array, rtol = _arguments(
        layers, bounds, origin, basis, activation, rtol
    )
    vertices, count, patterns, maps, _ = partition(
        stack_layers([checked]), box[None], origin_array[None], basis_array[None], pwl, rtol,
        layer=layer_backend(backend, checked),
    )  # fmt: skip
    following = np.roll(vertices, -1, axis=1)
    areas = 0.5 * np.sum(
        vertices[..., 0] * following[..., 1] - following[..., 0] * vertices[..., 1], axis=1
    )
    return PlanePartition(
        vertices=vertices,
        num_vertices=count,
        patterns=patterns,
        maps=maps,
        areas=areas,
        bounds=box,
        origin=origin_array,
        basis=basis_array,
        _layers=checked,
        _activation=pwl,
    )


def count_plane(
    layers: NetworkLayers,
    *,
    bounds: Bounds = ((-1.0, 1.0), (-1.0, 1.0)),
    origin: np.ndarray | None = None,
    basis: np.ndarray | None = None,
    activation: A.ActivationLike = "relu",
    linear: bool = False,
    rtol: float = 1e-11,
    backend: str = "auto",
) -> int:
    """Exact number of activation regions (or, with ``linear=True``, linear regions) in a box.

    Counts regions with non-empty interior in the box of the slice; arguments as in
    :func:`partition_plane`. A network with every bias zero, a slice through the input's origin
    (``origin`` ``None`` or zero) inside the box and an activation with its kink at zero and no
    intercepts (ReLU, leaky ReLU, PReLU) has cones from the origin for regions: those are counted
    along the box's boundary (:mod:`actlab.regions._cones`), same count, one round per layer.
    The count runs as compiled loops on the host by default (:mod:`actlab.regions._plane_compiled`,
    the partition's decisions polygon by polygon, microseconds per call for small networks).

    Args:
      linear: count linear regions instead: neighbouring regions with the same affine map merged
        (:meth:`PlanePartition.count_linear`; this needs the partition, run by its engine).
      backend: ``"numba"``: compiled loops on the host; ``"numpy"``: the vectorised engine
        (the last layer's polygons counted, not made: :mod:`actlab.regions._arrangement`);
        ``"jax"``: that engine with each layer's dense part as jitted JAX; ``"auto"`` (default):
        JAX on a GPU for networks of at least 256 hidden units, compiled loops otherwise. The
        counts are the same.

    Returns:
      The count, an ``int``.

    Example:
      >>> layers = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]
      >>> count_plane(layers, bounds=((-2, 3), (-2, 3)))
      7
    """
    if linear:  # the polygons are needed: the partition's engine
        part = partition_plane(
            layers,
            bounds=bounds,
            origin=origin,
            basis=basis,
            activation=activation,
            rtol=rtol,
            backend="numpy" if backend == "numba" else backend,
        )
        return part.count_linear()
    checked, pwl, box, origin_array, basis_array, rtol = _arguments(
        layers, bounds, origin, basis, activation, rtol
    )
    counts = count_stacked(
        stack_layers([checked]), box[None], origin_array[None], basis_array[None], pwl, rtol,
        backend,
    )  # fmt: skip
    return int(counts[0])


def _arguments(layers, bounds, origin, basis, activation, rtol):
    """Checked ``(layers, pieces, box, origin, basis, rtol)``."""
    checked = check_layers(layers)
    pwl = resolve(activation)
    box = check_box("bounds", bounds, 2)
    origin_array, basis_array = check_slice(origin, basis, checked[0][0].shape[0])
    rtol = number(rtol, "rtol", low=0.0, low_open=True)
    return checked, pwl, box, origin_array, basis_array, rtol
