"""Exact region counts of many networks, or many slices, at once (sweeps over seeds).

:func:`count_planes` counts them all in one call: compiled loops over the networks by default
(:mod:`actlab.regions._plane_compiled`); with the NumPy or JAX engine the boxes of many networks
are cut by their lines in the same rounds, as one set of polygons that each know their network,
so the fixed cost of a round is paid once per chunk of networks instead of once per network.
Networks of different shapes are grouped by shape; zero-bias ones go through the cone count as
in :func:`count_plane`. Counts are those of :func:`count_plane`, one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from actlab import activations as A
from actlab.checks import message, number, one_of, show
from actlab.models import Layers as NetworkLayers
from actlab.regions._activation import resolve
from actlab.regions._cones import applies, count_cones
from actlab.regions._plane_compiled import count_compiled, count_cones_compiled
from actlab.regions._plane_jax import AUTO_UNITS, JaxLayer
from actlab.regions._polygons import NumpyLayer, partition, stack_layers
from actlab.regions._validate import check_box, check_layers, check_slice

__all__ = ["count_planes"]

COUNT_BACKENDS = ("auto", "numba", "numpy", "jax")
"""Where a count runs: compiled loops on the host (``"numba"``), the vectorised NumPy engine,
or its dense part as jitted JAX (``"jax"``); ``"auto"``: JAX on a GPU for networks of at least
:data:`actlab.regions._plane_jax.AUTO_UNITS` hidden units, compiled loops otherwise."""

_POLYGONS_PER_CHUNK = 20_000
"""Networks are partitioned together in chunks of about this many polygons (expected regions:
``0.4 N^2`` for ``N`` hidden units, as at He initialisation): enough to spread the fixed cost of
the rounds, few enough that the arrays stay in the CPU's caches."""


def count_planes(
    networks: Sequence[NetworkLayers],
    *,
    bounds: Any = ((-1.0, 1.0), (-1.0, 1.0)),
    origins: np.ndarray | None = None,
    bases: np.ndarray | None = None,
    activation: A.ActivationLike = "relu",
    rtol: float = 1e-11,
    backend: str = "auto",
) -> np.ndarray:
    """Exact numbers of activation regions of ``K`` networks, each in a box of a 2D slice.

    Args:
      networks: ``K >= 1`` networks, each hidden layers ``[(W, b), ...]`` as for
        :func:`count_plane`; for many slices of one network pass it ``K`` times
        (``[layers] * K``: it is checked once).
      bounds: one box ``((s_lo, s_hi), (t_lo, t_hi))`` for all, or one per network ``(K, 2, 2)``.
      origins: ``(d,)`` one slice origin for all, ``(K, d)`` one per network, or ``None`` (zero).
      bases: ``(2, d)`` one slice basis for all, ``(K, 2, d)`` one per network, or ``None`` (the
        input plane, for two inputs).
      activation, rtol, backend: as for :func:`count_plane` (one activation for all).

    Returns:
      ``(K,)`` int64: ``count_plane(networks[k], bounds=..., origin=..., basis=...)`` for each.

    Example:
      >>> import numpy as np
      >>> from actlab.regions import count_plane, count_planes
      >>> rng = np.random.default_rng(0)
      >>> nets = [[(rng.normal(size=(2, 8)), rng.normal(size=8))] for _ in range(3)]
      >>> counts = count_planes(nets)
      >>> bool(np.all(counts == [count_plane(net) for net in nets]))
      True
    """
    sequence = isinstance(networks, Sequence) and not isinstance(networks, str | bytes)
    if not sequence or not networks:
        raise (ValueError if sequence else TypeError)(
            message("networks", "a non-empty sequence of networks [(W, b), ...]",
                    show(networks))
        )  # fmt: skip
    pwl = resolve(activation)
    rtol = number(rtol, "rtol", low=0.0, low_open=True)
    items = len(networks)
    checked_by_id: dict[int, Any] = {}
    checked = []
    for k, network in enumerate(networks):
        if id(network) not in checked_by_id:
            checked_by_id[id(network)] = check_layers(network, name=f"networks[{k}]")
        checked.append(checked_by_id[id(network)])
    boxes = _boxes(bounds, items)
    origin_list = _per_item("origins", origins, items, 1)
    basis_list = _per_item("bases", bases, items, 2)
    slices: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
    origin_array, basis_array = [], []
    for k, network in enumerate(checked):
        dim = network[0][0].shape[0]
        key = (id(origin_list[k]), id(basis_list[k]), dim)  # a shared slice is checked once
        if key not in slices:
            slices[key] = check_slice(origin_list[k], basis_list[k], dim)
        origin_array.append(slices[key][0])
        basis_array.append(slices[key][1])
    groups: dict[tuple, list[int]] = {}
    for k, network in enumerate(checked):
        groups.setdefault(tuple(w.shape for w, _ in network), []).append(k)
    counts = np.zeros(items, np.int64)
    for group in groups.values():
        units = sum(w.shape[1] for w, _ in checked[group[0]])
        chunk = max(1, int(_POLYGONS_PER_CHUNK / (0.4 * units**2 + 1)))
        for start in range(0, len(group), chunk):
            members = group[start : start + chunk]
            counts[members] = _count(
                [checked[k] for k in members], boxes[members],
                [origin_array[k] for k in members], [basis_array[k] for k in members],
                pwl, rtol, backend,
            )  # fmt: skip
    return counts


def count_stacked(layers, boxes, origins, bases, pwl, rtol, backend: str) -> np.ndarray:
    """Counts ``(K,)`` of networks of one shape (``layers`` as from
    :func:`actlab.regions._polygons.stack_layers`, ``boxes`` ``(K, 2, 2)``, ``origins``
    ``(K, d)``, ``bases`` ``(K, 2, d)``) with a checked ``backend`` of :data:`COUNT_BACKENDS`."""
    one_of(backend, "backend", COUNT_BACKENDS)
    if backend == "auto":
        units = sum(w.shape[2] for w, _ in layers)
        backend = "jax" if units >= AUTO_UNITS and jax.default_backend() == "gpu" else "numba"
    cones = backend != "jax" and applies(layers, boxes, origins, pwl)  # regions are cones
    if backend == "numba":
        if cones:
            return count_cones_compiled(layers, boxes, bases, pwl, rtol)
        return count_compiled(layers, boxes, origins, bases, pwl, rtol)
    if cones:
        return count_cones(layers, boxes, bases, pwl, rtol)
    return partition(
        layers, boxes, origins, bases, pwl, rtol,
        maps=False, patterns=False, layer=JaxLayer() if backend == "jax" else NumpyLayer(),
        count_only=True,
    )  # fmt: skip


def _count(nets, boxes, origins, bases, pwl, rtol, backend) -> np.ndarray:
    """Counts of networks of one shape, in one partition."""
    return count_stacked(
        stack_layers(nets), boxes, np.stack(origins), np.stack(bases), pwl, rtol, backend
    )


def _boxes(bounds: Any, items: int) -> np.ndarray:
    """``(K, 2, 2)`` checked boxes from one box or one per item."""
    array = np.asarray(bounds, dtype=np.float64)
    if array.ndim != 3:
        return np.broadcast_to(check_box("bounds", bounds, 2), (items, 2, 2))
    if len(array) != items:
        raise ValueError(
            message("bounds", f"one box (2, 2) or one per network ({items}, 2, 2)",
                    f"shape {array.shape}")
        )  # fmt: skip
    return np.stack([check_box(f"bounds[{k}]", box, 2) for k, box in enumerate(array)])


def _per_item(name: str, value: Any, items: int, ndim: int) -> list[Any]:
    """``value`` for every item: ``None``, one shared array of ``ndim`` dimensions, or a
    leading axis of length ``items``."""
    if value is None:
        return [None] * items
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == ndim:
        return [array] * items
    if array.ndim != ndim + 1 or len(array) != items:
        shape = "(d,)" if ndim == 1 else "(2, d)"
        batched = f"({items}, d)" if ndim == 1 else f"({items}, 2, d)"
        raise ValueError(
            message(name, f"one {shape} for all networks or one per network {batched}",
                    f"shape {array.shape}")
        )  # fmt: skip
    return list(array)
