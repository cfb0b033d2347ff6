"""`actlab reproduce`: the report frame, resumption and recomputation, on a fast stand-in experiment
(the real experiments are tested in their own files and end to end in the slow browser test)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.figure import Figure

from actlab import experiments, plot
from actlab.io import read_json, write_json
from actlab.reproduce import reproduce


def _stand_in(out_dir, *, quick=False, seed=0):
    """An experiment in the report format: one figure, a table, a verdict that depends on seed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fig = Figure()
    fig.add_subplot().plot([0, 1], [seed, 1])
    figures = [p.name for p in plot.save(fig, out_dir / "line")]
    result = {"title": "A stand-in", "summary": f"seed {seed}, quick {quick}", "figures": figures,
              "table": [{"measurement": "seed", "value": seed}], "claims": {"seed is zero": seed == 0}}  # fmt: skip
    write_json(out_dir / "stand_in.json", result)
    return result


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(experiments, "_table", lambda: {"stand_in": _stand_in})
    monkeypatch.setitem(experiments.CLAIMS, "stand_in", "A line has two ends.")


@pytest.fixture
def report(stand_in, tmp_path):
    return tmp_path, reproduce(tmp_path, quick=True, progress=False)


def test_report_is_self_contained_html_with_every_section(report):
    out, index = report
    page = index.read_text()
    assert page.startswith("<!doctype html>") and "1. A stand-in" in page
    assert "Claim: A line has two ends." in page and "A stand-in</a> &mdash; holds" in page
    assert page.count('src="data:image/png;base64,') == 1  # figures embedded, nothing to fetch
    results = read_json(out / "results.json")
    assert [s["key"] for s in results["sections"]] == ["stand_in"]
    assert {"title", "claim", "summary", "figures", "table", "claims"} <= set(
        results["sections"][0]
    )
    assert results["meta"]["mode"] == "quick"


def test_rerun_resumes_finished_experiments_from_disk(report):
    out, _ = report
    done = out / "stand_in" / "done.json"
    before = done.stat().st_mtime_ns
    reproduce(out, quick=True, progress=False)
    assert done.stat().st_mtime_ns == before
    assert (
        read_json(out / "results.json")["meta"]["seconds per experiment run now"]
        == "all resumed from disk"
    )


def test_force_or_a_new_configuration_recomputes(report):
    out, _ = report
    done = out / "stand_in" / "done.json"
    before = done.stat().st_mtime_ns
    reproduce(out, quick=True, force=True, progress=False)
    forced = done.stat().st_mtime_ns
    assert forced > before
    index = reproduce(out, quick=True, seed=1, progress=False)
    assert done.stat().st_mtime_ns > forced and read_json(done)["config"]["seed"] == 1
    assert "A stand-in</a> &mdash; fails: seed is zero" in index.read_text()


def test_unknown_experiment_fails_before_anything_runs(stand_in, tmp_path):
    with pytest.raises(ValueError, match=r"experiment: expected one of .*, received 'claims'"):
        reproduce(tmp_path, only=["stand_in", "claims"], progress=False)
    assert not (tmp_path / "stand_in").exists()


def test_every_experiment_states_its_claim():
    assert set(experiments.names()) == set(experiments.CLAIMS)
    assert all(experiments.claim(name) for name in experiments.names())
