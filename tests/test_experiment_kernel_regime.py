"""The kernel-regime experiment: files, report section, the distances against an independent
recomputation, and (slow) the claims."""

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from actlab.experiments import kernel_regime


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("kernel_regime")
    return out, kernel_regime.run(out, quick=True)


@pytest.mark.slow  # the quick run: about 25 s on 2 cores
def test_run_writes_json_and_the_figure_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["kernel_regime.json", "kernel_regime.png", "kernel_regime.svg"]
    assert (out / "kernel_regime.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(out / "kernel_regime.svg").getroot().tag.endswith("svg")
    assert json.loads((out / "kernel_regime.json").read_text()) == json.loads(json.dumps(result))
    assert result["quick"] is True and result["experiment"] == "kernel_regime"


@pytest.mark.slow  # the quick run: about 25 s on 2 cores
def test_distances_have_one_value_per_width_seed_and_checkpoint(quick_run):
    _, result = quick_run
    cfg = kernel_regime.Config.quick()
    assert result["times"] == cfg.times and result["times"][0] == 0.0
    assert result["times"][-1] == pytest.approx(cfg.time)
    for name in kernel_regime.ACTIVATIONS:
        r = result[name]
        distance = np.asarray(r["distance"])
        assert distance.shape == (len(cfg.widths), len(cfg.times))
        assert np.asarray(r["linearised_distance"]).shape == distance.shape
        seeds = np.asarray(r["distance_seeds"])
        assert seeds.shape == (len(cfg.widths), cfg.seeds)
        np.testing.assert_allclose(seeds.mean(1), r["final_distance"], rtol=1e-12)
        np.testing.assert_allclose(distance[:, -1], r["final_distance"], rtol=1e-12)
        # at t = 0 the network is its initial outputs, which both predictors start from
        assert np.max(distance[:, 0]) < 1e-6
        assert np.max(np.asarray(r["linearised_distance"])[:, 0]) < 1e-6
        # the reported slope is the least-squares fit of the reported distances
        slope = np.polyfit(np.log(cfg.widths), np.log(r["final_distance"]), 1)[0]
        assert r["slope"] == pytest.approx(slope)
        assert all(e < 0.1 for e in r["train_rmse"])  # the networks fit the training points
    assert len(result["table"]) == len(kernel_regime.ACTIVATIONS) * len(cfg.widths)


@pytest.mark.slow  # the quick run: about 25 s on 2 cores
def test_the_widest_relu_curve_is_near_an_independent_kernel_regression(quick_run):
    """The saved predictor curve against NumPy's own gradient-flow formula on the analytic
    ReLU kernel (the arc-cosine kernel written out here for one hidden layer)."""
    _, result = quick_run
    cfg = kernel_regime.Config.quick()
    sigma_w2, sigma_b2 = kernel_regime.VARIANCES["relu"]
    angles = np.asarray(result["angles"])
    test_angles = np.linspace(0, 2 * np.pi, cfg.test_size, endpoint=False)
    x = np.stack([np.cos(angles), np.sin(angles)], 1)
    xt = np.stack([np.cos(test_angles), np.sin(test_angles)], 1)

    def theta(a, b):
        k1 = sigma_w2 * a @ b.T / 2 + sigma_b2
        q = sigma_w2 / 2 + sigma_b2
        c = np.clip(k1 / q, -1, 1)
        t = np.arccos(c)
        k2 = sigma_w2 * q * (np.sin(t) + (np.pi - t) * c) / (2 * np.pi) + sigma_b2
        return k2 + sigma_w2 * (np.pi - t) / (2 * np.pi) * k1

    k, kt = theta(x, x), theta(xt, x)
    lam, v = np.linalg.eigh(k)
    gain = -np.expm1(-lam * cfg.time / len(x)) / lam  # gradient flow on 0.5 * mean squared error
    curves = result["relu"]["curves"]
    residual = kernel_regime.target(angles) - np.asarray(curves["initial_train_widest"])
    expected = np.asarray(curves["initial_test_widest"]) + kt @ v @ (gain * (v.T @ residual))
    np.testing.assert_allclose(curves["predictor_widest"], expected, atol=1e-6)
    scale = math.sqrt(np.mean(kernel_regime.target(test_angles) ** 2))
    gap = np.sqrt(np.mean((np.asarray(curves["widest"]) - expected) ** 2)) / scale
    assert gap == pytest.approx(result["relu"]["distance_seeds"][-1][0], rel=1e-4)


def test_config_rejects_widths_that_do_not_grow(tmp_path):
    with pytest.raises(ValueError, match="widths"):
        kernel_regime.run(tmp_path, config=kernel_regime.Config(widths=(64, 32)))
    with pytest.raises(ValueError, match="learning_rate"):
        kernel_regime.run(tmp_path, config=kernel_regime.Config(learning_rate=0.0))


@pytest.mark.slow  # the quick run: about 25 s on 2 cores
def test_claims_follow_from_the_recorded_distances(quick_run):
    _, result = quick_run
    _check_claims(result)


@pytest.mark.slow  # another seed's quick run (about 25 s on 2 busy cores)
def test_claims_hold_for_another_seed(tmp_path):
    _check_claims(kernel_regime.run(tmp_path, quick=True, seed=1))


def _check_claims(result):
    for name in kernel_regime.ACTIVATIONS:
        r = result[name]
        low, high = kernel_regime.SLOPE_RANGE
        assert low <= r["slope"] <= high, (name, r["slope"])
        assert r["final_distance"][-1] < kernel_regime.WIDEST_DISTANCE
        assert r["final_linearised_distance"][-1] < r["final_distance"][-1]
    assert all(result["claims"].values()), result["claims"]
