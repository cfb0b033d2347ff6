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


# --- benchmarks/run_all.py: every benchmark in one budgeted run --------------------------------

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script_module(stem: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"benchmark_{stem}", BENCHMARKS / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_run_all_plans_every_benchmark_script_at_every_size():
    import run_all

    for size in run_all.SIZES:
        planned = {r.script for r in run_all.PLAN if size in r.args}
        assert planned == set(run_all.scripts()), size
        assert all(r.seconds[size] > 0 for r in run_all.PLAN if size in r.args)
    gpu = sum(r.seconds["gpu"] for r in run_all.PLAN if "gpu" in r.args)
    assert gpu <= 8 * 60  # the default budget holds the whole GPU plan, by its estimates


class _Parsed(Exception):
    """Raised instead of running a script once its arguments have parsed."""


@pytest.mark.parametrize("size", ["gpu", "cpu", "smoke"])
def test_run_all_arguments_parse_in_every_script(size, monkeypatch):
    """The GPU sizes cannot run here, but each script's own parser accepts them."""
    import argparse

    import run_all

    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise _Parsed(parse(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    for run in run_all.PLAN:
        if size in run.args:
            argv = run_all.command(run, size, "gpu" if size == "gpu" else "cpu")[2:]
            with pytest.raises(_Parsed) as parsed:
                _script_module(run.script).main(argv)
            if run.device:
                assert parsed.value.args[0].device == ("gpu" if size == "gpu" else "cpu")


FAKE_SCRIPTS = {
    "quick": "print('| a | b |')\nprint('|---|---|')\nprint('| 1 | 2 |')",
    "broken": "import sys\nprint('half a table')\nsys.exit(3)",
    # starts a child of its own, then overruns the budget: both must be killed
    "slow": "import pathlib, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\nprint('started', flush=True)\n"
    "time.sleep(60)",
    "big": "print('never runs')",
    "unplanned": "print('not in the plan')",
}


def test_run_all_skips_what_exceeds_the_budget_and_stops_what_overruns(tmp_path, monkeypatch):
    import time

    import run_all

    folder = tmp_path / "fake"
    folder.mkdir()
    for stem, code in FAKE_SCRIPTS.items():
        (folder / f"{stem}.py").write_text(code + "\n")
    pid_file = tmp_path / "child.pid"
    plan = (
        run_all.Run("quick", {"smoke": ()}, {"smoke": 1}, device=False),
        run_all.Run("broken", {"smoke": ()}, {"smoke": 1}, device=False),
        run_all.Run("slow", {"smoke": (str(pid_file),)}, {"smoke": 1}, device=False),
        run_all.Run("big", {"smoke": ()}, {"smoke": 1000}, device=False),
    )
    monkeypatch.setattr(run_all, "FOLDER", folder)
    monkeypatch.setattr(run_all, "PLAN", plan)
    results = tmp_path / "RESULTS.md"
    start = time.monotonic()
    rows = run_all.main(["--sizes", "smoke", "--budget-min", "0.15", "--results", str(results)])
    assert time.monotonic() - start < 9 + 3  # the 9 s budget, plus the section's writing
    status = {r["benchmark"]: r["status"] for r in rows}
    assert status["quick"] == "ok" and status["broken"] == "failed: exit status 3"
    assert status["slow"].startswith("skipped: stopped at the budget after")
    assert status["big"].startswith("skipped: needs ~1000 s, ")
    assert status["unplanned"].startswith("skipped: no sizes planned")
    stat = Path(f"/proc/{pid_file.read_text()}/stat")  # the script's own child: killed with it
    time.sleep(0.2)
    assert not stat.exists() or stat.read_text().split(")")[-1].split()[0] in "ZX"  # gone or dead

    text = results.read_text()
    assert text.count("\n## All benchmarks on cpu") == 1
    assert "Command: `python benchmarks/run_all.py --sizes smoke --budget-min 0.15" in text
    assert "jax 0.10" in text and "torch " in text and "Budget 9 s of wall time" in text
    assert "### quick (ok)\n\n```text\n| a | b |\n|---|---|\n| 1 | 2 |\n```" in text
    assert "half a table" in text and "started" in text and "never runs" not in text


def test_run_all_refuses_a_missing_device_before_running_anything(tmp_path):
    import run_all

    with pytest.raises(SystemExit, match="no gpu device available"):
        run_all.main(["--device", "gpu", "--results", str(tmp_path / "R.md")])
    assert not (tmp_path / "R.md").exists()


@pytest.mark.slow  # every benchmark at tiny sizes, each in its own process: 60-100 s
def test_run_all_smoke_runs_every_benchmark_and_appends_one_section(tmp_path):
    import run_all

    real = run_all.RESULTS.read_bytes()
    results = tmp_path / "RESULTS.md"
    rows = run_all.main(["--sizes", "smoke", "--results", str(results)])
    assert [r["status"] for r in rows] == ["ok"] * len(rows), rows
    assert {r["benchmark"].split(" ")[0] for r in rows} == set(run_all.scripts())
    text = results.read_text()
    assert text.count("\n## All benchmarks on cpu") == 1
    for row in rows:
        assert f"### {row['benchmark']} (ok)\n\n```text\n" in text
    assert "| count_sampled " in text and "sweep, virtual CPU devices" in text
    assert "matmul precision: JAX 'tensorfloat32'" in text  # the GPU's TF32 option runs
    assert run_all.RESULTS.read_bytes() == real  # the real RESULTS.md is left alone


# --- what only a GPU run would choose, forced on the CPU ----------------------------------------
# (what cannot run here: PyTorch on CUDA in _timing.torch_device, its synchronisation as the
# wait of the activation and training-torch timings, XLA's GPU memory analysis in memory.py)


def test_relu_speed_runs_the_gpu_setting_of_fused_applications():
    import relu_speed as bench

    gpu = bench.parse_args(["--device", "gpu"])
    assert (gpu.memory_mib, gpu.compute_elements, gpu.passes, gpu.unroll) == (1024, 2**22, 32, 8)
    result = bench.main(
        ["--names", "relu", "gelu", "--unroll", "8", "--passes", "2", "--compute-elements", "4096",
         "--memory-mib", "0.25", "--repeats", "1", "--target-ms", "1"]
    )  # fmt: skip
    assert result["settings"]["compute"]["unroll"] == 8
    assert all(result["ratios"][i]["compute"]["gelu"]["fwd+bwd"] > 0 for i in result["ratios"])


def test_regions_accelerator_defaults_count_as_the_cpu_defaults():
    """On a GPU, count_lines walks all segments in one batch and count_sampled takes 2**20
    points per batch; both must count what the CPU's choices count."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import regions as bench

    from actlab import regions

    layers = bench.he_layers(1, 2, [64] * 4, 0.01)
    starts, ends = np.random.default_rng(1).uniform(-1, 1, (2, 48, 2))
    refine = regions.count_lines(layers, starts, ends, method="refine")
    walk = regions.count_lines(layers, starts, ends, method="walk", lanes=len(starts))
    np.testing.assert_array_equal(walk, refine)
    layers = bench.he_layers(0, 2, [32] * 4, 0.01)
    with jax.enable_x64(True):
        points = jax.device_put(jnp.asarray(regions.grid_points(bench.BOX, 256)))
    assert regions.count_sampled(layers, points, batch=2**20) == regions.count_sampled(
        layers, points
    )


def test_regions_benchmark_checks_counts_against_regioncam_and_the_reference(tmp_path):
    import regions as bench

    out = tmp_path / "regions.json"
    result = bench.run(bench.arguments(["--quick", "--repeats", "1", "--json", str(out)]))
    assert result["ok"] is True
    peer = result["regioncam"]
    assert [r["network"] for r in peer] == [
        f"{n} sigma_b2={s}" for n in ("5x3", "20x2") for s in ("0", "0.01")
    ]
    for row in peer:  # the compiled count against the NumPy engine, and regioncam's where it is
        assert row["actlab ms"] > 0 and row["numpy engine ms"] > 0 and row["regions"] >= 1
        assert row["agrees"] is True
        if bench.have_regioncam():  # the peer is an optional extra: '-' where it is missing
            assert row["ratio"] > 0
        else:
            assert row["ratio"] == row["regioncam ms"] == "-"
    together, one_by_one = result["count_planes"][:2]
    assert together["agrees"] is True and together["regions"] == one_by_one["regions"]
    assert all(row["agrees"] is True for row in result["backends"])
    saved = json.loads(out.read_text())
    assert saved["regioncam"] == peer and len(saved["results"]) == 7


def test_regions_benchmark_runs_without_regioncam(monkeypatch):
    import regions as bench

    monkeypatch.setattr(bench, "have_regioncam", lambda: False)
    (row,) = bench.sweep_rows(3, 1)[2:] or [None]
    assert row is None
    rows = bench.regioncam_rows([(5, 3)], 0.01)
    assert [r["regioncam ms"] for r in rows] == ["-", "-"] and rows[0]["regions"] == 20


def test_local_complexity_benchmark_agrees_with_its_numpy_loop(tmp_path):
    import local_complexity as bench

    out = tmp_path / "local.json"
    rows = bench.main(["--quick", "--json", str(out)])
    assert [r["frame"] for r in rows] == ["cross (32 vertices)", "random (32 vertices)"]
    for row in rows:
        assert row["float64 equal"] is True and row["agrees"] > 0.99
        assert row["points"] == 200 and row["actlab s"] > 0 and float(row["naive NumPy s"]) > 0
        assert 0 < row["mean LC"] < 32  # two layers of 16 units
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


@pytest.mark.slow  # 25 s: GELU's quadrature and three empirical widths
def test_kernels_benchmark_times_analytic_and_empirical_kernels_that_agree(tmp_path):
    import kernels as bench

    out = tmp_path / "kernels.json"
    result = bench.main(["--quick", "--activations", "relu", "gelu", "--json", str(out)])
    rows = result["rows"]
    kinds = [(r["kernel"], r["activation"]) for r in rows]
    assert ("analytic", "relu") in kinds and ("pairs (naive quadrature)", "gelu") in kinds
    assert ("pairs (naive quadrature)", "relu") not in kinds  # a closed form needs no quadrature
    for row in rows:
        error = float(row["rel. error"].split()[0])
        if row["kernel"] == "analytic":  # float32 against float64
            assert error < 1e-5 and row["width"] == "inf"
        elif row["kernel"] == "pairs (naive quadrature)" or "vs each other" in row["rel. error"]:
            assert error < 1e-5  # the naive references agree with actlab's kernels
        else:  # a narrow network's kernel is only near the limit
            assert 1e-3 < error < 1.0
        assert float(row["seconds"].split()[0]) > 0
    for row in result["matching"]:
        errors = [float(part.split(": ")[1]) for part in row["mean error per width"].split(", ")]
        assert errors[-1] < errors[0]  # the empirical kernel converges with width
        assert float(row["width at 0.01"]) > 128 and row["target 10x"] is True
    saved = json.loads(out.read_text())
    assert saved["environment"]["device"].startswith("cpu") and saved["rows"] == rows
