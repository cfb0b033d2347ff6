"""Accuracy in ulp of actlab's activations and jax.nn's, value and derivative, over many inputs.

The measurement behind ``benchmarks/accuracy.py`` (which adds PyTorch and checks the reference
against mpmath) and the gallery's accuracy columns. Errors are integer ulp distances from the
reference rounded to the dtype, summarised as the maximum and the 99th percentile.

The reference is the function's stable formula evaluated in more precision than the dtype: NumPy
float64 for float32 and below, x87 ``longdouble`` (64-bit significand) for float64. Not checked,
for every implementation alike: inputs that are subnormal where XLA flushes them (float32, float64,
bfloat16 on the CPU), results below the smallest normal number (for those dtypes, below twice it:
such a result may round up from a flushed intermediate), derivatives at the kinks (a convention,
not an accuracy) and within 0.1 of a zero of the derivative (where relative error is unbounded for
any formula).

Example:
  >>> from actlab import accuracy
  >>> chunks = accuracy.inputs("float16", "sampled", seed=0)
  >>> row, _ = accuracy.measure("relu", "float16", chunks, {"actlab": accuracy.run_actlab})
  >>> row["actlab value"], row["actlab grad"]
  ('0 / 0', '0 / 0')
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import scipy.special

from actlab import activations as A
from actlab.checks import message

DTYPES = {
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
}
FLUSHED = {"float32", "float64", "bfloat16"}  # dtypes whose subnormals XLA's CPU backend flushes
CHUNK = 2**20
ROOT_WINDOW = 0.1
# Zeros of derivatives (where relative error is unbounded for any formula), by name.
DERIVATIVE_ROOTS = {
    "gelu": (-0.7517916243,),
    "gelu_tanh": (-0.7522614,),
    "silu": (-1.2784645428,),
    "mish": (-1.1923847,),
    "sbaf": (0.5,),
    "hard_silu": (-1.5,),
}
SELU_ALPHA = "1.6732632423543772848170429916717"
SELU_SCALE = "1.0507009873554804934193349852946"
Runner = Callable[[str, np.ndarray, str], "tuple[np.ndarray, np.ndarray] | None"]


def names() -> list[str]:
    """Every elementwise activation, and the tanh form of GELU (``gelu_tanh``) after GELU."""
    out = []
    for name in A.names():
        if A.spec(name).elementwise:
            out += [name, "gelu_tanh"] if name == "gelu" else [name]
    return out


# ----------------------------------------------------------------------------- the reference


def _reference(name: str, r: np.dtype) -> tuple[Callable, Callable]:
    """``(f, df)``: stable NumPy formulas of ``name`` (default parameters) in the dtype ``r``."""
    one, half = r.type(1), r.type(0.5)

    def s(x):  # sigmoid
        return one / (one + np.exp(-x))

    def softplus(x):
        return np.where(x > 0, x + np.log1p(np.exp(-np.abs(x))), np.log1p(np.exp(np.minimum(x, 0))))

    def step(x, left, right, at):
        return np.where(x > 0, right, np.where(x < 0, left, at)).astype(r)

    def clip(x, lo, hi):
        return np.clip(x, r.type(lo), r.type(hi))

    def sech2(x):
        return one / np.cosh(x) ** 2

    alpha, scale = r.type(SELU_ALPHA), r.type(SELU_SCALE)
    c = np.sqrt(r.type(2) / np.arccos(-one))  # sqrt(2 / pi) in r
    k = r.type("0.044715")

    def gelu_tanh_u(x):
        xc = clip(x, -1e4, 1e4)
        return c * (xc + k * xc**3), c * (one + 3 * k * xc**2)

    def squareplus(x):
        h = np.hypot(x, r.type(2))
        return np.where(x >= 0, (x + h) / 2, 2 / (h - x)), np.where(
            x >= 0, (1 + x / h) / 2, 2 / (h * (h - x))
        )

    def mish_t(x):
        return np.tanh(softplus(x))

    table = {
        "identity": (lambda x: x, lambda x: np.ones_like(x)),
        "relu": (lambda x: np.maximum(x, 0), lambda x: step(x, 0, 1, 0)),
        "relu6": (lambda x: clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)).astype(r)),
        "leaky_relu": (lambda x: np.where(x > 0, x, r.type("0.01") * x), lambda x: step(x, r.type("0.01"), 1, r.type("0.01"))),
        "prelu": (lambda x: np.where(x > 0, x, r.type("0.25") * x), lambda x: step(x, r.type("0.25"), 1, r.type("0.25"))),
        "hard_tanh": (lambda x: clip(x, -1, 1), lambda x: ((x > -1) & (x < 1)).astype(r)),
        "hard_sigmoid": (lambda x: clip(x + 3, 0, 6) / 6, lambda x: np.where((x > -3) & (x < 3), one / 6, 0).astype(r)),
        "elu": (lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda x: np.where(x > 0, one, np.exp(np.minimum(x, 0)))),
        "celu": (lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), lambda x: np.where(x > 0, one, np.exp(np.minimum(x, 0)))),
        "selu": (lambda x: np.where(x > 0, scale * x, scale * alpha * np.expm1(np.minimum(x, 0))),
                 lambda x: np.where(x > 0, scale, scale * alpha * np.exp(np.minimum(x, 0)))),
        "gelu": (lambda x: x * scipy.special.ndtr(x),
                 lambda x: scipy.special.ndtr(x) + x * np.exp(-(x * x) / 2) / np.sqrt(2 * np.pi)),
        "gelu_tanh": (lambda x: np.where(np.isneginf(x), 0, x * s(2 * gelu_tanh_u(x)[0])),
                      lambda x: s(2 * gelu_tanh_u(x)[0]) + np.where(np.isinf(x), 0, x) * 2 * gelu_tanh_u(x)[1] * s(2 * gelu_tanh_u(x)[0]) * s(-2 * gelu_tanh_u(x)[0])),
        "silu": (lambda x: np.where(np.isneginf(x), 0, x * s(x)), lambda x: s(x) * (one + np.where(np.isinf(x), 0, x) * s(-x))),
        "mish": (lambda x: np.where(np.isneginf(x), 0, x * mish_t(x)),
                 lambda x: mish_t(x) + np.where(np.isinf(x), 0, x) * sech2(softplus(x)) * s(x)),
        "softplus": (softplus, s),
        "sigmoid": (s, lambda x: s(x) * s(-x)),
        "tanh": (np.tanh, sech2),
        "softsign": (lambda x: np.where(np.isinf(x), np.sign(x), x / (1 + np.abs(x))), lambda x: 1 / (1 + np.abs(x)) ** 2),
        "sbaf": (lambda x: 1 / (1 + np.sqrt(x * (1 - x))),
                 lambda x: np.where((x > 0) & (x < 1), -(np.sqrt(x * (1 - x)) * (half / x - half / (1 - x))) / (1 + np.sqrt(x * (1 - x))) ** 2, 0)),
        "arelu": (lambda x: np.where(x > 0, np.maximum(x, 0) ** r.type(1.5), 0), lambda x: np.where(x > 0, r.type(1.5) * np.sqrt(np.maximum(x, 0)), 0)),
        "log_sigmoid": (lambda x: -softplus(-x), lambda x: s(-x)),
        "squareplus": (lambda x: squareplus(x)[0], lambda x: squareplus(x)[1]),
        "sparse_plus": (lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)).astype(r),
                        lambda x: np.where(x <= -1, 0, np.where(x >= 1, one, (x + 1) / 2)).astype(r)),
        "sparse_sigmoid": (lambda x: clip((x + 1) / 2, 0, 1), lambda x: np.where((x > -1) & (x < 1), half, 0).astype(r)),
        "hard_silu": (lambda x: np.where(x <= -3, 0, x * clip(x + 3, 0, 6) / 6).astype(r),
                      lambda x: np.where(x <= -3, 0, np.where(x >= 3, one, x / 3 + half)).astype(r)),
    }  # fmt: skip
    return table[name]


def _reference_dtype(dtype_name: str) -> np.dtype:
    return np.dtype(np.longdouble) if dtype_name == "float64" else np.dtype(np.float64)


def reference(name: str, xs: np.ndarray, dtype_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Value and derivative at ``xs`` (exact in the reference dtype), rounded to the dtype.

    Raises:
      ValueError: exact GELU in float64, which needs an erfc in more than float64 precision
        (``benchmarks/accuracy.py`` uses mpmath there).
    """
    if name == "gelu" and dtype_name == "float64":
        raise ValueError(
            message("name", "an activation with a NumPy reference in float64", "'gelu'",
                    where="reference")
        )  # fmt: skip
    dtype = DTYPES[dtype_name]
    r = _reference_dtype(dtype_name)
    f, df = _reference(name, r)
    x = xs.astype(np.float64).astype(r)
    with np.errstate(all="ignore"):
        return np.asarray(f(x)).astype(r).astype(dtype), np.asarray(df(x)).astype(r).astype(dtype)


# ----------------------------------------------------------------------------- inputs and ulps

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def inputs(dtype_name: str, float32: str, seed: int) -> Iterator[np.ndarray]:
    """The finite inputs checked for ``dtype_name``, in chunks (see the module docstring)."""
    dtype = DTYPES[dtype_name]
    if dtype_name in ("float16", "bfloat16"):
        chunks: Iterator[np.ndarray] = iter([np.arange(2**16, dtype=np.uint16).view(dtype)])
    elif dtype_name == "float32":
        stride = 1 if float32 == "exhaustive" else 4099  # odd: every exponent and sign is hit
        step = CHUNK * stride
        chunks = (
            np.arange(start, min(start + step, 2**32), stride, dtype=np.uint64)
            .astype(np.uint32)
            .view(np.float32)
            for start in range(0, 2**32, step)
        )
    else:
        rng = np.random.default_rng(seed)
        bits = rng.integers(0, 2**64, CHUNK // 2, dtype=np.uint64, endpoint=False).view(np.float64)
        chunks = iter([np.concatenate([bits, rng.uniform(-50, 50, CHUNK // 2)])])
    for xs in chunks:
        with np.errstate(invalid="ignore"):
            yield xs[np.isfinite(xs.astype(np.float64))]


def _order(v: np.ndarray) -> np.ndarray:
    """Integers in the order of the floats (adjacent floats differ by 1; -0 and 0 are both 0)."""
    width = v.dtype.itemsize
    bits = v.view(_INT[width]).astype(np.int64)
    magnitude = bits & np.int64((1 << (8 * width - 1)) - 1)
    return np.where(bits < 0, -magnitude, magnitude)


def ulp_distance(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Integer ulp distance (float64, inf where one is NaN or infinite and they differ)."""
    got, ref = np.asarray(got), np.asarray(ref, dtype=got.dtype)
    a, b = _order(got), _order(ref)
    same_sign = (a >= 0) == (b >= 0)
    dist = np.where(same_sign, np.abs(a - np.where(same_sign, b, 0)), 0).astype(np.float64)
    dist = np.where(same_sign, dist, np.abs(a.astype(np.float64)) + np.abs(b.astype(np.float64)))
    with np.errstate(invalid="ignore"):
        g, r = got.astype(np.float64), ref.astype(np.float64)
        special = ~np.isfinite(g) | ~np.isfinite(r)
        return np.where(
            special, np.where((g == r) | (np.isnan(g) & np.isnan(r)), 0.0, np.inf), dist
        )


def checked(
    name: str, xs: np.ndarray, ref: np.ndarray, dtype_name: str, derivative: bool
) -> np.ndarray:
    """The points where the comparison is made (see the module docstring)."""
    tiny = float(ml_dtypes.finfo(DTYPES[dtype_name]).tiny)
    x, r = xs.astype(np.float64), ref.astype(np.float64)
    with np.errstate(invalid="ignore"):
        keep = ~np.isnan(r) & ((np.abs(r) >= tiny) | (r == 0))
    if dtype_name in FLUSHED:  # flushed inputs, and results that may round up from a flushed
        keep &= (np.abs(x) >= tiny) | (x == 0)  # intermediate (within a factor 2 of tiny)
        keep &= (np.abs(r) >= 2 * tiny) | (r == 0)
    if name == "sbaf":
        keep &= (x >= 0) & (x <= 1)
    if derivative:
        spec_name = "gelu" if name == "gelu_tanh" else name
        for kink in (*A.spec(spec_name).kinks, *((0.0, 1.0) if name == "sbaf" else ())):
            keep &= x != kink
        for root in DERIVATIVE_ROOTS.get(name, ()):
            keep &= np.abs(x - root) > ROOT_WINDOW
    return keep


# ----------------------------------------------------------------------------- measurement


def actlab_function(name: str) -> Callable:
    """actlab's function for an entry of :func:`names`."""
    return functools.partial(A.gelu, approximate=True) if name == "gelu_tanh" else A.get(name)


def jax_nn_function(name: str) -> Callable | None:
    """jax.nn's function of the same name and defaults, or ``None`` (prelu, sbaf, arelu)."""
    if name in ("gelu", "gelu_tanh"):
        return functools.partial(jax.nn.gelu, approximate=name == "gelu_tanh")
    return getattr(jax.nn, {"softsign": "soft_sign"}.get(name, name), None)


@functools.cache
def _jax_kernel(fn: Callable) -> Callable:
    return jax.jit(lambda x: (fn(x), jax.vmap(jax.grad(fn))(x)))


def run_jax(fn: Callable, xs: np.ndarray, dtype_name: str) -> tuple[np.ndarray, np.ndarray]:
    """``fn`` and its derivative (``vmap(grad)``) at ``xs``, jitted, in chunks."""
    values, slopes = [], []
    with jax.enable_x64(dtype_name == "float64"):
        kernel = _jax_kernel(fn)
        for start in range(0, xs.size, CHUNK):
            v, d = kernel(jnp.asarray(xs[start : start + CHUNK]))
            values.append(np.asarray(v))
            slopes.append(np.asarray(d))
    return np.concatenate(values), np.concatenate(slopes)


def run_actlab(name: str, xs: np.ndarray, dtype_name: str) -> tuple[np.ndarray, np.ndarray]:
    """A runner for :func:`measure`: actlab's value and derivative."""
    return run_jax(actlab_function(name), xs, dtype_name)


def run_jax_nn(name: str, xs: np.ndarray, dtype_name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A runner for :func:`measure`: jax.nn's value and derivative, ``None`` if it has none."""
    fn = jax_nn_function(name)
    return None if fn is None else run_jax(fn, xs, dtype_name)


class Errors:
    """A histogram of ulp distances: exact counts below 2^16, powers of two above; the exact max."""

    EXACT = 2**16

    def __init__(self) -> None:
        self.exact = np.zeros(self.EXACT, np.int64)
        self.log2 = np.zeros(66, np.int64)  # bins [2^k, 2^(k+1)) for k >= 16; the last: inf
        self.worst = 0.0

    def add(self, dist: np.ndarray) -> None:
        if dist.size == 0:
            return
        self.worst = max(self.worst, float(np.max(dist)))
        small = dist < self.EXACT
        self.exact += np.bincount(dist[small].astype(np.int64), minlength=self.EXACT)
        big = dist[~small]
        k = np.where(np.isinf(big), 65, np.floor(np.log2(np.where(np.isinf(big), 1, big))))
        self.log2 += np.bincount(k.astype(np.int64), minlength=66)

    def summary(self) -> str:
        """``"max / p99"``; a p99 above 2^16 is the lower end of its power-of-two bin."""
        counts = np.concatenate([self.exact, self.log2[16:]])
        total = int(counts.sum())
        if total == 0:
            return "-"
        index = int(np.searchsorted(np.cumsum(counts), 0.99 * total))
        p99 = float(index) if index < self.EXACT else 2.0 ** (index - self.EXACT + 16)
        p99 = math.inf if index == counts.size - 1 else p99
        show = lambda v: "inf" if math.isinf(v) else f"{v:.0f}" if v < 1e6 else f"{v:.1e}"  # noqa: E731
        return f"{show(self.worst)} / {show(p99)}"


def measure(
    name: str,
    dtype_name: str,
    chunks: Iterator[np.ndarray],
    runners: Mapping[str, Runner],
    reference_fn: Callable[[str, np.ndarray, str], tuple[np.ndarray, np.ndarray]] = reference,
    subsample: int | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """The row of ``name``: ``"max / p99"`` per implementation and part, and the first chunk.

    Args:
      name: an entry of :func:`names`.
      dtype_name: a key of ``DTYPES``.
      chunks: the inputs, e.g. ``inputs(dtype_name, "sampled", 0)``.
      runners: label -> ``runner(name, xs, dtype_name)`` returning ``(value, derivative)`` arrays
        of ``xs``'s dtype, or ``None`` where the implementation has no such function.
      reference_fn: the reference, :func:`reference` by default.
      subsample: if given, the number of points drawn from each chunk (a slow reference).

    Returns:
      ``({"activation", "dtype", "points", "<label> value", "<label> grad", ...}, first chunk)``;
      a cell is ``"-"`` where the runner has no such function.
    """
    errors = {(impl, part): Errors() for impl in runners for part in ("value", "grad")}
    available = dict.fromkeys(runners, True)
    points, first = 0, None
    for xs in chunks:
        if subsample is not None and xs.size > subsample:
            xs = xs[np.random.default_rng(1).choice(xs.size, subsample, replace=False)]
        if name == "sbaf":
            xs = xs[(xs.astype(np.float64) >= 0) & (xs.astype(np.float64) <= 1)]
        first = xs if first is None else first
        points += xs.size
        ref, dref = reference_fn(name, xs, dtype_name)
        keep = {"value": checked(name, xs, ref, dtype_name, False),
                "grad": checked(name, xs, dref, dtype_name, True)}  # fmt: skip
        for impl, runner in runners.items():
            result = runner(name, xs, dtype_name)
            if result is None:
                available[impl] = False
                continue
            for part, got, exact in (("value", result[0], ref), ("grad", result[1], dref)):
                k = keep[part]
                errors[impl, part].add(ulp_distance(got[k], exact[k]))
    row: dict[str, Any] = {"activation": name, "dtype": dtype_name, "points": points}
    for (impl, part), e in errors.items():
        row[f"{impl} {part}"] = e.summary() if available[impl] else "-"
    return row, first
