"""The sparsity experiment: files, report section, and (slow) the claims in quick mode."""

import json
import xml.etree.ElementTree as ET

import pytest

from actlab.experiments import sparsity


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sparsity")
    return out, sparsity.run(out, quick=True)


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_run_writes_json_and_the_figure_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["sparsity.json", "sparsity.png", "sparsity.svg"]
    assert (out / "sparsity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(out / "sparsity.svg").getroot().tag.endswith("svg")
    assert json.loads((out / "sparsity.json").read_text()) == json.loads(json.dumps(result))
    assert result["figures"] == ["sparsity.png", "sparsity.svg"]


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_relu_is_sparse_and_smooth_activations_are_not_at_init(quick_run):
    _, result = quick_run
    assert [row["activation"] for row in result["table"]] == list(sparsity.ACTIVATIONS)
    assert all(0.25 <= v <= 0.75 for v in result["relu"]["exact_zero_init"])
    for name in sparsity.ACTIVATIONS[1:]:
        assert result[name]["exact_zero_init"] == [0.0] * sparsity.Config.quick().depth
        # the same weights: the first layer's pre-activations do not depend on the activation
        assert result[name]["dead_init"][0] == result["relu"]["dead_init"][0]
    assert result["claims"]["smooth_activations_have_no_exact_zeros_at_init"]
    assert "exactly zero" in result["summary"]


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        sparsity.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected an? sparsity\.Config"):
        sparsity.run(tmp_path, config="quick")


@pytest.mark.slow
def test_quick_mode_supports_every_claim(quick_run):
    _, result = quick_run
    assert result["quick"] and all(result["claims"].values()), result["claims"]
