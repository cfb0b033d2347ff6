r"""Exact partition of a box of the whole input space into activation regions (input dimension
``d`` up to about 6).

Every hidden unit is affine on each activation region of the layers before it, so the regions
are convex polytopes, found by cutting the box with each unit's kink hyperplanes, layer by layer
(:mod:`actlab.regions._polytopes`: vertices with the constraints they lie on, cut by exact
combinatorial edge tests). The tolerance policy is the plane's: a vertex within ``rtol`` of the
rounding its value and position can carry is on a hyperplane, so repeated, scaled and opposite
units, hyperplanes through vertices or along faces, box faces on kinks and units that touch a kink
without crossing add no regions. In ``d = 2`` the count equals :func:`count_plane`'s and in
``d = 1`` :func:`count_line`'s (the tests check both, degenerate networks included).

*Linear regions* merge neighbouring polytopes (sharing a facet, a ``(d - 1)``-dimensional face)
on which the network computes the same affine map; the neighbours are found by probing each facet
just outside, near its centre and each of its vertices, and locating the probes by their pattern.

References:
  T. Serra, C. Tjandraatmadja, S. Ramalingam, Bounding and counting linear regions of deep neural
  networks, ICML 2018. B. Hanin, D. Rolnick, Deep ReLU networks have surprisingly few activation
  patterns, NeurIPS 2019.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components
from tqdm.auto import tqdm

from actlab import activations as A
from actlab.checks import integer, message, number
from actlab.models import Layers as NetworkLayers
from actlab.regions._activation import PiecewiseLinear, resolve
from actlab.regions._linear import patterns_at
from actlab.regions._polytopes import RegionLimitError, partition
from actlab.regions._validate import Layers, check_box, check_layers

__all__ = ["MAX_DIMENSION", "RegionLimitError", "SpacePartition", "count_space", "partition_space"]

MAX_DIMENSION = 8
"""The largest input dimension accepted (a box has ``2^d`` corners; beyond 6 it gets slow)."""

_OUT, _IN = 1e-9, 1e-3  # probe offsets: out of a facet (of the box diagonal), in from its vertices


def _as_keys(patterns: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(patterns)
    return rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize)))[:, 0]


@dataclass(frozen=True, eq=False)
class SpacePartition:
    """The activation regions of a network in a box of its input space.

    Attributes:
      vertices: ``(P, V, d)`` float64, the vertices of each convex polytope, padded to ``V`` (rows
        beyond ``num_vertices[p]`` are padding).
      num_vertices: ``(P,)`` the number of vertices of each polytope.
      patterns: ``(P, N)`` int8, the piece index of each of the ``N`` hidden units (layers
        concatenated) on each region: for ReLU 1 where the unit is on.
      maps: ``(P, d + 1, n_L)`` float64, the affine map of the last hidden layer's output on each
        region: ``h = [x, 1] @ maps[p]``.
      bounds: ``(d, 2)`` the box.
    """

    vertices: np.ndarray
    num_vertices: np.ndarray
    patterns: np.ndarray
    maps: np.ndarray
    bounds: np.ndarray
    _active: np.ndarray
    _lineage: tuple[np.ndarray, ...]
    _layer_maps: tuple[np.ndarray, ...]
    _layers: Layers
    _activation: PiecewiseLinear

    def __len__(self) -> int:
        return len(self.num_vertices)

    @property
    def count(self) -> int:
        """Number of activation regions (polytopes with interior)."""
        return len(self)

    @property
    def dim(self) -> int:
        return self.bounds.shape[0]

    def polytope(self, index: int) -> np.ndarray:
        """Vertices of polytope ``index``, ``(num_vertices[index], d)``."""
        return self.vertices[index, : self.num_vertices[index]]

    def interior_points(self) -> np.ndarray:
        """A point inside each region (the mean of its vertices), ``(P, d)``."""
        valid = np.arange(self.vertices.shape[1]) < self.num_vertices[:, None]
        return (self.vertices * valid[..., None]).sum(axis=1) / self.num_vertices[:, None]

    def halfspaces(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The facets of region ``index`` as ``A x <= b``: ``A`` of shape ``(m, d)``, ``b``
        ``(m,)`` (box faces and unit hyperplanes; one row per facet, no redundant ones)."""
        ids, a, b = self._constraints(index)
        facets = self._facets(index)
        keep = np.isin(ids, facets)
        return a[keep], b[keep]

    def _constraints(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every constraint of region ``index`` (id, A row, b): the box, then each unit's side."""
        d, box = self.dim, self.bounds
        ids, rows, rhs = [], [], []
        for axis in range(d):
            e = np.eye(d)[axis]
            ids += [2 * axis, 2 * axis + 1]
            rows += [-e, e]
            rhs += [-box[axis, 0], box[axis, 1]]
        kinks = np.asarray(self._activation.kinks)
        offset, column = 2 * d, 0
        for coef, ancestor in zip(self._layer_maps, self._lineage, strict=True):
            c = coef[ancestor[index]]  # (d + 1, width)
            for j in range(c.shape[1]):
                piece = self.patterns[index, column + j]
                for k, kink in enumerate(kinks):
                    ids.append(offset + j * len(kinks) + k)
                    if piece > k:  # above the kink: c . x + c0 >= kink
                        rows.append(-c[:-1, j])
                        rhs.append(c[-1, j] - kink)
                    else:
                        rows.append(c[:-1, j])
                        rhs.append(kink - c[-1, j])
            offset += c.shape[1] * len(kinks)
            column += c.shape[1]
        return np.asarray(ids), np.asarray(rows), np.asarray(rhs)

    def _facets(self, index: int) -> np.ndarray:
        """Ids of the constraints that are facets: ``d`` or more vertices on them, spanning a
        ``(d - 1)``-dimensional face."""
        on = _unpack(self._active[index, : self.num_vertices[index]])  # (V, constraints) bool
        x = self.polytope(index)
        candidates = np.flatnonzero(on.sum(axis=0) >= self.dim)
        return np.asarray(
            [f for f in candidates if _rank(x[on[:, f]]) == self.dim - 1], dtype=np.int64
        )

    @functools.cached_property
    def _graph(self) -> tuple[np.ndarray, np.ndarray]:
        return _neighbours(self)

    def adjacency(self) -> csr_matrix:
        """Which regions share a facet: a symmetric ``(P, P)`` boolean sparse matrix."""
        owner, neighbour = self._graph
        n = len(self)
        graph = coo_matrix((np.ones(owner.size, bool), (owner, neighbour)), shape=(n, n)).tocsr()
        return ((graph + graph.T) > 0).tocsr()

    @functools.cached_property
    def _linear(self) -> tuple[int, np.ndarray]:
        owner, neighbour = self._graph
        flat = self.maps.reshape(len(self), -1)
        size = np.maximum(np.abs(flat[owner]).max(axis=1), np.abs(flat[neighbour]).max(axis=1))
        same = np.abs(flat[owner] - flat[neighbour]).max(axis=1) <= 1e-9 * size
        n = len(self)
        graph = coo_matrix((np.ones(int(same.sum())), (owner[same], neighbour[same])), shape=(n, n))
        return connected_components(graph, directed=False)

    def linear_labels(self) -> np.ndarray:
        """Linear region of each activation region, ``(P,)`` int: neighbours (sharing a facet)
        with the same affine map (to a relative ``1e-9``) share a label."""
        return self._linear[1]

    def count_linear(self) -> int:
        """Number of linear regions: connected unions of regions with the same affine map."""
        return int(self._linear[0])


def _unpack(masks: np.ndarray) -> np.ndarray:
    """Bitmasks ``(..., words)`` uint64 as booleans ``(..., 64 * words)``, bit ``i`` at ``i``."""
    as_bytes = np.ascontiguousarray(masks).astype("<u8").view(np.uint8)
    return np.unpackbits(as_bytes, axis=-1, bitorder="little").astype(bool)


def _rank(points: np.ndarray) -> int:
    """Affine rank of a set of points (relative tolerance 1e-9)."""
    centered = points - points.mean(axis=0)
    singular = np.linalg.svd(centered, compute_uv=False)
    scale = max(float(np.abs(points).max()), 1.0)
    return int(np.sum(singular > 1e-9 * scale))


def _facet_table(part: SpacePartition, regions: np.ndarray):
    """The facets of ``regions`` that are unit hyperplanes: ``(region, constraint id, outward
    unit normal)`` and the ``(V, constraints)`` vertex incidence of each region."""
    d = part.dim
    on = _unpack(part._active[regions])  # (R, V, F)
    on &= (np.arange(on.shape[1]) < part.num_vertices[regions][:, None])[..., None]
    counts = on.sum(axis=1)
    r, f = np.nonzero(counts >= d)
    keep = f >= 2 * d  # box faces have nothing beyond
    r, f = r[keep], f[keep]
    if d >= 4:  # d or more vertices may still span less than a facet: check the rank
        x = part.vertices[regions[r]]
        mask = on[r, :, f]
        mean = (x * mask[..., None]).sum(axis=1) / mask.sum(axis=1)[:, None]
        centered = np.where(mask[..., None], x - mean[:, None], 0.0)
        singular = np.linalg.svd(centered, compute_uv=False)
        scale = np.maximum(np.abs(part.bounds).max(), 1.0)
        keep = np.sum(singular > 1e-9 * scale, axis=1) == d - 1
        r, f = r[keep], f[keep]
    # the outward normal of facet f: its unit's gradient, signed by the region's side
    kinks = len(part._activation.kinks)
    normals = np.zeros((r.size, d))
    offset, column = 2 * d, 0
    for coef, ancestor in zip(part._layer_maps, part._lineage, strict=True):
        width = coef.shape[2]
        here = (f >= offset) & (f < offset + width * kinks)
        unit, k = np.divmod(f[here] - offset, kinks)
        rows = regions[r[here]]
        gradient = coef[ancestor[rows], :-1, unit]  # (m, d)
        above = part.patterns[rows, column + unit] > k
        normals[here] = np.where(above[:, None], -gradient, gradient)
        offset += width * kinks
        column += width
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return r, f, normals, on


def _neighbours(part: SpacePartition) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(owner, neighbour)`` of regions that share a facet, found by probing just outside
    each facet, near its centre and near each of its vertices."""
    n = len(part)
    if n == 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    diagonal = float(np.linalg.norm(part.bounds[:, 1] - part.bounds[:, 0]))
    keys = _as_keys(part.patterns)
    order = np.argsort(keys)
    owners, neighbours = [], []
    step = max(1, (1 << 22) // (part.vertices.shape[1] * 64 * part._active.shape[2]))
    for first in range(0, n, step):
        regions = np.arange(first, min(n, first + step))
        r, f, normal, on = _facet_table(part, regions)
        x = part.vertices[regions[r]]  # (m, V, d)
        mask = on[r, :, f]  # (m, V)
        middle = (x * mask[..., None]).sum(axis=1) / mask.sum(axis=1)[:, None]
        facet, vertex = np.nonzero(mask)
        near = x[facet, vertex] + _IN * (middle[facet] - x[facet, vertex])
        probe = np.concatenate([middle, near])
        probe += _OUT * diagonal * np.concatenate([normal, normal[facet]])
        owner = regions[r][np.concatenate([np.arange(r.size), facet])]
        inside = np.all((probe > part.bounds[:, 0]) & (probe < part.bounds[:, 1]), axis=1)
        probe, owner = probe[inside], owner[inside]
        probe_keys = _as_keys(patterns_at(part._layers, part._activation, probe))
        slot = np.minimum(np.searchsorted(keys[order], probe_keys), n - 1)
        found = (keys[order][slot] == probe_keys) & (order[slot] != owner)
        owners.append(owner[found])
        neighbours.append(order[slot[found]])
    owner, neighbour = np.concatenate(owners), np.concatenate(neighbours)
    pairs = np.unique(np.stack([owner, neighbour], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def partition_space(
    layers: NetworkLayers,
    *,
    bounds: Sequence[tuple[float, float]],
    activation: A.ActivationLike = "relu",
    rtol: float = 1e-11,
    max_regions: int | None = 1_000_000,
    progress: bool = False,
) -> SpacePartition:
    r"""Exact partition of a box of the input space into activation regions (convex polytopes).

    Args:
      layers: hidden layers ``[(W, b), ...]``, ``W`` of shape ``(in, out)``, ``y = x @ W + b``,
        each followed by the activation; ``in`` of the first is the input dimension ``d``
        (1 to :data:`MAX_DIMENSION`).
      bounds: the box, one ``(lo, hi)`` pair per input, ``lo < hi``.
      activation: a piecewise-linear activation: a registry name, ``activations.get(...)`` or a
        learnable module such as ``PReLU``.
      rtol: relative tolerance for "on a hyperplane" (module docstring).
      max_regions: stop with :class:`RegionLimitError` (a ``ValueError``) beyond this many
        regions; ``None`` for no limit.
      progress: show a progress bar, one step per layer.

    Returns:
      A :class:`SpacePartition`: the polytopes with their patterns, affine maps, facets
      (:meth:`~SpacePartition.halfspaces`), neighbours and linear regions.

    Example:
      >>> layers = [(np.eye(3), np.zeros(3))]  # the three coordinate planes
      >>> partition_space(layers, bounds=[(-1, 1)] * 3).count
      8
    """
    checked = check_layers(layers)
    pwl = resolve(activation)
    dim = checked[0][0].shape[0]
    if dim > MAX_DIMENSION:
        raise ValueError(
            message("layers[0] W", f"an input dimension of at most {MAX_DIMENSION} (a box has "
                    "2^d corners)", f"{dim} inputs", where="partition_space")
        )  # fmt: skip
    box = check_box("bounds", bounds, dim)
    rtol = number(rtol, "rtol", low=0.0, low_open=True)
    limit = None if max_regions is None else integer(max_regions, "max_regions", minimum=1)
    bar = tqdm(total=len(checked), disable=not progress, unit="layer", leave=False)

    def advance(done: int, regions: int) -> None:
        bar.set_postfix(regions=regions, refresh=False)
        bar.update(1)

    try:
        found = partition(checked, box, pwl, rtol, limit, advance)
    finally:
        bar.close()
    return SpacePartition(
        vertices=found.vertices,
        num_vertices=found.count,
        patterns=found.patterns,
        maps=found.maps,
        bounds=box,
        _active=found.active,
        _lineage=tuple(found.lineage),
        _layer_maps=tuple(coef for coef, _ in found.layer_maps),
        _layers=checked,
        _activation=pwl,
    )


def count_space(
    layers: NetworkLayers,
    *,
    bounds: Sequence[tuple[float, float]],
    activation: A.ActivationLike = "relu",
    linear: bool = False,
    rtol: float = 1e-11,
    max_regions: int | None = 1_000_000,
    progress: bool = False,
) -> int:
    """Exact number of activation regions (or, with ``linear=True``, linear regions) of a box of
    the input space; arguments as in :func:`partition_space`.

    Example:
      >>> layers = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]), np.zeros(3))]
      >>> count_space(layers, bounds=[(-1, 1)] * 3)  # three planes through the origin
      8
    """
    part = partition_space(
        layers, bounds=bounds, activation=activation, rtol=rtol, max_regions=max_regions,
        progress=progress,
    )  # fmt: skip
    return part.count_linear() if linear else part.count
