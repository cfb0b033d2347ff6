"""Mean-field theory (actlab.gradflow.theory) and its phase diagram.

Three kinds of evidence: closed forms (ReLU, leaky ReLU, erf) against the quadrature, reference
values (tanh's critical line, from adaptive quadrature), and measurements on wide random MLPs
built here with plain ``jax.random``.
"""

import functools
import io
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import integrate

from actlab import activations as A
from actlab import plot
from actlab.gradflow import (
    DivergenceError,
    MeanField,
    c_star,
    chi1,
    correlation_map,
    critical_sigma_w2,
    length_map,
    phase,
    phase_diagram,
    q_star,
)


@functools.cache
def mean_field(act: str) -> MeanField:
    """One MeanField per activation for the whole module (compiled quadratures are reused)."""
    return MeanField(act)


def arccos_kernel(c: float) -> float:
    return (math.sqrt(max(0.0, 1.0 - c * c)) + (math.pi - math.acos(c)) * c) / math.pi


CORRELATIONS = (-1.0, -0.7, 0.0, 0.5, 0.99, 0.999999, 1.0)
SIDES = ((-12.0, 0.0), (0.0, 12.0))


# ------------------------------------------------------------------ closed forms vs quadrature
def test_relu_quadrature_matches_the_closed_forms():
    # A plain callable has no closed form, so this MeanField integrates numerically.
    quadrature, exact = MeanField(lambda x: jnp.maximum(x, 0.0)), mean_field("relu")
    for q in (0.3, 1.0, 7.0):
        assert quadrature.length_map(q, 1.5, 0.1) == pytest.approx(1.5 * q / 2 + 0.1, rel=1e-13)
        assert quadrature.chi1(1.5, 0.1, q=q) == pytest.approx(0.75, rel=1e-13)
        for c in CORRELATIONS:
            expected = exact.correlation_map(c, 1.5, 0.1, q=q)
            assert quadrature.correlation_map(c, 1.5, 0.1, q=q) == pytest.approx(
                expected, abs=1e-12
            )
            slope = exact.chi_c(1.5, 0.1, c=c, q=q)
            assert quadrature.chi_c(1.5, 0.1, c=c, q=q) == pytest.approx(slope, abs=1e-12)


@pytest.mark.parametrize("a", [0.01, 0.3, -0.5])
def test_leaky_relu_quadrature_matches_the_closed_forms(a):
    quadrature = MeanField(lambda x: jnp.where(x > 0, x, a * x))
    exact = MeanField(A.get("leaky_relu", negative_slope=a))
    assert exact.chi1(1.2, 0.0) == 1.2 * (1 + a * a) / 2
    q = 2.0
    assert quadrature.chi1(1.2, 0.0, q=q) == pytest.approx(1.2 * (1 + a * a) / 2, rel=1e-13)
    assert quadrature.length_map(q, 1.2, 0.0) == pytest.approx(exact.length_map(q, 1.2, 0.0))
    for c in (-0.9, 0.0, 0.6, 0.9999):
        expected = exact.correlation_map(c, 1.2, 0.0, q=q)
        assert quadrature.correlation_map(c, 1.2, 0.0, q=q) == pytest.approx(expected, abs=1e-12)
        slope = exact.chi_c(1.2, 0.0, c=c, q=q)
        assert quadrature.chi_c(1.2, 0.0, c=c, q=q) == pytest.approx(slope, abs=1e-12)


def test_relu_reference_results():
    assert chi1("relu", 2.0, 0.0) == 1.0  # He initialisation is critical
    assert phase("relu", 2.0, 0.0) == "critical"
    assert chi1("relu", 3.0, 0.0) == 1.5  # independent of q, so defined although q* diverges
    assert q_star("relu", 1.0, 0.5) == 1.0  # sigma_b2 / (1 - sigma_w2 / 2)
    assert q_star("relu", 2.0, 0.0, q0=3.0) == 3.0  # every q is a fixed point
    assert length_map("relu", 4.0, 2.0, 0.1) == pytest.approx(4.1)
    assert critical_sigma_w2("relu", 0.0) == 2.0
    assert critical_sigma_w2(A.get("leaky_relu", negative_slope=0.5), 0.3) == 2.0 / 1.25
    for c in CORRELATIONS:
        assert correlation_map("relu", c, 2.0, 0.0) == pytest.approx(arccos_kernel(c), abs=1e-15)


def test_erf_quadrature_matches_the_arcsine_kernel():
    # Williams (1997): E[erf(u1) erf(u2)] = 2/pi asin(2 S12 / sqrt((1 + 2 S11)(1 + 2 S22))), and
    # E[erf'(u1) erf'(u2)] = 4/pi / sqrt(det(I + 2 S)): a smooth closed form for the 2D quadrature.
    mf = MeanField(jax.scipy.special.erf)
    for q in (0.5, 4.0):
        second_moment = 2 / math.pi * math.asin(2 * q / (1 + 2 * q))
        assert mf.length_map(q, 1.0, 0.0) == pytest.approx(second_moment, rel=1e-13)
        for c in (-0.9, 0.0, 0.6, 0.999):
            cross = 2 / math.pi * math.asin(2 * q * c / (1 + 2 * q))
            slopes = 4 / math.pi / math.sqrt((1 + 2 * q) ** 2 - (2 * q * c) ** 2)
            assert mf.correlation_map(c, 1.0, 0.0, q=q) == pytest.approx(
                cross / second_moment, abs=1e-12
            )
            assert mf.chi_c(1.0, 0.0, c=c, q=q) == pytest.approx(
                slopes * q / second_moment, rel=1e-12
            )


def test_tanh_length_map_and_chi1_match_adaptive_quadrature():
    mf = mean_field("tanh")

    def gaussian_mean(f, q):
        def density(z):
            return f(math.sqrt(q) * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

        halves = [integrate.quad(density, a, b, epsabs=1e-15, limit=200)[0] for a, b in SIDES]
        return sum(halves)

    for q in (0.01, 1.0, 100.0):
        tanh2 = gaussian_mean(lambda u: math.tanh(u) ** 2, q)
        sech4 = gaussian_mean(lambda u: math.cosh(u) ** -4, q)
        assert mf.length_map(q, 1.3, 0.2) == pytest.approx(1.3 * tanh2 + 0.2, rel=1e-12)
        assert mf.chi1(1.3, 0.2, q=q) == pytest.approx(1.3 * sech4, rel=1e-12)


# ------------------------------------------------------------------ critical line and phases
def test_tanh_without_bias_is_critical_at_sigma_w2_one():
    mf = mean_field("tanh")
    # chi_1 - 1 ~ (sigma_w2 - 1)^2 / 3 just above 1, so the root is resolved to ~1e-8 only.
    assert mf.critical_sigma_w2(0.0, bracket=(0.5, 2.0)) == pytest.approx(1.0, abs=1e-7)
    assert mf.q_star(0.9, 0.0) == 0.0  # ordered: the signal decays to the zero fixed point
    assert mf.q_star(1.5, 0.0) > 0.1


def test_tanh_critical_line_matches_reference_value_at_bias_005():
    # Reference: brentq on chi_1 - 1 with scipy.integrate.quad expectations (independent code).
    mf = mean_field("tanh")
    sigma_w2 = mf.critical_sigma_w2(0.05)
    assert sigma_w2 == pytest.approx(1.760954639606739, rel=1e-10)
    assert mf.chi1(sigma_w2, 0.05) == pytest.approx(1.0, abs=1e-10)
    assert mf.q_star(sigma_w2, 0.05) == pytest.approx(0.5700478816407643, rel=1e-10)


@pytest.mark.parametrize(
    ("sigma_w2", "sigma_b2", "expected"),
    [(0.5, 0.0, "ordered"), (1.5, 0.05, "ordered"), (2.5, 0.05, "chaotic"), (1.0, 0.0, "critical")],
)
def test_tanh_phase_follows_chi1(sigma_w2, sigma_b2, expected):
    assert mean_field("tanh").phase(sigma_w2, sigma_b2) == expected


# ------------------------------------------------------------------ correlation map
@pytest.mark.parametrize(
    ("act", "sigma_w2", "sigma_b2"),
    [("tanh", 1.5, 0.05), ("relu", 1.5, 0.1), ("elu", 1.2, 0.1), ("hard_tanh", 1.5, 0.05)],
)
def test_correlation_map_maps_one_to_one_and_is_increasing(act, sigma_w2, sigma_b2):
    mf = mean_field(act)
    assert mf.correlation_map(1.0, sigma_w2, sigma_b2) == pytest.approx(1.0, abs=1e-12)
    values = [mf.correlation_map(c, sigma_w2, sigma_b2) for c in np.linspace(-1.0, 1.0, 7)]
    assert np.all(np.diff(values) > 0)
    assert -1.0 <= min(values) and max(values) <= 1.0 + 1e-12


@pytest.mark.parametrize("act", ["tanh", "elu"])
def test_chi_c_at_one_equals_chi1_and_is_the_slope_of_the_map(act):
    mf = mean_field(act)
    assert mf.chi_c(1.3, 0.1) == pytest.approx(mf.chi1(1.3, 0.1), rel=1e-12)
    h = 1e-4
    difference = (mf.correlation_map(0.3 + h, 1.3, 0.1) - mf.correlation_map(0.3 - h, 1.3, 0.1)) / (
        2 * h
    )
    assert mf.chi_c(1.3, 0.1, c=0.3) == pytest.approx(difference, rel=1e-7)


def test_c_star_is_one_when_ordered_and_a_stable_fixed_point_when_chaotic():
    mf = mean_field("tanh")
    assert mf.c_star(1.5, 0.05) == 1.0
    assert abs(mf.c_star(2.0, 0.0)) < 1e-12  # odd activation, no bias: C(0) = 0
    c = mf.c_star(2.5, 0.05)
    assert 0.0 < c < 1.0
    assert mf.correlation_map(c, 2.5, 0.05) == pytest.approx(c, abs=1e-12)
    assert mf.chi_c(2.5, 0.05, c=c) < 1.0
    assert c_star("relu", 1.5, 0.1) == 1.0


def test_depth_scales():
    mf = mean_field("tanh")
    critical = mf.critical_sigma_w2(0.05)
    assert mf.xi_c(critical, 0.05) == math.inf
    assert mf.xi_c(1.5, 0.05) == pytest.approx(-1 / math.log(mf.chi1(1.5, 0.05)), rel=1e-12)
    assert 0 < mf.xi_c(2.5, 0.05) < math.inf
    # xi_q = -1 / log V'(q*), V' checked against a central difference of the length map.
    q, h = mf.q_star(1.5, 0.05), 1e-5
    slope = (mf.length_map(q + h, 1.5, 0.05) - mf.length_map(q - h, 1.5, 0.05)) / (2 * h)
    assert mf.xi_q(1.5, 0.05) == pytest.approx(-1 / math.log(slope), rel=1e-7)
    assert mean_field("relu").xi_q(2.0, 0.0) == math.inf  # every q is a fixed point
    # Without bias, q* = 0 and the correlation map is the q -> 0 limit, with slope 1 at c = 1:
    # ReLU's is the arc-cosine kernel for every sigma_w2; tanh becomes linear.
    assert mean_field("relu").chi_c(1.5, 0.0) == pytest.approx(1.0)
    assert mean_field("relu").xi_c(1.5, 0.0) == math.inf
    assert mf.xi_c(0.5, 0.0) == math.inf
    assert mf.xi_q(0.5, 0.0) == pytest.approx(-1 / math.log(0.5), rel=1e-12)  # V'(0) = sigma_w2


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: q_star("tanh", 0.0, 0.1),
            ValueError,
            "sigma_w2: expected a finite number > 0, received 0.0",
        ),
        (
            lambda: chi1("tanh", -1.0, 0.1),
            ValueError,
            "sigma_w2: expected a finite number > 0, received -1.0",
        ),
        (
            lambda: chi1("tanh", 1.0, -0.1),
            ValueError,
            "sigma_b2: expected a finite number >= 0, received -0.1",
        ),
        (
            lambda: q_star("tanh", math.nan, 0.0),
            ValueError,
            "sigma_w2: expected a finite number > 0, received nan",
        ),
        (
            lambda: q_star("tanh", "1", 0.0),
            TypeError,
            "sigma_w2: expected a finite number > 0, received '1'",
        ),
        (
            lambda: q_star("tanh", 1.0, 0.0, q0=0.0),
            ValueError,
            "q0: expected a finite number > 0, received 0.0",
        ),
        (
            lambda: correlation_map("tanh", 1.01, 1.0, 0.0),
            ValueError,
            r"c: expected a finite number in \[-1, 1\], received 1.01",
        ),
        (
            lambda: correlation_map("relu", -2.0, 1.0, 0.0),
            ValueError,
            r"c: expected a finite number in \[-1, 1\]",
        ),
        (
            lambda: q_star("mish_v2", 1.0, 0.0),
            ValueError,
            "activation: expected one of .*, received 'mish_v2'",
        ),
        (
            lambda: MeanField(3.0),
            TypeError,
            "MeanField: activation: expected a registry name, .*, received 3.0",
        ),
        (
            lambda: MeanField("softmax"),
            ValueError,
            "MeanField: activation: expected an elementwise activation",
        ),
        (lambda: MeanField(jnp.sum), ValueError, "act: expected an elementwise activation"),
        (
            lambda: q_star(jnp.log, 1.0, 0.0),
            ValueError,
            "act: expected finite values and derivatives .*, received a non-finite value",
        ),
        (
            lambda: critical_sigma_w2("tanh", 0.0, bracket=(2.0, 1.0)),
            ValueError,
            "bracket: expected .low, high. with low < high",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("act", "sigma_w2", "sigma_b2"),
    [("relu", 2.5, 0.0), ("relu", 2.0, 0.1), ("softplus", 3.0, 0.0)],
)
def test_divergent_length_map_raises_divergence_error(act, sigma_w2, sigma_b2):
    with pytest.raises(DivergenceError, match=r"q\* diverges"):
        mean_field(act).q_star(sigma_w2, sigma_b2)
    assert issubclass(DivergenceError, ValueError)


def test_gelu_has_no_critical_point_before_q_star_diverges():
    with pytest.raises(ValueError, match=r"no critical sigma_w2 .* q\* diverges"):
        mean_field("gelu").critical_sigma_w2(0.1, bracket=(1.0, 4.0))


# ------------------------------------------------------------------ wide random networks
SEEDS, DEPTH, WIDTH, BATCH = 3, 10, 512, 16


@pytest.fixture(scope="module")
def gaussians():
    """Standard normal weights, biases, inputs and read-out for SEEDS networks, drawn once."""
    keys = jax.random.split(jax.random.key(0, impl="rbg"), 4)
    shapes = [(SEEDS, DEPTH, WIDTH, WIDTH), (SEEDS, DEPTH, 1, WIDTH), (SEEDS, BATCH, WIDTH)]
    shapes.append((SEEDS, WIDTH))
    return tuple(jax.random.normal(k, s) for k, s in zip(keys, shapes, strict=True))


@functools.cache
def probe(act: str):
    """Per-example q^l ``(seeds, depth, batch)`` and log(||delta^l||^2 / ||delta^{l+1}||^2)
    ``(seeds, depth - 1)`` of an MLP ``z^{l+1} = phi(z^l) W + b``, loss ``sum(phi(z^L) v)``."""
    phi = A.get(act)

    def one(weights, biases, inputs, readout, sigma_w2, sigma_b2, q_in):
        w, b = jnp.sqrt(sigma_w2 / WIDTH) * weights, jnp.sqrt(sigma_b2) * biases

        def loss(shifts):  # shifts are zeros; the gradient with respect to them is delta^l
            def layer(h, params):
                z = h @ params[0] + params[1] + params[2]
                return phi(z), jnp.mean(z**2, axis=1)

            h, q = jax.lax.scan(layer, jnp.sqrt(q_in) * inputs, (w, b, shifts))
            return jnp.sum(h @ readout), q

        delta, q = jax.grad(loss, has_aux=True)(jnp.zeros((DEPTH, BATCH, WIDTH)))
        norms = jnp.sum(delta**2, axis=(1, 2))
        return q, jnp.log(norms[:-1] / norms[1:])

    return jax.jit(jax.vmap(one, in_axes=(0, 0, 0, 0, None, None, None)))


def test_length_map_iteration_predicts_layer_variances_of_wide_tanh_networks(gaussians):
    # Start far from q* (q^1 = 7.55, q* = 1.06) so the test follows the transient. Tolerances:
    # 10% per layer, 3% on average; the largest deviations over 8 random keys were 3.9%, 1.1%.
    mf, sigma_w2, sigma_b2, q_in = mean_field("tanh"), 2.5, 0.05, 3.0
    q, _ = probe("tanh")(*gaussians, sigma_w2, sigma_b2, q_in)
    theory = [sigma_w2 * q_in + sigma_b2]
    for _ in range(DEPTH - 1):
        theory.append(mf.length_map(theory[-1], sigma_w2, sigma_b2))
    error = np.asarray(q).mean(axis=(0, 2)) / np.array(theory) - 1
    assert np.max(np.abs(error)) < 0.1
    assert abs(np.mean(error)) < 0.03


@pytest.mark.parametrize(("act", "sigma_w2", "sigma_b2"), [("tanh", 1.2, 0.3), ("relu", 1.5, 0.1)])
def test_length_map_predicts_each_next_layer_variance(gaussians, act, sigma_w2, sigma_b2):
    # One step at a time, from each example's measured q^l: along depth, ReLU variances
    # fluctuate multiplicatively (relative size ~ sqrt(5 / width) per layer) and the errors of a
    # full iteration would accumulate. Tolerances: 25% per layer, 6% on average over layers; the
    # largest deviations over 8 random keys were 12% and 2.4% (ReLU), 7% and 1.6% (tanh).
    mf = mean_field(act)
    q = np.asarray(probe(act)(*gaussians, sigma_w2, sigma_b2, 3.0)[0], dtype=float)
    predicted = np.vectorize(lambda x: mf.length_map(x, sigma_w2, sigma_b2))(q[:, :-1])
    error = (q[:, 1:] / predicted).mean(axis=(0, 2)) - 1
    assert np.max(np.abs(error)) < 0.25
    assert abs(np.mean(error)) < 0.06


@pytest.mark.parametrize(
    ("act", "sigma_w2", "sigma_b2"),
    [
        ("tanh", 0.8, 0.05),  # ordered, chi_1 = 0.65
        ("tanh", 1.760954639606739, 0.05),  # critical
        ("tanh", 2.5, 0.05),  # chaotic, chi_1 = 1.13
        ("relu", 2.0, 0.0),  # He: critical
        ("relu", 1.5, 0.1),  # ordered, chi_1 = 0.75
    ],
)
def test_gradient_norm_ratio_per_layer_matches_log_chi1(gaussians, act, sigma_w2, sigma_b2):
    # Inputs at the fixed point (q^1 = q*), so every layer should multiply ||delta||^2 by chi_1.
    # Tolerances: 0.25 per layer, 0.06 on average over layers (largest deviations over 8 random
    # keys: 0.11 and 0.025); the non-critical cases have |log chi_1| >= 0.12.
    mf = mean_field(act)
    q_in = (mf.q_star(sigma_w2, sigma_b2) - sigma_b2) / sigma_w2
    _, log_ratio = probe(act)(*gaussians, sigma_w2, sigma_b2, q_in)
    error = np.asarray(log_ratio).mean(axis=0) - math.log(mf.chi1(sigma_w2, sigma_b2))
    assert np.max(np.abs(error)) < 0.25
    assert abs(np.mean(error)) < 0.06


# ------------------------------------------------------------------ phase diagram
def test_phase_diagram_returns_the_figure_and_the_chi1_grid():
    data = phase_diagram(
        ["tanh", "relu"], sigma_w2=[0.5, 1.5, 2.5], sigma_b2=[0.0, 0.05], n_critical=2
    )
    fig = plot.phase_diagram(data, points=[(2.0, 0.05, "a network")])
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # two panels and a colour bar
    assert data.chi1["tanh"].shape == (2, 3)
    assert data.chi1["tanh"][1, 2] == pytest.approx(mean_field("tanh").chi1(2.5, 0.05))
    np.testing.assert_allclose(data.critical_sigma_w2["tanh"], [1.0, 1.760954639606739], rtol=1e-9)
    np.testing.assert_array_equal(data.critical_sigma_w2["relu"], [2.0, 2.0])
    np.testing.assert_array_equal(data.diverges["relu"], [[0, 0, 1], [0, 0, 1]])
    assert data.chi1["relu"][0, 2] == 1.25  # defined although q* diverges
    saved = json.loads(json.dumps(data.to_dict()))
    assert saved["critical_sigma_w2"]["relu"] == [2.0, 2.0]
    back = type(data).from_dict(saved)
    np.testing.assert_array_equal(back.chi1["relu"], data.chi1["relu"])
    np.testing.assert_array_equal(back.diverges["relu"], data.diverges["relu"])
    fig.savefig(io.BytesIO(), format="png")


def test_phase_diagram_rejects_a_bad_grid():
    with pytest.raises(ValueError, match=r"phase_diagram: sigma_w2: expected a strictly .* > 0"):
        phase_diagram(["tanh"], sigma_w2=[0.0, 1.0], sigma_b2=[0.0, 0.1])
    with pytest.raises(ValueError, match="phase_diagram: sigma_b2: expected a strictly increasing"):
        phase_diagram(["tanh"], sigma_w2=[0.5, 1.0], sigma_b2=[0.1, 0.0])
