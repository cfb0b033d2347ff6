"""Unit measurements: dead units, sparsity, saturation, silent examples and exact kink hits."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from actlab import activations as A
from actlab import train
from actlab.gradflow import (
    SATURATION_THRESHOLD,
    UnitStats,
    ensemble_unit_stats,
    unit_stats,
)
from actlab.models import MLP, PReLU, hidden_layers

# A 2-input network whose units are known by hand on the batch X below:
#   layer 1: u0 = x0 (on for x0 > 0), u1 = x1 - 10 (never on), u2 = -x0 - x1 (on for x0 + x1 < 0)
#   layer 2: v0 = u0 + u2 (on where either is), v1 = u1 - 1 (never on)
W1 = jnp.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])
B1 = jnp.array([0.0, -10.0, 0.0])
W2 = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
B2 = jnp.array([0.0, -1.0])
LAYERS = [(W1, B1), (W2, B2)]
X = jnp.array([[1.0, 2.0], [-1.0, -2.0], [-1.0, 1.0], [0.0, 0.0]])
# z1 per example: [1, -8, -3], [-1, -12, 3], [-1, -9, 0], [0, -10, 0]; h1 = relu(z1)
# z2: [1, -1], [3, -1], [0, -1], [0, -1]


def test_hand_built_relu_network_has_the_counted_dead_units_and_zeros():
    s = unit_stats(LAYERS, X, activation="relu")
    assert isinstance(s, UnitStats)
    # layer 1: u1 never on; layer 2: v1 never on
    np.testing.assert_allclose(s.dead, [1 / 3, 1 / 2], rtol=1e-6)
    np.testing.assert_allclose(s.zero_grad, [1 / 3, 1 / 2], rtol=1e-6)
    # zeros of h1 per example: 2, 2, 3, 3 of 3 units; of h2: 1, 1, 2, 2 of 2
    np.testing.assert_allclose(s.sparsity, [10 / 12, 6 / 8], rtol=1e-6)
    np.testing.assert_array_equal(s.saturation, s.sparsity)  # relu' is 0 exactly where off
    np.testing.assert_allclose(s.silent, [2 / 4, 2 / 4], rtol=1e-6)  # the last two examples
    np.testing.assert_allclose(s.zero_preactivation, [3 / 12, 2 / 8], rtol=1e-6)


def test_relu_grad_at_zero_decides_whether_units_touching_zero_pass_gradient():
    x = jnp.array([[0.0], [-1.0]])
    layers = [(jnp.array([[1.0]]), jnp.array([0.0]))]  # z = x: never > 0, touches 0
    at0 = unit_stats(layers, x, activation="relu")
    at1 = unit_stats(layers, x, activation=A.get("relu", grad_at_zero=1.0))
    assert at0.dead[0] == at1.dead[0] == 1.0
    assert at0.zero_grad[0] == 1.0 and at1.zero_grad[0] == 0.0
    assert at0.zero_preactivation[0] == at1.zero_preactivation[0] == 0.5


def test_leaky_relu_units_that_are_never_on_still_pass_gradient():
    s = unit_stats(LAYERS, X, activation="leaky_relu")
    np.testing.assert_allclose(s.dead, [1 / 3, 1 / 2], rtol=1e-6)
    np.testing.assert_allclose(s.zero_grad, [0.0, 0.0], rtol=1e-6)
    # leaky outputs are exactly 0 only where z == 0: z1 has 3 such entries; z2 (from the
    # leaky h1) = [0.97, -1], [2.99, -1], [-0.01, -1], [0, -1] has 1
    np.testing.assert_allclose(s.sparsity, [3 / 12, 1 / 8], rtol=1e-6)


def test_tanh_saturation_counts_derivatives_below_the_threshold():
    z = jnp.array([[-4.0, -2.0, 0.0, 2.9, 3.1, 8.0]])  # tanh' < 0.01 where |z| > 2.993
    layers = [(jnp.eye(6), jnp.zeros(6))]
    s = unit_stats(layers, z, activation="tanh")
    assert s.saturation[0] == pytest.approx(3 / 6)
    loose = unit_stats(layers, z, activation="tanh", saturation_threshold=0.1)
    assert loose.saturation[0] == pytest.approx(5 / 6)  # tanh'(2) = 0.07, tanh'(2.9) = 0.012
    assert s.sparsity[0] == pytest.approx(1 / 6) and s.dead[0] == pytest.approx(3 / 6)
    assert SATURATION_THRESHOLD == 0.01


def test_zero_tol_counts_near_zero_outputs_as_zeros():
    z = jnp.array([[-20.0, -3.0, -0.5, 1.0]])
    layers = [(jnp.eye(4), jnp.zeros(4))]
    gelu = unit_stats(layers, z, activation="gelu")
    assert gelu.sparsity[0] == pytest.approx(1 / 4)  # gelu(-20) underflows to exactly 0
    near = unit_stats(layers, z, activation="gelu", zero_tol=0.01)
    assert near.sparsity[0] == pytest.approx(2 / 4)  # |gelu(-3)| = 0.004


def test_per_layer_activations_are_applied_in_order():
    s = unit_stats(LAYERS, X, activation=["relu", "identity"])
    np.testing.assert_allclose(s.zero_grad, [1 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(s.sparsity[1], 2 / 8)  # identity: only the exact zeros of z2


# Every MLP below has the shapes 8 -> 64 -> 64 -> 1: built eagerly, each draws its weights with
# operations compiled once per shape, so the models after the first cost little.
XB = jax.random.normal(jax.random.key(1), (256, 8))


def _mlp(**kwargs) -> MLP:
    return MLP(8, [64, 64], 1, rngs=nnx.Rngs(kwargs.pop("seed", 0)), **kwargs)


@pytest.fixture(scope="module")
def relu_mlp():
    return _mlp()


def test_mlp_form_agrees_with_its_hidden_layers(relu_mlp):
    from_model = unit_stats(relu_mlp, XB)
    from_layers = unit_stats(hidden_layers(relu_mlp), XB, activation="relu")
    for a, b in zip(from_model, from_layers, strict=True):
        np.testing.assert_array_equal(a, b)


def test_he_initialised_relu_layers_are_about_half_sparse(relu_mlp):
    s = unit_stats(relu_mlp, XB)
    np.testing.assert_allclose(s.sparsity, 0.5, atol=0.05)
    assert np.all(s.dead < 0.02) and np.all(s.silent == 0)


def test_negative_biases_kill_relu_but_not_prelu_gradients():
    for activation, zero_grad in (("relu", 1.0), (PReLU, 0.0)):
        model = _mlp(activation=activation)
        model.hidden[0].bias[...] = jnp.full((64,), -100.0)
        s = unit_stats(model, XB)
        assert s.dead[0] == 1.0 and s.silent[0] == (1.0 if activation == "relu" else 0.0)
        assert s.zero_grad[0] == zero_grad


def test_batch_norm_in_training_mode_is_measured_without_changing_its_statistics():
    model = _mlp(norm="batch")
    before = jax.tree.map(np.asarray, nnx.state(model, nnx.BatchStat))
    s = unit_stats(model, 3.0 + XB)
    after = jax.tree.map(np.asarray, nnx.state(model, nnx.BatchStat))
    jax.tree.map(np.testing.assert_array_equal, before, after)
    np.testing.assert_allclose(s.sparsity, 0.5, atol=0.1)  # batch statistics centre them


def test_jit_gives_the_eager_result(relu_mlp):
    eager = unit_stats(LAYERS, X, activation="relu")
    jitted = jax.jit(lambda layers, x: unit_stats(layers, x, activation="relu"))(LAYERS, X)
    for a, b in zip(eager, jitted, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(unit_stats(relu_mlp, XB), nnx.jit(unit_stats)(relu_mlp, XB), strict=True):
        np.testing.assert_array_equal(a, b)


def test_vmap_over_seeds_matches_a_loop():
    def stats(key):
        return unit_stats(_mlp(seed=key, sigma_b2=0.5), XB)

    keys = jax.random.split(jax.random.key(2), 3)
    batched = jax.jit(jax.vmap(stats))(keys)
    assert batched.dead.shape == (3, 2)
    for i, key in enumerate(keys):
        for a, b in zip(batched, stats(key), strict=True):
            np.testing.assert_allclose(a[i], b, atol=1 / 256)  # a sign may flip at rounding


def test_ensemble_unit_stats_measures_every_member():
    models = [_mlp(seed=i, activation=PReLU, sigma_b2=1.0) for i in range(3)]
    graphdef, *_ = nnx.split(models[0], nnx.Param, ...)
    states = [nnx.split(m, nnx.Param, ...)[1:] for m in models]
    params, rest = jax.tree.map(lambda *a: jnp.stack(a), *states)
    ens = train.Ensemble(graphdef, params, rest, jax.random.split(jax.random.key(0), 3), None, None, (3, 1, 1))  # fmt: skip
    stats = ensemble_unit_stats(ens, XB, zero_tol=0.1)
    assert stats.sparsity.shape == (3, 2)
    for i, model in enumerate(models):
        single = unit_stats(model, XB, zero_tol=0.1)
        for a, b in zip(stats, single, strict=True):
            np.testing.assert_allclose(a[i], b, atol=1 / 256)


@settings(max_examples=25, deadline=None)
@given(
    w=hnp.arrays(np.float32, (3, 4), elements=st.floats(-2, 2, width=32)),
    b=hnp.arrays(np.float32, (4,), elements=st.floats(-2, 2, width=32)),
    x=hnp.arrays(np.float32, (5, 3), elements=st.floats(-2, 2, width=32)),
)
def test_relu_layer_matches_a_numpy_count(w, b, x):
    s = unit_stats([(w, b)], x, activation="relu")
    z = np.asarray(jnp.asarray(x) @ jnp.asarray(w) + jnp.asarray(b)[None, :])  # same rounding
    off = z <= 0
    assert s.dead[0] == pytest.approx(np.mean(off.all(axis=0)))
    assert s.sparsity[0] == pytest.approx(np.mean(off))
    assert s.silent[0] == pytest.approx(np.mean(off.all(axis=1)))
    assert s.zero_preactivation[0] == pytest.approx(np.mean(z == 0))


@pytest.mark.parametrize(
    ("network", "x", "kwargs", "error", "match"),
    [
        (
            LAYERS,
            X[:, :1],
            {"activation": "relu"},
            ValueError,
            r"unit_stats: x: expected shape \(batch >= 1, 2\), received shape \(4, 1\)",
        ),
        (LAYERS, X[0], {"activation": "relu"}, ValueError, r"received shape \(2,\)"),
        (LAYERS, X[:0], {"activation": "relu"}, ValueError, r"received shape \(0, 2\)"),
        (
            LAYERS,
            X.astype(jnp.int32),
            {"activation": "relu"},
            TypeError,
            "x: expected a floating-point array, received dtype int32",
        ),
        (
            [],
            X,
            {"activation": "relu"},
            ValueError,
            "unit_stats: layers: expected at least one hidden layer",
        ),
        (
            "relu",
            X,
            {"activation": "relu"},
            TypeError,
            r"unit_stats: layers: expected a sequence of \(W, b\) pairs, received 'relu'",
        ),
        (
            [(W1, B1), (W1, B1)],
            X,
            {"activation": "relu"},
            ValueError,
            r"layers\[1\] W: expected 3 input rows \(the width of layers\[0\]\), received shape \(2, 3\)",
        ),
        (
            [(W1, B2)],
            X,
            {"activation": "relu"},
            ValueError,
            r"layers\[0\] b: expected shape \(3,\) to match W of shape \(2, 3\), received shape \(2,\)",
        ),
        ([W1], X, {"activation": "relu"}, ValueError, r"layers\[0\]: expected a pair \(W, b\)"),
        (LAYERS, X, {}, ValueError, "unit_stats: activation: expected an activation to apply"),
        (
            LAYERS,
            X,
            {"activation": ["relu"]},
            ValueError,
            "activation: expected one activation per layer .2., or one for all, received 1",
        ),
        (
            LAYERS,
            X,
            {"activation": "softmax"},
            ValueError,
            "activation: expected an elementwise activation, received 'softmax'",
        ),
        (
            LAYERS,
            X,
            {"activation": "nope"},
            ValueError,
            "activation: expected one of .*, received 'nope'",
        ),
        (
            LAYERS,
            X,
            {"activation": 3},
            TypeError,
            "activation: expected a registry name, .*, received 3",
        ),
        (
            LAYERS,
            X,
            {"activation": "relu", "saturation_threshold": 0.0},
            ValueError,
            "saturation_threshold: expected a finite number > 0, received 0.0",
        ),
        (
            LAYERS,
            X,
            {"activation": "relu", "saturation_threshold": np.nan},
            ValueError,
            "saturation_threshold: expected a finite number > 0, received nan",
        ),
        (
            LAYERS,
            X,
            {"activation": "relu", "zero_tol": -1.0},
            ValueError,
            "zero_tol: expected a finite number >= 0, received -1.0",
        ),
        (
            LAYERS,
            X,
            {"activation": "relu", "zero_tol": [0.0]},
            ValueError,
            r"zero_tol: expected a scalar, received shape \(1,\)",
        ),
        (
            LAYERS,
            X,
            {"activation": "relu", "zero_tol": "none"},
            TypeError,
            "zero_tol: expected a finite number >= 0, received 'none'",
        ),
    ],
)
def test_bad_input_raises_saying_what_was_expected(network, x, kwargs, error, match):
    with pytest.raises(error, match=match):
        unit_stats(network, x, **kwargs)


def test_bad_models_raise(relu_mlp):
    with pytest.raises(ValueError, match="unit_stats: activation: expected None with an MLP"):
        unit_stats(relu_mlp, XB, activation="relu")
    with pytest.raises(ValueError, match="network: expected an MLP with a hidden layer"):
        unit_stats(MLP(64, [], 1, rngs=nnx.Rngs(0)), XB)
    with pytest.raises(TypeError, match=r"expected an actlab\.models\.MLP"):
        unit_stats(nnx.Linear(8, 64, rngs=nnx.Rngs(0)), XB)
    with pytest.raises(TypeError, match=r"expected an actlab\.train\.Ensemble"):
        ensemble_unit_stats(relu_mlp, XB)
