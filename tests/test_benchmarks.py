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
        ["--sizes-mib", "0.0625", "--names", "relu", "leaky_relu", "--repeats", "2",
         "--target-ms", "1", "--no-torch", "--json", str(out)]
    )  # fmt: skip
    assert [r["activation"] for r in rows] == ["relu", "leaky_relu"]
    for row in rows:
        assert row["fwd ratio"] > 0 and row["fwd+bwd ratio"] > 0 and row["temp MiB"] >= 0
        assert row["fwd % copy"] > 0 and row["fwd sync GB/s"] > 0 and row["fwd torch ratio"] == "-"
    saved = json.loads(out.read_text())
    assert saved["environment"]["device"].startswith("cpu") and len(saved["rows"]) == 2
    assert saved["copy"][0]["copy GB/s"] > 0
    calls = [r["call"] for r in saved["overhead"]]  # at 4 KiB and at the largest size
    assert calls == ["actlab, eager", "actlab, jax.jit", "jax.nn, eager", "reference, jax.jit"] * 2
    assert all(r["sync us"] > 0 and r["pipelined us"] > 0 for r in saved["overhead"])


def test_activation_benchmark_refuses_a_missing_device():
    import activations as bench

    with pytest.raises(SystemExit, match="no gpu device"):
        bench.main(["--device", "gpu", "--sizes-mib", "0.0625", "--names", "relu"])


def test_relu_speed_benchmark_reports_ratios_to_relu_in_both_settings(tmp_path):
    import relu_speed as bench

    out = tmp_path / "relu_speed.json"
    result = bench.main(
        ["--names", "relu", "leaky_relu", "--impls", "actlab", "--memory-mib", "0.25",
         "--compute-elements", "2048", "--passes", "2", "--repeats", "1", "--target-ms", "1",
         "--json", str(out)]
    )  # fmt: skip
    ratios = result["ratios"]["actlab"]
    assert set(ratios) == {"memory", "compute"} and ratios["compute"]["relu"]["fwd"] == 1.0
    assert all(ratios[s]["leaky_relu"][p] > 0 for s in ratios for p in ("fwd", "fwd+bwd"))
    assert json.loads(out.read_text())["settings"]["compute"]["passes"] == 2
    with pytest.raises(SystemExit):
        bench.main(["--names", "tanh"])  # relu is the baseline


@pytest.mark.slow  # two Adam-step compilations: about 5-8 s on 2 cores
def test_memory_benchmark_reports_bytes_per_hidden_unit(tmp_path):
    import memory as bench

    result = bench.main(["--width", "64", "--depth", "2", "--inputs", "1", "--classes", "2",
                         "--batches", "16", "32", "--names", "relu, bool mask kept"])  # fmt: skip
    (row,) = result["table"]
    # jax.vjp's residuals: a bool mask and the float32 output per hidden unit, plus a share of
    # the input, the labels and the softmax (a few values per example, over 128 units)
    assert row["activation"] == "relu, bool mask kept"
    assert row["residuals B/unit"] == pytest.approx(5, abs=0.25)
    assert row["compiled temp B/unit"] >= 0 and row["compiled vs relu"] == "-"
    assert "temp_size_in_bytes" in result["memory_analysis_fields"]


def test_memory_variants_are_relu_with_derivative_0_at_0():
    import jax
    import jax.numpy as jnp
    import memory as bench

    x = jnp.array([-2.0, 0.0, 3.0])
    for f in (bench.relu_bool_mask, bench.relu_from_output):
        assert jnp.array_equal(f(x), jax.nn.relu(x))
        assert jnp.array_equal(jax.vmap(jax.grad(f))(x), jnp.array([0.0, 0.0, 1.0]))


def test_whole_space_benchmark_agrees_with_its_lp_reference(tmp_path):
    import regions_space as bench

    out = tmp_path / "space.json"
    rows = bench.main(["--quick", "--repeats", "1", "--json", str(out)])
    assert [r["network"] for r in rows] == ["d=3 4x4 sigma_b2=0.01", "d=4 3x3 sigma_b2=0.01"]
    for row in rows:
        assert row["agrees"] is True and row["regions"] >= row["linear regions"] >= 1
        assert row["regions/s"] > 0 and row["lp s"] > 0
    saved = json.loads(out.read_text())
    assert saved["environment"]["device"].startswith("cpu") and saved["rows"] == rows


def test_accuracy_benchmark_measures_ulps_against_a_checked_reference(tmp_path):
    import accuracy as bench
    import numpy as np

    out = tmp_path / "accuracy.json"
    rows = bench.main(
        ["--dtypes", "float16", "--names", "relu", "sigmoid", "--no-torch", "--check-points", "16",
         "--json", str(out)]
    )  # fmt: skip
    assert [r["activation"] for r in rows] == ["relu", "sigmoid"]
    assert rows[0]["actlab value"] == rows[0]["actlab grad"] == "0 / 0"
    assert all(r["reference vs mpmath"] == 0 and r["points"] == 63488 for r in rows)
    assert rows[1]["torch value"] == "-"
    assert len(json.loads(out.read_text())["rows"]) == 2
    # integer ulp distances, across zero and for infinities
    a = np.array([1.0, -0.0, np.inf, np.nan], np.float32)
    b = np.array([np.nextafter(np.float32(1), np.float32(2)), 0.0, np.inf, 1.0], np.float32)
    np.testing.assert_array_equal(bench.ulp_distance(a, b), [1.0, 0.0, 0.0, np.inf])
    tiny = np.array([np.finfo(np.float32).smallest_subnormal], np.float32)
    assert bench.ulp_distance(-tiny, tiny)[0] == 2.0
