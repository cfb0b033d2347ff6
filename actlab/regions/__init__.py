"""Linear regions of piecewise-linear networks: exact counts, estimates and bounds.

Layers are the hidden layers ``[(W, b), ...]`` of an MLP (:data:`actlab.models.Layers`), ``W`` of
shape ``(in, out)``, ``y = x @ W + b``, each followed by a piecewise-linear activation (``relu``,
``leaky_relu``, ``prelu``, ``relu6``, ``hard_tanh``, ``hard_sigmoid``, ``identity``: a name, an
``actlab.activations.get(...)`` with its parameters, or a ``PReLU`` module);
the affine output layer adds no regions and is not passed. A region is counted when it has
non-empty interior in the segment, plane or sample set at hand; a unit is in piece ``p`` when its
pre-activation exceeds exactly ``p`` kinks (for ReLU: on when ``> 0``).

- :func:`count_line`, :func:`count_lines`, :func:`partition_line`: exact counts along segments,
  and the regions met in order with their patterns.
- :func:`partition_plane`, :func:`count_plane`: the exact partition of a box of a 2D slice into
  convex polygons, with patterns, affine maps and areas; activation and linear region counts.
  :func:`count_planes`: the counts of many networks or slices at once (sweeps over seeds).
- :func:`partition_space`, :func:`count_space`: the exact partition of a box of the whole input
  space (dimension up to about 6) into convex polytopes, with facets, neighbours and linear regions.
- :func:`local_complexity`: per point, the units whose kink crosses a small cross-polytope
  around it (any input dimension; jitted, for thousands of points).
- :func:`slice_through`: the slice through three data points.
- :func:`count_sampled`, :func:`grid_points`, :func:`uniform_points`: lower bounds from samples.
- :mod:`~actlab.regions.bounds`: Zaslavsky, Montufar and Serra bounds, exact integers.
- :func:`tent_map`, :func:`sawtooth`: networks with known counts (``n^L`` regions on ``(0, 1)``).

Example:
  >>> import numpy as np
  >>> from actlab import regions
  >>> layers = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]
  >>> regions.count_plane(layers, bounds=((-2, 3), (-2, 3))), regions.bounds.zaslavsky(3, 2)
  (7, 7)
"""

from actlab.regions import bounds
from actlab.regions.constructions import sawtooth, tent_map
from actlab.regions.line import LinePartition, count_line, count_lines, partition_line
from actlab.regions.local import LocalComplexity, local_complexity, orthonormal_frame
from actlab.regions.plane import PlanePartition, count_plane, partition_plane
from actlab.regions.planes import count_planes
from actlab.regions.sampled import count_sampled, grid_points, uniform_points
from actlab.regions.slices import PlaneSlice, slice_through
from actlab.regions.space import RegionLimitError, SpacePartition, count_space, partition_space

__all__ = [
    "LinePartition",
    "LocalComplexity",
    "PlanePartition",
    "PlaneSlice",
    "RegionLimitError",
    "SpacePartition",
    "bounds",
    "count_line",
    "count_lines",
    "count_plane",
    "count_planes",
    "count_sampled",
    "count_space",
    "grid_points",
    "local_complexity",
    "orthonormal_frame",
    "partition_line",
    "partition_plane",
    "partition_space",
    "sawtooth",
    "slice_through",
    "tent_map",
    "uniform_points",
]
