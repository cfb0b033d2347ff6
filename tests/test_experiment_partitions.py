"""Partitions of a trained classifier's plane: ReLU against leaky ReLU, and the drawing helpers."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.figure import Figure

from actlab import plot, regions
from actlab.experiments import partitions


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("partitions")
    return out, partitions.run(out, quick=True)


def test_quick_run_writes_json_and_the_figure_as_png_and_svg(quick_run):
    out, result = quick_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["partitions.json", "partitions.png", "partitions.svg"]
    png = out / "partitions.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert ET.parse(out / "partitions.svg").getroot().tag.endswith("svg")
    assert json.loads((out / "partitions.json").read_text()) == json.loads(json.dumps(result))
    assert result["figures"] == ["partitions.png", "partitions.svg"]


def test_every_claim_holds_and_the_table_has_a_row_per_panel(quick_run):
    _, result = quick_run
    assert result["claims"] == {name: True for name in result["claims"]}
    cfg = partitions.Config.quick()
    assert [(r["activation"], r["hidden layers"]) for r in result["table"]] == [
        (a, str(d)) for a in partitions.ACTIVATIONS for d in cfg.depths
    ]
    assert "linear regions" in " ".join(result["table"][0]) and result["summary"]


def test_linear_regions_never_exceed_activation_regions_and_areas_fill_the_box(quick_run):
    _, result = quick_run
    for panel in result["panels"]:
        for act, lin in zip(panel["activation_regions"], panel["linear_regions"], strict=True):
            assert 1 <= lin <= act
        assert panel["area_relative_error"] < 1e-9
    relu = [p for p in result["panels"] if p["activation"] == "relu"]
    assert relu[-1]["activation_regions"][0] > relu[0]["activation_regions"][0]


def test_run_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed: expected an int >= 0, received"):
        partitions.run(tmp_path, seed=-1)
    with pytest.raises(TypeError, match=r"config: expected an? partitions\.Config"):
        partitions.run(tmp_path, config={"depths": (1,)})
    with pytest.raises(ValueError, match="leaky_slope"):
        partitions.run(tmp_path, config=partitions.Config(leaky_slope=0.0))


# ----------------------------------------------------------------------------- plot helpers

# x = 0, y = 0 and x + y = 1 cut the box [-2, 3]^2 into 7 regions
_LAYERS = [(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), np.array([0.0, 0.0, -1.0]))]
_BOX = ((-2.0, 3.0), (-2.0, 3.0))


def _segments(ax):
    return [
        np.asarray(s)
        for c in ax.collections
        if hasattr(c, "get_segments")
        for s in c.get_segments()
    ]


def test_draw_partition_fills_every_region_and_draws_the_exact_decision_boundary():
    part = regions.partition_plane(_LAYERS, bounds=_BOX)
    ax = Figure().add_subplot()
    # logit = h1 + h2 - 1 with h = relu(x), relu(y): zero on x + y = 1 in the first quadrant,
    # on x = 1 where y <= 0 < x, on y = 1 where x <= 0 < y; never zero where both are off
    plot.draw_partition(ax, part, readout=(np.array([[1.0], [1.0], [0.0]]), np.array([-1.0])))
    fill, boundary = ax.collections
    assert len(fill.get_paths()) == 7
    points = np.concatenate(boundary.get_segments())
    x, y = points[:, 0], points[:, 1]
    on = (
        np.isclose(np.maximum(x, 0) + np.maximum(y, 0), 1.0)
        & (x >= -2 - 1e-12) & (y >= -2 - 1e-12)
    )  # fmt: skip
    assert on.all() and len(points) >= 6
    assert ax.get_xlim() == (-2.0, 3.0)
    with pytest.raises(ValueError, match="one logit"):
        plot.draw_partition(ax, part, readout=(np.ones((3, 2)), np.zeros(2)))
    with pytest.raises(ValueError, match="color_by"):
        plot.draw_partition(ax, part, color_by="pattern")


def test_draw_unit_lines_clips_each_unit_line_to_the_box_of_a_slice():
    ax = Figure().add_subplot()
    weight, bias = _LAYERS[0]
    plot.draw_unit_lines(ax, weight, bias, _BOX)
    (lines,) = ax.collections
    segments = np.asarray(lines.get_segments())
    assert segments.shape == (3, 2, 2)
    values = segments @ weight + bias  # each unit's pre-activation at its own segment's ends
    assert np.allclose([values[j, :, j] for j in range(3)], 0.0)
    assert np.all((segments >= -2 - 1e-12) & (segments <= 3 + 1e-12))
    # the same lines seen in a slice of a 3D input (third coordinate fixed at 0.5)
    ax = Figure().add_subplot()
    lifted = np.vstack([weight, [[1.0, 1.0, 1.0]]])
    basis = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    plot.draw_unit_lines(ax, lifted, bias - 0.5, _BOX, origin=np.array([0, 0, 0.5]), basis=basis)
    assert np.allclose(np.asarray(ax.collections[0].get_segments()), segments)
    with pytest.raises(ValueError, match="origin and basis"):
        plot.draw_unit_lines(ax, lifted, bias, _BOX)
