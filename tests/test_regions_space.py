"""Exact regions of the whole input space: the plane and the line where they apply (degenerate
networks included, against the rational reference), the known counts (hyperplane arrangements,
the tent map), the bounds, an independent LP search, and the partition's own consistency
(volumes, facets, neighbours, linear regions)."""

import itertools
import math
import sys
from pathlib import Path

import exact_regions as exact
import numpy as np
import pytest
from networks import DEGENERATE_ACTIVATIONS, degenerate_box, degenerate_network, random_layers
from scipy.spatial import ConvexHull

import actlab.activations as A
from actlab import regions
from actlab.models import PReLU

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _lp_regions as lp

CASES = range(120)


def _activation(seed):
    return DEGENERATE_ACTIVATIONS[seed % len(DEGENERATE_ACTIVATIONS)]


def _with_ignored_input(layers, position, inputs):
    """The same network on ``inputs`` inputs, the extra ones (at ``position``) unused."""
    (w, b), rest = layers[0], layers[1:]
    wide = np.zeros((inputs, w.shape[1]))
    used = [i for i in range(inputs) if i not in position]
    wide[used] = w
    return [(wide, b), *rest]


@pytest.mark.parametrize("seed", CASES)
def test_plane_networks_count_as_in_the_plane(seed):
    layers, box, act = degenerate_network(seed, 2), degenerate_box(seed), _activation(seed)
    part = regions.partition_space(layers, bounds=box, activation=act)
    cells = exact.partition_plane(layers, box, act)
    assert part.count == len(cells) == regions.count_plane(layers, bounds=box, activation=act)
    assert sorted(map(tuple, part.patterns.tolist())) == sorted(p for _, p in cells)
    # the same network in 3D, ignoring one input: each region is a prism over a 2D one
    ignored = seed % 3
    wide = _with_ignored_input(layers, (ignored,), 3)
    wide_box = list(box)
    wide_box.insert(ignored, (-0.5, 1.0))
    assert regions.count_space(wide, bounds=wide_box, activation=act) == len(cells)


@pytest.mark.parametrize("seed", CASES)
def test_line_networks_count_as_on_the_line(seed):
    layers, act = degenerate_network(seed, 1), _activation(seed)
    (lo, hi), = degenerate_box(seed, 1)  # fmt: skip
    expected = exact.count_line(layers, [lo], [hi], act)
    assert regions.count_space(layers, bounds=[(lo, hi)], activation=act) == expected


@pytest.mark.parametrize(("dim", "seed"), [(3, s) for s in range(40)] + [(4, s) for s in range(20)])
def test_degenerate_partitions_tile_the_box_with_exact_patterns(dim, seed):
    layers, box, act = degenerate_network(seed, dim), degenerate_box(seed, dim), _activation(seed)
    part = regions.partition_space(layers, bounds=box, activation=act)
    patterns = [tuple(p) for p in part.patterns.tolist()]
    assert len(set(patterns)) == part.count  # no region split in two
    volumes = [ConvexHull(part.polytope(i)).volume for i in range(part.count)]
    assert min(volumes) > 1e-9
    assert sum(volumes) == pytest.approx(math.prod(hi - lo for lo, hi in box), rel=1e-9)
    for point, pattern in zip(part.interior_points(), patterns, strict=True):
        assert exact.patterns_at(layers, act, point) == pattern
    # every sample point lies in a region the partition found
    rng = np.random.default_rng(seed)
    lo, hi = np.array(box).T
    found = set(patterns)
    for point in rng.uniform(lo, hi, (200, dim)):
        assert exact.patterns_at(layers, act, point) in found


def _general_position(seed, units, dim):
    """One layer of ``units`` random hyperplanes and a box holding every vertex of their
    arrangement."""
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=(dim, units)), rng.normal(size=units)
    vertices = [np.linalg.solve(w[:, list(s)].T, -b[list(s)])
                for s in itertools.combinations(range(units), dim)]  # fmt: skip
    reach = 1.5 * np.abs(vertices).max() + 1.0
    return [(w, b)], [(-reach, reach)] * dim


@pytest.mark.parametrize(("dim", "units"), [(2, 6), (3, 5), (3, 8), (4, 6)])
def test_one_layer_in_general_position_counts_as_zaslavsky(dim, units):
    layers, box = _general_position(dim * 100 + units, units, dim)
    expected = regions.bounds.zaslavsky(units, dim)
    assert expected == sum(math.comb(units, j) for j in range(dim + 1))
    assert regions.count_space(layers, bounds=box) == expected
    # leaky ReLU has the same kinks, and no two regions share an affine map
    leaky = A.get("leaky_relu", negative_slope=0.1)
    part = regions.partition_space(layers, bounds=box, activation=leaky)
    assert part.count == part.count_linear() == expected


@pytest.mark.parametrize(("depth", "dim"), [(3, 1), (4, 3), (5, 4)])
def test_the_tent_map_has_two_to_the_depth_regions(depth, dim):
    layers = regions.tent_map(depth, inputs=dim)
    box = [(0.0, 1.0)] + [(-1.0, 2.0)] * (dim - 1)
    assert regions.count_space(layers, bounds=box) == 2**depth
    # the tent map is a different affine map on every piece
    assert regions.count_space(layers, bounds=box, linear=True) == 2**depth


@pytest.mark.parametrize(
    ("dim", "widths"), [(3, (6, 6)), (3, (5, 5, 5)), (4, (5, 5)), (4, (4, 4, 4))]
)
def test_sampled_and_exact_counts_and_the_bounds_are_ordered(dim, widths):
    for seed in range(3):
        layers = random_layers(seed, widths, dim)
        box = [(-1.0, 1.0)] * dim
        exact_count = regions.count_space(layers, bounds=box)
        points = np.random.default_rng(seed).uniform(-1, 1, (20_000, dim))
        sampled = regions.count_sampled(layers, points)
        assert sampled <= exact_count <= regions.bounds.serra_upper(dim, widths)
        assert exact_count >= 0.8 * sampled  # samples find most regions of these small nets


@pytest.mark.parametrize(("dim", "widths", "activation"), [
    (2, (6, 5), "relu"),
    (3, (5, 4), "relu"),
    (3, (4, 4), "hard_tanh"),
    (4, (4, 3), A.get("leaky_relu", negative_slope=0.2)),
])  # fmt: skip
def test_an_lp_search_over_neighbouring_patterns_finds_the_same_regions(dim, widths, activation):
    layers = random_layers(dim, widths, dim)
    box = np.array([(-1.0, 1.0)] * dim)
    spec = exact.pieces(activation)
    kinks = [float(k) for k in spec[0]]
    slopes, intercepts = [float(s) for s in spec[1]], [float(c) for c in spec[2]]
    count, _ = lp.count_regions(layers, box, kinks, slopes, intercepts)
    assert regions.count_space(layers, bounds=box, activation=activation) == count


def test_facets_bound_each_region_and_neighbours_share_them():
    layers = random_layers(7, (6, 5), 3)
    box = [(-1.0, 1.0), (-0.5, 1.5), (-1.0, 0.0)]
    part = regions.partition_space(layers, bounds=box)
    adjacency = part.adjacency()
    assert (adjacency != adjacency.T).nnz == 0 and adjacency.diagonal().sum() == 0
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    for i in range(part.count):
        a, b = part.halfspaces(i)
        assert a.shape == (b.size, 3)
        vertices = part.polytope(i)
        assert np.all(vertices @ a.T <= b + 1e-9)  # every vertex satisfies every facet
        assert np.all(part.interior_points()[i] @ a.T < b)  # the interior point strictly
        on = np.abs(vertices @ a.T - b) <= 1e-9
        assert np.all(on.sum(axis=0) >= 3)  # a facet holds at least d vertices
        # facets that are not box faces each lead to one neighbour (general position)
        box_face = np.all(np.abs(a) == np.eye(3)[np.argmax(np.abs(a), axis=1)], axis=1)
        assert degree[i] == np.sum(~box_face)
    # neighbours differ in at least one unit, and any two regions are joined by a path
    rows, cols = adjacency.nonzero()
    assert np.all(np.any(part.patterns[rows] != part.patterns[cols], axis=1))
    from scipy.sparse.csgraph import connected_components

    assert connected_components(adjacency, directed=False)[0] == 1


def test_linear_regions_merge_neighbours_with_one_map():
    first = random_layers(3, (6,), 3)
    dead = (np.zeros((6, 2)), np.array([-1.0, -1.0]))  # a second layer that is always off
    part = regions.partition_space([*first, dead], bounds=[(-1.0, 1.0)] * 3)
    assert part.count == regions.count_space(first, bounds=[(-1.0, 1.0)] * 3) > 1
    assert part.count_linear() == 1 and np.all(part.linear_labels() == 0)
    # leaky ReLU with slope 1 is the identity: kinks but one linear region
    flat = A.get("leaky_relu", negative_slope=1.0)
    assert regions.count_space(first, bounds=[(-1.0, 1.0)] * 3, activation=flat, linear=True) == 1
    # in the plane, the same merges as partition_plane's
    for seed in range(4):
        layers = random_layers(seed, (5, 4), 2)
        plane = regions.partition_plane(layers, bounds=((-1, 1), (-1, 1)))
        space = regions.partition_space(layers, bounds=((-1, 1), (-1, 1)))
        assert space.count_linear() == plane.count_linear()


def test_regions_carry_their_affine_maps():
    layers = random_layers(11, (5, 4), 3)
    part = regions.partition_space(layers, bounds=[(-1.0, 1.0)] * 3)
    x = part.interior_points()
    h = x
    for w, b in layers:
        h = np.maximum(h @ w + b, 0.0)
    through_maps = np.einsum("pi,pij->pj", np.concatenate([x, np.ones((len(x), 1))], 1), part.maps)
    np.testing.assert_allclose(through_maps, h, rtol=1e-12, atol=1e-12)
    assert part.patterns.dtype == np.int8 and part.patterns.shape == (part.count, 9)
    np.testing.assert_array_equal(part.patterns, regions._linear.patterns_at(
        layers, regions._activation.resolve("relu"), x))  # fmt: skip


def test_activation_objects_and_prelu_modules_are_accepted():
    layers = random_layers(5, (5, 5), 3)
    box = [(-1.0, 1.0)] * 3
    by_name = regions.count_space(layers, bounds=box, activation="leaky_relu")
    assert regions.count_space(layers, bounds=box, activation=A.get("leaky_relu")) == by_name
    leaky = A.get("leaky_relu", negative_slope=0.25)  # PReLU's initial slope
    from flax import nnx

    module = PReLU(rngs=nnx.Rngs(0))
    assert regions.count_space(layers, bounds=box, activation=module) == regions.count_space(
        layers, bounds=box, activation=leaky
    )


def test_the_region_cap_and_the_progress_bar(capsys):
    layers = random_layers(0, (8, 8), 3)
    with pytest.raises(regions.RegionLimitError, match=r"max_regions: expected at most 10"):
        regions.count_space(layers, bounds=[(-1.0, 1.0)] * 3, max_regions=10)
    assert issubclass(regions.RegionLimitError, ValueError)
    count = regions.count_space(layers, bounds=[(-1.0, 1.0)] * 3, progress=True, max_regions=None)
    assert count > 10 and "layer" in capsys.readouterr().err


@pytest.mark.parametrize(("call", "error", "pattern"), [
    (lambda: regions.count_space([(np.ones((9, 2)), np.zeros(2))], bounds=[(0, 1)] * 9),
     ValueError, r"input dimension of at most 8.*received 9 inputs"),
    (lambda: regions.count_space([(np.ones((0, 2)), np.zeros(2))], bounds=[]),
     ValueError, r"layers\[0\]"),
    (lambda: regions.count_space([(np.ones((2, 2)), np.zeros(2))], bounds=[(0, 1), (1, 1)]),
     ValueError, r"bounds"),
    (lambda: regions.count_space([(np.ones((2, 2)), np.zeros(2))], bounds=[(0, 1), (2, 1)]),
     ValueError, r"bounds"),
    (lambda: regions.count_space([(np.ones((2, 2)), np.zeros(2))], bounds=[(0, 1)]),
     ValueError, r"bounds"),
    (lambda: regions.count_space([(np.ones((2, 2)), np.zeros(2))], bounds=[(0, 1)] * 2,
                                 activation="gelu"),
     ValueError, r"piecewise-linear"),
    (lambda: regions.count_space([(np.ones((2, 2)), np.zeros(2))], bounds=[(0, 1)] * 2,
                                 max_regions=0),
     ValueError, r"max_regions"),
    (lambda: regions.count_space([(np.ones((2, 2)), np.zeros(2))], bounds=[(0, 1)] * 2, rtol=0),
     ValueError, r"rtol"),
])  # fmt: skip
def test_bad_input_is_refused_clearly(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
