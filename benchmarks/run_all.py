"""Every benchmark in one run: sizes chosen for the device, a wall-time budget, one RESULTS section.

Runs each script of ``benchmarks/`` in its own process (as ``python benchmarks/NAME.py ARGS``)
with the arguments of :data:`PLAN` for ``--sizes`` (default: the ``--device``'s own sizes),
in the plan's order (the measurements the project needs most first). The budget (``--budget-min``,
default 8 minutes) is wall time for the whole run, process start and compilation included: a
script whose estimate exceeds what is left is skipped, and one still running when the budget ends
is stopped (its process group killed); both are listed as skipped. Each script's output is shown
as it runs; at the end one dated section is appended to ``benchmarks/RESULTS.md`` (``--results``
for another file): the device, the library versions, this command, a table of what ran (command,
status, seconds) and every script's output. The exit status is 1 if a script failed (skipped
ones do not count), else 0.

On a GPU machine (an H100 or H200), from a clone with the environment installed:

    python benchmarks/run_all.py --device gpu          # or: actlab bench all --device gpu

Other uses:

    python benchmarks/run_all.py --device gpu --dry-run     # the plan: commands and estimates
    python benchmarks/run_all.py --device cpu --budget-min 8
    python benchmarks/run_all.py --sizes smoke --results /tmp/RESULTS.md   # a tiny smoke run

The estimates (seconds, compilation included) for ``cpu`` are measured on a loaded 2-core machine
(the whole plan took 220 s, load 4); those for ``gpu`` are guesses made without a GPU (none has
been lent to this project yet): the table of a real run records the seconds to replace them. JAX preallocates 75% of the GPU's memory in each script's process; PyTorch (for the peers in
``activations`` and ``training_torch``) gets the rest, more than those scripts need.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

try:
    from _timing import RESULTS, append_results, markdown_table
except ImportError:  # imported as benchmarks.run_all
    from benchmarks._timing import RESULTS, append_results, markdown_table

HERE = Path(__file__).resolve().parent
FOLDER = HERE
"""Where the benchmark scripts are (a test points it at scripts of its own)."""
SIZES = ("gpu", "cpu", "smoke")
"""``gpu``: an H100/H200; ``cpu``: a small shared CPU machine (2 cores); ``smoke``: tiny, a test."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One script run: its arguments and estimated wall seconds for each size it runs at.

    ``args[size]`` excludes ``--device``, which is added for scripts that take it
    (``device=True``). A size missing from ``args`` does not run this entry (e.g. the TF32
    training comparison, which means nothing on a CPU).
    """

    script: str
    args: dict[str, tuple[str, ...]]
    seconds: dict[str, float]
    label: str = ""
    device: bool = True

    @property
    def name(self) -> str:
        return f"{self.script} ({self.label})" if self.label else self.script


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PLAN: tuple[Run, ...] = (
    Run(
        "accuracy",  # the ulp table: the device's own arithmetic against a host reference
        {
            "gpu": _split("--dtypes float16 bfloat16 float32 --check-points 16"),
            "cpu": _split("--dtypes float16 bfloat16 --check-points 16 --no-torch"),
            "smoke": _split("--dtypes float16 --names relu sigmoid --check-points 4 --no-torch"),
        },
        {"gpu": 30, "cpu": 25, "smoke": 10},
    ),
    Run(
        "activations",
        {
            "gpu": _split(
                "--sizes-mib 1 1024 --repeats 10 --target-ms 10 --overhead-names relu gelu"
            ),
            "cpu": _split(
                "--sizes-mib 1 --names relu leaky_relu gelu tanh --repeats 5 --target-ms 10"
            ),
            "smoke": _split(
                "--sizes-mib 0.0625 --names relu gelu --repeats 2 --target-ms 1 --overhead-names"
            ),
        },
        {"gpu": 55, "cpu": 15, "smoke": 10},
    ),
    Run(
        "relu_speed",
        {
            "gpu": _split("--repeats 5 --target-ms 10"),
            "cpu": _split(
                "--names relu leaky_relu gelu tanh sigmoid --memory-mib 16 --repeats 5 "
                "--target-ms 10"
            ),
            "smoke": _split(
                "--names relu tanh --impls actlab --memory-mib 0.25 "
                "--compute-elements 2048 --passes 2 --repeats 1 --target-ms 1"
            ),
        },
        {"gpu": 60, "cpu": 20, "smoke": 8},
    ),
    Run(
        "training_torch",
        {
            "gpu": _split("--precision float32 --setups 256,2,128 1024,4,1024 4096,4,4096"),
            "cpu": _split("--setups 32,2,64 256,2,128 --repeats 3"),
            "smoke": _split("--setups 16,1,8 --steps 2 --check-steps 2 --repeats 1"),
        },
        {"gpu": 35, "cpu": 30, "smoke": 10},
        label="float32",
    ),
    Run(
        "training_torch",
        {
            "gpu": _split("--precision tf32 --setups 256,2,128 1024,4,1024 4096,4,4096"),
            # on a CPU TF32 changes nothing; the smoke run only checks that the option runs
            "smoke": _split(
                "--precision tf32 --setups 16,1,8 --steps 2 --check-steps 2 --repeats 1"
            ),
        },
        {"gpu": 35, "smoke": 10},
        label="tf32",
    ),
    Run(
        "sweep",
        {
            "gpu": _split("--loops jit"),
            "cpu": _split("--depths 2 10 --seeds 4 --loops jit --virtual-devices 2"),
            "smoke": _split(
                "--activations relu --depths 1 2 --seeds 2 --width 8 --batch 2 "
                "--loops jit --virtual-devices 2"
            ),
        },
        {"gpu": 45, "cpu": 70, "smoke": 15},
    ),
    Run(
        "regions",
        {
            "gpu": _split("--repeats 3"),
            "cpu": _split("--quick --repeats 2"),
            "smoke": _split("--quick --repeats 1"),
        },
        {"gpu": 60, "cpu": 15, "smoke": 15},
    ),
    Run(
        "training",
        {
            "gpu": _split("--seeds 16 --steps 300 --repeats 3"),
            "cpu": _split(
                "--seeds 4 --steps 200 --ensemble-setups 8,1,256,16 16,2,256,32 "
                "--calls 50 --repeats 3"
            ),
            "smoke": _split(
                "--seeds 2 --steps 5 --ensemble-setups 2,1,16,0 --overhead-setup "
                "4,1,16,0 --calls 2 --repeats 1"
            ),
        },
        {"gpu": 35, "cpu": 45, "smoke": 15},
    ),
    Run(
        "gradflow",
        {
            "gpu": _split("--depths 1 10 50 --loops jit"),
            "cpu": _split(
                "--activations relu tanh --depths 1 5 10 --seeds 4 --width 64 --loops jit "
                "--cpu-devices 2"
            ),
            "smoke": _split(
                "--activations relu tanh --depths 1 2 --seeds 2 --width 8 --batch 2 "
                "--loops jit --cpu-devices 2"
            ),
        },
        {"gpu": 35, "cpu": 70, "smoke": 15},
    ),
    Run(
        "memory",
        {
            "gpu": (),
            "cpu": _split("--width 128 --depth 4 --batches 256 512"),
            "smoke": _split(
                "--width 16 --depth 1 --inputs 2 --classes 2 --batches 8 16 --names relu tanh"
            ),
        },
        {"gpu": 25, "cpu": 35, "smoke": 10},
    ),
    Run(
        "local_complexity",
        {
            "gpu": _split("--repeats 10 --naive-repeats 1"),
            "cpu": _split("--repeats 5 --naive-repeats 1"),
            "smoke": _split("--quick --repeats 1 --naive-repeats 1"),
        },
        {"gpu": 15, "cpu": 20, "smoke": 10},
    ),
    Run(
        "kernels",  # analytic NTK against the empirical one; the sizes on the GPU
        {
            "gpu": _split("--activations relu gelu tanh --repeats 5"),
            "cpu": _split("--dtypes float32 --seeds 2 --repeats 3"),
            "smoke": _split("--quick"),
        },
        {"gpu": 40, "cpu": 110, "smoke": 20},
    ),
    Run(
        "regions_space",  # NumPy on the host: the device does not matter
        {
            "gpu": _split("--quick --repeats 1"),
            "cpu": _split("--quick --repeats 1"),
            "smoke": _split("--quick --repeats 1"),
        },
        {"gpu": 10, "cpu": 10, "smoke": 10},
        device=False,
    ),
)
"""What runs, in order, with which arguments at each size."""


def scripts() -> list[str]:
    """The benchmark scripts of :data:`FOLDER` (not ``_*`` helpers, not this runner)."""
    return sorted(p.stem for p in FOLDER.glob("*.py")
                  if not p.stem.startswith("_") and p.stem != "run_all")  # fmt: skip


def command(run: Run, size: str, device: str) -> list[str]:
    """The command line of ``run`` at ``size``, on ``device``."""
    script = FOLDER / f"{run.script}.py"
    return [sys.executable, str(script), *(("--device", device) if run.device else ()),
            *run.args[size]]  # fmt: skip


def shown(argv: Sequence[str]) -> str:
    """A command as a reader would type it (``python benchmarks/x.py ...``)."""
    script = Path(argv[1])
    return " ".join(["python", f"{script.parent.name}/{script.name}", *argv[2:]])


def _pump(stream: IO[str], sink: IO[str], keep: list[str]) -> None:
    for line in stream:
        keep.append(line)
        sink.write(line)
        sink.flush()


def execute(argv: Sequence[str], timeout: float) -> dict[str, Any]:
    """Run ``argv`` (its output echoed as it comes), killed with its children after ``timeout``.

    Returns ``{"rc": int | None, "seconds", "stdout", "stderr"}``; ``rc`` is None when stopped.
    """
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            encoding="utf-8", errors="replace", start_new_session=True,
                            cwd=HERE.parent)  # fmt: skip
    out: list[str] = []
    err: list[str] = []
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, sys.stdout, out), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, sys.stderr, err), daemon=True)]  # fmt: skip
    for pump in pumps:
        pump.start()
    rc: int | None = None
    try:
        rc = proc.wait(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        pass
    finally:  # over time, or interrupted (its own session does not get the terminal's Ctrl-C)
        if rc is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the script and any process it started
            proc.wait()
    for pump in pumps:
        pump.join(5)
    return {"rc": rc, "seconds": time.monotonic() - start, "stdout": "".join(out),
            "stderr": "".join(err)}  # fmt: skip


PROBE = """
import importlib.metadata, json, sys
sys.path.insert(0, {folder!r})
from _timing import environment, select_device
env = environment(select_device({device!r}))
for name in ("torch",):
    try:
        env[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        env[name] = "not installed"
print(json.dumps(env))
"""


def probe(device: str, timeout: float) -> dict[str, Any]:
    """Device and library versions, from a process of its own (this one never holds the GPU)."""
    code = PROBE.format(folder=str(HERE), device=device)
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise SystemExit(f"run_all: the {device} device check took over {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise SystemExit(f"run_all: the {device} device check failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def section(rows: list[dict[str, Any]], outputs: list[tuple[str, str, str]], budget: float,
            used: float) -> str:  # fmt: skip
    """The RESULTS.md body: the table of runs, then each script's output as text."""
    parts = [
        f"Budget {budget:.0f} s of wall time (process start and compilation included); "
        f"used {used:.0f} s.",
        markdown_table(rows),
    ]
    for name, status, text in outputs:
        fence = "````" if "```" in text else "```"
        parts.append(f"### {name} ({status})\n\n{fence}text\n{text.rstrip()}\n{fence}")
    return "\n\n".join(parts)


def run_plan(plan: Sequence[Run], size: str, device: str, budget: float
             ) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:  # fmt: skip
    """Run ``plan`` in order within ``budget`` seconds: a row per run (command, status, seconds)
    and ``(name, status, output)`` for each run that started."""
    start = time.monotonic()
    rows, outputs = [], []
    for i, r in enumerate(plan, 1):
        argv = command(r, size, device)
        left = budget - (time.monotonic() - start)
        row = {"benchmark": r.name, "command": f"`{shown(argv)}`", "estimate s": r.seconds[size]}
        if r.seconds[size] > left:
            rows.append({**row, "status": f"skipped: needs ~{r.seconds[size]:.0f} s, "
                         f"{max(left, 0):.0f} s left", "seconds": "-"})  # fmt: skip
            print(f"[{i}/{len(plan)}] {r.name}: {rows[-1]['status']}", flush=True)
            continue
        print(f"[{i}/{len(plan)}] {r.name}: {shown(argv)} (~{r.seconds[size]:.0f} s, "
              f"{left:.0f} s left)", flush=True)  # fmt: skip
        result = execute(argv, timeout=left)
        if result["rc"] is None:
            status = f"skipped: stopped at the budget after {result['seconds']:.0f} s"
        elif result["rc"] == 0:
            status = "ok"
        else:
            status = f"failed: exit status {result['rc']}"
        text = result["stdout"]
        if status != "ok":
            text += f"\n[stderr, last lines]\n{result['stderr'][-3000:]}"
        rows.append({**row, "status": status, "seconds": round(result["seconds"], 1)})
        outputs.append((r.name, status, text))
        print(f"[{i}/{len(plan)}] {r.name}: {status} in {result['seconds']:.1f} s", flush=True)
    return rows, outputs


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--sizes", choices=SIZES, help="the plan's sizes (default: --device's)")
    parser.add_argument("--budget-min", type=float, default=8.0,
                        help="wall-time budget of the whole run, in minutes")  # fmt: skip
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help="run only these scripts")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the file to append to")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    size = args.sizes or args.device
    budget = 60 * args.budget_min
    if budget <= 0:
        parser.error(f"--budget-min must be positive, got {args.budget_min}")
    known = scripts()
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"--only: expected scripts of {FOLDER} ({', '.join(known)}), got {unknown}")
    plan = [r for r in PLAN if size in r.args and (args.only is None or r.script in args.only)]
    unplanned = [s for s in known if s not in {r.script for r in PLAN}]
    unplanned = [s for s in unplanned if args.only is None or s in args.only]
    if args.dry_run:
        for r in plan:
            print(f"~{r.seconds[size]:>4.0f} s  {shown(command(r, size, args.device))}")
        total = sum(r.seconds[size] for r in plan)
        print(f"estimated {total:.0f} s in all; budget {budget:.0f} s; "
              f"not planned: {', '.join(unplanned) or 'none'}")  # fmt: skip
        return []

    start = time.monotonic()
    env = probe(args.device, timeout=min(budget, 300))
    env["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"run_all: {env['device']}, sizes {size}, budget {budget:.0f} s, {len(plan)} runs",
          flush=True)  # fmt: skip
    rows, outputs = run_plan(plan, size, args.device, budget - (time.monotonic() - start))
    rows += [{"benchmark": s, "command": "-", "estimate s": "-",
              "status": f"skipped: no sizes planned (add it to {Path(__file__).name})",
              "seconds": "-"} for s in unplanned]  # fmt: skip
    used = time.monotonic() - start
    title = f"All benchmarks on {env['device']} (benchmarks/run_all.py, sizes {size})"
    this = " ".join(["python benchmarks/run_all.py", *argv])
    append_results(title, env, section(rows, outputs, budget, used), path=args.results,
                   command=this)  # fmt: skip
    print(markdown_table(rows))
    print(f"run_all: {used:.0f} s of {budget:.0f} s; appended to {args.results}")
    return rows


if __name__ == "__main__":
    rows = main()
    raise SystemExit(1 if any(r["status"].startswith("failed") for r in rows) else 0)
