"""actlab.sweep: vmapped, sharded groups equal a plain loop; sweeps resume; input is checked."""

from __future__ import annotations

import json
import os
import shutil
import signal as signal_module
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from actlab import activations as A
from actlab.sweep import Grid, load, run

GRID = Grid(activation=("relu", "tanh"), depth=(1, 3), seed=range(3), scale=(0.5, 2.0))
BATCHED = ("seed", "scale")


def signal(static, batch):
    """Cheap to compile (no PRNG): a deterministic input pushed through `depth` activations."""
    x = jnp.linspace(-2.0, 2.0, 5) * (batch["seed"] + 1) * batch["scale"]
    act, q = A.get(static["activation"]), []
    for layer in range(static["depth"]):
        x = act(x * (1.0 + 0.1 * layer) - 0.3)
        q.append(jnp.mean(x**2))
    return {"q": jnp.stack(q), "stats": {"last": jnp.sum(x)}}


class Counter:
    """Wraps a cell function; counts traces (one per computed group) and can fail on one."""

    def __init__(self, fn, fail_on: int | None = None):
        self.fn, self.fail_on, self.calls = fn, fail_on, []

    def __call__(self, static, batch):
        self.calls.append(dict(static))
        if len(self.calls) == self.fail_on:
            raise RuntimeError("interrupted")
        return self.fn(static, batch)


def _run(fn, out_dir, grid=GRID, **kwargs):
    kwargs.setdefault("batched", BATCHED)
    return run(fn, grid, out_dir, progress=False, **kwargs)


def _assert_same(a, b):
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_results_equal_a_plain_python_loop_over_cells(tmp_path, capsys):
    results = _run(signal, tmp_path)
    assert capsys.readouterr().err == ""  # progress=False draws no bar
    for static, values in results.items():
        assert values["q"].shape == (3, 2, static["depth"])  # (seed, scale, layer)
        one_cell = jax.jit(lambda batch, static=static: signal(static, batch))  # no vmap, no mesh
        for i, seed in enumerate(GRID.axes["seed"]):
            for j, scale in enumerate(GRID.axes["scale"]):
                expected = one_cell({"seed": jnp.int32(seed), "scale": jnp.float32(scale)})
                got = jax.tree.map(lambda v, i=i, j=j: v[i, j], values)
                jax.tree.map(
                    lambda g, e: np.testing.assert_allclose(g, e, rtol=1e-6), got, expected
                )
    assert len(results.computed) == 4 and results.loaded == ()


def test_interrupted_sweep_resumes_computing_only_missing_groups(tmp_path):
    failing = Counter(signal, fail_on=3)
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(failing, tmp_path / "a")
    assert len(list((tmp_path / "a").glob("*.npz"))) == 2
    assert len(json.loads((tmp_path / "a" / "index.json").read_text())["groups"]) == 2

    resumed = Counter(signal)
    results = _run(resumed, tmp_path / "a")
    tanh = [{"activation": "tanh", "depth": 1}, {"activation": "tanh", "depth": 3}]
    assert failing.calls[2] == tanh[0] and resumed.calls == tanh  # failed one, one never reached
    assert results.loaded == tuple(failing.calls[:2])
    assert results.computed == tuple(resumed.calls)
    whole = _run(signal, tmp_path / "b")
    for static, values in whole.items():
        _assert_same(results.get(**static), values)

    again = Counter(signal)
    _run(again, tmp_path / "a")
    assert again.calls == []


def test_changed_configuration_recomputes_only_the_groups_it_touches(tmp_path):
    grid = Grid(**{**GRID.axes, "activation": ("tanh",)})
    _run(signal, tmp_path, grid=grid, meta={"version": 1})
    other_meta = Counter(signal)
    _run(other_meta, tmp_path, grid=grid, meta={"version": 2})
    assert len(other_meta.calls) == 2

    more_seeds = Grid(**{**grid.axes, "seed": range(4)})
    counter = Counter(signal)
    results = _run(counter, tmp_path, grid=more_seeds, meta={"version": 2})
    assert len(counter.calls) == 2 and results.get(activation="tanh", depth=1)["q"].shape[0] == 4

    extra_depth = Grid(**{**more_seeds.axes, "depth": (1, 3, 5)})
    counter = Counter(signal)
    _run(counter, tmp_path, grid=extra_depth, meta={"version": 2})
    assert counter.calls == [{"activation": "tanh", "depth": 5}]


def test_damaged_group_file_is_recomputed(tmp_path):
    first = _run(signal, tmp_path)
    victim = sorted(tmp_path.glob("*.npz"))[0]
    victim.write_bytes(victim.read_bytes()[:50])
    counter = Counter(signal)
    results = _run(counter, tmp_path)
    assert len(counter.calls) == 1
    for static, values in first.items():
        _assert_same(results.get(**static), values)


class Pair(NamedTuple):
    low: jax.Array
    high: jax.Array


def test_get_rows_and_load_index_the_grid(tmp_path, capsys):
    grid = Grid(depth=(1, 2), seed=range(3))
    results = run(lambda s, b: jnp.arange(s["depth"]) * b["seed"], grid, tmp_path, progress=False)
    assert results.get(depth=2).tolist() == [[0, 0], [0, 1], [0, 2]]  # bare array, seed leading
    assert results.get(depth=2, seed=2).tolist() == [0, 2]
    rows = results.rows()
    assert len(rows) == 3 * 1 + 3 * 2
    assert rows[-1] == {"depth": 2, "seed": 2, "output": "value", "index": 1, "value": 2}
    csv = results.write_rows(tmp_path / "rows.csv").read_text().splitlines()
    assert csv[0] == "depth,seed,output,index,value" and csv[-1] == "2,2,value,1,2"
    _assert_same(load(tmp_path).get(depth=2), results.get(depth=2))
    with pytest.raises(ValueError, match=r"received unknown \[\] and missing \['depth'\]"):
        results.get(seed=1)
    with pytest.raises(
        ValueError, match=r"Results.get: depth: expected one of \(1, 2\), received 7"
    ):
        results.get(depth=7)

    pairs = run(lambda s, b: Pair(b["seed"], b["seed"] + 1), Grid(seed=(4, 5)), tmp_path / "p",
                progress=False)  # fmt: skip
    assert pairs.get()["high"].tolist() == [5, 6]  # NamedTuples come back as dicts

    capsys.readouterr()
    no_seed = run(lambda s, b: jnp.float32(s["depth"]), Grid(depth=(1, 2)), tmp_path / "s")
    assert no_seed.batched == () and no_seed.get(depth=2).shape == () and no_seed.get(depth=2) == 2
    assert "sweep" in capsys.readouterr().err  # the progress bar, on by default


def _returns(value):
    return lambda static, batch: value


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda p: run(signal, Grid(seed=()), p),
            ValueError,
            "Grid: seed: expected at least one value, received none",
        ),
        (lambda p: run(signal, Grid(seed=range(2)), p, batched=("sed",)), ValueError, "'sed'"),
        (
            lambda p: run(signal, Grid(seed=("a", "b")), p),
            ValueError,
            "run: batched: expected axes of numbers",
        ),
        (lambda p: run(signal, Grid(seed=[[1, 2]]), p), TypeError, "str, int, float or bool"),
        (
            lambda p: run(signal, Grid(seed=(1, 1)), p),
            ValueError,
            r"Grid: seed: expected distinct values, received \(1, 1\)",
        ),
        (lambda p: run(signal, Grid(seed=(1,)), p, meta={"f": signal}), TypeError, "meta"),
        (
            lambda p: run(_returns("x"), Grid(seed=(1,)), p),
            ValueError,
            "fn's output: expected an array .*, received str",
        ),
        (lambda p: run(_returns({"a": None}), Grid(seed=(1,)), p), ValueError, "at 'a'"),
        (
            lambda p: run(_returns([jnp.ones(2)]), Grid(seed=(1,)), p),
            ValueError,
            "fn's output: expected an array .*, received list",
        ),
        (
            lambda p: run(_returns({}), Grid(seed=(1,)), p),
            ValueError,
            "expected at least one array, received an empty mapping",
        ),
        (lambda p: load(p), ValueError, "load: out_dir: expected a folder holding a sweep"),
        (
            lambda p: run(signal, Grid(seed=(1,)), p, chunk=0),
            ValueError,
            "run: chunk: expected an int >= 1 or None, received 0",
        ),
        (
            lambda p: run(signal, Grid(seed=(1,)), p, devices=[]),
            ValueError,
            "run: devices: expected a non-empty list",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        make(tmp_path)


def test_a_prng_key_output_is_refused(tmp_path):
    with pytest.raises(ValueError, match="key_data"):
        run(lambda s, b: jax.random.key(b["seed"]), Grid(seed=(1,)), tmp_path, progress=False)


# --- one device versus eight (virtual CPU devices need a fresh process) ---------------------------

MLP_GRID = Grid(activation=("tanh",), seed=range(5))  # 5 cells: padded to 8 on 8 devices


def mlp_grad_norms(static, batch):
    """Squared gradient norms of a small MLP per layer: for the weights, and for the
    pre-activations (through zeros added to them, a value that does not depend on the cell).

    Weights come from ``sin`` rather than ``jax.random`` only because that compiles ~10x faster.
    """
    grid = jnp.arange(16 * 16, dtype=jnp.float32).reshape(16, 16)
    seed = batch["seed"].astype(jnp.float32)
    x = jnp.sin(0.7 * seed + grid[:8] * 0.11)
    weights = [jnp.sin(grid * (0.37 + 0.01 * layer) + seed) / 2.0 for layer in range(3)]
    act = A.get(static["activation"])

    def loss(weights, shifts):
        h = x
        for w, shift in zip(weights, shifts, strict=True):
            h = act(h @ w + shift)
        return jnp.mean(h**2)

    g_w, g_z = jax.grad(loss, argnums=(0, 1))(weights, jnp.zeros((3, 8, 16)))
    return {
        "grad_sq": jnp.stack([jnp.sum(g**2) for g in g_w]),
        "delta_sq": jnp.sum(g_z**2, axis=(1, 2)),
    }


def sweep_on_devices(out_dir: str, n: int, chunk: int | None) -> None:
    """Entry point for the subprocess: the MLP sweep on the first ``n`` devices."""
    run(mlp_grad_norms, MLP_GRID, out_dir, devices=jax.devices()[:n], chunk=chunk, progress=False)


def test_eight_devices_give_bitwise_the_results_of_one_at_a_fixed_chunk(tmp_path):
    code = textwrap.dedent(f"""
        import sys, jax
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import test_sweep
        assert jax.device_count() == 8, jax.devices()
        test_sweep.sweep_on_devices({str(tmp_path / "eight")!r}, 8, chunk=None)
        test_sweep.sweep_on_devices({str(tmp_path / "eight_chunk2")!r}, 8, chunk=2)
    """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
           "JAX_PLATFORMS": "cpu"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name, chunk in (("eight", 1), ("eight_chunk2", 2)):
        index = json.loads((tmp_path / name / "index.json").read_text())
        assert [(g["devices"], g["chunk"]) for g in index["groups"]] == [(8, chunk)]

    one = jax.devices()[:1]
    for name, chunk in (("eight", 1), ("eight_chunk2", 2)):  # 1 device: 5 and 3 rounds
        single = run(mlp_grad_norms, MLP_GRID, tmp_path / f"one{chunk}", devices=one, chunk=chunk,
                     progress=False)  # fmt: skip
        eight = load(tmp_path / name)
        for static, values in single.items():
            assert values["grad_sq"].shape == values["delta_sq"].shape == (5, 3)
            assert len(np.unique(values["delta_sq"][:, 0])) == 5  # one value per cell, not a sum
            _assert_same(eight.get(**static), values)

    whole = run(mlp_grad_norms, MLP_GRID, tmp_path / "default", devices=one, progress=False)
    for static, values in whole.items():  # 5 cells in one step: equal up to float rounding
        for name, value in values.items():
            np.testing.assert_allclose(value, single.get(**static)[name], rtol=1e-6)


@pytest.mark.slow
def test_benchmark_finds_virtual_devices_bitwise_equal_to_one(tmp_path, monkeypatch):
    import importlib.util

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(folder))  # for its `_timing` import
    spec = importlib.util.spec_from_file_location("benchmark_sweep", folder / "sweep.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "rows.json"
    argv = ["--activations", "relu", "--depths", "1", "2", "--seeds", "4", "--width", "8",
            "--batch", "2", "--loops", "jit", "--virtual-devices", "4",
            "--json", str(out)]  # fmt: skip
    rows = bench.main(argv)
    virtual = next(r for r in rows if "virtual" in r["mode"])
    assert virtual["devices"] == 4 and virtual["max rel diff"] == "bitwise"
    assert json.loads(out.read_text())["environment"]["device"].startswith("cpu")


# --- two processes (jax.distributed on the loopback, CPU collectives through gloo) ---------------

TESTS = Path(__file__).resolve().parent
GROUPS = list(GRID.configs(("activation", "depth")))  # the 4 static groups, in run order


def sweep_as_process(port: int, process_id: int, out_dir: str, log_dir: str, hang_on: int) -> None:
    """Entry point for one of two processes: the GRID sweep at chunk 2 on the 2 devices of 2
    processes. Each trace of ``fn`` (one per computed group) is logged to
    ``log_dir/traced<id>.jsonl`` as it happens; process 1 hangs in its ``hang_on``-th trace (0:
    never) so that the test can kill it there. At the end the process saves the ``Results`` it got.
    """
    address = f"127.0.0.1:{port}"
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(address, num_processes=2, process_id=process_id,
                               coordinator_bind_address=address,
                               initialization_timeout=60)  # fmt: skip
    assert jax.process_count() == 2 and jax.device_count() == 2 and jax.local_device_count() == 1
    log = Path(log_dir)
    traces = 0

    def fn(static, batch):
        nonlocal traces
        traces += 1
        with open(log / f"traced{process_id}.jsonl", "a") as f:
            f.write(json.dumps(static) + "\n")
        if process_id == 1 and traces == hang_on:
            time.sleep(600)  # killed here
        return signal(static, batch)

    results = run(fn, GRID, out_dir, batched=BATCHED, chunk=2, progress=False)
    flat = {f"{c['activation']}-{c['depth']}-{k}": v for c, values in results.items()
            for k, v in {"q": values["q"], "last": values["stats"]["last"]}.items()}  # fmt: skip
    np.savez(log / f"results{process_id}.npz", **flat)
    (log / f"groups{process_id}.json").write_text(
        json.dumps({"computed": results.computed, "loaded": results.loaded})
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_pair(out_dirs: tuple[Path, Path], log_dir: Path, hang_on: int = 0) -> list:
    log_dir.mkdir()
    port = _free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("XLA_FLAGS", None)
    procs = []
    for i, out_dir in enumerate(out_dirs):
        code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_sweep; "
                f"test_sweep.sweep_as_process({port}, {i}, {str(out_dir)!r}, {str(log_dir)!r}, "
                f"{hang_on})")  # fmt: skip
        err = open(log_dir / f"stderr{i}.txt", "w")
        procs.append(subprocess.Popen([sys.executable, "-c", code], env=env, stderr=err))
    return procs


def _run_pair(out_dirs: tuple[Path, Path], log_dir: Path) -> None:
    """Both processes to the end (killed after 90 s at most); both must exit cleanly."""
    procs = _start_pair(out_dirs, log_dir)
    try:
        for p in procs:
            p.wait(90)
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], _stderr(log_dir)


def _traced(log_dir: Path, process_id: int) -> list[dict]:
    path = log_dir / f"traced{process_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _stderr(log_dir: Path) -> str:
    return "\n".join((log_dir / f"stderr{i}.txt").read_text()[-2000:] for i in range(2))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_two_processes_share_a_sweep_resume_after_a_kill_and_match_one_bitwise(tmp_path):
    """Two real processes (jax.distributed, coordinator on 127.0.0.1) split each group's cells.

    Run 1: process 1 is SIGKILLed while tracing the third group; the whole job then dies.
    Run 2 resumes it; run 3 finds it finished. Process 0 works in ``shared``; process 1 is given a folder of its own (run 1:
    empty, run 2: a copy of ``shared``, as a shared filesystem would show it) that must stay as
    it was: only process 0 writes. The results equal those of one process, bitwise.
    """
    shared = tmp_path / "shared"
    one = run(signal, GRID, tmp_path / "one", batched=BATCHED, devices=jax.devices()[:1], chunk=2,
              progress=False)  # fmt: skip

    first = tmp_path / "log1"
    procs = _start_pair((shared, tmp_path / "view1"), first, hang_on=3)
    try:
        deadline = time.monotonic() + 90
        # process 0 traces group 3 only after writing group 2; process 1 then hangs in group 3
        while min(len(_traced(first, 0)), len(_traced(first, 1))) < 3:
            assert time.monotonic() < deadline, _stderr(first)
            assert all(p.poll() is None for p in procs), _stderr(first)
            time.sleep(0.1)
        procs[1].kill()
        procs[1].wait(10)
        # process 0's gather of group 3 now fails (gloo: connection closed by peer), but its exit
        # then waits on the distributed shutdown: end the job as a scheduler would
        try:
            procs[0].wait(1)
        except subprocess.TimeoutExpired:
            procs[0].kill()
            procs[0].wait(10)
    finally:
        for p in procs:
            p.kill()
    assert procs[1].returncode == -signal_module.SIGKILL
    assert _traced(first, 0)[:3] == _traced(first, 1) == GROUPS[:3]
    assert not (tmp_path / "view1").exists()  # process 1 wrote nothing
    files = sorted(p.name for p in shared.iterdir())
    index = json.loads((shared / "index.json").read_text())
    assert len(files) == 3 and all(f.endswith(".npz") for f in files if f != "index.json")
    assert [g["static"] for g in index["groups"]] == GROUPS[:2]
    assert {(g["devices"], g["chunk"]) for g in index["groups"]} == {(2, 2)}
    before = _snapshot(shared)

    second = tmp_path / "log2"
    view = tmp_path / "view2"
    shutil.copytree(shared, view)
    _run_pair((shared, view), second)
    assert _snapshot(view) == before  # process 1 read the copy and wrote nothing
    after = _snapshot(shared)
    assert all(after[name] == data for name, data in before.items() if name != "index.json")
    for i in range(2):  # finished groups are loaded, not recomputed, on both processes
        assert _traced(second, i) == GROUPS[2:]
        done = json.loads((second / f"groups{i}.json").read_text())
        assert done == {"loaded": GROUPS[:2], "computed": GROUPS[2:]}

    resumed = load(shared)
    for i in range(2):
        with np.load(second / f"results{i}.npz") as got:
            assert len(got.files) == 2 * len(GROUPS)
            for static, values in one.items():
                prefix = f"{static['activation']}-{static['depth']}"
                np.testing.assert_array_equal(got[f"{prefix}-q"], values["q"], strict=True)
                np.testing.assert_array_equal(got[f"{prefix}-last"], values["stats"]["last"],
                                              strict=True)  # fmt: skip
    for static, values in one.items():
        _assert_same(resumed.get(**static), values)
    index = json.loads((shared / "index.json").read_text())
    assert [g["loaded"] for g in index["groups"]] == [True, True, False, False]

    # run 3: everything is finished; process 1 cannot see the files (storage not shared), so it
    # skips every group rather than computing alone (which would wait forever for process 0)
    third = tmp_path / "log3"
    _run_pair((shared, tmp_path / "view3"), third)
    assert _traced(third, 0) == _traced(third, 1) == []
    assert json.loads((third / "groups0.json").read_text())["loaded"] == GROUPS
    assert json.loads((third / "groups1.json").read_text()) == {"loaded": [], "computed": []}
    assert not (tmp_path / "view3").exists() and _snapshot(shared) == after | {
        "index.json": (shared / "index.json").read_bytes()
    }
