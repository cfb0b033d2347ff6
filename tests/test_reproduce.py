"""`actlab reproduce`: the report frame, resumption and recomputation (on the fast gallery)."""

from __future__ import annotations

import pytest

from actlab.io import read_json
from actlab.reproduce import reproduce


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return out, reproduce(out, quick=True, only=["gallery"], progress=False)


def test_report_is_self_contained_html_with_every_section(report):
    out, index = report
    page = index.read_text()
    assert page.startswith("<!doctype html>") and "1. The activation gallery" in page
    assert page.count('src="data:image/png;base64,') == 5  # figures embedded, nothing to fetch
    results = read_json(out / "results.json")
    assert [s["key"] for s in results["sections"]] == ["gallery"]
    assert {"title", "summary", "figures", "table"} <= set(results["sections"][0])
    assert results["meta"]["mode"] == "quick"


def test_rerun_resumes_finished_experiments_from_disk(report):
    out, _ = report
    done = out / "gallery" / "done.json"
    before = done.stat().st_mtime_ns
    reproduce(out, quick=True, only=["gallery"], progress=False)
    assert done.stat().st_mtime_ns == before
    assert read_json(out / "results.json")["meta"]["seconds per experiment run now"] == "all resumed from disk"


def test_force_or_a_new_configuration_recomputes(report):
    out, _ = report
    done = out / "gallery" / "done.json"
    before = done.stat().st_mtime_ns
    reproduce(out, quick=True, only=["gallery"], force=True, progress=False)
    forced = done.stat().st_mtime_ns
    assert forced > before
    reproduce(out, quick=True, seed=1, only=["gallery"], progress=False)
    assert done.stat().st_mtime_ns > forced and read_json(done)["config"]["seed"] == 1


def test_unknown_experiment_fails_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment 'claims'"):
        reproduce(tmp_path, only=["gallery", "claims"], progress=False)
    assert not (tmp_path / "gallery").exists()
