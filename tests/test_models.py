"""actlab.models: the MLP builder, initializers, learnable activations and linear collapse."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from actlab import activations as A
from actlab.models import (
    MLP,
    ActivationChoice,
    LearnableELU,
    PReLU,
    Swish,
    bias_init,
    check_layers,
    check_readout,
    collapse_linear,
    default_sigma_w2,
    forward,
    hidden_layers,
    kernel_init,
    output_layer,
)

X = jax.random.normal(jax.random.key(0), (16, 3))


def _manual_forward(model, x, act):
    h = x
    for w, b in hidden_layers(model):
        h = act(h @ w + b[None, :])
    w, b = output_layer(model)
    return h @ w + b[None, :]


# ----------------------------------------------------------------------------- the MLP


def test_mlp_maps_batch_of_inputs_to_outputs_and_exposes_layers_in_flax_convention():
    model = MLP(3, [8, 4], 2, rngs=nnx.Rngs(0))
    assert model(X).shape == (16, 2)
    assert [(w.shape, b.shape) for w, b in hidden_layers(model)] == [((3, 8), (8,)), ((8, 4), (4,))]
    assert output_layer(model)[0].shape == (4, 2)


def test_mlp_without_hidden_layers_is_one_affine_map():
    model = MLP(3, [], 2, rngs=nnx.Rngs(0))
    assert hidden_layers(model) == []
    w, b = collapse_linear(model)
    np.testing.assert_allclose(model(X), X @ w + b[None, :], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("activation", "reference"),
    [
        ("relu", A.relu),
        ("tanh", A.tanh),
        (A.get("leaky_relu", negative_slope=0.2), lambda x: A.leaky_relu(x, 0.2)),
        (jax.nn.gelu, jax.nn.gelu),
    ],
    ids=["name-relu", "name-tanh", "registry-leaky", "callable-gelu"],
)
def test_activation_by_name_registry_object_or_callable_is_applied_after_each_hidden_layer(
    activation, reference
):
    model = MLP(3, [8, 8], 2, activation=activation, rngs=nnx.Rngs(1))
    np.testing.assert_allclose(model(X), _manual_forward(model, X, reference), rtol=1e-5)


def test_models_built_alike_share_a_graph_definition_so_they_share_compiled_code():
    a = MLP(3, [8, 8], 2, activation="leaky_relu", rngs=nnx.Rngs(0))
    b = MLP(3, [8, 8], 2, activation="leaky_relu", rngs=nnx.Rngs(1))
    c = MLP(3, [8, 8], 2, activation=A.get("leaky_relu", negative_slope=0.3), rngs=nnx.Rngs(0))
    assert nnx.graphdef(a) == nnx.graphdef(b)
    assert hash(nnx.graphdef(a)) == hash(nnx.graphdef(b))
    assert nnx.graphdef(a) != nnx.graphdef(c)


def test_activation_name_is_recorded_for_registry_activations_only():
    assert MLP(3, [8, 8], 2, activation="tanh", rngs=nnx.Rngs(0)).activation_name == "tanh"
    assert MLP(3, [8, 8], 2, activation=A.identity, rngs=nnx.Rngs(0)).activation_name == "identity"
    assert MLP(3, [8, 8], 2, activation=jnp.tanh, rngs=nnx.Rngs(0)).activation_name is None


# ----------------------------------------------------------------------------- initializers


@pytest.mark.parametrize(("init", "sigma_w2", "expected"), [("he", None, 2.0), ("lecun", None, 1.0),
                                                            ("he", 1.5, 1.5), ("lecun", 3.0, 3.0)])  # fmt: skip
def test_gaussian_inits_have_weight_variance_sigma_w2_over_fan_in(init, sigma_w2, expected):
    w = kernel_init(init, sigma_w2)(jax.random.key(0), (300, 300))
    assert abs(float(w.var()) * 300 / expected - 1) < 0.03
    assert abs(float(w.mean())) < 0.01


def test_mlp_passes_sigma_w2_and_sigma_b2_to_every_layer():
    model = MLP(300, [300], 300, sigma_w2=3.0, sigma_b2=0.5, rngs=nnx.Rngs(0))
    for w, b in [*hidden_layers(model), output_layer(model)]:
        assert abs(float(w.var()) * 300 / 3.0 - 1) < 0.03
        assert abs(float(b.var()) / 0.5 - 1) < 0.3


def test_zero_bias_variance_gives_zero_biases():
    assert not bias_init(0.0)(jax.random.key(0), (5,)).any()
    model = MLP(3, [8, 8], 2, rngs=nnx.Rngs(0))
    assert not any(b.any() for _, b in hidden_layers(model))


def test_orthogonal_init_scales_an_orthogonal_matrix_by_sqrt_sigma_w2():
    w = kernel_init("orthogonal", 2.0)(jax.random.key(0), (8, 8))
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(8), atol=1e-5)
    w = kernel_init("orthogonal")(jax.random.key(1), (8, 8))
    np.testing.assert_allclose(w @ w.T, np.eye(8), atol=1e-5)


def test_glorot_init_is_uniform_with_variance_two_over_fan_sum():
    w = kernel_init("glorot")(jax.random.key(0), (300, 300))
    assert abs(float(w.var()) * 600 / 2 - 1) < 0.03
    assert float(jnp.abs(w).max()) <= np.sqrt(6 / 600) + 1e-6


def test_custom_initializer_is_used_as_given():
    model = MLP(3, [8, 8], 2, init=jax.nn.initializers.constant(0.5), rngs=nnx.Rngs(0))
    assert all((w == 0.5).all() for w, _ in [*hidden_layers(model), output_layer(model)])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"init": "xavier"},
            "init: expected one of 'he', 'glorot', 'lecun', 'orthogonal' or an initializer",
        ),
        ({"init": "glorot", "sigma_w2": 2.0}, "sigma_w2: expected None with init='glorot'"),
        (
            {"init": jax.nn.initializers.zeros, "sigma_w2": 2.0},
            "sigma_w2: expected None with a custom initializer",
        ),
        ({"sigma_w2": 0.0}, "sigma_w2: expected a finite number > 0, received 0.0"),
        ({"sigma_w2": float("inf")}, "sigma_w2: expected a finite number > 0, received inf"),
        ({"sigma_b2": -1.0}, "sigma_b2: expected a finite number >= 0, received -1.0"),
        ({"norm": "group"}, "MLP: norm: expected one of None, 'batch', 'layer', received 'group'"),
        ({"dropout": 1.0}, r"MLP: dropout: expected a rate in \[0, 1\), received 1.0"),
        ({"dropout": -0.1}, r"MLP: dropout: expected a rate in \[0, 1\), received -0.1"),
        ({"activation": "swishy"}, "activation: expected one of .*, received 'swishy'"),
    ],
)
def test_bad_model_options_raise_value_error_naming_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(3, [8, 8], 2, rngs=nnx.Rngs(0), **kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, [4], 1), "MLP: in_features: expected an int >= 1, received 0"),
        ((3, [4, 0], 1), r"MLP: widths\[1\]: expected an int >= 1, received 0"),
        ((3, 4, 1), "MLP: widths: expected a sequence of ints >= 1, received 4"),
    ],
)
def test_bad_shapes_raise_value_error(args, message):
    with pytest.raises(ValueError, match=message):
        MLP(*args, rngs=nnx.Rngs(0))


def test_a_width_that_is_not_an_int_raises_type_error():
    with pytest.raises(TypeError, match=r"MLP: out_features: expected an int >= 1, received 1.5"):
        MLP(3, [4], 1.5, rngs=nnx.Rngs(0))


def test_wrong_argument_types_raise_type_error():
    with pytest.raises(TypeError, match=r"MLP: rngs: expected an nnx\.Rngs, received int"):
        MLP(3, [8, 8], 2, rngs=0)
    with pytest.raises(
        TypeError, match=r"MLP: activation: expected a registry name, .*, received 3"
    ):
        MLP(3, [8, 8], 2, activation=3, rngs=nnx.Rngs(0))


def test_input_with_wrong_feature_count_raises_value_error():
    with pytest.raises(
        ValueError, match=r"MLP: x: expected shape \(\.\.\., 3\), received shape \(16, 2\)"
    ):
        MLP(3, [8, 8], 2, rngs=nnx.Rngs(0))(jnp.ones((16, 2)))


# ----------------------------------------------------------------------------- norm, dropout, modes


def test_batch_norm_uses_batch_statistics_in_training_and_running_ones_in_eval():
    model = MLP(3, [8], 2, norm="batch", activation="identity", rngs=nnx.Rngs(0))
    before = model.norms[0].mean[...]
    model(X)
    assert not np.allclose(model.norms[0].mean[...], before)  # running mean updated
    w, b = model.hidden[0].kernel[...], model.hidden[0].bias[...]
    z = X @ w + b[None, :]
    normed = (z - z.mean(0, keepdims=True)) / jnp.sqrt(
        z.var(0, keepdims=True) + model.norms[0].epsilon
    )
    out_w, out_b = output_layer(model)
    np.testing.assert_allclose(model(X), normed @ out_w + out_b[None, :], rtol=1e-4, atol=1e-5)
    model.eval()
    single = model(X[:1])
    np.testing.assert_allclose(single, model(X)[:1], rtol=1e-5)  # no dependence on the batch


def test_layer_norm_normalises_each_example_before_the_activation():
    model = MLP(3, [8], 2, norm="layer", activation="identity", rngs=nnx.Rngs(0))
    z = X @ model.hidden[0].kernel[...] + model.hidden[0].bias[...][None, :]
    eps = model.norms[0].epsilon
    normed = (z - z.mean(1, keepdims=True)) / jnp.sqrt(z.var(1, keepdims=True) + eps)
    out_w, out_b = output_layer(model)
    np.testing.assert_allclose(model(X), normed @ out_w + out_b[None, :], rtol=1e-4, atol=1e-5)


def test_dropout_is_random_in_training_and_off_in_eval():
    model = MLP(3, [8, 8], 2, dropout=0.5, rngs=nnx.Rngs(0))
    plain = MLP(3, [8, 8], 2, rngs=nnx.Rngs(0))  # same weights, no dropout
    a, b = model(X), model(X)
    assert not np.allclose(a, b)
    model.eval()
    np.testing.assert_allclose(model(X), model(X))
    np.testing.assert_allclose(model(X), plain(X), rtol=1e-6)
    model.train()
    assert not np.allclose(model(X), plain(X))


def test_hidden_layers_fold_eval_mode_batch_norm_into_the_affine_maps():
    model = MLP(3, [8, 8], 2, norm="batch", rngs=nnx.Rngs(0))
    model(X * 3 + 1)  # move the running statistics away from their initial values
    with pytest.raises(ValueError, match="training mode"):
        hidden_layers(model)
    model.eval()
    np.testing.assert_allclose(model(X), _manual_forward(model, X, A.relu), rtol=1e-4, atol=1e-5)


def test_hidden_layers_reject_layer_norm():
    model = MLP(3, [8], 2, norm="layer", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="norm='layer'"):
        hidden_layers(model)


# ----------------------------------------------------------------------------- collapse


@pytest.mark.parametrize("identity", ["identity", A.identity, A.get("identity")])
def test_collapse_linear_equals_the_identity_network_to_float32_rounding(identity):
    model = MLP(3, [8, 8], 2, activation=identity, sigma_b2=0.1, rngs=nnx.Rngs(0))
    w, b = collapse_linear(model)
    assert w.shape == (3, 2) and b.shape == (2,)
    np.testing.assert_allclose(model(X), X @ w + b[None, :], rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # recompiles every eager op in float64 (several seconds)
def test_collapse_linear_equals_the_identity_network_to_float64_rounding(x64):
    model = MLP(3, [8, 8], 2, activation="identity", param_dtype=jnp.float64, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (16, 3), jnp.float64)
    w, b = collapse_linear(model)
    assert w.dtype == jnp.float64
    np.testing.assert_allclose(model(x), x @ w + b[None, :], rtol=1e-13, atol=1e-13)


def test_collapse_linear_matches_the_two_layer_formula():
    model = MLP(3, [8], 2, activation="identity", sigma_b2=1.0, rngs=nnx.Rngs(0))
    (w1, b1), (w2, b2) = hidden_layers(model)[0], output_layer(model)
    w, b = collapse_linear(model)
    np.testing.assert_allclose(w, w1 @ w2, rtol=1e-6)
    np.testing.assert_allclose(b, b1 @ w2 + b2, rtol=1e-6)


@pytest.mark.parametrize("activation", ["relu", jnp.tanh, lambda x: x, PReLU])
def test_collapse_linear_rejects_networks_not_built_with_the_identity(activation):
    model = MLP(3, [8, 8], 2, activation=activation, rngs=nnx.Rngs(0))
    with pytest.raises(
        ValueError,
        match=r"collapse_linear: model: expected a network built with activation=.identity.",
    ):
        collapse_linear(model)


def test_analysis_functions_reject_other_modules():
    with pytest.raises(TypeError, match=r"expected an actlab\.models\.MLP"):
        hidden_layers(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))
    with pytest.raises(TypeError, match=r"expected an actlab\.models\.MLP"):
        collapse_linear(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))


# ----------------------------------------------------------------------------- learnable activations


def test_prelu_shared_slope_matches_the_registry_function_and_is_differentiable():
    act = PReLU(init=0.1)
    assert act.slope[...].shape == ()
    x = jnp.array([[-2.0, -1.0, 3.0]])
    np.testing.assert_allclose(act(x), A.prelu(x, 0.1))
    grads = nnx.grad(lambda m: m(x).sum())(act)
    np.testing.assert_allclose(grads.slope[...], -3.0)  # sum of the negative inputs


def test_prelu_per_unit_slope_acts_on_the_last_axis():
    act = PReLU(3, per_unit=True, init=0.25)
    act.slope[...] = jnp.array([0.1, 0.2, 0.3])
    x = -jnp.ones((2, 5, 3))
    np.testing.assert_allclose(act(x), -jnp.broadcast_to(jnp.array([0.1, 0.2, 0.3]), (2, 5, 3)))
    with pytest.raises(
        ValueError, match=r"PReLU: x: expected a last axis of size 3 .*, received shape \(2, 4\)"
    ):
        act(jnp.ones((2, 4)))


def test_learnable_elu_matches_elu_and_saturates_at_minus_alpha():
    act = LearnableELU(init=2.0)
    x = jnp.linspace(-3.0, 3.0, 13)
    np.testing.assert_allclose(act(x), A.elu(x, 2.0), rtol=1e-6)
    np.testing.assert_allclose(act(jnp.array([-50.0])), [-2.0])
    grads = nnx.grad(lambda m: m(jnp.array([-1.0])).sum())(act)
    np.testing.assert_allclose(grads.alpha[...], np.expm1(-1.0), rtol=1e-6)
    act.alpha[...] = jnp.array(-0.5)  # training may cross zero; evaluation must not fail
    assert np.isfinite(act(x)).all()


def test_swish_interpolates_between_linear_and_silu():
    x = jnp.linspace(-3.0, 3.0, 13)
    np.testing.assert_allclose(Swish(init=1.0)(x), A.silu(x), rtol=1e-6)
    np.testing.assert_allclose(Swish(init=0.0)(x), x / 2, rtol=1e-6)
    per_unit = Swish(13, per_unit=True, init=1.0)
    assert per_unit.beta[...].shape == (13,)


@pytest.mark.parametrize("cls", [PReLU, LearnableELU, Swish])
def test_learnable_activations_reject_bad_arguments(cls):
    with pytest.raises(
        TypeError, match=r"num_features \(with per_unit=True\): expected an int >= 1, received None"
    ):
        cls(per_unit=True)
    with pytest.raises(ValueError, match="init: expected a finite number, received nan"):
        cls(init=float("nan"))


def test_mlp_builds_one_learnable_activation_per_hidden_layer_from_a_class_or_partial():
    model = MLP(3, [8, 4], 2, activation=PReLU, rngs=nnx.Rngs(0))
    assert [a.slope[...].shape for a in model.activations] == [(), ()]
    model = MLP(3, [8, 4], 2, activation=functools.partial(PReLU, per_unit=True), rngs=nnx.Rngs(0))
    assert [a.slope[...].shape for a in model.activations] == [(8,), (4,)]
    assert model(X).shape == (16, 2)
    slopes = nnx.state(model, nnx.Param)["activations"]
    assert len(slopes) == 2


def test_mlp_shares_a_learnable_activation_instance_across_layers():
    shared = LearnableELU(init=0.5)
    model = MLP(3, [8, 4], 2, activation=shared, rngs=nnx.Rngs(0))
    assert model.activation is shared and model.activations is None
    params = nnx.state(model, nnx.Param)
    assert params["activation"]["alpha"][...].shape == ()  # one parameter for both layers
    shared.alpha[...] = jnp.array(0.0)  # ELU with alpha 0 is ReLU, in both layers at once
    np.testing.assert_allclose(model(X), _manual_forward(model, X, A.relu), rtol=1e-5, atol=1e-6)


def test_dtype_computes_in_half_precision_with_float32_parameters():
    model = MLP(3, [4], 2, dtype=jnp.bfloat16, norm="batch", rngs=nnx.Rngs(0))
    assert model(X).dtype == jnp.bfloat16
    assert {v.dtype for v in jax.tree.leaves(nnx.state(model, nnx.Param))} == {jnp.dtype("float32")}
    reference = MLP(3, [4], 2, norm="batch", rngs=nnx.Rngs(0))  # the same weights, float32
    np.testing.assert_allclose(model(X).astype(jnp.float32), reference(X), rtol=0.05, atol=0.05)
    with pytest.raises(ValueError, match="MLP: dtype: expected None or a floating dtype"):
        MLP(3, [4], 2, dtype=jnp.int32, rngs=nnx.Rngs(0))


# ----------------------------------------------------------------------------- the forward pass
def test_trace_keeps_every_layer_and_its_output_is_the_model_output():
    model = MLP(3, [8, 5], 2, activation="tanh", sigma_b2=0.1, rngs=nnx.Rngs(2))
    trace = model.trace(X)
    assert [z.shape for z in trace.preactivations] == [(16, 8), (16, 5)]
    np.testing.assert_array_equal(trace.output, model(X))
    (w1, b1), (w2, b2) = hidden_layers(model)
    np.testing.assert_allclose(trace.preactivations[0], X @ w1 + b1[None, :], rtol=1e-6)
    np.testing.assert_allclose(trace.activations[0], jnp.tanh(trace.preactivations[0]), rtol=1e-6)
    np.testing.assert_allclose(trace.preactivations[1], trace.activations[0] @ w2 + b2[None, :],
                               rtol=1e-5)  # fmt: skip


def test_forward_runs_an_mlp_and_its_layers_as_arrays_alike():
    model = MLP(3, [8, 5], 2, activation="relu", sigma_b2=0.1, rngs=nnx.Rngs(3))
    from_model = forward(model, X)
    from_layers = forward(hidden_layers(model), X, activation="relu", readout=output_layer(model))
    for a, b in zip(jax.tree.leaves(from_model), jax.tree.leaves(from_layers), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    per_layer = forward(hidden_layers(model), X, activation=["relu", "tanh"])
    np.testing.assert_allclose(per_layer.output, jnp.tanh(per_layer.preactivations[1]), rtol=1e-6)


def test_a_perturbation_of_the_preactivations_gives_their_gradient():
    model = MLP(3, [8], 1, activation="tanh", rngs=nnx.Rngs(4))
    zeros = [jnp.zeros((16, 8))]
    grad = jax.grad(lambda e: jnp.sum(model.trace(X, perturb=e).output))(zeros)[0]
    z = model.trace(X).preactivations[0]
    w_out, _ = output_layer(model)
    np.testing.assert_allclose(grad, (1 - jnp.tanh(z) ** 2) * w_out[:, 0][None, :], atol=1e-6)
    with pytest.raises(ValueError, match=r"perturb: expected one array per hidden layer \(1\)"):
        model.trace(X, perturb=zeros * 2)


def test_layers_are_checked_once_for_every_consumer():
    w, b = jnp.ones((3, 4)), jnp.zeros(4)
    assert check_layers([(w, b)], inputs=3)[0][0].shape == (3, 4)
    with pytest.raises(
        ValueError, match=r"f: layers\[1\] W: expected 4 input rows \(the width of layers\[0\]\)"
    ):
        check_layers([(w, b), (w, b)], where="f")
    with pytest.raises(ValueError, match=r"layers\[0\] b: expected shape \(4,\) to match W"):
        check_layers([(w, jnp.zeros(3))])
    with pytest.raises(ValueError, match="layers: expected at least one hidden layer"):
        check_layers([])
    with pytest.raises(TypeError, match=r"layers: expected a sequence of \(W, b\) pairs"):
        check_layers(w)
    with pytest.raises(ValueError, match=r"readout W: expected 4 input rows"):
        check_readout((jnp.ones((5, 1)), jnp.zeros(1)), inputs=4)
    with pytest.raises(ValueError, match="forward: activation: expected an activation to apply"):
        forward([(w, b)], jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="forward: activation: expected None with an MLP"):
        forward(MLP(3, [4], 1, rngs=nnx.Rngs(0)), X, activation="relu")


def test_default_sigma_w2_is_public_for_every_gaussian_scheme():
    assert [default_sigma_w2(s) for s in ("he", "lecun", "orthogonal")] == [2.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="default_sigma_w2: init: expected one of"):
        default_sigma_w2("glorot")


def test_activation_choice_picks_its_branch_by_state():
    act = functools.partial(ActivationChoice, choices=("relu", "tanh", PReLU))
    model = MLP(3, [4], 1, activation=act, rngs=nnx.Rngs(0))
    x = -jnp.ones((2, 3))
    outputs = []
    for k in range(3):
        model.activations[0].which[...] = jnp.int32(k)
        outputs.append(model.trace(x).activations[0])
    z = model.trace(x).preactivations[0]
    np.testing.assert_allclose(outputs[0], jnp.maximum(z, 0))
    np.testing.assert_allclose(outputs[1], jnp.tanh(z), rtol=1e-6)
    np.testing.assert_allclose(outputs[2], jnp.where(z > 0, z, 0.25 * z), rtol=1e-6)
