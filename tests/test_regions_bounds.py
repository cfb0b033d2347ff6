"""Bounds on the number of linear regions: exact integers, known values, brute force."""

import itertools
import math

import pytest

from actlab.regions import bounds

SMALL_NETWORKS = [
    (n0, widths)
    for n0 in (1, 2, 3)
    for depth in (1, 2, 3)
    for widths in itertools.product((1, 2, 4), repeat=depth)
]


def serra_upper_by_enumeration(n0, widths):
    """Theorem 1 of Serra et al. (2018) summed over the index set J directly."""
    total = 0
    for js in itertools.product(*(range(n + 1) for n in widths)):
        caps = [
            min([n0, *(widths[i] - js[i] for i in range(l)), widths[l]]) for l in range(len(js))
        ]
        if all(j <= cap for j, cap in zip(js, caps, strict=True)):
            total += math.prod(math.comb(n, j) for n, j in zip(widths, js, strict=True))
    return total


def test_zaslavsky_known_values():
    assert bounds.zaslavsky(3, 2) == 7  # three lines in general position in the plane
    assert bounds.zaslavsky(4, 1) == 5  # four points on a line
    assert bounds.zaslavsky(0, 5) == 1
    assert bounds.zaslavsky(10, 2) == 1 + 10 + 45


@pytest.mark.parametrize("n", [1, 4, 7])
def test_zaslavsky_is_two_to_the_n_when_dimension_reaches_n(n):
    assert bounds.zaslavsky(n, n) == bounds.zaslavsky(n, n + 3) == 2**n


@pytest.mark.parametrize(("n0", "widths"), SMALL_NETWORKS)
def test_serra_upper_dynamic_programme_equals_enumeration_of_the_index_set(n0, widths):
    assert bounds.serra_upper(n0, widths) == serra_upper_by_enumeration(n0, widths)


@pytest.mark.parametrize(("n0", "widths"), SMALL_NETWORKS)
def test_upper_bounds_are_ordered_serra_montufar_two_to_the_n(n0, widths):
    serra, montufar = bounds.serra_upper(n0, widths), bounds.montufar_upper(n0, widths)
    assert serra <= montufar <= 2 ** sum(widths)


@pytest.mark.parametrize(("n0", "n1"), [(1, 3), (2, 5), (3, 4), (5, 3)])
def test_single_layer_upper_bounds_equal_zaslavsky(n0, n1):
    expected = bounds.zaslavsky(n1, n0)
    assert bounds.serra_upper(n0, [n1]) == bounds.montufar_upper(n0, [n1]) == expected


@pytest.mark.parametrize("widths", [[3], [3, 3, 3], [4, 7, 3, 5]])
def test_one_dimensional_input_bounds_are_tight_prod_n_plus_one(widths):
    # Serra et al. (2018), Theorem 5: exactly prod(n_l + 1) for n0 = 1 and widths >= 3
    expected = math.prod(n + 1 for n in widths)
    assert bounds.serra_upper(1, widths) == bounds.serra_lower(1, widths) == expected


@pytest.mark.parametrize(("n0", "widths"), [(1, [3, 3]), (2, [6, 6, 7]), (3, [9, 12])])
def test_lower_bounds_are_ordered_and_below_the_upper_bounds(n0, widths):
    montufar, serra = bounds.montufar_lower(n0, widths), bounds.serra_lower(n0, widths)
    assert montufar <= serra <= bounds.serra_upper(n0, widths)


def test_known_values_of_every_bound():
    assert bounds.montufar_lower(1, [3, 3]) == 3 * 4
    assert bounds.montufar_lower(2, [4, 4, 4]) == 2**2 * 2**2 * (1 + 4 + 6)
    assert bounds.serra_lower(2, [6, 6]) == 4**2 * (1 + 6 + 15)
    assert bounds.montufar_upper(2, [3, 3]) == 7 * 7
    # j1 = 0, 1, 2 with j2 <= min(2, 3 - j1): 1 * 7 + 3 * 7 + 3 * (1 + 3)
    assert bounds.serra_upper(2, [3, 3]) == 40


def test_bounds_are_python_integers_even_when_huge():
    value = bounds.serra_upper(2, [64] * 16)
    assert type(value) is int and value > 2**64


def test_montufar_lower_names_the_width_below_n0():
    with pytest.raises(
        ValueError, match=r"montufar_lower: widths\[1\]: expected a width >= n0 = 2, received 1"
    ):
        bounds.montufar_lower(2, [3, 1])


def test_serra_lower_names_the_width_below_three_n0():
    with pytest.raises(
        ValueError, match=r"serra_lower: widths\[0\]: expected a width >= 3 \* n0 = 6, received 5"
    ):
        bounds.serra_lower(2, [5, 6])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: bounds.zaslavsky(-1, 2), ValueError, "n: expected an int >= 0, received -1"),
        (lambda: bounds.zaslavsky(2.0, 2), TypeError, "n: expected an int >= 0, received 2.0"),
        (lambda: bounds.zaslavsky(True, 2), TypeError, "n: expected an int >= 0, received True"),
        (lambda: bounds.serra_upper(0, [3]), ValueError, "n0: expected an int >= 1, received 0"),
        (lambda: bounds.serra_upper(2, []), ValueError, "at least one hidden layer"),
        (lambda: bounds.montufar_upper(2, [3, 0]), ValueError, r"widths\[1\]"),
        (lambda: bounds.montufar_upper(2, 3), TypeError, "widths: expected a sequence"),
    ],
)
def test_invalid_arguments_raise_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
