"""actlab.data: shapes, dtypes, determinism, the geometry each set promises, and bad input."""

import math

import jax
import numpy as np
import pytest
from scipy.optimize import linprog

from actlab import data

SMALL = {
    "quadrants": {"n": 50},
    "xor": {"n": 50},
    "moons": {"n": 50},
    "circles": {"n": 50},
    "spirals": {"n": 50},
    "blobs": {"n": 50},
    "teacher_student": {"n": 50},
}


def _linearly_separable(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether some (w, b) has (2y - 1)(w . x + b) >= 1 for every point (an LP feasibility check)."""
    s = 2.0 * y - 1.0
    a_ub = -s[:, None] * np.hstack([x, np.ones((len(x), 1))])
    res = linprog(np.zeros(x.shape[1] + 1), A_ub=a_ub, b_ub=-np.ones(len(x)), bounds=(None, None))
    return res.status == 0


@pytest.mark.parametrize("name", sorted(SMALL))
def test_generators_return_documented_shapes_and_dtypes(name):
    ds = data.load(name, seed=0, **SMALL[name])
    assert ds.x.shape[0] == 50 and ds.x.ndim == 2 and ds.x.dtype == np.float32
    if name == "teacher_student":
        assert ds.y.shape == (50, 1) and ds.y.dtype == np.float32
    else:
        assert ds.y.shape == (50,) and ds.y.dtype == np.int32 and ds.y.min() >= 0
    assert np.isfinite(ds.x).all()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_same_arrays_other_seed_other_arrays(name):
    a = data.load(name, seed=3, **SMALL[name])
    b = data.load(name, seed=3, **SMALL[name])
    c = data.load(name, seed=4, **SMALL[name])
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_seed_may_be_a_jax_key_typed_or_raw():
    typed = data.quadrants(20, seed=jax.random.key(7))
    raw = data.quadrants(20, seed=jax.random.PRNGKey(7))
    np.testing.assert_array_equal(typed.x, raw.x)
    assert not np.array_equal(typed.x, data.quadrants(20, seed=jax.random.key(8)).x)


def test_quadrants_label_is_membership_of_the_positive_quadrant():
    ds = data.quadrants(400, seed=0)
    inside = (ds.x[:, 0] > 0) & (ds.x[:, 1] > 0)
    np.testing.assert_array_equal(ds.y, inside.astype(np.int32))
    assert np.abs(ds.x).max() <= 1.0


def test_quadrants_margin_keeps_points_away_from_both_edges():
    ds = data.quadrants(400, seed=1, margin=0.2)
    x = ds.x.astype(np.float64)
    # distance to the two rays along the positive axes
    d_ray0 = np.where(x[:, 0] > 0, np.abs(x[:, 1]), np.linalg.norm(x, axis=1))
    d_ray1 = np.where(x[:, 1] > 0, np.abs(x[:, 0]), np.linalg.norm(x, axis=1))
    assert np.minimum(d_ray0, d_ray1).min() >= 0.2 - 1e-6


def test_quadrants_rotation_and_angle_move_the_wedge():
    ds = data.quadrants(400, seed=2, rotation=math.pi / 2)  # second quadrant
    np.testing.assert_array_equal(ds.y, ((ds.x[:, 0] < 0) & (ds.x[:, 1] > 0)).astype(np.int32))
    narrow = data.quadrants(400, seed=2, angle=math.pi / 4)  # 0 < polar angle < 45 degrees
    in_wedge = (narrow.x[:, 0] > 0) & (narrow.x[:, 1] > 0) & (narrow.x[:, 1] < narrow.x[:, 0])
    np.testing.assert_array_equal(narrow.y, in_wedge.astype(np.int32))


def test_quadrants_noise_perturbs_inputs_but_not_labels():
    clean = data.quadrants(100, seed=5)
    noisy = data.quadrants(100, seed=5, noise=0.1)
    np.testing.assert_array_equal(clean.y, noisy.y)
    assert 0 < np.abs(noisy.x - clean.x).max() < 1.0


def test_quadrants_no_line_separates_but_two_relu_units_do():
    ds = data.quadrants(200, seed=0, margin=0.05)
    assert not _linearly_separable(ds.x, ds.y)
    # units relu(-x0) and relu(-x1): class 1 exactly where both are off
    both_off = (np.maximum(-ds.x[:, 0], 0) + np.maximum(-ds.x[:, 1], 0)) == 0
    np.testing.assert_array_equal(both_off.astype(np.int32), ds.y)


def test_xor_labels_sign_product_and_respects_margin():
    ds = data.xor(400, seed=0, margin=0.3)
    np.testing.assert_array_equal(ds.y, (ds.x[:, 0] * ds.x[:, 1] > 0).astype(np.int32))
    assert np.abs(ds.x).min() >= 0.3
    assert not _linearly_separable(ds.x, ds.y)


def test_xor_with_wide_margin_is_split_by_two_relu_units():
    ds = data.xor(400, seed=0, margin=0.4)
    s = ds.x[:, 0] + ds.x[:, 1]
    score = np.maximum(s - 0.7, 0) + np.maximum(-s - 0.7, 0)  # two units along x0 + x1
    np.testing.assert_array_equal((score > 0).astype(np.int32), ds.y)


def test_moons_circles_spirals_blobs_balance_classes():
    assert np.bincount(data.moons(51).y).tolist() == [26, 25]
    assert np.bincount(data.circles(50).y).tolist() == [25, 25]
    assert np.bincount(data.spirals(31, classes=3).y).tolist() == [11, 10, 10]
    assert np.bincount(data.blobs(30, centers=3).y).tolist() == [10, 10, 10]


def test_circles_without_noise_lie_on_their_radii():
    ds = data.circles(100, seed=0, noise=0.0, factor=0.3)
    radius = np.linalg.norm(ds.x, axis=1)
    np.testing.assert_allclose(radius, np.where(ds.y == 0, 1.0, 0.3), rtol=1e-5)


def test_moons_without_noise_lie_on_their_arcs():
    ds = data.moons(100, seed=0, noise=0.0)
    upper = ds.x[ds.y == 0]
    lower = ds.x[ds.y == 1] - np.array([1.0, 0.5])
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(lower, axis=1), 1.0, rtol=1e-5)


def test_blobs_with_given_centers_cluster_around_them():
    centers = np.array([[5.0, 0.0, 0.0], [-5.0, 0.0, 0.0]])
    ds = data.blobs(40, seed=0, centers=centers, std=0.01)
    assert ds.x.shape == (40, 3)
    np.testing.assert_allclose(ds.x, centers[ds.y], atol=0.1)


def test_teacher_student_linear_teacher_gives_affine_targets():
    ds = data.teacher_student(64, seed=0, in_features=3, widths=(), out_features=2)
    _, residual, *_ = np.linalg.lstsq(ds.x.astype(np.float64), ds.y, rcond=None)
    assert ds.y.shape == (64, 2)
    assert residual.max() < 1e-8


def test_teacher_student_relu_teacher_is_not_affine_and_noise_adds():
    ds = data.teacher_student(256, seed=0, in_features=2, widths=(8, 8), activation="relu")
    design = np.hstack([ds.x, np.ones((256, 1))])
    _, residual, *_ = np.linalg.lstsq(design, ds.y, rcond=None)
    assert residual.max() > 1e-2
    noisy = data.teacher_student(256, seed=0, in_features=2, widths=(8, 8), noise=0.5)
    assert 0.3 < np.std(noisy.y - ds.y) < 0.7


def test_digits_split_is_stratified_disjoint_and_complete():
    train, test = data.digits(seed=0, test_fraction=0.25)
    assert train.x.shape[1] == test.x.shape[1] == 64
    assert len(train.x) + len(test.x) == 1797
    assert 0.0 <= train.x.min() and train.x.max() <= 1.0
    assert np.bincount(test.y, minlength=10).min() >= 40
    rows = {r.tobytes() for r in train.x}
    assert sum(r.tobytes() in rows for r in test.x) < 5  # only the data set's own duplicates


def test_train_test_split_for_regression_targets():
    ds = data.teacher_student(40, seed=1)
    train, test = data.train_test_split(ds, test_fraction=0.25, seed=0)
    assert (len(train.x), len(test.x)) == (30, 10)
    assert test.y.dtype == np.float32


def test_load_lists_names_and_rejects_unknown_ones():
    assert set(data.names()) == {*SMALL, "digits"}
    with pytest.raises(
        ValueError, match=r"name: expected one of blobs, .*quadrants.*, received 'mnist'"
    ):
        data.load("mnist")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: data.quadrants(0), "n: expected an int >= 1, received 0"),
        (lambda: data.xor(-3), "n: expected an int >= 1, received -3"),
        (lambda: data.quadrants(10, noise=-0.1), "noise: expected a finite number >= 0, received -0.1"),
        (lambda: data.xor(10, noise=float("nan")), "noise: expected a finite number >= 0, received nan"),
        (lambda: data.quadrants(10, margin=1.0), r"margin: expected a finite number in \[0, 1\), received 1.0"),
        (lambda: data.xor(10, margin=-0.1), r"margin: expected a finite number in \[0, 1\), received -0.1"),
        (lambda: data.quadrants(10, angle=math.pi), r"angle: expected a finite number in \(0, 3.14159\)"),
        (lambda: data.quadrants(10, seed=-1), "seed: expected an int >= 0 or a single jax.random key, received -1"),
        (lambda: data.quadrants(10, seed="zero"), "seed: expected an int >= 0 or a single jax.random key, received 'zero'"),
        (lambda: data.circles(10, factor=1.5), r"factor: expected a finite number in \(0, 1\), received 1.5"),
        (lambda: data.spirals(10, classes=1), "classes: expected an int >= 2, received 1"),
        (lambda: data.spirals(10, turns=0), "turns: expected a finite number > 0, received 0"),
        (lambda: data.blobs(10, std=0), "std: expected a finite number > 0, received 0"),
        (lambda: data.blobs(10, centers=np.zeros(3)), r"centers: expected an int >= 1 or a finite array of shape \(k, d\), received shape \(3,\)"),
        (lambda: data.blobs(10, centers=0), "centers: expected an int >= 1, received 0"),
        (lambda: data.teacher_student(10, sigma_w2=0), "sigma_w2: expected a finite number > 0, received 0"),
        (lambda: data.teacher_student(10, widths=(4, 0)), r"widths\[1\]: expected an int >= 1, received 0"),
        (lambda: data.teacher_student(10, activation="swishy"), "activation: expected one of .*, received 'swishy'"),
        (lambda: data.digits(test_fraction=1.0), r"test_fraction: expected a finite number in \(0, 1\), received 1.0"),
    ],
)  # fmt: skip
def test_bad_arguments_raise_value_error_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: data.moons(2.5), "n: expected an int >= 1, received 2.5"),
        (lambda: data.circles(True), "n: expected an int >= 1, received True"),
        (lambda: data.quadrants(10, noise="0.1"), "noise: expected a finite number >= 0, received '0.1'"),
    ],
)  # fmt: skip
def test_arguments_of_the_wrong_type_raise_type_error_naming_them(call, message):
    with pytest.raises(TypeError, match=message):
        call()
