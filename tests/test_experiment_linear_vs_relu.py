"""The first experiment: identity against ReLU on quadrants, and ReLU units against XOR margin."""

import json
import xml.etree.ElementTree as ET

import pytest

from actlab import experiments
from actlab.experiments import linear_vs_relu


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("linear_vs_relu")
    return out, linear_vs_relu.run(out, quick=True)


def test_quick_run_writes_json_and_both_figures_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "linear_vs_relu.json",
        "linear_vs_relu.png",
        "linear_vs_relu.svg",
        "xor_units_vs_margin.png",
        "xor_units_vs_margin.svg",
    ]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    for svg in out.glob("*.svg"):
        assert ET.parse(svg).getroot().tag.endswith("svg")
    assert json.loads((out / "linear_vs_relu.json").read_text()) == json.loads(json.dumps(result))
    assert result["figures"] == [n for n in names if not n.endswith(".json")]


def test_result_is_a_report_section_with_title_summary_and_a_row_per_claim(quick_run):
    _, result = quick_run
    assert result["title"] and "two suffice only with a wide margin" in result["summary"]
    verdicts = [row["claim holds"] for row in result["table"]]
    assert verdicts == ["yes", "yes", "yes", "yes", "yes"]  # 3 quadrant rows, 2 XOR margins


def test_linear_network_never_classifies_quadrants_but_relu_does(quick_run):
    _, result = quick_run
    quad, seeds = result["quadrants"], result["config"]["seeds"]
    assert len(quad["identity"]["accuracy"]) == len(quad["relu"]["accuracy"]) == seeds
    assert max(quad["identity"]["accuracy"]) < 1.0
    assert quad["relu"]["best_accuracy"] == 1.0 and quad["relu"]["seeds_at_100"] >= 1
    assert quad["collapse_max_abs_diff"] < 1e-4  # trained linear net == its collapsed form


def test_xor_needs_more_relu_units_as_the_margin_shrinks(quick_run):
    _, result = quick_run
    xor = result["xor"]
    assert xor["margins"] == [0.5, 0.15] and xor["widths"] == [2, 4]
    assert xor["fewest_units_at_100"] == [2, 4]
    assert xor["best_accuracy"][1][0] < 1.0
    assert all(result["claims"].values())


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        linear_vs_relu.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected an? linear_vs_relu\.Config"):
        linear_vs_relu.run(tmp_path, config={"n": 10})


def test_experiment_registry_finds_the_run_function():
    assert "linear_vs_relu" in experiments.names()
    assert experiments.get("linear_vs_relu") is linear_vs_relu.run
    with pytest.raises(ValueError, match=r"experiment: expected one of .*, received 'nope'"):
        experiments.get("nope")
