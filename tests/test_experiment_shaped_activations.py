"""The shaped-activations experiment: the reading of the curves (fast), files and report section
and the claims against the saved numbers (slow: trains six deep ensembles)."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from actlab.experiments import shaped_activations as S

NAMES = ("tanh", "DKS tanh", "softplus", "DKS softplus", "leaky_relu", "TAT leaky_relu")


@pytest.fixture(scope="module", params=[0, 1], ids=lambda s: f"seed{s}")
def quick_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("shaped_activations")
    return out, S.run(out, quick=True, seed=request.param)


def test_smoothed_curve_is_a_trailing_median_and_steps_to_target_finds_the_first_crossing():
    loss = np.array([[3.0, 2.0, 9.0, 1.0, 0.4, 0.3, 0.2]])
    smooth = S._smoothed(loss, 3)
    np.testing.assert_allclose(smooth[0], [3.0, 3.0, 3.0, 2.0, 1.0, 0.4, 0.3])
    steps = np.arange(7) * 10
    assert S._steps_to(smooth[0], steps, 0.5) == 50
    assert S._steps_to(smooth[0], steps, 0.1) is None
    assert S._steps_to(np.array([np.nan, 0.2]), np.array([0, 10]), 0.5) == 10  # NaN never hits


def test_inputs_are_centred_and_have_unit_length_per_dimension():
    x = np.random.default_rng(0).uniform(size=(20, 64))
    z = S._inputs(x, x.mean(0))
    np.testing.assert_allclose(np.mean(z**2, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(z.mean(0) * np.sqrt(np.mean((x - x.mean(0)) ** 2, 1)).mean(), 0.0,
                               atol=0.2)  # fmt: skip


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        S.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected a shaped_activations\.Config"):
        S.run(tmp_path, config="quick")
    with pytest.raises(ValueError, match=r"Config: steps: expected at least"):
        S.run(tmp_path, config=S.Config(steps=20))


@pytest.mark.slow  # six compiled deep ensembles: about a minute on 2 busy cores
def test_run_writes_json_and_the_figure_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["shaped_activations.json", "shaped_activations.png", "shaped_activations.svg"]
    assert (out / "shaped_activations.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(out / "shaped_activations.svg").getroot().tag.endswith("svg")
    assert json.loads((out / "shaped_activations.json").read_text()) == json.loads(
        json.dumps(result)
    )
    assert len(result["table"]) == len(NAMES)


@pytest.mark.slow
def test_claims_follow_from_the_recorded_curves(quick_run):
    _, result = quick_run
    cfg = S.Config.quick()
    steps = np.asarray(result["steps"])
    first = {}
    for name in NAMES:
        r = result[name]
        loss = np.asarray(r["loss_seeds"], dtype=float)
        assert loss.shape == (cfg.seeds, len(steps))
        # recomputed here: first step where the trailing median of 5 records is <= the target
        hits = []
        for curve in loss:
            # the window at the start is padded with the first value
            med = [
                np.median(np.concatenate([np.repeat(curve[:1], max(0, cfg.smooth - 1 - i)),
                                          curve[max(0, i - cfg.smooth + 1) : i + 1]]))
                for i in range(len(curve))
            ]  # fmt: skip
            hit = np.flatnonzero(np.nan_to_num(med, nan=np.inf) <= cfg.target_loss)
            hits.append(int(steps[hit[0]]) if hit.size else None)
        assert hits == r["steps_to_target"]
        first[name] = np.median([cfg.steps if h is None else h for h in hits])
    claims = result["claims"]
    assert claims["shaped_activations_train_faster_than_raw"] == all(
        first[shaped] < first[raw] for raw, shaped in zip(NAMES[::2], NAMES[1::2], strict=True)
    )
    # measured in quick mode (16 layers), seeds 0 and 1: every shaped network is faster, and raw
    # softplus never reaches the target (full mode, 50 layers: see the report)
    assert claims["q_map_fixed_at_1_and_c_map_targets_met"]
    assert claims["shaped_activations_reach_the_target_loss"]
    assert claims["shaped_activations_train_faster_than_raw"]
    assert claims["raw_softplus_collapses_correlations_at_init_dks_does_not"]
    assert result["softplus"]["steps_to_target"] == [None] * cfg.seeds
