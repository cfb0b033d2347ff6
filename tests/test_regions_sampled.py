"""Sampling estimates: distinct patterns among points, a lower bound; grids and random points."""

import jax
import numpy as np
import pytest
from networks import random_layers

from actlab import regions

THREE_LINES = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]


def test_a_fine_grid_finds_the_seven_regions_of_three_lines():
    assert regions.count_sampled(THREE_LINES, regions.grid_points(((-2, 3), (-2, 3)), 50)) == 7


def test_a_coarse_grid_finds_fewer_regions_than_the_exact_count():
    layers = random_layers(0, [16, 16, 16], inputs=2)
    exact = regions.count_plane(layers)
    coarse = regions.count_sampled(layers, regions.grid_points(((-1, 1), (-1, 1)), 8))
    fine = regions.count_sampled(layers, regions.grid_points(((-1, 1), (-1, 1)), 256))
    assert coarse < fine <= exact


def test_sampling_a_segment_never_exceeds_the_exact_line_count():
    layers = regions.tent_map(5)
    points = regions.grid_points(((0, 1),), 5000)
    assert regions.count_sampled(layers, points) == regions.count_line(layers, [0.0], [1.0]) == 32


def test_units_resting_on_their_kink_throughout_a_region_skip_no_points():
    # tent map: left of 0 every unit is off and the next layer's first unit is exactly 0
    points = regions.grid_points(((-1, 2),), 3000)
    assert regions.count_sampled(regions.tent_map(4), points) == 2**4 + 2


def test_batches_do_not_change_the_count():
    layers = random_layers(1, [8, 8], inputs=3)
    points = regions.uniform_points(jax.random.key(0), ((-1, 1),) * 3, 3001)
    counts = {regions.count_sampled(layers, points, batch=b) for b in (100, 4096)}
    assert len(counts) == 1


def test_points_on_a_boundary_are_skipped():
    # relu(x) and relu(-x): at x = 0 both are off, a pattern no open region has
    layers = [(np.array([[1.0, -1.0]]), np.zeros(2))]
    assert regions.count_sampled(layers, np.array([[-1.0], [0.0], [1.0]])) == 2
    assert regions.count_sampled(layers, np.array([[0.0]])) == 0


def test_other_activations_count_their_pieces():
    layers = [(np.array([[1.0]]), np.zeros(1))]
    points = regions.grid_points(((-10, 10),), 100)
    assert regions.count_sampled(layers, points, activation="relu6") == 3
    assert regions.count_sampled(layers, points, activation="identity") == 1


def test_grid_points_are_cell_centres_with_the_last_axis_fastest():
    points = regions.grid_points(((0, 1), (0, 2)), 2)
    np.testing.assert_allclose(points, [[0.25, 0.5], [0.25, 1.5], [0.75, 0.5], [0.75, 1.5]])
    assert regions.grid_points(((0, 1), (0, 1), (0, 1)), (2, 3, 4)).shape == (24, 3)


def test_uniform_points_lie_in_the_box_and_depend_only_on_the_key():
    box = ((-1, 2), (5, 6))
    points = regions.uniform_points(jax.random.key(3), box, 1000)
    assert points.shape == (1000, 2) and points.dtype == np.float64
    assert np.all(points >= [-1, 5]) and np.all(points <= [2, 6])
    np.testing.assert_array_equal(points, regions.uniform_points(jax.random.key(3), box, 1000))
    assert not np.array_equal(points, regions.uniform_points(jax.random.key(4), box, 1000))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: regions.count_sampled(THREE_LINES, np.zeros((5, 3))), r"expected shape \(n, 2\)"),
        (lambda: regions.count_sampled(THREE_LINES, np.full((2, 2), np.nan)), "finite"),
        (lambda: regions.count_sampled(THREE_LINES, np.zeros((2, 2)), batch=0), "batch"),
        (
            lambda: regions.count_sampled(THREE_LINES, np.zeros((2, 2)), activation="tanh"),
            "activation: expected a piecewise-linear activation .*, received tanh()",
        ),
        (lambda: regions.grid_points(((0, 1), (2, 2)), 4), "lo < hi"),
        (lambda: regions.grid_points(((0, 1),), 0), "resolution"),
        (
            lambda: regions.uniform_points(jax.random.key(0), ((0, 1),), 0),
            "n: expected an int >= 1, received 0",
        ),
    ],
)
def test_bad_input_raises_value_error_with_expected_and_received(call, message):
    with pytest.raises(ValueError, match=message):
        call()
