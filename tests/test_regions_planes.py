"""Counts of many networks or slices at once, the compiled count, and the JAX path of the plane
partition."""

import numpy as np
import pytest
from networks import DEGENERATE_ACTIVATIONS, degenerate_box, degenerate_network, random_layers

from actlab import activations as A
from actlab import regions
from actlab.regions import _plane_jax


def he_network(seed, widths, sigma_b2=0.01, inputs=2):
    return random_layers(seed, widths, inputs, bias_std=np.sqrt(sigma_b2))


def test_many_networks_of_mixed_shapes_count_as_one_by_one():
    networks = [
        he_network(seed, widths) for seed in range(12) for widths in ([6, 6], [4], [5, 3, 4])
    ]
    counts = regions.count_planes(networks)
    assert counts.dtype == np.int64 and counts.shape == (36,)
    assert counts.tolist() == [regions.count_plane(net) for net in networks]


def test_each_network_gets_its_own_box_and_slice():
    rng = np.random.default_rng(3)
    networks = [random_layers(seed, [5, 4], 3) for seed in range(8)]
    boxes = [((-1 - k / 4, 1.0), (-0.5, 0.5 + k / 8)) for k in range(8)]
    origins = rng.normal(size=(8, 3))
    bases = rng.normal(size=(8, 2, 3))
    counts = regions.count_planes(networks, bounds=boxes, origins=origins, bases=bases)
    expected = [
        regions.count_plane(net, bounds=box, origin=o, basis=b)
        for net, box, o, b in zip(networks, boxes, origins, bases, strict=True)
    ]
    assert counts.tolist() == expected
    assert len(set(expected)) > 1


def test_many_slices_of_one_network_share_its_check():
    layers = he_network(0, [8, 8, 8], inputs=4)
    rng = np.random.default_rng(1)
    origins, bases = rng.normal(size=(10, 4)), rng.normal(size=(10, 2, 4))
    counts = regions.count_planes([layers] * 10, origins=origins, bases=bases)
    assert counts.tolist() == [
        regions.count_plane(layers, origin=o, basis=b) for o, b in zip(origins, bases, strict=True)
    ]


@pytest.mark.parametrize("act", DEGENERATE_ACTIVATIONS)
def test_degenerate_networks_count_as_one_by_one(act):
    seeds = [
        s for s in range(150) if DEGENERATE_ACTIVATIONS[s % len(DEGENERATE_ACTIVATIONS)] == act
    ]
    networks = [degenerate_network(s, 2) for s in seeds]
    boxes = [degenerate_box(s) for s in seeds]
    counts = regions.count_planes(networks, bounds=boxes, activation=act)
    expected = [
        regions.count_plane(net, bounds=box, activation=act)
        for net, box in zip(networks, boxes, strict=True)
    ]
    assert counts.tolist() == expected


def test_a_bound_activation_applies_to_every_network():
    networks = [he_network(seed, [6, 6]) for seed in range(5)]
    leaky = A.get("leaky_relu", negative_slope=0.2)
    counts = regions.count_planes(networks, activation=leaky)
    assert counts.tolist() == [regions.count_plane(net, activation=leaky) for net in networks]


@pytest.mark.parametrize(
    ("networks", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "networks: expected a non-empty sequence"),
        ("relu", {}, TypeError, "networks: expected a non-empty sequence"),
        (None, {}, TypeError, "networks: expected a non-empty sequence"),
        ([[(np.ones((2, 3)), np.ones(3))], [(np.ones((2, 3)), np.ones(2))]], {}, ValueError,
         r"networks\[1\]\[0\]"),
        ([[(np.full((2, 3), np.nan), np.ones(3))]], {}, ValueError, "finite"),
        ([[(np.ones((2, 3)), np.ones(3))]] * 2, {"bounds": np.zeros((3, 2, 2))}, ValueError,
         r"bounds: expected one box \(2, 2\) or one per network \(2, 2, 2\)"),
        ([[(np.ones((2, 3)), np.ones(3))]] * 2, {"bounds": [((0, 1), (0, 1)), ((1, 0), (0, 1))]},
         ValueError, r"bounds\[1\]: expected lo < hi"),
        ([[(np.ones((2, 3)), np.ones(3))]] * 2, {"origins": np.zeros((3, 2))}, ValueError,
         r"origins: expected one \(d,\) for all networks or one per network \(2, d\)"),
        ([[(np.ones((3, 3)), np.ones(3))]], {}, ValueError, "basis: expected two directions"),
        ([[(np.ones((2, 3)), np.ones(3))]], {"backend": "gpu"}, ValueError,
         "backend: expected one of 'auto', 'numba', 'numpy', 'jax'"),
        ([[(np.ones((2, 3)), np.ones(3))]], {"activation": "tanh"}, ValueError,
         "piecewise-linear"),
        ([[(np.ones((2, 3)), np.ones(3))]], {"rtol": 0.0}, ValueError, "rtol"),
    ],
)  # fmt: skip
def test_bad_input_raises_with_expected_and_received(networks, kwargs, error, match):
    with pytest.raises(error, match=match):
        regions.count_planes(networks, **kwargs)


def test_count_plane_rejects_an_unknown_backend():
    with pytest.raises(ValueError, match="backend: expected one of"):
        regions.count_plane(he_network(0, [3]), backend="cuda")


@pytest.mark.parametrize("act", DEGENERATE_ACTIVATIONS)
def test_the_compiled_count_equals_the_numpy_engine_incl_degenerate_networks(act):
    seeds = [
        s for s in range(240) if DEGENERATE_ACTIVATIONS[s % len(DEGENERATE_ACTIVATIONS)] == act
    ]
    networks = [degenerate_network(s, 2) for s in seeds]
    boxes = [degenerate_box(s) for s in seeds]
    compiled = regions.count_planes(networks, bounds=boxes, activation=act, backend="numba")
    numpy = regions.count_planes(networks, bounds=boxes, activation=act, backend="numpy")
    assert compiled.tolist() == numpy.tolist()
    assert compiled.tolist() == [
        regions.count_plane(net, bounds=box, activation=act, backend="numba")
        for net, box in zip(networks, boxes, strict=True)
    ]


@pytest.mark.parametrize("act", ["relu", A.get("leaky_relu", negative_slope=0.2), "hard_tanh"])
@pytest.mark.parametrize("sigma_b2", [0.0, 0.01])
def test_the_compiled_count_equals_the_numpy_engine_on_he_networks(act, sigma_b2):
    """Zero biases (the cone count, where the activation allows it) and small biases; every
    network against the vectorised engine, one by one and all at once."""
    networks = [he_network(seed, widths, sigma_b2) for seed in range(4)
                for widths in ([24, 24], [12] * 5, [40])]  # fmt: skip
    compiled = regions.count_planes(networks, activation=act, backend="numba")
    assert (
        compiled.tolist()
        == regions.count_planes(networks, activation=act, backend="numpy").tolist()
    )
    assert compiled.tolist() == [regions.count_plane(n, activation=act) for n in networks]
    assert min(compiled) > 20


def test_the_compiled_count_of_slices_and_boxes_equals_the_numpy_engine():
    rng = np.random.default_rng(5)
    layers = he_network(0, [10, 10, 10], inputs=5)
    origins, bases = rng.normal(size=(12, 5)), rng.normal(size=(12, 2, 5))
    boxes = [((-1 - k / 5, 1.0 + k / 7), (-0.5 - k / 3, 0.5)) for k in range(12)]
    kwargs = {"bounds": boxes, "origins": origins, "bases": bases}
    compiled = regions.count_planes([layers] * 12, backend="numba", **kwargs)
    assert (
        compiled.tolist() == regions.count_planes([layers] * 12, backend="numpy", **kwargs).tolist()
    )
    assert len(set(compiled.tolist())) > 3


def test_rows_are_padded_to_few_sizes():
    sizes = {_plane_jax.rows_bucket(n) for n in range(1, 20_000)}
    assert all(_plane_jax.rows_bucket(n) >= n for n in (1, 64, 65, 4096, 4097, 19_999))
    assert len(sizes) < 40 and _plane_jax.rows_bucket(5000) <= 5000 * 9 / 8


def test_auto_backend_is_numpy_on_the_cpu():
    layer = _plane_jax.layer_backend("auto", tuple(he_network(0, [512])))
    assert isinstance(layer, regions._polygons.NumpyLayer)


def test_the_jax_path_counts_and_partitions_as_the_numpy_path():
    for seed in range(6):
        layers = he_network(seed, [10, 10, 10])
        numpy_part = regions.partition_plane(layers, backend="numpy")
        jax_part = regions.partition_plane(layers, backend="jax")
        assert jax_part.count == numpy_part.count
        assert np.array_equal(jax_part.patterns, numpy_part.patterns)
        np.testing.assert_allclose(jax_part.maps, numpy_part.maps, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(jax_part.areas, numpy_part.areas, rtol=1e-9, atol=1e-15)


@pytest.mark.slow  # compiles a few dozen small programs: about 25 s on 2 cores
def test_the_jax_path_counts_as_the_numpy_path_on_many_networks_incl_degenerate_ones():
    seeds = range(120)
    for seed in seeds:
        act = DEGENERATE_ACTIVATIONS[seed % len(DEGENERATE_ACTIVATIONS)]
        layers, box = degenerate_network(seed, 2), degenerate_box(seed)
        numpy_count = regions.count_plane(layers, bounds=box, activation=act, backend="numpy")
        assert regions.count_plane(layers, bounds=box, activation=act, backend="jax") == numpy_count
    networks = [
        he_network(seed, [16] * 4, sigma_b2) for seed in range(10) for sigma_b2 in (0, 0.01)
    ]
    numpy_counts = regions.count_planes(networks, backend="numpy")
    assert np.array_equal(regions.count_planes(networks, backend="jax"), numpy_counts)
    assert numpy_counts.tolist() == [regions.count_plane(n, backend="jax") for n in networks]
