"""The benchmark scripts run end to end on tiny inputs (their numbers live in RESULTS.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_activation_benchmark_reports_ratios_and_memory(tmp_path):
    import activations as bench

    out = tmp_path / "rows.json"
    rows = bench.main(
        ["--sizes-mib", "0.0625", "--names", "relu", "gelu", "--repeats", "3", "--json", str(out)]
    )
    assert [r["activation"] for r in rows] == ["relu", "gelu"]
    for row in rows:
        assert row["fwd ratio"] > 0 and row["fwd+bwd ratio"] > 0 and row["temp MiB"] >= 0
    saved = json.loads(out.read_text())
    assert saved["environment"]["device"].startswith("cpu") and len(saved["rows"]) == 2


def test_activation_benchmark_refuses_a_missing_device():
    import activations as bench

    with pytest.raises(SystemExit, match="no gpu device"):
        bench.main(["--device", "gpu", "--sizes-mib", "0.0625", "--names", "relu"])
