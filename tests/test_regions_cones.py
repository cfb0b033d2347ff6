"""The counts that make no polygons: zero-bias networks counted through the box's boundary (their
regions are cones from the origin), and the last layer counted as line arrangements in each
polygon; the same counts as the polygon partition and as the rational-arithmetic reference."""

import exact_regions as exact
import numpy as np
import pytest
from networks import DEGENERATE_ACTIVATIONS, degenerate_box, degenerate_network

from actlab import activations as A
from actlab import regions
from actlab.regions._activation import resolve
from actlab.regions._cones import applies
from actlab.regions._polygons import stack_layers

HOMOGENEOUS = ("relu", A.get("leaky_relu", negative_slope=0.5))


def _he(seed, inputs, widths):
    rng = np.random.default_rng(seed)
    layers, fan_in = [], inputs
    for width in widths:
        layers.append((rng.normal(0, np.sqrt(2 / fan_in), (fan_in, width)), np.zeros(width)))
        fan_in = width
    return layers


def _zero_bias_case(seed):
    """A degenerate network with its biases zeroed, in a half-integer box around the origin."""
    layers = [(w, np.zeros_like(b)) for w, b in degenerate_network(seed, 2)]
    rng = np.random.default_rng(seed + 30_000)
    box = tuple(
        (-float(rng.choice([0.5, 1, 1.5, 2])), float(rng.choice([0.5, 1, 1.5, 2])))
        for _ in range(2)
    )
    return layers, box, HOMOGENEOUS[seed % 2]


def test_the_cone_count_applies_only_to_zero_bias_homogeneous_networks_through_the_origin():
    layers = stack_layers([tuple(_he(0, 2, [4, 4]))])
    box, origin = np.array([[[-1.0, 1.0], [-1.0, 1.0]]]), np.zeros((1, 2))
    relu = resolve("relu")
    assert applies(layers, box, origin, relu)
    assert applies(layers, box, origin, resolve(A.get("leaky_relu", negative_slope=0.2)))
    assert not applies(layers, box, origin, resolve("hard_tanh"))  # kinks at -1 and 1
    assert not applies(layers, box, origin + 0.1, relu)  # the slice misses the apex
    assert not applies(layers, np.array([[[0.0, 1.0], [-1.0, 1.0]]]), origin, relu)  # on an edge
    biased = [(w, b + (l == 1) * 1e-3) for l, (w, b) in enumerate(layers)]
    assert not applies(biased, box, origin, relu)


@pytest.mark.parametrize("seed", range(400))
def test_zero_bias_degenerate_counts_equal_the_exact_ones(seed):
    layers, box, act = _zero_bias_case(seed)
    expected = exact.count_plane(layers, box, act)
    assert regions.count_plane(layers, bounds=box, activation=act) == expected
    assert regions.partition_plane(layers, bounds=box, activation=act).count == expected


@pytest.mark.parametrize("widths", [[5] * 3, [20] * 2, [16] * 4, [8] * 10, [1, 3, 1, 3]])
@pytest.mark.parametrize("act", HOMOGENEOUS)
def test_zero_bias_he_counts_equal_the_polygon_partition(widths, act):
    for seed in range(4):
        layers = _he(seed, 2, widths)
        count = regions.count_plane(layers, activation=act)
        assert count == regions.partition_plane(layers, activation=act).count


def test_lines_through_the_box_corners_and_repeated_opposite_and_dead_units():
    diagonal = np.array([[1.0, 1.0, -1.0, 0.0, 1.0, 2.0], [1.0, 1.0, -1.0, 0.0, -1.0, -2.0]])
    second = np.array([[1.0, -1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 5.0], [1.0, 1.0], [0.0, 0.0]])
    layers = [(diagonal, np.zeros(6)), (second, np.zeros(2))]
    expected = exact.count_plane(layers, ((-1, 1), (-1, 1)))
    assert regions.count_plane(layers) == expected == regions.partition_plane(layers).count


def test_a_unit_that_touches_zero_along_a_ray_does_not_split():
    # the second layer's unit is relu(x) + relu(-x) = |x|: zero on the line x = 0, never negative
    layers = [(np.array([[1.0, -1.0], [0.0, 0.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))]
    assert regions.count_plane(layers) == 2 == exact.count_plane(layers, ((-1, 1), (-1, 1)))


def test_a_slice_through_the_origin_of_a_higher_dimensional_input():
    layers = _he(3, 4, [8, 8, 8])
    basis = np.random.default_rng(1).normal(size=(2, 4))
    box = ((-1.0, 2.0), (-0.5, 1.0))
    count = regions.count_plane(layers, basis=basis, bounds=box)
    assert count == regions.partition_plane(layers, basis=basis, bounds=box).count


def test_many_zero_bias_networks_count_as_one_by_one():
    nets = [_he(seed, 2, [6, 6, 6]) for seed in range(30)] + [_he(0, 2, [6, 6, 6])]
    nets.append([(w, np.zeros_like(b)) for w, b in degenerate_network(5, 2)])
    boxes = np.array([((-1, 1), (-1, 1))] * len(nets), float)
    boxes[::3] = ((-0.5, 2.0), (-1.5, 0.25))
    counts = regions.count_planes(nets, bounds=boxes)
    pairs = zip(nets, boxes, strict=True)
    one_by_one = [regions.partition_plane(n, bounds=b).count for n, b in pairs]
    assert counts.tolist() == one_by_one


# --- the last layer counted as line arrangements in each polygon (count_plane without polygons)


@pytest.mark.parametrize("seed", range(300))
def test_counts_without_the_last_layers_polygons_equal_the_exact_ones(seed):
    layers, box = degenerate_network(seed, 2), degenerate_box(seed)
    act = DEGENERATE_ACTIVATIONS[seed % len(DEGENERATE_ACTIVATIONS)]
    expected = exact.count_plane(layers, box, act)
    assert regions.count_plane(layers, bounds=box, activation=act) == expected


@pytest.mark.parametrize("widths", [[5] * 3, [20] * 2, [50] * 2, [16] * 4, [1, 7, 1, 7]])
@pytest.mark.parametrize("act", [*HOMOGENEOUS, "hard_tanh"])
def test_he_counts_without_the_last_layers_polygons_equal_the_partition(widths, act):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        layers = [(w, rng.normal(0, 0.1, len(b))) for w, b in _he(seed, 2, widths)]
        count = regions.count_plane(layers, activation=act)
        assert count == regions.partition_plane(layers, activation=act).count


def test_concurrent_lines_and_lines_through_polygon_vertices_in_the_last_layer():
    # the first layer cuts the box at x = 0 and y = 0; the last layer's lines x = 0 (again),
    # x = y, x = -y and x + y = 1 all meet at the origin or at the first layer's vertices
    first = (np.eye(2), np.zeros(2))
    last = (np.array([[1.0, 1.0, 1.0, -1.0, 1.0], [0.0, -1.0, 1.0, 0.0, 1.0]]),
            np.array([0.0, 0.0, 0.0, 0.0, -1.0]))  # fmt: skip
    for layers in ([first, last], [(last[0][:, :4] * 2, np.zeros(4)), (np.eye(4), np.zeros(4))]):
        expected = exact.count_plane(layers, ((-1, 1), (-1, 1)))
        assert regions.count_plane(layers) == expected == regions.partition_plane(layers).count
