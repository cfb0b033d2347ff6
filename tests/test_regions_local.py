"""Local complexity (actlab.regions.local_complexity): exact counts on hand-built networks, an
independent per-point NumPy brute force, the small-radius limit, shapes, jit/vmap, bad input."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from actlab import activations as A
from actlab import regions

# independent NumPy activations and their kinks (not actlab's pieces)
NUMPY_ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0.0), (0.0,)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.2 * z), (0.0,)),
    "hard_tanh": (lambda z: np.clip(z, -1.0, 1.0), (-1.0, 1.0)),
    "relu6": (lambda z: np.clip(z, 0.0, 6.0), (0.0, 6.0)),
}
ACTLAB_ACTIVATIONS = {
    "relu": "relu",
    "leaky_relu": A.get("leaky_relu", negative_slope=0.2),
    "hard_tanh": "hard_tanh",
    "relu6": A.get("relu6"),
}


def random_layers(seed, dim, widths, *, bias=0.5):
    rng = np.random.default_rng(seed)
    layers, fan_in = [], dim
    for width in widths:
        layers.append(
            (rng.normal(0, np.sqrt(2 / fan_in), (fan_in, width)), rng.normal(0, bias, width))
        )
        fan_in = width
    return layers


def brute_force(layers, points, radius, frame, name):
    """Per point, a Python loop: the 2k vertices formed explicitly, propagated in float64, and
    every unit checked kink by kink for a vertex strictly below and one strictly above."""
    act, kinks = NUMPY_ACTIVATIONS[name]
    counts = np.zeros((len(points), len(layers)), dtype=np.int64)
    for i, x in enumerate(points):
        u = frame if frame.ndim == 2 else frame[i]
        h = np.concatenate([x + radius * u, x - radius * u])
        for l, (w, b) in enumerate(layers):
            z = h @ w + b
            for j in range(z.shape[1]):
                counts[i, l] += any(z[:, j].min() < k < z[:, j].max() for k in kinks)
            h = act(z)
    return counts


def test_one_layer_counts_the_lines_within_radius_along_the_axes():
    # x = 0, y = 0, x + y = 1: the diamond |dx| + |dy| <= r meets x = 0 iff |x| < r, y = 0 iff
    # |y| < r, and x + y = 1 iff |x + y - 1| < r (max |w_i| = 1)
    layers = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]
    points = np.array([[0.05, 0.5], [0.5, 0.45], [0.05, 0.05], [0.3, 0.3], [0.52, 0.52], [-1, 2.0]])
    lc = regions.local_complexity(layers, points, radius=0.1, dtype=jnp.float64)
    assert lc.total.tolist() == [1, 1, 2, 0, 1, 1]
    assert lc.per_layer.tolist() == [[1], [1], [2], [0], [1], [1]]
    expected = (
        (np.abs(points[:, 0]) < 0.1).astype(int)
        + (np.abs(points[:, 1]) < 0.1)
        + (np.abs(points.sum(1) - 1) < 0.1)
    )
    assert lc.total.tolist() == expected.tolist()


@pytest.mark.parametrize("frame_kind", ["cross", "explicit"])
def test_one_layer_matches_the_closed_form_distance_along_the_frame(frame_kind):
    # a unit crosses iff |z_j(x)| < r max_i |u_i . w_j|
    dim, width, radius = 6, 40, 0.3
    layers = random_layers(1, dim, [width])
    w, b = layers[0]
    frame = (
        np.eye(dim)
        if frame_kind == "cross"
        else np.asarray(regions.orthonormal_frame(3, dim, 4), np.float64)
    )
    x = np.random.default_rng(2).normal(size=(300, dim))
    lc = regions.local_complexity(
        layers,
        x,
        radius=radius,
        frame="cross" if frame_kind == "cross" else frame,
        dtype=jnp.float64,
    )
    reach = radius * np.abs(frame @ w).max(axis=0)
    expected = (np.abs(x @ w + b) < reach).sum(axis=1)
    np.testing.assert_array_equal(np.asarray(lc.total), expected)
    assert 0 < expected.mean() < width  # neither trivial nor saturated


def test_deeper_layer_is_exact_where_the_network_is_affine():
    # layer 1 is always on near the points (large bias), so layer 2 sees the affine map x @ W1 + b1
    rng = np.random.default_rng(4)
    dim = 5
    w1, b1 = rng.normal(size=(dim, 7)), np.full(7, 50.0)
    w2, b2 = rng.normal(size=(7, 30)), rng.normal(size=30)
    x = rng.normal(size=(200, dim))
    lc = regions.local_complexity([(w1, b1), (w2, b2)], x, radius=0.2, dtype=jnp.float64)
    composite = w1 @ w2
    expected = (np.abs(x @ composite + b1 @ w2 + b2) < 0.2 * np.abs(composite).max(axis=0)).sum(1)
    assert np.all(np.asarray(lc.per_layer[:, 0]) == 0)
    np.testing.assert_array_equal(np.asarray(lc.per_layer[:, 1]), expected)


@pytest.mark.parametrize("name", list(NUMPY_ACTIVATIONS))
def test_agrees_with_a_per_point_brute_force(name):
    dim, radius = 8, 0.25
    layers = random_layers(5, dim, [12, 10, 9])
    x = np.random.default_rng(6).normal(size=(64, dim))
    expected = brute_force(layers, x, radius, np.eye(dim), name)
    lc = regions.local_complexity(
        layers, x, radius=radius, activation=ACTLAB_ACTIVATIONS[name], dtype=jnp.float64
    )
    np.testing.assert_array_equal(np.asarray(lc.per_layer), expected)
    np.testing.assert_array_equal(np.asarray(lc.total), expected.sum(1))
    assert expected[:, 1:].sum() > 0  # deeper layers are crossed too
    # float32, the default, agrees except for rare near-ties
    single = regions.local_complexity(layers, x, radius=radius, activation=ACTLAB_ACTIVATIONS[name])
    assert single.per_layer.dtype == jnp.int32
    assert np.mean(np.asarray(single.per_layer) == expected) > 0.99


def test_agrees_with_the_brute_force_on_a_shared_explicit_frame():
    dim = 10
    layers = random_layers(7, dim, [16, 16])
    frame = np.asarray(regions.orthonormal_frame(8, dim, 3), np.float64)
    frame = np.linalg.qr(frame.T)[0].T  # orthonormal to float64 precision
    x = np.random.default_rng(9).normal(size=(50, dim))
    expected = brute_force(layers, x, 0.4, frame, "relu")
    lc = regions.local_complexity(layers, x, radius=0.4, frame=frame, dtype=jnp.float64)
    np.testing.assert_array_equal(np.asarray(lc.per_layer), expected)


def test_random_frames_lie_between_the_euclidean_bounds_and_follow_the_key():
    # with k = d random orthonormal directions, ||w|| / sqrt(d) <= max_i |u_i . w| <= ||w||
    dim, radius = 16, 0.5
    layers = random_layers(10, dim, [64])
    w, b = layers[0]
    x = np.random.default_rng(11).normal(size=(400, dim))
    z, norm = np.abs(x @ w + b), np.linalg.norm(w, axis=0)
    lc = regions.local_complexity(
        layers, x, radius=radius, frame="random", key=3, dtype=jnp.float64
    )
    total = np.asarray(lc.total)
    assert np.all((z < radius * norm / np.sqrt(dim)).sum(1) <= total)
    assert np.all(total <= (z < radius * norm).sum(1))
    again = regions.local_complexity(
        layers, x, radius=radius, frame="random", key=3, dtype=jnp.float64
    )
    other = regions.local_complexity(
        layers, x, radius=radius, frame="random", key=4, dtype=jnp.float64
    )
    assert np.array_equal(total, np.asarray(again.total))
    assert not np.array_equal(total, np.asarray(other.total))
    fewer = regions.local_complexity(layers, x, radius=radius, frame="random", directions=2, key=3)
    assert float(fewer.total.mean()) < float(total.mean())  # fewer directions reach fewer kinks


def test_orthonormal_frame_rows_are_orthonormal():
    frame = regions.orthonormal_frame(jax.random.key(1), 12, 5)
    assert frame.shape == (5, 12)
    np.testing.assert_allclose(np.asarray(frame @ frame.T), np.eye(5), atol=1e-5)


def test_vanishing_radius_counts_nothing_away_from_kinks():
    dim = 20
    layers = random_layers(12, dim, [32, 32, 32])
    x = np.random.default_rng(13).normal(size=(500, dim))
    # the smallest |pre-activation| of any unit at each point, in float64
    h, margin = x, np.full(len(x), np.inf)
    for w, b in layers:
        z = h @ w + b
        margin = np.minimum(margin, np.abs(z).min(axis=1))
        h = np.maximum(z, 0)
    away = margin > 1e-3
    assert away.mean() > 0.5
    for radius in (1e-6, 1e-7):
        lc = regions.local_complexity(layers, x, radius=radius)
        assert np.all(np.asarray(lc.total)[away] == 0)
    big = regions.local_complexity(layers, x, radius=1.0)
    assert float(big.total.mean()) > 1


def test_one_layer_counts_grow_with_the_radius():
    layers = random_layers(14, 4, [50])
    x = np.random.default_rng(15).normal(size=(100, 4))
    totals = [
        np.asarray(regions.local_complexity(layers, x, radius=r).total)
        for r in (0.01, 0.1, 0.5, 2.0)
    ]
    assert all(np.all(a <= b) for a, b in itertools.pairwise(totals))
    assert totals[0].sum() < totals[-1].sum()


def test_shapes_and_dtypes_follow_the_points():
    layers = random_layers(16, 3, [5, 4])
    rng = np.random.default_rng(17)
    batch = regions.local_complexity(layers, rng.normal(size=(7, 3)), radius=0.3)
    assert isinstance(batch, regions.LocalComplexity)
    assert batch.per_layer.shape == (7, 2) and batch.total.shape == (7,)
    assert batch.per_layer.dtype == jnp.int32 and batch.total.dtype == jnp.int32
    one = regions.local_complexity(layers, rng.normal(size=3), radius=0.3)
    assert one.per_layer.shape == (2,) and one.total.shape == ()
    grid = regions.local_complexity(layers, rng.normal(size=(2, 5, 3)), radius=0.3)
    assert grid.per_layer.shape == (2, 5, 2) and grid.total.shape == (2, 5)
    assert np.all(np.asarray(grid.total) <= 9)


def test_batching_and_padding_do_not_change_the_counts():
    layers = random_layers(18, 6, [20, 20])
    x = np.random.default_rng(19).normal(size=(37, 6))
    whole = regions.local_complexity(layers, x, radius=0.3)
    for batch in (1, 5, 16, 64):
        part = regions.local_complexity(layers, x, radius=0.3, batch=batch)
        np.testing.assert_array_equal(np.asarray(part.per_layer), np.asarray(whole.per_layer))


def test_runs_under_jit_and_vmap_over_networks_and_points():
    dim = 6
    nets = [random_layers(s, dim, [10, 8]) for s in range(3)]
    stacked = [
        tuple(jnp.stack([jnp.asarray(net[l][i], jnp.float32) for net in nets]) for i in range(2))
        for l in range(2)
    ]
    x = jnp.asarray(np.random.default_rng(20).normal(size=(25, dim)), jnp.float32)

    def lc(layers, points):
        return regions.local_complexity(layers, points, radius=0.4).per_layer

    by_vmap = jax.jit(jax.vmap(lc, in_axes=(0, None)))(stacked, x)
    for s, net in enumerate(nets):
        np.testing.assert_array_equal(np.asarray(by_vmap[s]), np.asarray(lc(net, x)))
    per_point = jax.vmap(lambda p: lc(nets[0], p))(x)  # one point at a time, vmapped
    np.testing.assert_array_equal(np.asarray(per_point), np.asarray(lc(nets[0], x)))
    jitted = jax.jit(lambda p: regions.local_complexity(nets[0], p, radius=0.4).total)
    np.testing.assert_array_equal(np.asarray(jitted(x)), np.asarray(lc(nets[0], x).sum(1)))


def test_accepts_every_piecewise_linear_activation_form():
    from flax import nnx

    from actlab.models import PReLU

    layers = random_layers(21, 4, [12, 12])
    x = np.random.default_rng(22).normal(size=(30, 4))
    by_name = regions.local_complexity(layers, x, radius=0.3, activation="prelu")
    for act in (
        A.get("prelu", slope=0.25),
        A.get("leaky_relu", negative_slope=0.25),
        PReLU(rngs=nnx.Rngs(0)),
    ):
        other = regions.local_complexity(layers, x, radius=0.3, activation=act)
        np.testing.assert_array_equal(np.asarray(other.per_layer), np.asarray(by_name.per_layer))
    # identity has no kink: nothing ever crosses
    assert (
        int(regions.local_complexity(layers, x, radius=5.0, activation="identity").total.sum()) == 0
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"points": np.zeros((4, 3))}, ValueError, r"points: expected shape \(\.\.\., 2\)"),
        ({"points": np.zeros((0, 2))}, ValueError, r"points: expected shape"),
        ({"points": np.array([[0.0, np.nan]])}, ValueError, "points: expected finite values"),
        ({"points": np.zeros((2, 2), bool)}, TypeError, "points: expected a real array"),
        ({"radius": 0.0}, ValueError, r"radius: expected a finite number > 0, received 0.0"),
        ({"radius": -1.0}, ValueError, r"radius: expected a finite number > 0"),
        ({"radius": float("nan")}, ValueError, r"radius: expected a finite number > 0"),
        ({"activation": "gelu"}, ValueError, "activation: expected a piecewise-linear activation"),
        ({"activation": lambda z: z}, TypeError, "activation: expected a piecewise-linear"),
        ({"frame": "sphere"}, ValueError, "frame: expected one of 'cross', 'random'"),
        ({"frame": np.ones((2, 2))}, ValueError, "frame: expected orthonormal rows"),
        ({"frame": np.eye(3)}, ValueError, r"frame: expected .*an array \(k, 2\)"),
        (
            {"frame": "random", "directions": 3},
            ValueError,
            r"directions: expected an int in \[1, 2\]",
        ),
        ({"frame": "random", "directions": 0}, ValueError, "directions: expected an int >= 1"),
        ({"directions": 1}, ValueError, 'directions: expected None with frame="cross"'),
        ({"dtype": jnp.float16}, ValueError, "dtype: expected one of"),
        ({"batch": 0}, ValueError, "batch: expected an int >= 1"),
    ],
)
def test_bad_input_is_rejected_with_what_was_expected(kwargs, error, match):
    args = {"points": np.zeros((3, 2)), "radius": 0.1, **kwargs}
    layers = [(np.eye(2), np.zeros(2))]
    with pytest.raises(error, match=match):
        regions.local_complexity(layers, args.pop("points"), **args)


def test_bad_layers_are_rejected():
    with pytest.raises(ValueError, match=r"layers\[1\] W: expected 3 input rows"):
        regions.local_complexity(
            [(np.ones((2, 3)), np.zeros(3)), (np.ones((2, 2)), np.zeros(2))],
            np.zeros((1, 2)),
            radius=0.1,
        )
    with pytest.raises(ValueError, match=r"layers\[0\] b: expected finite values"):
        regions.local_complexity(
            [(np.ones((2, 3)), np.full(3, np.inf))], np.zeros((1, 2)), radius=0.1
        )


def test_random_frames_are_the_documented_per_point_draws_whatever_the_batch():
    dim, k, radius = 9, 4, 0.5
    layers = random_layers(23, dim, [14, 14])
    x = np.random.default_rng(24).normal(size=(21, dim))
    key = jax.random.key(5)
    with jax.enable_x64(True):
        draws = [
            regions.orthonormal_frame(jax.random.fold_in(key, i), dim, k, jnp.float64)
            for i in range(21)
        ]
        frames = np.stack([np.asarray(f) for f in draws])
    expected = brute_force(layers, x, radius, frames, "relu")
    for batch in (None, 4):
        lc = regions.local_complexity(
            layers, x, radius=radius, frame="random", directions=k, key=key, batch=batch,
            dtype=jnp.float64,
        )  # fmt: skip
        np.testing.assert_array_equal(np.asarray(lc.per_layer), expected)
