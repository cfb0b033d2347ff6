"""Gradient-flow measurements (actlab.gradflow signals and Jacobian spectra) against definitions and
theory.

Three kinds of evidence: the definitions computed another way (per-example gradients, optax's
global norm, the training loop's recorded norm, a shallower network for a masked depth), the
mean-field theory on wide random networks (width 512, several seeds), and exact spectra of deep
linear networks.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from actlab import activations as A
from actlab.gradflow import MeanField, jacobian_spectrum, signals, stack_signals
from actlab.models import MLP, PReLU, hidden_layers, output_layer


def layer_signals(layers, readout, x, y, *, activation, loss="mse"):
    """:func:`signals` of layers given as arrays."""
    return signals(layers, x, y, activation=activation, readout=readout, loss=loss)


@functools.cache
def mean_field(act: str) -> MeanField:
    """One MeanField per activation for the module (its compiled quadrature is reused)."""
    return MeanField(act)


def numpy_init(seed: int, orthogonal: bool = False):
    """A kernel initializer from NumPy: ``N(0, 1/fan_in)``, or a random orthogonal matrix."""
    rng = np.random.default_rng(seed)

    def init(key, shape, dtype=jnp.float32):
        w = rng.standard_normal(shape)
        if orthogonal:
            q, r = np.linalg.qr(w)
            w = q * np.sign(np.diag(r))
        else:
            w = w / math.sqrt(shape[0])
        return jnp.asarray(w, dtype)

    return init


def small_model(**kwargs) -> MLP:
    """A tanh MLP with LeCun-scaled weights and nonzero biases, drawn by NumPy."""
    options = {"activation": "tanh", "init": numpy_init(0)} | kwargs
    model = MLP(6, [8, 7, 5], 2, rngs=nnx.Rngs(0), **options)
    for i, layer in enumerate([*model.hidden, model.output]):
        layer.bias[...] = 0.3 * normal(20 + i, *layer.bias.shape)
    return model


def normal(seed: int, *shape: int) -> jax.Array:
    """Test data from NumPy: no PRNG for XLA to compile (threefry costs seconds per shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def batch(n: int = 9, features: int = 6) -> tuple[jax.Array, jax.Array]:
    return normal(1, n, features), normal(2, n, 2)


def assert_signals_close(a, b, rtol=1e-5):
    for name, x, y in zip(a._fields, a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-7, err_msg=name)


# ------------------------------------------------------------------ definitions
def test_model_and_layer_signals_agree_with_the_definitions():
    model, (x, y) = small_model(), batch()
    layers, (w_out, b_out) = hidden_layers(model), output_layer(model)
    s = signals(model, x, y)
    by_layers = jax.jit(functools.partial(layer_signals, activation="tanh"))
    assert_signals_close(s, by_layers(layers, (w_out, b_out), x, y))
    assert s.q.shape == s.delta_norm.shape == s.weight_grad_norm.shape == (3,)
    assert s.delta_ratio.shape == (2,)

    @jax.jit
    def reference(layers, x, y):
        """Per-example gradients, pre-activations and parameter gradients, written out."""

        def example_loss(shifts, xi, yi):
            h, zs = xi, []
            for (w, b), e in zip(layers, shifts, strict=True):
                zs.append(h @ w + b + e)
                h = jnp.tanh(zs[-1])
            return jnp.mean((h @ w_out + b_out - yi) ** 2), zs

        zeros = [jnp.zeros(w.shape[1]) for w, _ in layers]
        per_example = jax.vmap(jax.grad(lambda *a: example_loss(*a)[0]), in_axes=(None, 0, 0))
        delta = per_example(zeros, x, y)  # each example's own gradient, one (B, n) per layer
        zs = jax.vmap(lambda xi, yi: example_loss(zeros, xi, yi)[1])(x, y)

        def batch_loss(kernels):
            h = x
            for w, (_, b) in zip(kernels, layers, strict=True):
                h = jnp.tanh(h @ w + b[None, :])
            return jnp.mean((h @ w_out + b_out[None, :] - y) ** 2)

        kernels = jax.grad(batch_loss)([w for w, _ in layers])
        return delta, zs, kernels

    delta, zs, kernels = reference(layers, x, y)
    expected = [jnp.sqrt(jnp.mean(jnp.sum(g**2, axis=1))) for g in delta]
    np.testing.assert_allclose(s.delta_norm, expected, rtol=1e-5)
    np.testing.assert_allclose(s.delta_ratio, (s.delta_norm[:-1] / s.delta_norm[1:]) ** 2)
    np.testing.assert_allclose(s.q, [jnp.mean(z**2) for z in zs], rtol=1e-5)
    np.testing.assert_allclose(s.weight_grad_norm, [jnp.linalg.norm(k) for k in kernels], rtol=1e-5)
    assert s.loss == pytest.approx(float(jnp.mean((model(x) - y) ** 2)), rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [
        {"norm": "batch", "dropout": 0.3, "activation": PReLU},
        {"norm": "layer", "dtype": jnp.bfloat16},
    ],
    ids=["batchnorm-dropout-prelu", "layernorm-bfloat16"],
)
def test_the_traced_forward_pass_is_the_mlp_forward(options):
    model, (x, _) = small_model(**options), batch()

    @nnx.jit
    def both(model, x):
        copy = nnx.clone(model)  # same random state: the same dropout masks
        trace = copy.trace(x)
        return trace.output, model(x), trace.preactivations

    traced, called, zs = both(model, x)
    np.testing.assert_array_equal(traced, called)
    assert len(zs) == 3 and zs[0].dtype == options.get("dtype", jnp.float32)
    # the global norm covers every parameter: normalisation scales and activation slopes too
    y = jnp.zeros((x.shape[0], 2))
    grads = nnx.jit(nnx.grad(lambda m: jnp.mean((m(x) - y) ** 2)))(nnx.clone(model))
    assert float(signals(model, x, y).global_grad_norm) == pytest.approx(
        float(optax.tree.norm(grads)), rel=1e-2 if "dtype" in options else 1e-6
    )


def test_global_norm_is_what_clip_by_global_norm_sees():
    model, (x, y) = small_model(), batch()
    before = nnx.state(model)
    s = signals(model, x, y)
    jax.tree.map(np.testing.assert_array_equal, nnx.state(model), before)  # model unchanged

    @nnx.jit
    def clipped(model, max_norm):
        grads = nnx.grad(lambda m: jnp.mean((m(x) - y) ** 2))(nnx.clone(model))
        clip = optax.clip_by_global_norm(max_norm)
        return optax.tree.norm(grads), optax.tree.norm(clip.update(grads, clip.init(grads))[0])

    norm, after = clipped(model, 0.5 * s.global_grad_norm)
    assert s.global_grad_norm == pytest.approx(float(norm), rel=1e-6)
    assert float(after) == pytest.approx(0.5 * float(norm), rel=1e-5)  # clipped to half


def test_stack_signals_vmapped_over_seeds_activations_and_depths_equal_each_network():
    # one compiled program for every seed (arrays), activation (switch) and depth (masked); each
    # cell equals its depth-d network computed directly, layer by layer
    names, depths = ("sigmoid", "elu"), (0, 3, 5)
    weights, biases = normal(30, 2, 5, 12, 12) / math.sqrt(12), 0.1 * normal(31, 2, 5, 12)
    inputs, readout = normal(32, 2, 4, 12), (normal(33, 12, 3) / 4, jnp.full(3, 0.1))
    y = jnp.zeros((4, 3))

    def cell(w, b, x, index, depth, scale):
        return stack_signals(w, b, readout, x, y, activation=A.switch(names, index),
                             depth=depth, weight_scale=scale)  # fmt: skip

    seed, index, depth = (a.ravel() for a in np.meshgrid([0, 1], [0, 1], depths, indexing="ij"))
    scale = np.where(index == 0, 1.0, 1.5).astype(np.float32)
    batched = jax.jit(jax.vmap(cell))(
        weights[seed], biases[seed], inputs[seed], index, depth, scale
    )
    batched = jax.tree.map(np.asarray, batched)

    @functools.partial(jax.jit, static_argnames="depth")
    def direct(w, b, x, index, scale, depth):
        layers = [(scale * w[i], b[i]) for i in range(depth)]
        return layer_signals(layers, readout, x, y, activation=A.switch(names, index))

    for i in range(seed.size):
        d, s = depth[i], seed[i]
        masked = jax.tree.map(lambda a, i=i: a[i], batched)
        assert np.all(np.isnan(masked.q[d:])) and np.all(np.isnan(masked.delta_ratio[d:]))
        trimmed = masked._replace(
            q=masked.q[:d],
            delta_norm=masked.delta_norm[:d],
            delta_ratio=masked.delta_ratio[: max(d - 1, 0)],
            weight_grad_norm=masked.weight_grad_norm[:d],
        )
        expected = direct(weights[s], biases[s], inputs[s], index[i], scale[i], depth=int(d))
        assert_signals_close(trimmed, expected)


def test_model_signals_vmap_over_initialisation_keys():
    x, y = batch()

    def at_init(key):
        return signals(MLP(6, [8, 8], 2, activation="relu", rngs=nnx.Rngs(key)), x, y)

    keys = jax.random.split(jax.random.key(3), 3)
    batched = jax.tree.map(np.asarray, jax.jit(jax.vmap(at_init))(keys))
    assert batched.q.shape == (3, 2) and batched.global_grad_norm.shape == (3,)
    assert_signals_close(jax.tree.map(lambda a: a[2], batched), jax.jit(at_init)(keys[2]))


def deep_sigmoid_signals(dtype):
    depth, width = 40, 64
    weights = normal(7, depth, width, width) / math.sqrt(width)
    readout = (jnp.ones((width, 1)) / width, jnp.zeros(1))
    x = normal(8, 8, width)
    arrays = (weights, jnp.zeros((depth, width)), readout, x, jnp.zeros(8))
    arrays = jax.tree.map(lambda a: a.astype(dtype), arrays)
    return jax.jit(functools.partial(stack_signals, activation="sigmoid"))(*arrays)


def test_tiny_gradients_of_deep_sigmoid_networks_do_not_underflow():
    s = deep_sigmoid_signals(jnp.float32)
    assert s.delta_norm.dtype == jnp.float32
    assert 0 < s.delta_norm[0] < 1e-23  # its square is below float32's smallest subnormal
    assert np.all(np.isfinite(s.delta_ratio)) and np.all(s.weight_grad_norm > 0)
    # sigmoid' <= 1/4 and sigma_w^2 = 1: at most 1/16 per layer in expectation
    assert float(np.exp(np.mean(np.log(s.delta_ratio)))) < 1 / 16


@pytest.mark.slow
def test_tiny_gradients_in_float32_equal_float64(x64):
    single, double = deep_sigmoid_signals(jnp.float32), deep_sigmoid_signals(jnp.float64)
    np.testing.assert_allclose(single.delta_norm, double.delta_norm, rtol=1e-3)
    np.testing.assert_allclose(single.weight_grad_norm, double.weight_grad_norm, rtol=1e-3)


# ------------------------------------------------------------------ mean-field theory
ACTIVATIONS = ("tanh", "relu")
SEEDS, DEPTH, WIDTH, BATCH = 4, 8, 512, 16


@jax.jit
def probe(index, sigma_w2, sigma_b2, q_in):
    """Signals of SEEDS random MLPs of width 512, inputs with E[x^2] = q_in: one compilation."""

    def one(key):
        k_w, k_b, k_x, k_v = jax.random.split(key, 4)
        weights = jax.random.normal(k_w, (DEPTH, WIDTH, WIDTH)) / math.sqrt(WIDTH)
        biases = jnp.sqrt(sigma_b2) * jax.random.normal(k_b, (DEPTH, WIDTH))
        readout = (jax.random.normal(k_v, (WIDTH, 1)) / math.sqrt(WIDTH), jnp.zeros(1))
        x = jnp.sqrt(q_in) * jax.random.normal(k_x, (BATCH, WIDTH))
        return stack_signals(weights, biases, readout, x, jnp.zeros(BATCH),
                             activation=A.switch(ACTIVATIONS, index),
                             weight_scale=jnp.sqrt(sigma_w2))  # fmt: skip

    return jax.vmap(one)(jax.random.split(jax.random.key(10, impl="unsafe_rbg"), SEEDS))


def test_forward_signal_follows_the_length_map():
    # tanh from far above q* (q^0 = 7.55, q* = 1.06): the seed-averaged q^l against the
    # iterates, tolerance 6% per layer (largest deviation over 6 keys: 2.2%). ReLU (ordered,
    # q* = 0.4): its variances fluctuate multiplicatively along depth (the inputs of a batch
    # become parallel, so averaging over them helps little), so each layer against the map
    # applied to the layer below: tolerance 20% per layer and 5% over layers (largest over 6
    # keys: 13% and 2.5%).
    mf, sigma_w2, sigma_b2, q_in = mean_field("tanh"), 2.5, 0.05, 3.0
    s = probe(ACTIVATIONS.index("tanh"), sigma_w2, sigma_b2, q_in)
    theory = [sigma_w2 * q_in + sigma_b2]
    for _ in range(DEPTH - 1):
        theory.append(mf.length_map(theory[-1], sigma_w2, sigma_b2))
    error = np.asarray(s.q).mean(axis=0) / np.asarray(theory) - 1
    assert np.max(np.abs(error)) < 0.06, error

    mf, sigma_w2, sigma_b2 = mean_field("relu"), 1.5, 0.1
    q = np.asarray(probe(ACTIVATIONS.index("relu"), sigma_w2, sigma_b2, q_in).q, float)
    predicted = np.vectorize(lambda v: mf.length_map(v, sigma_w2, sigma_b2))(q[:, :-1])
    error = (q[:, 1:] / predicted).mean(axis=0) - 1
    assert np.max(np.abs(error)) < 0.2 and abs(np.mean(error)) < 0.05, error


@pytest.mark.parametrize(
    ("act", "sigma_w2", "sigma_b2", "phase"),
    [
        ("relu", 2.0, 0.0, "critical"),  # He: chi_1 = 1
        ("tanh", 0.8, 0.05, "ordered"),  # chi_1 = 0.65
        ("tanh", 2.5, 0.05, "chaotic"),  # chi_1 = 1.13
    ],
)
def test_backward_signal_ratio_is_chi1(act, sigma_w2, sigma_b2, phase):
    # Inputs at the fixed point, so every layer should multiply ||delta||^2 by chi_1. Tolerance
    # on the geometric mean of the ratio over layers and seeds: 3%; largest deviation over 6
    # keys: 1.1%. The per-layer factors must also sit on the right side of 1.
    mf = mean_field(act)
    assert mf.phase(sigma_w2, sigma_b2) == phase
    q_in = (mf.q_star(sigma_w2, sigma_b2) - sigma_b2) / sigma_w2
    s = probe(ACTIVATIONS.index(act), sigma_w2, sigma_b2, q_in)
    chi = mf.chi1(sigma_w2, sigma_b2)
    measured = float(np.exp(np.mean(np.log(np.asarray(s.delta_ratio)))))
    assert measured == pytest.approx(chi, rel=0.03)
    if phase != "critical":
        assert (measured < 1) == (phase == "ordered")


def test_jacobian_of_a_deep_orthogonal_linear_network_is_an_isometry():
    init = numpy_init(0, orthogonal=True)
    model = MLP(64, [64] * 6, 1, activation="identity", init=init, rngs=nnx.Rngs(0))
    spectrum = jacobian_spectrum(model, normal(9, 3, 64))
    np.testing.assert_allclose(spectrum.singular_values, 1.0, atol=1e-5)
    assert spectrum.singular_values.shape == (3, 64) and np.all(spectrum.var_sq < 1e-9)


@pytest.mark.slow
def test_jacobian_of_a_deep_gaussian_linear_network_has_mean_one_and_variance_depth():
    # Products of L Gaussian matrices (entries of variance 1/n): squared singular values have
    # mean 1 and variance L as n grows (Fuss-Catalan moments); measured at n = 512, L = 4.
    model = MLP(512, [512] * 4, 1, activation="identity", init="lecun", rngs=nnx.Rngs(6))
    x = jnp.ones((1, 512))
    spectrum = jacobian_spectrum(model, x)
    assert float(spectrum.mean_sq[0]) == pytest.approx(1.0, rel=0.05)
    assert float(spectrum.var_sq[0]) == pytest.approx(4.0, rel=0.15)
    by_layers = jax.jit(functools.partial(jacobian_spectrum, activation="identity"))
    same = by_layers(hidden_layers(model), x)
    np.testing.assert_allclose(same.singular_values, spectrum.singular_values, rtol=1e-4,
                               atol=1e-5)  # fmt: skip


@pytest.mark.slow
def test_jacobian_mean_squared_singular_value_is_the_chi1_product():
    # ReLU at He initialisation is critical: E[||J||_F^2 / n] = chi_1^L = 1 (Pennington et al.);
    # tolerance 15% on the mean over 4 inputs (largest deviation over 6 keys: 7%).
    model = MLP(128, [128] * 4, 1, activation="relu", init="he", rngs=nnx.Rngs(7))
    x = normal(10, 4, 128)
    assert float(jnp.mean(jacobian_spectrum(model, x).mean_sq)) == pytest.approx(1.0, rel=0.15)
    with_readout = jacobian_spectrum(model, x, include_readout=True)
    assert with_readout.singular_values.shape == (4, 1)


# ------------------------------------------------------------------ bad input
def test_bad_input_raises_a_clear_error():
    model, (x, y) = small_model(), batch()
    layers, readout = hidden_layers(model), output_layer(model)
    square = (jnp.ones((2, 6, 6)), jnp.ones((2, 6)), (jnp.ones((6, 2)), jnp.zeros(2)), x, y)
    cases = [
        (lambda: signals(model, x[:, :4], y), ValueError,
         r"signals: x: expected shape \(batch >= 1, 6\), received shape \(9, 4\)"),
        (lambda: signals(model, x[0], y), ValueError, r"received shape \(6,\)"),
        (lambda: signals(model, x[:0], y[:0]), ValueError, r"received shape \(0, 6\)"),
        (lambda: signals(model, jnp.ones((2, 6), jnp.int32), y), TypeError,
         "signals: x: expected a floating-point array, received dtype int32"),
        (lambda: signals(layers, x, y), ValueError,
         "signals: activation: expected the activation of the .W, b. layers, received None"),
        (lambda: signals(layers, x, y, activation="tanh"), ValueError,
         "signals: readout: expected the readout of the .W, b. layers, received None"),
        (lambda: signals(model, x, y, activation="tanh"), ValueError,
         "signals: activation: expected None with an MLP"),
        (lambda: signals(nnx.Linear(6, 2, rngs=nnx.Rngs(0)), x, y), TypeError,
         "signals: network: expected an actlab.models.MLP or .W, b. layers, received Linear"),
        (lambda: signals(model, x, y, loss="hinge"), ValueError, "loss: expected one of"),
        (lambda: layer_signals(layers[::-1], readout, x, y, activation="tanh"), ValueError,
         r"signals: layers\[0\] W: expected 6 input rows \(the input dimension\), received shape \(7, 5\)"),
        (lambda: layer_signals(layers, readout[0], x, y, activation="tanh"), ValueError,
         "signals: readout: expected a pair .W, b."),
        (lambda: layer_signals(layers, readout, x, y, activation="mish_v2"), ValueError,
         "activation: expected one of .*, received 'mish_v2'"),
        (lambda: layer_signals(layers, readout, x, y, activation=3), TypeError,
         "activation: expected a registry name, .* or a callable, received 3"),
        (lambda: stack_signals(jnp.ones((2, 3, 4)), jnp.ones((2, 3)), readout, x, y,
                               activation="relu"), ValueError,
         r"stack_signals: weights: expected shape \(L, n, n\), received shape \(2, 3, 4\)"),
        (lambda: stack_signals(jnp.ones((2, 6, 6)), jnp.ones(6), readout, x, y,
                               activation="relu"), ValueError, r"biases: expected shape \(L, n\)"),
        (lambda: stack_signals(*square, activation="relu", depth=3), ValueError,
         r"depth: expected an int in \[0, 2\], received 3"),
        (lambda: stack_signals(*square, activation="relu", depth=1.0), ValueError,
         "depth: expected an integer scalar"),
        (lambda: stack_signals(*square, activation="relu", weight_scale=jnp.ones(2)), ValueError,
         "weight_scale: expected a scalar"),
        (lambda: stack_signals(*square[:2], readout, x, y, activation="relu"), ValueError,
         r"readout W: expected 6 input rows .*, received shape \(5, 2\)"),
        (lambda: A.switch((), 0), ValueError, "switch: activations: expected at least one"),
        (lambda: A.switch(("relu",), 1), ValueError, r"index: expected an int in \[0, 1\)"),
        (lambda: A.switch(("relu",), jnp.float32(0)), ValueError, "expected an integer scalar"),
        (lambda: jacobian_spectrum(small_model(norm="batch"), x), ValueError, "model.eval()"),
        (lambda: jacobian_spectrum(small_model(dropout=0.1), x), ValueError, "active dropout"),
        (lambda: jacobian_spectrum(MLP(6, [], 1, rngs=nnx.Rngs(0)), x), ValueError,
         "expected at least one hidden layer, or include_readout=True"),
        (lambda: jacobian_spectrum([], x, activation="relu"), ValueError,
         "jacobian_spectrum: layers: expected at least one hidden layer"),
    ]  # fmt: skip
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
    eval_model = small_model(norm="batch", dropout=0.1)
    eval_model.eval()
    assert jacobian_spectrum(eval_model, x).singular_values.shape == (9, 5)
