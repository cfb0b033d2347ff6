"""The ``actlab`` command line, run as a user would (through Typer's test runner)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from flax import nnx
from typer.testing import CliRunner

import actlab
from actlab import regions
from actlab.cli import _bench, app
from actlab.models import MLP, hidden_layers

runner = CliRunner()


def _text(result) -> str:
    """The output with rich's panel borders removed and whitespace collapsed (errors wrap)."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


def _usage_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in _text(result), result.output


def test_version_prints_the_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and actlab.__version__ in result.output


@pytest.mark.parametrize(
    "command",
    [["reproduce"], ["plot"], ["activations"], ["regions"], ["regions", "line"],
     ["regions", "plane"], ["regions", "space"], ["regions", "depth"], ["gradflow"], ["bench"]],
)  # fmt: skip
def test_every_subcommand_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_plot_writes_png_and_svg(tmp_path):
    result = runner.invoke(
        app, ["plot", "relu", "elu", "--out", str(tmp_path / "fig"), "--xmin", "-3", "--xmax", "3"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fig.png").stat().st_size > 1000 and (tmp_path / "fig.svg").exists()


def test_plot_rejects_an_unknown_activation_with_the_valid_names():
    result = runner.invoke(app, ["plot", "relu7"])
    assert result.exit_code == 2 and "activation: expected one of identity, relu" in _text(result)
    assert "received 'relu7'" in _text(result)


def test_plot_rejects_an_empty_interval():
    result = runner.invoke(app, ["plot", "relu", "--xmin", "1", "--xmax", "1"])
    assert result.exit_code == 2
    assert "--xmin: expected a value below --xmax, received 1.0 >= 1.0" in _text(result)


def test_activations_lists_every_name_as_json():
    result = runner.invoke(app, ["activations", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {row["activation"] for row in rows} == set(actlab.activations.names())


def test_reproduce_rejects_an_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["reproduce", "--quick", "--out", str(blocker / "report")])
    assert (
        result.exit_code == 2 and "expected an output folder that can be created" in result.output
    )


# ----------------------------------------------------------------------------- regions
def _layers(widths, seed=0, sigma_b2=0.01, inputs=2):
    """The network the regions commands build by default, built here through the library."""
    model = MLP(inputs, widths, 1, init="he", sigma_b2=sigma_b2, rngs=nnx.Rngs(seed))
    return hidden_layers(model)


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_regions_line_counts_the_default_network_exactly_and_draws_it(tmp_path):
    out = _json(["regions", "line", "--widths", "6,6", "--seed", "3", "--out", str(tmp_path / "l")])
    expected = regions.count_line(_layers([6, 6], seed=3), -np.ones(2), np.ones(2))
    (row,) = out["rows"]
    assert row["regions"] == expected == len(out["breakpoints"]) + 1
    assert row["neurons"] == 12 and row["upper"] == regions.bounds.serra_upper(1, [6, 6]) == 49
    assert row["regions"] <= row["upper"]
    assert (tmp_path / "l.png").stat().st_size > 1000 and (tmp_path / "l.svg").exists()


def test_regions_line_prints_a_table_by_default(tmp_path):
    result = runner.invoke(app, ["regions", "line", "--width", "6", "--depth", "2",
                                 "--start", "0,-1", "--end", "0.5,1", "--out", str(tmp_path / "l")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "regions" in result.output and "upper" in result.output and "l.png" in _text(result)


def test_regions_plane_counts_within_the_bounds(tmp_path):
    out = _json(["regions", "plane", "--widths", "6,6", "--out", str(tmp_path / "p")])
    (row,) = out["rows"]
    assert row["regions"] == regions.count_plane(_layers([6, 6]))
    assert 1 <= row["linear regions"] <= row["regions"] <= row["upper"]
    assert row["best-case lower"] == regions.bounds.serra_lower(2, [6, 6]) == 352
    assert (tmp_path / "p.png").exists()


def test_regions_plane_leaves_out_bounds_that_do_not_apply(tmp_path):
    out = _json(["regions", "plane", "--widths", "6,6", "--activation", "hard_tanh",
                 "--out", str(tmp_path / "p")])  # fmt: skip
    (row,) = out["rows"]  # three pieces per unit: the ReLU bounds do not hold
    assert row["upper"] is None and row["regions"] >= 1


def test_regions_space_counts_the_whole_input_space():
    out = _json(["regions", "space", "--widths", "5,5", "--inputs", "3", "--radius", "2"])
    (row,) = out["rows"]
    expected = regions.count_space(_layers([5, 5], inputs=3), bounds=[(-2, 2)] * 3)
    assert row["regions"] == expected and 1 <= row["linear regions"] <= row["regions"]
    assert row["regions"] <= row["upper"] == regions.bounds.serra_upper(3, [5, 5])
    assert out["config"]["inputs"] == 3 and out["config"]["radius"] == 2
    _usage_error(["regions", "space", "--inputs", "9"], "input dimension of at most 8")
    _usage_error(["regions", "space", "--max-regions", "3"], "max_regions: expected at most 3")
    _usage_error(["regions", "space", "--radius", "-1"], "expected a positive radius")


def test_regions_depth_counts_every_prefix_of_one_network(tmp_path):
    out = _json(["regions", "depth", "--width", "6", "--depth", "2", "--out", str(tmp_path / "d")])
    layers = _layers([6, 6])
    assert [r["depth"] for r in out["rows"]] == [1, 2]
    for l, row in enumerate(out["rows"], start=1):
        assert row["plane"] == regions.count_plane(layers[:l]) <= row["plane upper"]
        assert row["line"] == regions.count_line(layers[:l], -np.ones(2), np.ones(2))
    assert out["rows"][0]["line upper"] == 7 and (tmp_path / "d.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--activation", "relu7"],
            "activation: expected one of identity, relu, relu6, leaky_relu",
        ),
        (["--activation", "tanh"], "expected a piecewise-linear activation for region counting"),
        (["--widths", "4,0"], "expected positive widths, received 4,0"),
        (["--widths", "4,x"], "expected comma-separated integers"),
        (["--width", "0"], "Invalid value for --width: expected a positive integer, received 0"),
        (["--depth", "-2"], "Invalid value for --depth: expected a positive integer, received -2"),
        (
            ["--widths", "4", "--width", "4"],
            "expected either --widths or --width/--depth, received both",
        ),
        (["--init", "xavier"], "Invalid value for --init"),
        (["--param", "negative_slope"], "expected NAME=NUMBER"),
        (
            ["--param", "negative_slope=0.1"],
            "relu: parameter: expected one of grad_at_zero, received 'negative_slope'",
        ),
        (["--start", "1,2,3"], "expected 2 coordinates"),
    ],
)
def test_regions_line_rejects_bad_arguments(tmp_path, args, message):
    _usage_error(["regions", "line", *args, "--out", str(tmp_path / "l")], message)


def test_regions_commands_reject_an_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for command in ("line", "plane", "depth"):
        _usage_error(
            ["regions", command, "--out", str(blocker / "fig")],
            "expected an output folder that can be created",
        )


def test_regions_plane_rejects_a_bad_box_or_a_one_dimensional_input(tmp_path):
    _usage_error(["regions", "plane", "--radius", "0"], "expected a positive radius")
    _usage_error(
        ["regions", "depth", "--inputs", "1"], "expected at least 2 inputs for a plane, received 1"
    )


# ----------------------------------------------------------------------------- gradflow
GRADFLOW_SIZES = ["--width", "128", "--depth", "4", "--batch", "32"]  # one compile for them all


def test_gradflow_reports_relu_he_as_critical_with_measured_layers():
    out = _json(["gradflow", *GRADFLOW_SIZES])
    theory = out["mean_field"]
    assert theory["chi1"] == 1.0 and theory["phase"] == "critical"
    assert theory["critical sigma_w2"] == 2.0 and theory["xi_c"] == "inf"
    assert [r["layer"] for r in out["layers"]] == [1, 2, 3, 4]
    assert all(r["grad norm"] > 0 and r["backward signal"] > 0 for r in out["layers"])
    assert out["layers"][-1]["chi1 estimate"] is None and out["global_grad_norm"] > 0


def test_gradflow_measures_sigmoid_gradients_vanishing_at_the_mean_field_rate():
    out = _json(["gradflow", "--activation", "sigmoid", "--init", "lecun", *GRADFLOW_SIZES])
    measured, theory = out["chi1"]["measured"], out["chi1"]["mean_field"]
    assert out["mean_field"]["phase"] == "ordered" and theory < 0.06
    assert abs(np.log(measured / theory)) < 0.2  # chi_1 = 0.0557; measured: -0.07 .. 0.02


def test_gradflow_prints_tables_and_explains_a_divergent_fixed_point():
    result = runner.invoke(
        app, ["gradflow", "--sigma-w2", "4", "--sigma-b2", "0.1", *GRADFLOW_SIZES]
    )
    assert result.exit_code == 0, result.output
    assert "chaotic" in result.output and "q* diverges" in _text(result)
    assert "chi1 per layer" in _text(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--activation", "relu7"],
            "activation: expected one of identity, relu, relu6, leaky_relu",
        ),
        (["--activation", "softmax"], "expected an elementwise activation"),
        (["--init", "glorot"], "Invalid value for --init"),
        (["--width", "0"], "Invalid value for --width: expected a positive integer"),
        (["--depth", "0"], "Invalid value for --depth: expected a positive integer"),
        (["--sigma-w2", "0"], "expected sigma_w2 > 0"),
        (["--sigma-b2", "-1"], "expected sigma_b2 >= 0"),
        (["--activation", "elu", "--param", "alpha=-1"], "--param"),
    ],
)
def test_gradflow_rejects_bad_arguments(args, message):
    _usage_error(["gradflow", *args], message)


# ----------------------------------------------------------------------------- bench
def test_bench_lists_the_benchmark_scripts():
    result = runner.invoke(app, ["bench"])
    assert result.exit_code == 0, result.output
    for name in ("activations", "regions", "training", "sweep"):
        assert name in result.output
    assert "_timing" not in result.output


def test_bench_passes_arguments_through_to_the_script(capfd):
    result = runner.invoke(app, ["bench", "regions", "--", "--help"])
    assert result.exit_code == 0
    assert "usage: regions.py" in capfd.readouterr().out
    result = runner.invoke(app, ["bench", "regions", "--no-such-option"])
    assert result.exit_code == 2  # the script's own exit status
    assert "unrecognized arguments: --no-such-option" in capfd.readouterr().err


def test_bench_all_runs_every_benchmark_through_run_all(capfd):
    result = runner.invoke(app, ["bench"])
    assert "all" in result.output and "run_all" not in result.output
    result = runner.invoke(app, ["bench", "all", "--device", "gpu", "--dry-run"])
    assert result.exit_code == 0
    plan = capfd.readouterr().out
    assert "python benchmarks/activations.py --device gpu" in plan
    assert "budget 480 s" in plan and "not planned: none" in plan


def test_bench_rejects_an_unknown_name_listing_the_valid_ones():
    _usage_error(["bench", "nope"], "expected one of accuracy, activations, ")
    _usage_error(["bench", "nope"], "received 'nope'")


def test_bench_explains_a_missing_benchmarks_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(_bench, "_benchmarks_dir", lambda: tmp_path / "benchmarks")
    _usage_error(["bench", "regions"], "expected a benchmarks folder at")


def test_gradflow_draws_the_phase_diagram_with_the_network_marked(tmp_path):
    out = _json(["gradflow", "--activation", "tanh", "--init", "lecun", "--sigma-b2", "0.05",
                 *GRADFLOW_SIZES, "--phase-diagram", str(tmp_path / "phases")])  # fmt: skip
    assert out["phase_diagram"] == [str(tmp_path / "phases.png"), str(tmp_path / "phases.svg")]
    assert (tmp_path / "phases.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out["mean_field"]["phase"] == "ordered"  # sigma_w2 = 1 below tanh's 1.76 at 0.05
