"""The ReLU'(0) experiment: files, report section, and (slow) the claims in quick mode."""

import json
import xml.etree.ElementTree as ET

import pytest

from actlab.experiments import relu_grad_at_zero


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("relu_grad_at_zero")
    return out, relu_grad_at_zero.run(out, quick=True)


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_run_writes_json_and_the_figure_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["relu_grad_at_zero.json", "relu_grad_at_zero.png", "relu_grad_at_zero.svg"]
    assert (out / "relu_grad_at_zero.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(out / "relu_grad_at_zero.svg").getroot().tag.endswith("svg")
    saved = json.loads((out / "relu_grad_at_zero.json").read_text())
    assert saved == json.loads(json.dumps(result))


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_both_choices_start_from_the_same_weights_in_every_dtype(quick_run):
    _, result = quick_run
    assert [row["dtype"] for row in result["table"]] == list(relu_grad_at_zero.DTYPES)
    cfg = relu_grad_at_zero.Config.quick()
    assert result["pre_activations_per_step"] == cfg.train_size * cfg.width * cfg.depth
    for dtype in relu_grad_at_zero.DTYPES:
        r = result[dtype]
        assert r["parameter_distance"][0] == 0.0  # equal at step 0
        assert len(r["zero_fraction"]) == len(result["steps"]) == cfg.segments + 1
        assert all(0 <= v <= 1 for v in r["zero_fraction"])
        assert len(r["test_accuracy"]["grad_at_zero_1"]) == cfg.seeds
    # float32 never met an exact zero here, so both choices trained identically
    assert result["float32"]["final_parameter_distance"] == 0.0
    assert all(isinstance(v, bool) for v in result["claims"].values())


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match=r"seed: expected an int >= 0, received 1.5"):
        relu_grad_at_zero.run(tmp_path, seed=1.5)
    with pytest.raises(TypeError, match=r"config: expected an? relu_grad_at_zero\.Config"):
        relu_grad_at_zero.run(tmp_path, config="tiny")


@pytest.mark.slow
def test_quick_mode_supports_every_claim(quick_run):
    _, result = quick_run
    assert result["quick"] and all(result["claims"].values()), result["claims"]
