"""The exploding-gradients experiment: files, report section, and (slow) the claims in quick mode."""

import json
import xml.etree.ElementTree as ET

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from actlab.experiments import exploding_gradients
from actlab.gradflow import PhaseDiagram


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("exploding_gradients")
    return out, exploding_gradients.run(out, quick=True)


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_run_writes_json_and_both_figures_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "exploding_gradients.json",
        "exploding_gradients.png",
        "exploding_gradients.svg",
        "exploding_gradients_phase.png",
        "exploding_gradients_phase.svg",
    ]
    for stem in ("exploding_gradients", "exploding_gradients_phase"):
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert ET.parse(out / f"{stem}.svg").getroot().tag.endswith("svg")
    saved = json.loads((out / "exploding_gradients.json").read_text())
    assert saved == json.loads(json.dumps(result))
    # the phase diagram puts the chaotic network in the chaotic phase, the critical one on the line
    phases = PhaseDiagram.from_dict(result["phase_diagram"])
    chi = phases.chi1["tanh"]
    assert np.nanmin(chi) < 1.0 < np.nanmax(chi)
    w = int(np.argmin(np.abs(phases.sigma_w2 - result["config"]["sigma_w2"])))
    b = int(np.argmin(np.abs(phases.sigma_b2 - result["config"]["sigma_b2"])))
    assert chi[b, w] > 1.0


@pytest.mark.slow  # compiles the experiment (15-30 s on 2 busy cores)
def test_every_variant_is_measured_and_the_chaotic_one_starts_steepest(quick_run):
    _, result = quick_run
    cfg = exploding_gradients.Config.quick()
    assert len(result["table"]) == len(exploding_gradients.VARIANTS) * len(cfg.learning_rates)
    assert result["critical_sigma_w2"] == pytest.approx(1.761, abs=1e-3)
    assert result["chi1"]["chaotic"] > 2
    for name in exploding_gradients.VARIANTS:
        assert [row["learning_rate"] for row in result[name]] == list(cfg.learning_rates)
        for row in result[name]:
            assert len(row["layer_grad_norms_init"]) == cfg.depth
            assert len(row["loss"]) == len(result["steps"])
    chaotic, clipped = result["chaotic"][0], result["clipped"][0]
    # the same initial weights: the clip acts only after the norm is measured
    assert chaotic["initial_grad_norm"] == pytest.approx(clipped["initial_grad_norm"], rel=1e-5)
    assert chaotic["initial_grad_norm"] > result["critical"][0]["initial_grad_norm"]
    assert all(isinstance(v, bool) for v in result["claims"].values())


def test_clipped_sgd_clips_to_the_global_norm():
    tx = exploding_gradients.clipped_sgd(1.0)
    for grad, norm in (([30.0, 40.0], 5.0), ([0.3, 0.4], 0.5)):  # clipped, and left alone
        updates, _ = tx.update({"w": jnp.array(grad)}, tx.init({"w": jnp.zeros(2)}))
        assert float(optax.tree.norm(updates)) == pytest.approx(norm, rel=1e-6)


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        exploding_gradients.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected an? exploding_gradients\.Config"):
        exploding_gradients.run(tmp_path, config=3)
    with pytest.raises(ValueError, match="highlight_lr"):
        exploding_gradients.run(tmp_path, config=exploding_gradients.Config(highlight_lr=0.5))


@pytest.mark.slow
def test_quick_mode_supports_every_claim(quick_run):
    _, result = quick_run
    assert result["quick"] and all(result["claims"].values()), result["claims"]
