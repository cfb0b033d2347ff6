"""The relu_speed experiment: files, JSON structure and report section (timings only sanity-checked)."""

import json
import math
import xml.etree.ElementTree as ET

import pytest

from actlab.experiments import relu_speed
from actlab.timing import Setting, activation_costs, ratios_to

TINY = relu_speed.Config(
    names=("relu", "tanh", "sbaf"),  # sbaf: inputs mapped into its domain [0, 1]
    memory_mib=0.25,
    compute_elements=4096,
    compute_passes=4,
    repeats=1,
    target_ms=1.0,
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("relu_speed")
    return out, relu_speed.run(out, config=TINY)


def test_run_writes_json_and_the_figure_as_png_and_svg(tiny_run):
    out, result = tiny_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["relu_speed.json", "relu_speed.png", "relu_speed.svg"]
    assert (out / "relu_speed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(out / "relu_speed.svg").getroot().tag.endswith("svg")
    assert json.loads((out / "relu_speed.json").read_text()) == json.loads(json.dumps(result))
    assert result["figures"] == ["relu_speed.png", "relu_speed.svg"]


def test_costs_are_positive_and_ratios_are_relative_to_relu(tiny_run):
    _, result = tiny_run
    assert set(result["costs"]) == set(result["ratios"]) == {"memory", "compute"}
    for setting in ("memory", "compute"):
        costs, ratios = result["costs"][setting], result["ratios"][setting]
        assert list(costs) == list(TINY.names)
        for name in TINY.names:
            for key in ("fwd", "fwd+bwd", "fwd ns/elem", "fwd+bwd ns/elem"):
                assert math.isfinite(costs[name][key]) and costs[name][key] > 0
            for p in ("fwd", "fwd+bwd"):
                assert ratios[name][p] == pytest.approx(costs[name][p] / costs["relu"][p])
        assert ratios["relu"] == {"fwd": 1.0, "fwd+bwd": 1.0}
    assert result["settings"]["compute"] == {
        "kind": "compute", "elements": 4096, "passes": 4, "unroll": 1
    }  # fmt: skip


def test_result_is_a_report_section(tiny_run):
    _, result = tiny_run
    assert result["title"] == "Is ReLU faster?" and "memory-bound setting" in result["summary"]
    assert [row["activation"] for row in result["table"]] == list(TINY.names)
    assert result["table"][0]["compute-bound fwd"].endswith("ns/elem")
    assert result["table"][1]["memory-bound fwd"].endswith("x")
    assert set(result["claims"]) == {
        "compute_bound_every_smooth_activation_slower_than_relu",
        "relu_advantage_larger_when_compute_bound",
    }
    assert all(isinstance(v, bool) for v in result["claims"].values())
    assert list(result["config"]["names"]) == list(TINY.names) and result["quick"] is False


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        relu_speed.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected an? relu_speed\.Config"):
        relu_speed.run(tmp_path, config={"names": ("relu",)})
    with pytest.raises(
        ValueError, match="Config: names: expected names including 'relu', received"
    ):
        relu_speed.run(tmp_path, config=relu_speed.Config(names=("tanh",)))
    with pytest.raises(
        ValueError, match=r"Config: names: expected names among .*, received \['nope'\]"
    ):
        relu_speed.run(tmp_path, config=relu_speed.Config(names=("relu", "nope")))


def test_setting_validates_its_fields():
    with pytest.raises(
        ValueError, match="Setting: kind: expected one of 'memory', 'compute', received 'disk'"
    ):
        Setting("disk", elements=8)
    with pytest.raises(ValueError, match="elements: expected an int >= 1, received 0"):
        Setting("memory", elements=0)
    with pytest.raises(
        ValueError, match=r"Setting: passes and unroll: expected 1 and 1 .*, received 2 and 1"
    ):
        Setting("memory", elements=8, passes=2)
    assert Setting("compute", elements=2048, passes=3, unroll=2).applications == 6
    assert Setting("compute", elements=2048).shape == (2, 1024)


def test_ratios_to_rejects_a_missing_baseline(tiny_run):
    _, result = tiny_run
    with pytest.raises(
        ValueError, match=r"ratios_to: baseline: expected one of the labels .*, received 'gelu'"
    ):
        ratios_to(result["costs"]["memory"], "gelu")
    with pytest.raises(
        ValueError, match="activation_costs: functions: expected at least one activation"
    ):
        activation_costs({}, Setting("memory", elements=8), repeats=1)
