"""Regions against depth: exact counts below the bounds, estimates below exact, tent map 2^L.

The default tests run a small untrained configuration (the compilations of training dominate a
run's time); the quick preset, with training on moons and digits, runs under ``-m slow``.
"""

import json
import math
import xml.etree.ElementTree as ET

import pytest

from actlab import regions
from actlab.experiments import regions_vs_depth

SMALL = regions_vs_depth.Config(
    widths=(16,),
    depths=(1, 3),
    train_widths=(),
    train_depths=(),
    seeds=2,
    n=100,
    segments=32,
    slices=1,
    resolution=48,
    space_dims=(3,),
    space_widths=((10,),),
    space_depths=(1, 2),
    space_train_depths=(),
)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("regions_vs_depth")
    return out, regions_vs_depth.run(out, config=SMALL)


def test_run_writes_json_and_every_figure_as_png_and_svg(small_run):
    out, result = small_run
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "regions_full_space.png",
        "regions_full_space.svg",
        "regions_vs_depth.json",
        "regions_vs_depth.png",
        "regions_vs_depth.svg",
        "regions_vs_neurons.png",
        "regions_vs_neurons.svg",
    ]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    for svg in out.glob("*.svg"):
        assert ET.parse(svg).getroot().tag.endswith("svg")
    assert json.loads((out / "regions_vs_depth.json").read_text()) == json.loads(json.dumps(result))
    assert sorted(result["figures"]) == [n for n in names if not n.endswith(".json")]


def test_result_is_a_report_section_whose_claims_all_hold(small_run):
    _, result = small_run
    assert result["title"] and "Hanin and Rolnick" in result["summary"]
    assert result["claims"] == {name: True for name in result["claims"]}
    assert len(result["claims"]) == 9
    assert {row["claim holds"] for row in result["table"]} <= {"yes", "-"}


def test_every_architecture_and_condition_is_measured(small_run):
    _, result = small_run
    found = {(r["condition"], r["width"], r["depth"]) for r in result["rows"]}
    assert found == {
        (condition, width, depth)
        for condition in ("init_2d", "zero_bias_2d", "init_digits")
        for width in SMALL.widths
        for depth in SMALL.depths
    }
    for row in result["rows"]:
        per_network = len(row["plane_counts"]) // SMALL.seeds
        assert per_network == (1 if row["condition"].endswith("2d") else SMALL.slices)
        assert 1 <= row["line"]["min"] <= row["line"]["mean"] <= row["line"]["max"]
    assert "Training" not in result["summary"]  # nothing trained, nothing claimed about it


@pytest.mark.slow  # trains on moons and digits: compilations of their own
def test_quick_preset_trains_on_moons_and_digits_and_every_claim_holds(tmp_path):
    cfg = regions_vs_depth.Config.quick()
    result = regions_vs_depth.run(tmp_path, quick=True)
    assert result["quick"] and result["claims"] == {name: True for name in result["claims"]}
    trained = {(r["condition"], r["width"], r["depth"]): r for r in result["rows"]}
    for kind, chance in (("2d", 0.5), ("digits", 0.1)):
        for width in cfg.train_widths:
            for depth in cfg.train_depths:
                row = trained[f"trained_{kind}", width, depth]
                assert len(row["accuracy"]) == cfg.seeds and min(row["accuracy"]) > chance + 0.3
    assert "Training changes plane counts" in result["summary"]
    space = {(r["condition"], r["dim"], r["width"], r["depth"]): r for r in result["space"]["rows"]}
    for dim, widths in zip(cfg.space_dims, cfg.space_widths, strict=True):
        for width in widths:
            for depth in cfg.space_train_depths:
                row = space["trained_space", dim, width, depth]
                assert len(row["accuracy"]) == cfg.seeds and min(row["accuracy"]) > 0.25 + 0.3
    assert "Training on the blobs changes the whole-space count" in result["summary"]


def test_whole_space_counts_sit_below_the_bounds_and_grow_like_n_to_the_d(small_run):
    _, result = small_run
    space = result["space"]
    rows = sorted(space["rows"], key=lambda r: r["depth"])
    assert [(r["condition"], r["dim"], r["width"], r["depth"]) for r in rows] == [
        ("init_space", 3, 10, 1),
        ("init_space", 3, 10, 2),
    ]
    for row in rows:
        bound = space["bounds"][f"d3_10x{row['depth']}"]
        assert bound == {
            "serra_upper": regions.bounds.serra_upper(3, [10] * row["depth"]),
            "arrangement": regions.bounds.zaslavsky(10 * row["depth"], 3),
        }
        assert len(row["space_counts"]) == len(row["slice_counts"]) == SMALL.seeds
        assert max(row["space_counts"]) <= bound["serra_upper"]
        assert 1 <= row["slice"]["min"] and row["space"]["min"] > row["slice"]["max"] / 10
    # one layer: at most the arrangement of its 10 planes (in general position, 176 regions)
    assert max(rows[0]["space_counts"]) <= 176
    two_point = math.log(rows[1]["space"]["mean"] / rows[0]["space"]["mean"]) / math.log(2)
    assert space["slopes"]["3"]["space"] == pytest.approx(two_point)
    assert space["slopes"]["3"]["arrangement"] == pytest.approx(math.log(1351 / 176) / math.log(2))


def test_counts_sit_between_the_grid_estimate_and_the_bounds(small_run):
    _, result = small_run
    for row in result["rows"]:
        bound = result["bounds"][f"{row['width']}x{row['depth']}"]
        widths = [row["width"]] * row["depth"]
        assert bound["serra_upper_plane"] == regions.bounds.serra_upper(2, widths)
        assert row["plane"]["max"] <= bound["serra_upper_plane"] <= bound["montufar_upper_plane"]
        assert row["line"]["max"] <= bound["serra_upper_line"]
        if row["condition"] != "zero_bias_2d":
            assert all(
                0 < s <= p for s, p in zip(row["sampled_counts"], row["plane_counts"], strict=True)
            )


def test_tent_map_doubles_with_every_layer(small_run):
    _, result = small_run
    tent = result["tent_map"]
    assert tent["line"] == tent["plane"] == [2**d for d in tent["depths"]]


def test_slopes_are_fitted_on_log_log_axes(small_run):
    _, result = small_run
    rows = [r for r in result["rows"] if r["condition"] == "init_2d"]
    first, last = rows[0], rows[-1]  # two-point slope for a sanity check of the sign and size
    two_point = math.log(last["plane"]["mean"] / first["plane"]["mean"]) / math.log(
        last["neurons"] / first["neurons"]
    )
    assert abs(result["slopes"]["init_2d_plane"] - two_point) < 0.5
    # zero biases: every kink set passes through the origin, so fewer regions on the plane
    zero = [r for r in result["rows"] if r["condition"] == "zero_bias_2d"]
    assert all(z["plane"]["mean"] < r["plane"]["mean"] for z, r in zip(zero, rows, strict=True))
    assert result["slopes"]["zero_bias_2d_plane"] < result["slopes"]["init_2d_plane"]


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        regions_vs_depth.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected an? regions_vs_depth\.Config"):
        regions_vs_depth.run(tmp_path, config={"widths": (8,)})
    with pytest.raises(ValueError, match="train_depths: expected a subset"):
        regions_vs_depth.run(tmp_path, config=regions_vs_depth.Config(train_depths=(11,)))
    with pytest.raises(ValueError, match="space_train_depths: expected a subset"):
        regions_vs_depth.run(tmp_path, config=regions_vs_depth.Config(space_train_depths=(4,)))
    with pytest.raises(ValueError, match="one tuple of widths per dimension"):
        regions_vs_depth.run(tmp_path, config=regions_vs_depth.Config(space_dims=(3, 4, 5)))
    with pytest.raises(ValueError, match="sigma_b2"):
        regions_vs_depth.run(tmp_path, config=regions_vs_depth.Config(sigma_b2=0.0))
