"""The ``actlab`` command line, run as a user would (through Typer's test runner)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import actlab
from actlab.cli import app

runner = CliRunner()


def test_version_prints_the_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and actlab.__version__ in result.output


def test_every_subcommand_has_help():
    for command in ["reproduce", "plot", "activations"]:
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_plot_writes_png_and_svg(tmp_path):
    result = runner.invoke(
        app, ["plot", "relu", "elu", "--out", str(tmp_path / "fig"), "--xmin", "-3", "--xmax", "3"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fig.png").stat().st_size > 1000 and (tmp_path / "fig.svg").exists()


def test_plot_rejects_an_unknown_activation_with_the_valid_names():
    result = runner.invoke(app, ["plot", "relu7"])
    assert result.exit_code == 2 and "unknown activation 'relu7'" in result.output


def test_plot_rejects_an_empty_interval():
    result = runner.invoke(app, ["plot", "relu", "--xmin", "1", "--xmax", "1"])
    assert result.exit_code == 2 and "--xmin must be below --xmax" in result.output


def test_activations_lists_every_name_as_json():
    result = runner.invoke(app, ["activations", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {row["activation"] for row in rows} == set(actlab.activations.names())


def test_reproduce_rejects_an_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["reproduce", "--quick", "--out", str(blocker / "report")])
    assert result.exit_code == 2 and "cannot create output folder" in result.output
