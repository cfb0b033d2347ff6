"""Vanishing gradients versus depth: files, report fields, the sweep against one configuration,
and resuming an interrupted sweep. A tiny configuration keeps it to a few seconds; the quick
preset and its claims run under ``-m slow``."""

import json
import xml.etree.ElementTree as ET

import jax
import numpy as np
import pytest

from actlab.experiments import vanishing_gradients as vg
from actlab.experiments.vanishing_gradients import _sweep as vg_sweep

TINY = vg.Config(
    activations=("sigmoid", "relu"),
    sigma_w2=(1.0, 2.0),
    depths=(1, 2, 4),
    seeds=2,
    width=16,
    batch=4,
    shown_depths=(4,),
    chunk=6,
)


@pytest.fixture(scope="module")
def interrupted_then_resumed(tmp_path_factory):
    """The tiny run, interrupted while computing the second seed's group, then run again."""
    out = tmp_path_factory.mktemp("vanishing_gradients")
    traced, original = [], vg_sweep.sweep_cell

    def failing_cell(cfg, seed=0):
        cell = original(cfg, seed)

        def fn(static, batch):
            traced.append(static["seed"])
            if static["seed"] == 1 and traced.count(1) == 1:
                raise RuntimeError("interrupted")
            return cell(static, batch)

        return fn

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vg_sweep, "sweep_cell", failing_cell)
        with pytest.raises(RuntimeError, match="interrupted"):
            vg.run(out, config=TINY)
        result = vg.run(out, config=TINY)
    return out, result, traced


def test_interrupted_sweep_resumes_computing_only_the_missing_seed(interrupted_then_resumed):
    out, result, traced = interrupted_then_resumed
    assert traced == [0, 1, 1]  # seed 0 once, seed 1 interrupted then computed on the rerun
    assert result["sweep"] == {"computed": 1, "loaded": 1}
    assert vg.sweep(TINY, out / "sweep").loaded == ({"seed": 0}, {"seed": 1})  # all from disk


def test_writes_json_and_both_figures_as_png_and_svg(interrupted_then_resumed):
    out, result, _ = interrupted_then_resumed
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    assert names == [
        "vanishing_gradients.json",
        "vanishing_gradients_depth.png",
        "vanishing_gradients_depth.svg",
        "vanishing_gradients_layers.png",
        "vanishing_gradients_layers.svg",
    ]
    assert (out / "sweep" / "index.json").exists()
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for svg in out.glob("*.svg"):
        assert ET.parse(svg).getroot().tag.endswith("svg")
    assert json.loads((out / "vanishing_gradients.json").read_text()) == json.loads(
        json.dumps(result)
    )
    assert sorted(result["figures"]) == [n for n in names if not n.endswith(".json")]


def test_result_is_a_report_section_with_a_row_per_activation(interrupted_then_resumed):
    _, result, _ = interrupted_then_resumed
    assert result["title"] and "0.25^3" in result["summary"]
    assert [row["activation"] for row in result["table"]] == ["sigmoid", "relu"]
    assert set(result["claims"]) == {
        "sigmoid_below_quarter_power_bound",
        "sigmoid_vanishes_fastest",
        "relu_he_ratio_near_one",
        "theory_predicts_per_layer_rate",
    }
    sigmoid = result["results"]["sigmoid"]
    assert np.asarray(sigmoid["first_layer_ratio"]).shape == (2, 3)  # seeds, depths
    assert sigmoid["first_layer_ratio_theory"][0] == 1.0  # depth 1: the first layer is the last
    assert result["theory"]["relu"]["chi1"] == [1.0] * 4


def test_sweep_cells_equal_the_per_configuration_computation(interrupted_then_resumed):
    out, _, _ = interrupted_then_resumed
    data = vg.collect(TINY, vg.sweep(TINY, out / "sweep"))  # loaded from disk
    assert data["delta_norm"].shape == (2, 2, 3, 4)  # seeds, activations, depths, layers
    one = jax.jit(vg.reference_cell(TINY, activation=0, depth=2))(1)  # sigmoid, depth 2, seed 1
    for name in ("q", "delta_norm", "weight_grad_norm", "global_grad_norm", "loss"):
        stored = data[name][1, 0, 1]
        np.testing.assert_allclose(stored[..., :2] if stored.ndim else stored, one._asdict()[name],
                                   rtol=1e-5, err_msg=name)  # fmt: skip
    assert np.all(np.isnan(data["q"][1, 0, 1, 2:]))  # no layers 3 and 4 in a depth-2 network


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        vg.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected an? vanishing_gradients\.Config"):
        vg.run(tmp_path, config={"seeds": 2})
    with pytest.raises(
        ValueError, match="Config: sigma_w2: expected one per activation, received 2 for 1"
    ):
        vg.Config(activations=("relu",), sigma_w2=(1.0, 2.0))
    with pytest.raises(ValueError, match="shown_depths"):
        vg.Config(depths=(1, 2), shown_depths=(3,))


@pytest.mark.slow
def test_quick_preset_reproduces_every_claim(tmp_path):
    result = vg.run(tmp_path, quick=True)
    assert result["quick"] and all(result["claims"].values()), result["claims"]
    assert result["sweep"] == {"computed": 1, "loaded": 0}  # seeds batched: one group
