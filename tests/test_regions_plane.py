"""Exact partitions of 2D slices into activation regions: counts, polygons, degenerate weights."""

import numpy as np
import pytest
from networks import random_layers

from actlab import activations as A
from actlab import regions
from actlab.regions import bounds

UNIT_BOX = ((-1.0, 1.0), (-1.0, 1.0))


def one_layer(lines):
    """One hidden layer whose unit ``i`` is ``relu(a x + b y + c)`` for ``lines[i] = (a, b, c)``."""
    lines = np.asarray(lines, dtype=np.float64)
    return [(lines[:, :2].T.copy(), lines[:, 2].copy())]


def patterns_at(layers, points, kinks=(0.0,), slopes=(0.0, 1.0)):
    """Plain forward pass: piece indices at ``points`` (ReLU-like activations)."""
    h, pieces = points, []
    for weight, bias in layers:
        z = h @ weight + bias
        piece = sum((z > kink).astype(np.int8) for kink in kinks)
        pieces.append(piece)
        h = np.asarray(slopes)[piece] * z
    return np.concatenate(pieces, axis=1)


def test_three_lines_x_y_and_x_plus_y_minus_one_give_seven_regions():
    layers = one_layer([(1, 0, 0), (0, 1, 0), (1, 1, -1)])
    part = regions.partition_plane(layers, bounds=((-2, 3), (-2, 3)))
    assert part.count == 7 == bounds.zaslavsky(3, 2)
    assert len({row.tobytes() for row in part.patterns}) == 7
    np.testing.assert_allclose(part.areas.sum(), 25.0, rtol=1e-12)


def test_one_layer_in_general_position_reaches_zaslavsky_in_the_plane():
    lines = np.random.default_rng(0).normal(size=(12, 3))
    layers = one_layer(lines)
    # a box holding every intersection of two lines, so every region meets it
    corners = [
        np.linalg.solve(lines[[i, j], :2], -lines[[i, j], 2])
        for i in range(12)
        for j in range(i + 1, 12)
    ]
    reach = np.abs(corners).max() + 1.0
    count = regions.count_plane(layers, bounds=((-reach, reach), (-reach, reach)))
    assert count == bounds.zaslavsky(12, 2) == 79


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6])
def test_tent_map_ignoring_the_second_input_has_two_to_the_depth_regions(depth):
    layers = regions.tent_map(depth, inputs=2)
    assert regions.count_plane(layers, bounds=((0, 1), (-1, 1))) == 2**depth
    assert regions.count_plane(layers, bounds=((-1, 2), (-1, 1))) == 2**depth + 2


def test_sawtooth_in_the_plane_has_teeth_to_the_depth_regions():
    layers = regions.sawtooth(3, 3, inputs=2)
    assert regions.count_plane(layers, bounds=((0, 1), (0, 1))) == 27


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([(1, 0, 0), (0, 1, 0), (1, 1, 0)], 6),  # concurrent lines through a vertex
        ([(1, 0, 0), (1, 0, 0), (2, 0, 0)], 2),  # the same line three times
        ([(1, 0, 0), (-1, 0, 0)], 2),  # opposite units: one line
        ([(1, 0, 0), (1, 0, -0.5), (1, 0, 0.5)], 4),  # parallel lines
        ([(1, 0, 1), (0, 1, -1)], 1),  # lines along the box's edges
        ([(1, 1, 2), (1, -1, 0)], 2),  # a line through two corners and one through a corner
        ([(0, 0, 0), (0, 0, 1)], 1),  # constant units: zero everywhere, one everywhere
    ],
)
def test_degenerate_lines_do_not_inflate_the_count(lines, expected):
    part = regions.partition_plane(one_layer(lines), bounds=UNIT_BOX)
    assert part.count == expected
    np.testing.assert_allclose(part.areas.sum(), 4.0, rtol=1e-12)
    assert part.areas.min() > 1e-3


def test_a_deeper_unit_that_touches_zero_without_crossing_does_not_split():
    first = (np.array([[1.0, -1.0], [0.0, 0.0]]), np.array([-0.5, -0.5]))  # |x| > 1/2 bands
    # -u1 - u2 <= 0 (zero on the middle band), u1 + u2 >= 0, and a unit identically zero
    second = (np.array([[-1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]]), np.zeros(3))
    assert regions.count_plane([first, second], bounds=UNIT_BOX) == 3


def test_areas_sum_to_the_box_and_every_polygon_has_its_own_pattern():
    layers = random_layers(1, [16, 16, 16], inputs=2)
    part = regions.partition_plane(layers, bounds=((-2, 1), (-1, 3)))
    np.testing.assert_allclose(part.areas.sum(), 12.0, rtol=1e-11)
    assert part.areas.min() > 0
    assert len({row.tobytes() for row in part.patterns}) == part.count
    vertices = part.vertices.reshape(-1, 2)
    assert vertices[:, 0].min() >= -2 and vertices[:, 0].max() <= 1
    assert vertices[:, 1].min() >= -1 and vertices[:, 1].max() <= 3


def test_patterns_and_maps_are_those_of_the_network_inside_each_polygon():
    layers = random_layers(2, [12, 12, 12], inputs=2)
    part = regions.partition_plane(layers, bounds=UNIT_BOX)
    inside = part.centroids()
    np.testing.assert_array_equal(patterns_at(layers, inside), part.patterns)
    h = inside
    for weight, bias in layers:
        h = np.maximum(h @ weight + bias, 0.0)
    mapped = np.einsum("pk,pkn->pn", np.c_[inside, np.ones(len(inside))], part.maps)
    np.testing.assert_allclose(mapped, h, atol=1e-12)


def test_every_pattern_seen_on_a_fine_grid_is_a_polygon_of_the_partition():
    layers = random_layers(3, [10, 10, 10], inputs=2)
    part = regions.partition_plane(layers, bounds=UNIT_BOX)
    seen = {row.tobytes() for row in patterns_at(layers, regions.grid_points(UNIT_BOX, 300))}
    assert seen <= {row.tobytes() for row in part.patterns}


def test_sampled_exact_and_bounds_are_ordered_on_random_networks():
    for seed, widths in [(4, [6, 6]), (6, [5, 7, 9, 4])]:
        layers = random_layers(seed, widths, inputs=2, bias_std=1.0)
        exact = regions.count_plane(layers, bounds=((-3, 3), (-3, 3)))
        sampled = regions.count_sampled(layers, regions.grid_points(((-3, 3), (-3, 3)), 128))
        serra, montufar = bounds.serra_upper(2, widths), bounds.montufar_upper(2, widths)
        assert sampled <= exact <= serra <= montufar <= 2 ** sum(widths)


def test_permuting_units_and_rescaling_them_positively_keeps_the_partition():
    layers = random_layers(7, [10, 10, 10], inputs=2)
    rng = np.random.default_rng(8)
    changed, previous = [], None
    for weight, bias in layers:
        if previous is not None:
            order, scales = previous
            weight = weight[order] / scales[:, None]
        order, scales = rng.permutation(weight.shape[1]), rng.uniform(0.1, 10.0, weight.shape[1])
        changed.append((weight[:, order] * scales, bias[order] * scales))
        previous = order, scales
    original, transformed = regions.partition_plane(layers), regions.partition_plane(changed)
    assert original.count == transformed.count
    np.testing.assert_allclose(np.sort(original.areas), np.sort(transformed.areas), rtol=1e-9)


def test_leaky_relu_has_the_activation_regions_of_relu_for_one_hidden_layer():
    layers = random_layers(9, [10], inputs=2)
    relu = regions.partition_plane(layers)
    leaky = regions.partition_plane(layers, activation="leaky_relu")
    assert relu.count == leaky.count
    np.testing.assert_allclose(np.sort(relu.areas), np.sort(leaky.areas), rtol=1e-9)


def test_leaky_relu_moves_deeper_hyperplanes_so_deep_counts_can_differ():
    # layer 2 is -sigma(x) - 1: always below zero for relu, but -0.01 x - 1 for leaky relu on
    # x < 0, which crosses zero at x = -100
    layers = [(np.array([[1.0], [0.0]]), np.zeros(1)), (np.array([[-1.0]]), np.array([-1.0]))]
    box = ((-200.0, 10.0), (-1.0, 1.0))
    assert regions.count_plane(layers, bounds=box) == 2
    assert regions.count_plane(layers, bounds=box, activation="leaky_relu") == 3


def test_linear_regions_merge_neighbours_with_the_same_affine_map():
    layers = random_layers(10, [8, 8], inputs=2)
    identity_like = A.get("leaky_relu", negative_slope=1.0)
    part = regions.partition_plane(layers, activation=identity_like)
    assert part.count > 10 and part.count_linear() == 1  # leaky relu with slope 1 is linear
    assert regions.count_plane(layers, activation="identity", linear=True) == 1
    # relu(x) then a unit that is always off: both sides of x = 0 map to zero
    always_off = [(np.array([[1.0], [0.0]]), np.zeros(1)), (np.array([[-1.0]]), np.array([-1.0]))]
    assert regions.count_plane(always_off) == 2
    assert regions.count_plane(always_off, linear=True) == 1


def test_linear_regions_never_outnumber_activation_regions():
    layers = random_layers(11, [10, 10, 10], inputs=2)
    part = regions.partition_plane(layers)
    labels = part.linear_labels()
    assert labels.shape == (part.count,)
    assert 1 <= part.count_linear() <= part.count


@pytest.mark.parametrize("activation", ["relu6", "hard_tanh", "hard_sigmoid"])
def test_multi_kink_activations_give_one_polygon_per_pattern(activation):
    layers = [(3.0 * w, 3.0 * b) for w, b in random_layers(12, [8, 8], inputs=2)]
    part = regions.partition_plane(layers, bounds=((-2, 2), (-2, 2)), activation=activation)
    assert len({row.tobytes() for row in part.patterns}) == part.count
    assert part.patterns.max() == 2  # some unit reaches the upper piece
    np.testing.assert_allclose(part.areas.sum(), 16.0, rtol=1e-11)


def test_a_slice_of_a_higher_dimensional_input_equals_the_folded_network():
    layers = random_layers(13, [10, 10], inputs=5)
    points = np.random.default_rng(14).normal(size=(3, 5))
    plane = regions.slice_through(points)
    (weight, bias), rest = layers[0], layers[1:]
    folded = [(plane.basis @ weight, plane.origin @ weight + bias), *rest]
    assert regions.count_plane(layers, **plane.kwargs()) == regions.count_plane(
        folded, bounds=plane.bounds
    )
    np.testing.assert_allclose(plane.to_input(plane.coords), points, atol=1e-12)
    assert np.all(plane.bounds[:, :1] < plane.coords.T) and np.all(
        plane.coords.T < plane.bounds[:, 1:]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bounds": ((1, 1), (0, 1))}, r"lo < hi .* received \(lo, hi\) = \(1.0, 1.0\)"),
        ({"bounds": ((0, 1),)}, r"expected pairs \(lo, hi\) per axis, shape \(2, 2\)"),
        ({"basis": [[1.0, 0.0], [2.0, 0.0]]}, "degenerate basis"),
        ({"basis": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}, r"basis: expected shape \(2, 2\)"),
        ({"origin": [0.0, 0.0, 0.0]}, r"origin: expected shape \(2,\)"),
        (
            {"activation": "gelu"},
            "activation: expected a piecewise-linear activation .*, received gelu()",
        ),
        ({"activation": "nope"}, "expected one of"),
    ],
)
def test_bad_input_raises_value_error_with_expected_and_received(kwargs, message):
    with pytest.raises(ValueError, match=message):
        regions.count_plane(random_layers(15, [3], inputs=2), **kwargs)


def test_a_higher_dimensional_input_needs_a_slice_basis():
    with pytest.raises(ValueError, match=r"basis: expected two directions, shape \(2, 4\)"):
        regions.count_plane(random_layers(16, [3], inputs=4))


def test_slice_through_rejects_collinear_points():
    with pytest.raises(ValueError, match="collinear"):
        regions.slice_through([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])


def test_an_activation_is_a_name_a_bound_activation_or_a_prelu_module_alike():
    from flax import nnx

    from actlab.models import MLP, PReLU, hidden_layers

    layers = random_layers(11, [6, 6], inputs=2)
    by_object = regions.count_plane(layers, activation=A.get("leaky_relu", negative_slope=0.2))
    assert by_object == regions.count_plane(layers, activation=A.get("prelu", slope=0.2))
    module = PReLU(init=0.2)
    assert regions.count_plane(layers, activation=module) == by_object
    model = MLP(2, [6, 6], 1, activation=PReLU, rngs=nnx.Rngs(0))
    assert regions.count_plane(hidden_layers(model), activation=model.activations[0]) >= 1
    with pytest.raises(TypeError, match=r"activation: expected a piecewise-linear activation .*"):
        regions.count_plane(layers, activation=lambda z: z)
    with pytest.raises(ValueError, match=r"PReLU.as_activation: slope: expected one shared slope"):
        regions.count_plane(layers, activation=PReLU(6, per_unit=True))
