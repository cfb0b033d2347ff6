"""The dying-ReLU experiment: files, report section, and (slow) the claims in quick mode."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from actlab.experiments import dying_relu


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dying_relu")
    return out, dying_relu.run(out, quick=True)


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_run_writes_json_and_both_figures_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "born_dead.png",
        "born_dead.svg",
        "dying_relu.json",
        "dying_relu_training.png",
        "dying_relu_training.svg",
    ]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for svg in out.glob("*.svg"):
        assert ET.parse(svg).getroot().tag.endswith("svg")
    assert json.loads((out / "dying_relu.json").read_text()) == json.loads(json.dumps(result))
    assert sorted(result["figures"]) == [n for n in names if not n.endswith(".json")]


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_result_is_a_report_section_with_a_row_per_measurement(quick_run):
    _, result = quick_run
    assert result["title"] and "born dead" in result["summary"]
    assert {"measurement", "value", "claim holds"} == set(result["table"][0])
    assert len(result["table"]) == 2 * len(dying_relu.ACTIVATIONS) + 1 + len(
        dying_relu.Config.quick().born_widths
    )
    assert all(isinstance(v, bool) for v in result["claims"].values())
    cfg, training = dying_relu.Config.quick(), result["training"]
    assert len(training["conditions"]) == 3 and len(training["steps"]) == cfg.segments + 1
    for name in dying_relu.ACTIVATIONS:
        for row in training[name]:
            assert 0 <= row["diverged"] <= cfg.seeds
            if row["dead_final"] is not None:
                assert 0 <= row["dead_final"] <= 1 and len(row["dead_per_layer"]) == cfg.depth


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_born_dead_formula_and_measurement_agree_at_depth_one(quick_run):
    _, result = quick_run
    born = result["born_dead"]
    for n in dying_relu.Config.quick().born_widths:
        assert born[str(n)]["formula"][0] == pytest.approx(2.0**-n)
        assert np.all(np.diff(born[str(n)]["per_input"]) >= 0)  # once zero, zero after
    assert dying_relu.born_dead_probability(2, 3) == pytest.approx(1 - 0.75**3)


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        dying_relu.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected an? dying_relu\.Config"):
        dying_relu.run(tmp_path, config={"seeds": 1})
    with pytest.raises(ValueError, match="baseline_lr"):
        dying_relu.run(tmp_path, config=dying_relu.Config(baseline_lr=0.3))
    with pytest.raises(
        ValueError, match="Config: biases: expected values < 0 with highlight_bias among them"
    ):
        dying_relu.run(tmp_path, config=dying_relu.Config(biases=(0.5,), highlight_bias=0.5))


@pytest.mark.slow
def test_quick_mode_supports_every_claim(quick_run):
    _, result = quick_run
    assert result["quick"] and all(result["claims"].values()), result["claims"]
