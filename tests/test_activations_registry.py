"""The registry: names, get, spec and the metadata other layers rely on."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from actlab import activations as A

DESIGN_NAMES = """identity relu relu6 leaky_relu prelu elu selu celu gelu silu mish softplus sigmoid
hard_sigmoid tanh hard_tanh softsign softmax log_softmax sbaf arelu""".split()
# issue 13: every jax.nn activation has a counterpart
JAX_NN_NAMES = "log_sigmoid squareplus sparse_plus sparse_sigmoid hard_silu glu".split()
ALL_NAMES = DESIGN_NAMES + JAX_NN_NAMES


def test_names_are_exactly_the_design_contract_and_the_jax_nn_additions():
    assert sorted(A.names()) == sorted(ALL_NAMES)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_name_is_exported_and_registered_with_its_function(name):
    assert A.spec(name).fn is getattr(A, name)
    assert A.get(name).name == name


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match=r"activation: expected one of identity, relu, .*, received 'relu7'"
    ):
        A.get("relu7")


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"leaky_relu: parameter: expected one of negative_slope, grad_at_zero, received 'slope'",
    ):
        A.get("leaky_relu", slope=0.1)


def test_get_validates_values_when_called_not_when_used():
    with pytest.raises(
        ValueError, match=r"relu: grad_at_zero: expected finite values in \[0, 1\], received 2"
    ):
        A.get("relu", grad_at_zero=2.0)


def test_get_binds_parameters():
    act = A.get("leaky_relu", negative_slope=0.2, grad_at_zero=1.0)
    x = jnp.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(act(x), A.leaky_relu(x, 0.2, grad_at_zero=1.0))
    assert float(jax.grad(act)(0.0)) == 1.0
    assert repr(act) == "leaky_relu(negative_slope=0.2, grad_at_zero=1.0)"


def test_gelu_approximate_flag_is_accepted_by_get(x64):
    # float64: in float32, jax.nn's 0.5 x (1 + tanh u) loses ~3 digits to cancellation at x = -3
    x = jnp.linspace(-3.0, 3.0, 7)
    np.testing.assert_allclose(
        A.get("gelu", approximate=True)(x), jax.nn.gelu(x, approximate=True), rtol=1e-12
    )


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if A.spec(n).piecewise_linear])
def test_pieces_reproduce_the_function_between_and_at_the_kinks(name):
    s = A.spec(name)
    pieces = s.pieces()
    assert len(pieces) == len(s.kinks) + 1
    x = np.concatenate([np.linspace(-9, 9, 181), np.asarray(s.kinks)])
    index = np.searchsorted(np.asarray(s.kinks), x, side="left")  # number of kinks k < x
    slope, intercept = np.asarray(pieces).T
    np.testing.assert_allclose(
        slope[index] * x + intercept[index], A.get(name)(jnp.asarray(x)), atol=1e-6
    )


def test_pieces_take_parameters_and_refuse_smooth_functions():
    assert A.spec("leaky_relu").pieces(negative_slope=0.3) == ((0.3, 0.0), (1.0, 0.0))
    with pytest.raises(
        ValueError,
        match=r"gelu.pieces: activation: expected a piecewise-linear activation, received 'gelu'",
    ):
        A.spec("gelu").pieces()


@pytest.mark.parametrize("name", ALL_NAMES)
def test_output_range_and_monotonicity_hold_on_a_grid(name, x64):
    s = A.spec(name)
    x = (
        jnp.linspace(-30.0, 30.0, 6001) if name != "sbaf" else jnp.linspace(0.0, 1.0, 1001)
    )  # float64: XLA's float32 tanh wiggles by an ulp
    x = x[:-1] if name == "glu" else x  # an even length: glu halves it
    act = A.get(name)
    y = np.asarray(act(x) if s.elementwise else act(x[None, :])[0])
    low, high = s.output_range
    assert y.min() >= low - 1e-6 and y.max() <= high + 1e-6
    if s.elementwise:
        assert bool(np.all(np.diff(y) >= -1e-7)) == s.monotone


def test_kinks_are_sorted_and_only_kinked_functions_have_a_kink_keyword():
    for name in A.names():
        s = A.spec(name)
        assert list(s.kinks) == sorted(s.kinks)
        assert (s.kink_keyword is None) == (len(s.kinks) == 0)


@pytest.mark.parametrize(
    "alias, name", [("swish", "silu"), ("hard_swish", "hard_silu"), ("soft_sign", "softsign")]
)
def test_jax_nn_second_names_are_aliases(alias, name):
    assert A.ALIASES[alias] == name and getattr(A, alias) is getattr(A, name)
    assert A.spec(alias) is A.spec(name) and A.get(alias) == A.get(name)
    assert alias not in A.names()


def test_param_spec_states_its_interval():
    assert A.spec("elu").params["alpha"].interval() == "[0, inf)"
    assert A.spec("sbaf").params["alpha"].interval() == "[0, 1]"


def test_activations_with_equal_parameters_are_equal_and_hash_alike():
    a, b = A.get("leaky_relu", negative_slope=0.2), A.get("leaky_relu", negative_slope=0.2)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != A.get("leaky_relu", negative_slope=0.3) and a != A.get("relu")


def test_activation_with_array_parameters_compares_by_identity():
    slope = jnp.array([0.1, 0.2])
    a, b = A.get("prelu", slope=slope), A.get("prelu", slope=slope)
    assert a == a and a != b


# ----------------------------------------------------------------------------- one rule for arguments
def test_describe_finds_the_registry_entry_behind_every_kind_of_argument():
    assert A.describe("relu6") == A.get("relu6")
    leaky = A.get("leaky_relu", negative_slope=0.2)
    assert A.describe(leaky) is leaky
    assert A.describe(A.tanh) == A.get("tanh")  # the registry function itself
    assert A.describe(jnp.tanh) is None and A.describe(lambda x: x) is None
    with pytest.raises(ValueError, match=r"activation: expected one of .*, received 'swishy'"):
        A.describe("swishy")


def test_describe_reads_a_learnable_module_at_its_current_values():
    from actlab.models import LearnableELU, PReLU

    prelu = PReLU(init=0.5)
    assert A.describe(prelu) == A.get("prelu", slope=0.5)
    prelu.slope[...] = jnp.array(0.25)
    assert A.describe(prelu) == A.get("prelu", slope=0.25)
    assert A.describe(LearnableELU(init=2.0)) == A.get("elu", alpha=2.0)


def test_resolve_gives_the_callable_to_apply_and_keeps_modules_as_they_are():
    from actlab.models import PReLU

    assert A.resolve("tanh") == A.get("tanh")
    prelu = PReLU()
    assert A.resolve(prelu) is prelu  # its parameter stays trainable
    assert A.resolve(jnp.tanh) is jnp.tanh
    with pytest.raises(ValueError, match="f: activation: expected an elementwise activation"):
        A.resolve("softmax", where="f")
    assert A.resolve("softmax", elementwise=False) == A.get("softmax")
    with pytest.raises(TypeError, match=r"activation: expected a registry name, .*, received 3"):
        A.resolve(3)


def test_switch_applies_the_chosen_activation_traced_or_not():
    x = jnp.linspace(-2.0, 2.0, 5)
    np.testing.assert_allclose(A.switch(("relu", "tanh"), 1)(x), jnp.tanh(x), rtol=1e-6)
    by_index = jax.jit(lambda i: A.switch(("relu", jnp.sin), i)(x))
    np.testing.assert_allclose(by_index(jnp.int32(0)), jnp.maximum(x, 0))
    np.testing.assert_allclose(by_index(jnp.int32(1)), jnp.sin(x), rtol=1e-6)
