"""Wall-clock timing of JAX calls, and the cost of activations in two regimes.

Shared by ``benchmarks/`` and :mod:`actlab.experiments.relu_speed`. Two per-call times differ and
are measured separately:

* **pipelined** (throughput): ``calls`` calls issued back to back and one wait for the last
  result, divided by ``calls``. JAX dispatches asynchronously, so the host queues work while the
  device runs it; this is the time a jitted loop of many steps sees.
* **synchronous** (latency): every call waited for before the next is issued; adds the host's
  dispatch cost and the round trip to each call.

Everything compared is interleaved (A B C A B C ...) and reduced to medians, so drift in the
machine's load affects all alike.

The activation cost is measured in two settings (:class:`Setting`):

* ``memory``: one application per element loaded, on an array larger than the caches; the time
  is set by the bytes moved, so it is the regime of a single activation layer.
* ``compute``: a small, cache-resident array (default 256 KiB) to which the activation is applied
  ``passes * unroll`` times inside one jitted ``fori_loop`` (``unroll`` applications fused per
  pass), so the arithmetic per element, not the memory traffic, sets the time. Each application
  is ``f(x) - c`` with ``c`` a run-time scalar (0.5; 0 for the unit-interval ``sbaf``) so that
  the iterates stay bounded and XLA cannot fold repeated applications; the subtraction adds the
  same one operation to every activation.

Example::

    >>> from actlab import activations as A
    >>> from actlab.timing import Setting, activation_costs
    >>> costs = activation_costs({n: A.get(n) for n in ("relu", "tanh")},
    ...                          Setting("compute", elements=2**14, passes=8), repeats=3)
    >>> costs["tanh"]["fwd"] > 0
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp

from actlab.checks import integer, message, one_of, show

__all__ = [
    "PASSES",
    "Setting",
    "activation_costs",
    "calls_for",
    "compute_bound_kernels",
    "interleaved_medians",
    "median_seconds",
    "memory_bound_kernels",
    "per_call_seconds",
    "pipelined",
    "ratios_to",
    "synchronous",
]

Wait = Callable[[Any], Any]
PASSES = ("fwd", "fwd+bwd")


def _check_positive(name: str, value: Any) -> None:
    integer(value, name, minimum=1)


# ----------------------------------------------------------------------------- timing


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn()`` (which must block until its result is ready) over ``repeats``."""
    _check_positive("repeats", repeats)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(
    fns: Sequence[Callable[[], Any]], repeats: int, *, warmup: int = 1
) -> list[float]:
    """Median wall time of each blocking callable, the calls interleaved (A B A B ...).

    Args:
      fns: callables that block until their work is done.
      repeats: timed rounds; each round calls every callable once.
      warmup: untimed rounds first (compilation, allocation).

    Returns:
      One median, in seconds, per callable.
    """
    _check_positive("repeats", repeats)
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def pipelined(
    fn: Callable[[], Any], calls: int, wait: Wait = jax.block_until_ready
) -> Callable[[], None]:
    """A callable issuing ``calls`` calls of ``fn`` back to back and waiting once, for the last.

    On one device the calls run in order, so the last result being ready means all are done.
    """
    _check_positive("calls", calls)

    def run() -> None:
        for _ in range(calls - 1):
            fn()
        wait(fn())

    return run


def synchronous(
    fn: Callable[[], Any], calls: int, wait: Wait = jax.block_until_ready
) -> Callable[[], None]:
    """A callable issuing ``calls`` calls of ``fn``, waiting for each result before the next."""
    _check_positive("calls", calls)

    def run() -> None:
        for _ in range(calls):
            wait(fn())

    return run


def calls_for(
    fns: Sequence[Callable[[], Any]],
    target_seconds: float,
    *,
    wait: Wait = jax.block_until_ready,
    low: int = 1,
    high: int = 10_000,
) -> int:
    """Calls per timed batch so that a batch of the median callable lasts about ``target_seconds``.

    Each callable is called (and waited for) twice; the second call is timed.
    """
    if target_seconds <= 0:
        raise ValueError(message("target_seconds", "a number > 0", show(target_seconds)))
    single = []
    for fn in fns:
        wait(fn())
        start = time.perf_counter()
        wait(fn())
        single.append(time.perf_counter() - start)
    one = max(statistics.median(single), 1e-7)
    return int(min(high, max(low, round(target_seconds / one))))


def per_call_seconds(
    fns: Sequence[Callable[[], Any]],
    *,
    mode: Literal["pipelined", "synchronous"],
    calls: int,
    repeats: int,
    wait: Wait = jax.block_until_ready,
) -> list[float]:
    """Median seconds per call of each ``fn``, pipelined or synchronous, batches interleaved."""
    if mode not in ("pipelined", "synchronous"):
        one_of(mode, "mode", ("pipelined", "synchronous"))
    batch = pipelined if mode == "pipelined" else synchronous
    medians = interleaved_medians([batch(fn, calls, wait) for fn in fns], repeats)
    return [t / calls for t in medians]


# ----------------------------------------------------------------------------- activation cost


@dataclasses.dataclass(frozen=True)
class Setting:
    """How an activation is timed (see the module docstring).

    Attributes:
      kind: ``"memory"`` (one application per element loaded) or ``"compute"`` (``passes *
        unroll`` applications per element, in a ``fori_loop`` on a cache-resident array).
      elements: float32 elements of the input, laid out as rows of 1024 (softmax's axis; a
        remainder beyond whole rows is dropped).
      passes: ``fori_loop`` iterations (``compute`` only).
      unroll: applications fused per iteration (``compute`` only). Large values let XLA
        duplicate work inside the fusion; 1 is the cleanest.
    """

    kind: Literal["memory", "compute"]
    elements: int
    passes: int = 1
    unroll: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("memory", "compute"):
            one_of(self.kind, "kind", ("memory", "compute"), where="Setting")
        for name in ("elements", "passes", "unroll"):
            _check_positive(name, getattr(self, name))
        if self.kind == "memory" and (self.passes, self.unroll) != (1, 1):
            raise ValueError(
                message("passes and unroll", "1 and 1 (a memory setting applies the activation "
                        "once)", f"{self.passes} and {self.unroll}", where="Setting")
            )  # fmt: skip

    @property
    def applications(self) -> int:
        """Applications of the activation per element per call."""
        return self.passes * self.unroll

    @property
    def shape(self) -> tuple[int, int]:
        width = min(self.elements, 1024)
        return (self.elements // width, width)


def memory_bound_kernels(f: Callable[[jax.Array], jax.Array]) -> tuple[Callable, Callable]:
    """Jitted ``fwd(x) -> f(x)`` and ``fwd_bwd(x, g) -> (f(x), vjp(g))``.

    ``fwd`` reads ``x`` and writes ``y``; ``fwd_bwd`` reads ``x`` and the cotangent ``g`` and
    writes ``y`` and ``dx`` (twice the bytes).
    """

    def fwd_bwd(x: jax.Array, g: jax.Array) -> tuple[jax.Array, jax.Array]:
        y, pullback = jax.vjp(f, x)
        return y, pullback(g)[0]

    return jax.jit(f), jax.jit(fwd_bwd)


def compute_bound_kernels(
    f: Callable[[jax.Array], jax.Array], passes: int, unroll: int = 1
) -> tuple[Callable, Callable]:
    """Jitted ``fwd(x, c)`` and ``fwd_bwd(x, g, c)`` applying ``x <- f(x) - c`` many times.

    ``fwd`` runs ``passes`` loop iterations of ``unroll`` applications each. ``fwd_bwd`` runs the
    same iterations, each also pulling the fixed cotangent ``g`` back through the iteration's
    ``unroll`` applications and adding the result to an accumulator (so no gradient decays to
    denormals across iterations); it returns the final ``x`` and the accumulator.
    """
    _check_positive("passes", passes)
    _check_positive("unroll", unroll)

    def chain(x: jax.Array, c: jax.Array) -> jax.Array:
        for _ in range(unroll):
            x = f(x) - c
        return x

    @jax.jit
    def fwd(x: jax.Array, c: jax.Array) -> jax.Array:
        return jax.lax.fori_loop(0, passes, lambda _, x: chain(x, c), x)

    @jax.jit
    def fwd_bwd(x: jax.Array, g: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
        def body(_: Any, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            x, acc = carry
            y, pullback = jax.vjp(lambda x: chain(x, c), x)
            return y, acc + pullback(g)[0]

        return jax.lax.fori_loop(0, passes, body, (x, jnp.zeros_like(x)))

    return fwd, fwd_bwd


def _inputs(setting: Setting, unit_interval: bool, seed: int) -> tuple[jax.Array, jax.Array]:
    key_x, key_g = jax.random.split(jax.random.key(seed))
    if setting.kind == "memory":
        x = jax.random.normal(key_x, setting.shape, jnp.float32)
        x = jax.nn.sigmoid(x) if unit_interval else x
    else:  # bounded iterates: see the module docstring
        x = jax.random.uniform(key_x, setting.shape, jnp.float32, -1.0, 1.0)
        x = (x + 1) / 2 if unit_interval else x
    return x, jax.random.normal(key_g, setting.shape, jnp.float32)


def activation_costs(
    functions: Mapping[str, Callable[[jax.Array], jax.Array]],
    setting: Setting,
    *,
    repeats: int,
    target_seconds: float = 0.05,
    unit_interval: Collection[str] = ("sbaf",),
    device: jax.Device | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Pipelined seconds per call of every function, forward and forward+backward.

    The functions of one pass are timed interleaved, with the same number of calls per batch
    (chosen so that a batch of the median function lasts about ``target_seconds``).

    Args:
      functions: label -> elementwise function of a float32 array (softmax-like functions
        normalise along the last axis, of length 1024).
      setting: the regime (see :class:`Setting`).
      repeats: timed batches per function and pass (the median is kept).
      target_seconds: approximate duration of one timed batch.
      unit_interval: labels whose domain is ``[0, 1]``: their inputs are mapped into it.
      device: where the arrays live (default: JAX's default device).
      seed: seed of the inputs.

    Returns:
      ``{label: {"fwd": s, "fwd+bwd": s, "fwd ns/elem": ns, "fwd+bwd ns/elem": ns}}``: seconds
      per call and nanoseconds per element per application.
    """
    if not functions:
        raise ValueError(
            message("functions", "at least one activation", "none", where="activation_costs")
        )
    _check_positive("repeats", repeats)
    calls: dict[str, list[Callable[[], Any]]] = {p: [] for p in PASSES}
    with jax.default_device(device) if device is not None else contextlib.nullcontext():
        flags = {label in unit_interval for label in functions}
        inputs = {flag: _inputs(setting, flag, seed) for flag in flags}  # shared by all
        for label, f in functions.items():
            x, g = inputs[label in unit_interval]
            if setting.kind == "memory":
                fwd, both = memory_bound_kernels(f)
                calls["fwd"].append(lambda fwd=fwd, x=x: fwd(x))
                calls["fwd+bwd"].append(lambda both=both, x=x, g=g: both(x, g))
            else:
                fwd, both = compute_bound_kernels(f, setting.passes, setting.unroll)
                c = jnp.float32(0.0 if label in unit_interval else 0.5)
                calls["fwd"].append(lambda fwd=fwd, x=x, c=c: fwd(x, c))
                calls["fwd+bwd"].append(lambda both=both, x=x, g=g, c=c: both(x, g, c))
    result: dict[str, dict[str, float]] = {label: {} for label in functions}
    rows, width = setting.shape
    work = rows * width * setting.applications
    for p in PASSES:
        n = calls_for(calls[p], target_seconds)
        seconds = per_call_seconds(calls[p], mode="pipelined", calls=n, repeats=repeats)
        for label, s in zip(functions, seconds, strict=True):
            result[label][p] = s
            result[label][f"{p} ns/elem"] = 1e9 * s / work
    return result


def ratios_to(costs: Mapping[str, Mapping[str, float]], baseline: str) -> dict[str, dict]:
    """Each label's time per pass divided by ``baseline``'s (``{label: {"fwd": r, ...}}``)."""
    if baseline not in costs:
        raise ValueError(
            message(
                "baseline", f"one of the labels {list(costs)}", repr(baseline), where="ratios_to"
            )
        )
    base = costs[baseline]
    return {label: {p: c[p] / base[p] for p in PASSES} for label, c in costs.items()}
