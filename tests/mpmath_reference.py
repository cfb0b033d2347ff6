"""High-precision reference values and derivatives for every elementwise activation (mpmath).

Each entry maps a registry name to ``(f, df)``, functions of an ``mpmath.mpf`` evaluated at the
default parameters. Derivatives at kinks follow actlab's documented defaults.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from actlab.accuracy import DERIVATIVE_ROOTS  # noqa: F401  (re-exported for the tests)

with mp.workdps(40):  # at the default 15 digits the constants would be rounded to float64
    SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")
    SELU_SCALE = mp.mpf("1.0507009873554804934193349852946")


def _ncdf(x):
    if abs(x) > 1e6:  # mpmath's erfc overflows internally; the result is 0 or 1 to any precision
        return mp.mpf(x > 0)
    return mp.erfc(-x / mp.sqrt(2)) / 2


def _npdf(x):
    return mp.exp(-(x**2) / 2) / mp.sqrt(2 * mp.pi)


def _sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def _gelu_tanh_u(x):
    return mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3)


def _gelu_tanh_du(x):
    return mp.sqrt(2 / mp.pi) * (1 + 3 * mp.mpf("0.044715") * x**2)


def _mish_t(x):
    return mp.tanh(mp.log1p(mp.exp(x)))


def _step(x, left, right, at):
    return right if x > 0 else (left if x < 0 else at)


def _squareplus(x):
    # (x + h)/2 with h = sqrt(x^2 + 4); for x < 0 the equal 2 / (h - x), which does not cancel
    h = mp.sqrt(x**2 + 4)
    return (x + h) / 2 if x >= 0 else 2 / (h - x)


def _squareplus_slope(x):
    h = mp.sqrt(x**2 + 4)
    return (1 + x / h) / 2 if x >= 0 else 2 / (h * (h - x))


REFERENCE = {
    "identity": (lambda x: x, lambda x: mp.mpf(1)),
    "relu": (lambda x: max(x, 0), lambda x: _step(x, 0, 1, 0)),
    "relu6": (lambda x: min(max(x, 0), 6), lambda x: mp.mpf(1) if 0 < x < 6 else mp.mpf(0)),
    "leaky_relu": (
        lambda x: x if x > 0 else mp.mpf("0.01") * x,
        lambda x: _step(x, mp.mpf("0.01"), 1, mp.mpf("0.01")),
    ),
    "prelu": (
        lambda x: x if x > 0 else mp.mpf("0.25") * x,
        lambda x: _step(x, mp.mpf("0.25"), 1, mp.mpf("0.25")),
    ),
    "hard_tanh": (lambda x: min(max(x, -1), 1), lambda x: mp.mpf(1) if -1 < x < 1 else mp.mpf(0)),
    "hard_sigmoid": (
        lambda x: min(max(x + 3, 0), 6) / 6,
        lambda x: mp.mpf(1) / 6 if -3 < x < 3 else mp.mpf(0),
    ),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), lambda x: 1 if x > 0 else mp.exp(x)),
    "selu": (
        lambda x: SELU_SCALE * x if x > 0 else SELU_SCALE * SELU_ALPHA * mp.expm1(x),
        lambda x: SELU_SCALE if x > 0 else SELU_SCALE * SELU_ALPHA * mp.exp(x),
    ),
    "celu": (lambda x: x if x > 0 else mp.expm1(x), lambda x: 1 if x > 0 else mp.exp(x)),
    "gelu": (lambda x: x * _ncdf(x), lambda x: _ncdf(x) + x * _npdf(x)),
    "gelu_tanh": (
        lambda x: x * _sigmoid(2 * _gelu_tanh_u(x)),
        lambda x: (
            _sigmoid(2 * _gelu_tanh_u(x))
            + x
            * 2
            * _gelu_tanh_du(x)
            * _sigmoid(2 * _gelu_tanh_u(x))
            * _sigmoid(-2 * _gelu_tanh_u(x))
        ),
    ),
    "silu": (lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1 + x * _sigmoid(-x))),
    "mish": (
        lambda x: x * _mish_t(x),
        lambda x: _mish_t(x) + x * (1 - _mish_t(x) ** 2) * _sigmoid(x),
    ),
    "softplus": (lambda x: mp.log1p(mp.exp(x)), _sigmoid),
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * _sigmoid(-x)),
    "tanh": (mp.tanh, lambda x: mp.sech(x) ** 2),
    "softsign": (lambda x: x / (1 + abs(x)), lambda x: 1 / (1 + abs(x)) ** 2),
    "sbaf": (
        lambda x: 1 / (1 + mp.sqrt(x * (1 - x))),
        # the inward derivative is infinite at 0 and 1; actlab uses 0 there (documented)
        lambda x: (
            -(mp.sqrt(x * (1 - x)) * (mp.mpf("0.5") / x - mp.mpf("0.5") / (1 - x)))
            / (1 + mp.sqrt(x * (1 - x))) ** 2
            if 0 < x < 1
            else mp.mpf(0)
        ),
    ),
    "log_sigmoid": (lambda x: -mp.log1p(mp.exp(-x)), lambda x: _sigmoid(-x)),
    "squareplus": (_squareplus, _squareplus_slope),
    "sparse_plus": (
        lambda x: mp.mpf(0) if x <= -1 else (x if x >= 1 else (x + 1) ** 2 / 4),
        lambda x: mp.mpf(0) if x <= -1 else (mp.mpf(1) if x >= 1 else (x + 1) / 2),
    ),
    "sparse_sigmoid": (
        lambda x: mp.mpf(0) if x <= -1 else (mp.mpf(1) if x >= 1 else (x + 1) / 2),
        lambda x: mp.mpf("0.5") if -1 < x < 1 else mp.mpf(0),
    ),
    "hard_silu": (
        lambda x: x * min(max(x + 3, 0), 6) / 6,
        # at the kinks: 0 at -3 and 1 at 3, the outer slopes (actlab's default, as jax.nn)
        lambda x: mp.mpf(0) if x <= -3 else (mp.mpf(1) if x >= 3 else x / 3 + mp.mpf("0.5")),
    ),
    "arelu": (
        lambda x: x ** mp.mpf("1.5") if x > 0 else mp.mpf(0),
        lambda x: mp.mpf("1.5") * mp.sqrt(x) if x > 0 else mp.mpf(0),
    ),
}


def evaluate(fn, xs: np.ndarray, dtype, dps: int = 40) -> np.ndarray:
    """``fn`` at each element of ``xs`` (exact binary values), rounded to ``dtype``."""
    with mp.workdps(dps):
        out = [float(fn(mp.mpf(float(x)))) for x in np.asarray(xs, dtype=np.float64)]
    with np.errstate(over="ignore"):  # values beyond the dtype's range round to inf
        return np.asarray(out, dtype=np.float64).astype(dtype)


def ulp_error(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``|got - ref|`` in units of the spacing of ``got.dtype`` at ``ref`` (0 where both equal)."""
    got = np.asarray(got)
    dtype = got.dtype
    ref = np.asarray(ref, dtype=np.float64)
    spacing = np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(got.astype(np.float64) - ref)
        return np.where(got.astype(np.float64) == ref, 0.0, diff / spacing)
