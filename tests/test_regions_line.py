"""Exact region counts along segments: the walk and the refinement, constructions and invariants."""

import numpy as np
import pytest
from networks import random_layers

from actlab import activations as A
from actlab import regions
from actlab.regions import bounds

METHODS = ["walk", "refine"]


def random_segments(seed, count, inputs):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.5, 1.5, (count, inputs)), rng.uniform(-1.5, 1.5, (count, inputs))


def test_tent_map_has_two_to_the_depth_regions_on_the_unit_interval():
    counts = [regions.count_line(regions.tent_map(depth), [0.0], [1.0]) for depth in range(1, 9)]
    assert counts == [2**depth for depth in range(1, 9)]


def test_tent_map_has_two_to_the_depth_plus_two_regions_on_minus_one_to_two():
    counts = [regions.count_line(regions.tent_map(depth), [-1.0], [2.0]) for depth in range(2, 9)]
    assert counts == [2**depth + 2 for depth in range(2, 9)]


@pytest.mark.parametrize(("teeth", "depth"), [(3, 3), (4, 2), (5, 3)])
def test_sawtooth_has_teeth_to_the_depth_regions(teeth, depth):
    layers = regions.sawtooth(teeth, depth)
    assert regions.count_line(layers, [0.0], [1.0]) == teeth**depth


def test_walk_counts_the_tent_map_and_the_sawtooth_exactly():
    tent = regions.tent_map(6)
    assert regions.count_line(tent, [0.0], [1.0], method="walk") == 2**6
    assert regions.count_line(tent, [-1.0], [2.0], method="walk") == 2**6 + 2
    assert regions.count_line(regions.sawtooth(3, 3), [0.0], [1.0], method="walk") == 3**3


@pytest.mark.parametrize("method", METHODS)
def test_tent_map_breakpoints_are_the_dyadic_points(method):
    part = regions.partition_line(regions.tent_map(3), [0.0], [1.0], method=method)
    assert part.count == len(part) == 8
    np.testing.assert_allclose(part.breakpoints, np.arange(1, 8) / 8, atol=1e-12)
    np.testing.assert_allclose(part.bounds[[0, -1]], [0.0, 1.0])
    # each region's pattern is the pattern at any point inside it
    inside = part.points(part.bounds[:-1] + 0.25 / 8)
    layers = regions.tent_map(3)
    h, patterns = inside, []
    for w, b in layers:
        z = h @ w + b
        patterns.append(z > 0)
        h = np.maximum(z, 0.0)
    np.testing.assert_array_equal(part.patterns, np.concatenate(patterns, axis=1))
    assert len({p.tobytes() for p in part.patterns}) >= 2


def test_breakpoints_outside_the_unit_interval_include_its_ends():
    part = regions.partition_line(regions.tent_map(2), [-1.0], [2.0])
    np.testing.assert_allclose(part.points(part.breakpoints)[:, 0], [0.0, 0.25, 0.5, 0.75, 1.0],
                               atol=1e-12)  # fmt: skip
    assert (
        part.count
        == len(part.breakpoints) + 1
        == regions.count_line(regions.tent_map(2), [-1.0], [2.0])
    )


def test_one_layer_in_general_position_reaches_zaslavsky_on_a_line():
    layers = random_layers(0, [9], inputs=1, bias_std=1.0)
    (weight, bias) = layers[0]
    crossings = -bias / weight[0]
    span = np.abs(crossings).max() + 1.0
    assert regions.count_line(layers, [-span], [span]) == bounds.zaslavsky(9, 1)


@pytest.mark.parametrize("method", METHODS)
def test_units_that_touch_zero_without_crossing_do_not_split(method):
    # relu(x - 1), relu(-x - 1); then -u1 - u2 <= 0 and u1 + u2 >= 0, both zero on [-1, 1]
    first = (np.array([[1.0, -1.0]]), np.array([-1.0, -1.0]))
    touching = (np.array([[-1.0, 1.0], [-1.0, 1.0]]), np.zeros(2))
    assert regions.count_line([first, touching], [-2.0], [2.0], method=method) == 3


def test_walk_and_refinement_agree_on_random_networks():
    layers = random_layers(1, [12, 12, 12, 12], inputs=3)
    starts, ends = random_segments(2, 40, inputs=3)
    walked = regions.count_lines(layers, starts, ends, method="walk", lanes=16)
    refined = regions.count_lines(layers, starts, ends, method="refine")
    np.testing.assert_array_equal(walked, refined)
    assert walked.min() >= 1 and walked.sum() > 3 * len(walked)


def test_segments_through_a_point_where_every_unit_is_at_zero_count_two_cones():
    # without biases every layer's hyperplanes pass through the origin: the regions are cones,
    # and a segment through the origin meets two of them (one if it starts there)
    layers = random_layers(10, [12, 12, 12, 12, 12], inputs=2, bias_std=0.0)
    starts = np.array([[-1.0, -1.0], [-1.0, 0.0], [0.0, 0.0]])
    ends = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.5]])
    for method in METHODS:
        assert regions.count_lines(layers, starts, ends, method=method).tolist() == [2, 2, 1]


@pytest.mark.parametrize(
    ("activation", "params"),
    [("leaky_relu", {"negative_slope": 0.2}), ("hard_tanh", None), ("relu6", None)],
)
def test_walk_and_refinement_agree_for_other_piecewise_linear_activations(activation, params):
    layers = [(3.0 * w, 3.0 * b) for w, b in random_layers(3, [8, 8, 8], inputs=2)]
    starts, ends = random_segments(4, 16, inputs=2)
    kwargs = {"activation": A.get(activation, **(params or {}))}
    walked = regions.count_lines(layers, starts, ends, method="walk", **kwargs)
    np.testing.assert_array_equal(
        walked, regions.count_lines(layers, starts, ends, method="refine", **kwargs)
    )


def test_counts_stay_within_the_upper_bounds_for_a_one_dimensional_input():
    layers = random_layers(5, [6, 6, 6], inputs=1)
    count = regions.count_line(layers, [-3.0], [3.0])
    assert 1 <= count <= bounds.serra_upper(1, [6, 6, 6]) <= bounds.montufar_upper(1, [6, 6, 6])


def permuted_and_rescaled(layers, seed):
    """The same network with each layer's units permuted and scaled by positive factors (the next
    layer's rows undo both), so every activation region is the same."""
    rng = np.random.default_rng(seed)
    changed, previous = [], None
    for weight, bias in layers:
        if previous is not None:
            order, scales = previous
            weight = weight[order] / scales[:, None]
        order, scales = rng.permutation(weight.shape[1]), rng.uniform(0.1, 10.0, weight.shape[1])
        changed.append((weight[:, order] * scales, bias[order] * scales))
        previous = order, scales
    return changed


def test_permuting_units_and_rescaling_them_positively_keeps_the_counts():
    layers = random_layers(6, [10, 10, 10], inputs=2)
    starts, ends = random_segments(7, 12, inputs=2)
    np.testing.assert_array_equal(
        regions.count_lines(permuted_and_rescaled(layers, 8), starts, ends),
        regions.count_lines(layers, starts, ends),
    )


def test_leaky_relu_splits_a_one_layer_network_where_relu_does():
    layers = random_layers(9, [7], inputs=1)
    relu = regions.partition_line(layers, [-4.0], [4.0])
    leaky = regions.partition_line(layers, [-4.0], [4.0], activation="leaky_relu")
    assert relu.count == leaky.count
    np.testing.assert_allclose(relu.breakpoints, leaky.breakpoints)
    np.testing.assert_array_equal(relu.patterns, leaky.patterns)


def test_count_lines_accepts_float32_inputs():
    layers = [(w.astype(np.float32), b.astype(np.float32)) for w, b in regions.tent_map(3)]
    starts = np.zeros((2, 1), np.float32)
    assert regions.count_lines(layers, starts, starts + 1.0).tolist() == [8, 8]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: regions.count_line(
                [(np.ones((1, 2)), np.zeros(2)), (np.ones((3, 1)), np.zeros(1))], [0.0], [1.0]
            ),
            r"layers\[1\] W: expected 2 input rows .* received shape \(3, 1\)",
        ),
        (
            lambda: regions.count_line([(np.ones((1, 2)), np.zeros(3))], [0.0], [1.0]),
            r"layers\[0\] b: expected shape \(2,\) .* received shape \(3,\)",
        ),
        (
            lambda: regions.count_line(regions.tent_map(2), [0.0, 1.0], [1.0]),
            r"start: expected shape \(1,\) .* received shape \(2,\)",
        ),
        (
            lambda: regions.count_line(regions.tent_map(2), [0.5], [0.5]),
            "positive length",
        ),
        (
            lambda: regions.count_line(regions.tent_map(2), [0.0], [1.0], activation="tanh"),
            "activation: expected a piecewise-linear activation .*, received tanh()",
        ),
        (
            lambda: regions.count_line(regions.tent_map(2), [0.0], [1.0], method="fast"),
            "method: expected one of",
        ),
        (
            lambda: regions.count_lines(regions.tent_map(2), np.zeros((3, 1)), np.ones((2, 1))),
            r"ends: expected the shape of starts \(3, 1\), received shape \(2, 1\)",
        ),
        (lambda: regions.count_line([], [0.0], [1.0]), "at least one hidden layer"),
    ],
)
def test_bad_input_raises_value_error_with_expected_and_received(call, message):
    with pytest.raises(ValueError, match=message):
        call()
