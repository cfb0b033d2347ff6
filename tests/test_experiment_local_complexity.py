"""The local-complexity experiment: files, report section, the curves against an independent
recount, and (slow) the claims in quick mode."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from actlab.experiments import local_complexity


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local_complexity")
    return out, local_complexity.run(out, quick=True)


@pytest.mark.slow  # trains and measures the quick ensemble (10-20 s on 2 busy cores)
def test_run_writes_json_and_the_figure_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["local_complexity.json", "local_complexity.png", "local_complexity.svg"]
    assert (out / "local_complexity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(out / "local_complexity.svg").getroot().tag.endswith("svg")
    assert json.loads((out / "local_complexity.json").read_text()) == json.loads(json.dumps(result))
    assert result["figures"] == ["local_complexity.png", "local_complexity.svg"]


@pytest.mark.slow
def test_curves_have_one_value_per_checkpoint_within_the_unit_count(quick_run):
    _, result = quick_run
    cfg = local_complexity.Config.quick()
    assert result["steps"] == cfg.steps and result["steps"][0] == 0
    units = cfg.width * cfg.depth
    for name in local_complexity.ACTIVATIONS:
        r = result[name]
        for s in local_complexity.POINT_SETS:
            curve = np.asarray(r[f"lc_{s}"])
            assert curve.shape == (len(cfg.steps),)
            assert np.all((curve >= 0) & (curve <= units))
            per_seed = np.asarray(r[f"lc_{s}_seeds"])
            assert per_seed.shape == (cfg.seeds, len(cfg.steps))
            np.testing.assert_allclose(per_seed.mean(0), curve, rtol=1e-6)
            # the per-layer split adds up to the total, at init and at the end
            assert sum(r["lc_per_layer_init"][s]) == pytest.approx(curve[0], rel=1e-5)
            assert sum(r["lc_per_layer_final"][s]) == pytest.approx(curve[-1], rel=1e-5)
        assert 0.0 <= min(r["test_accuracy"]) and max(r["train_accuracy"]) <= 1.0
    rows = result["table"]
    assert len(rows) == len(local_complexity.ACTIVATIONS) * len(local_complexity.POINT_SETS)


@pytest.mark.slow
def test_claims_follow_from_the_recorded_curves(quick_run):
    _, result = quick_run
    # recomputed here from the saved numbers, independently of the experiment's own reading
    for name in local_complexity.ACTIVATIONS:
        r = result[name]
        train = np.asarray(r["lc_train"])
        steps = np.asarray(result["steps"])
        assert train.max() > train[0] and steps[train.argmax()] <= steps[-1] / 20  # rises first
        assert train[-1] <= 0.75 * train.max()  # then falls well below the peak
        fit = int(np.flatnonzero(np.asarray(r["train_accuracy"]) >= 0.999)[0])
        assert train[-1] < train[fit] and r["test_accuracy"][-1] >= r["test_accuracy"][fit] - 0.01
    relu, leaky = (np.asarray(result[name]["lc_train"]) for name in local_complexity.ACTIVATIONS)
    assert np.all(np.abs(relu - leaky) <= 0.25 * relu)


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        local_complexity.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected a local_complexity\.Config"):
        local_complexity.run(tmp_path, config="quick")


def test_checkpoints_are_dense_early_then_even():
    cfg = local_complexity.Config(schedule=((3, 10), (2, 100)))
    assert cfg.steps == [0, 10, 20, 30, 130, 230]
    assert local_complexity.Config().steps[:7] == [0, 5, 10, 15, 20, 40, 60]
    with pytest.raises(ValueError, match=r"schedule: expected pairs \(segments >= 1, steps >= 1\)"):
        local_complexity.run("unused", config=local_complexity.Config(schedule=((3, 0),)))


@pytest.mark.slow
def test_quick_mode_supports_every_claim(quick_run):
    _, result = quick_run
    assert result["quick"] and all(result["claims"].values()), result["claims"]
