"""Exact region counts on degenerate networks, checked against a rational-arithmetic reference.

Small-integer and half-integer weights put many kink lines through shared vertices; repeated,
scaled and opposite units put lines on top of each other; zero units and constant units touch a
kink without crossing it; boxes and segments end on kink lines. Every count, partition and area is
compared with :mod:`exact_regions` (Python ``fractions``, no tolerance at all).
"""

from fractions import Fraction

import exact_regions as exact
import numpy as np
import pytest
from networks import DEGENERATE_ACTIVATIONS as ACTIVATIONS
from networks import degenerate_box, degenerate_network

from actlab import regions

CASES = range(300)


def _activation(seed: int):
    return ACTIVATIONS[seed % len(ACTIVATIONS)]


@pytest.mark.parametrize("seed", CASES)
def test_plane_counts_and_partitions_equal_the_exact_ones(seed):
    layers, box, act = degenerate_network(seed, 2), degenerate_box(seed), _activation(seed)
    part = regions.partition_plane(layers, bounds=box, activation=act)
    cells = exact.partition_plane(layers, box, act)
    assert part.count == len(cells)
    assert sorted(map(tuple, part.patterns.tolist())) == sorted(p for _, p in cells)
    assert np.all(part.areas > 0)
    box_area = (box[0][1] - box[0][0]) * (box[1][1] - box[1][0])
    assert float(part.areas.sum()) == pytest.approx(box_area, rel=1e-12)
    # each polygon's area is its exact region's area (patterns identify the regions)
    exact_area = {p: exact.area(poly) for poly, p in cells}
    for a, p in zip(part.areas, map(tuple, part.patterns.tolist()), strict=True):
        assert a == pytest.approx(float(exact_area[p]), rel=1e-9, abs=1e-12)


def _segment_case(seed: int):
    rng = np.random.default_rng(seed + 20_000)
    inputs = int(rng.integers(1, 4))
    start, end = rng.choice(np.arange(-4, 5) / 2, (2, inputs))
    if np.all(start == end):
        end = end + 0.5
    return degenerate_network(seed, inputs), start, end, _activation(seed)


@pytest.mark.parametrize("seed", CASES)
def test_line_counts_by_refinement_equal_the_exact_ones(seed):
    layers, start, end, act = _segment_case(seed)
    expected = exact.count_line(layers, start, end, act)
    assert regions.count_line(layers, start, end, activation=act, method="refine") == expected


# the walk compiles once per shape bucket (about a second each): a third of the cases by default,
# all of them in the slow run
WALKED = [pytest.param(s, marks=pytest.mark.slow) if s % 3 else s for s in CASES]


@pytest.mark.parametrize("seed", WALKED)
def test_line_counts_by_the_walk_equal_the_exact_ones(seed):
    layers, start, end, act = _segment_case(seed)
    expected = exact.count_line(layers, start, end, act)
    assert regions.count_line(layers, start, end, activation=act, method="walk") == expected


def test_the_reported_cases_count_what_exists():
    L = [([[2, -1, 1, -2, 2, 2, -2], [-2, -2, -1, -1, -1, -2, 2]], [1, 0, 1, 0, 0, 0, 0]),
         ([[1, 2, 0, -1, 1, 1], [0, 1, -1, 1, -1, 2], [0, -1, 0, 1, 2, -2], [0, 1, -2, 1, 0, -2],
           [-2, -1, -1, 1, -2, -1], [0, -1, 2, 2, -2, 1], [1, 2, -1, 1, -2, -1]],
          [1, -2, 2, -1, 2, -1])]  # fmt: skip
    layers = [(np.array(w, float), np.array(b, float)) for w, b in L]
    part = regions.partition_plane(layers, bounds=((-1, 1), (-2, 1)))
    assert part.count == 47 and np.all(part.areas > 1e-6)
    L = [([[0, 0, -2, -1]], [0, 0, 0, 0]),
         ([[0, 0, 2, 2], [0, 0, 0, 0], [0, 0, -1, -1], [0, 0, -2, -2]], [-1, -1, 2, 2]),
         ([[-2, -2, -3], [-2, -2, -3], [0, 0, 0], [-1, -1, -1.5]], [2, 2, 3])]  # fmt: skip
    layers = [(np.array(w, float), np.array(b, float)) for w, b in L]
    for method in ("walk", "refine"):
        assert regions.count_line(layers, [-1.5], [2.0], method=method) == 3
    repeated = [(np.array([[2.0, -1, 0, 0], [-1, -2, -1, -1]]), np.array([1.0, 0, 0, 0]))]
    assert regions.count_plane(repeated) == 7  # units 3 and 4 are the same line y = 0
    ends_on_a_kink = [(np.array([[0.0, -1], [-2, -1]]), np.array([2.0, 1]))]
    assert regions.count_line(ends_on_a_kink, [0, 1.375], [-0.5, 1.0], method="walk") == 2
    coincident = [(np.array([[-1.0]]), np.array([b])) for b in (0.0, 2.0, 2.0)]
    assert regions.count_line(coincident, [-1.5], [2.0], method="walk") == 2


def test_the_exact_reference_counts_the_textbook_cases():
    three_lines = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]
    assert exact.count_plane(three_lines, ((-2, 3), (-2, 3))) == 7
    assert exact.count_line(regions.tent_map(4), [0.0], [1.0]) == 16
    assert exact.count_plane(regions.tent_map(3, inputs=2), ((0, 1), (0, 1))) == 8
    assert exact.area([(Fraction(0), Fraction(0)), (Fraction(2), Fraction(0)),
                       (Fraction(0), Fraction(1))]) == 1  # fmt: skip


def test_many_small_networks_share_one_compilation_per_shape_bucket():
    from actlab.regions import _walk, sampled

    rng = np.random.default_rng(7)
    nets = [[(rng.normal(size=(3, w)), rng.normal(size=w)), (rng.normal(size=(w, w + 1)),
             rng.normal(size=w + 1))] for w in (5, 6, 7)]  # fmt: skip
    regions.count_line(nets[0], [-1, 0, 1], [1, 1, -1], method="walk")
    walks = _walk.walk._cache_size()
    regions.count_sampled(nets[0], rng.normal(size=(100, 3)))
    samples = sampled._distinct._cache_size()
    for net in nets[1:]:  # widths 6-8 pad to 8: no new compilation
        regions.count_line(net, [-1, 0, 1], [1, 1, -1], method="walk")
        regions.count_lines(net, rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), method="walk")
        regions.count_sampled(net, rng.normal(size=(100, 3)))
    assert _walk.walk._cache_size() <= walks + 1  # count_lines pads 3 segments to 4 rows
    assert sampled._distinct._cache_size() == samples
