"""Smooth activations with tail-exact derivatives: sigmoid, log-sigmoid, tanh, softplus, squareplus,
SiLU, Mish, GELU, softsign.

Each has a ``jax.custom_jvp`` rule whose formula stays accurate where the textbook one cancels or
overflows. For example ``sigmoid'(x) = s(x) (1 - s(x))`` rounds to 0 for ``x > 37`` in float64,
although the true value ``~e^{-x}`` is representable up to ``x ~ 745``; here it is computed as
``e / (1 + e)^2`` with ``e = exp(-|x|)``. Half-precision inputs are computed in float32.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from actlab.activations import _mills
from actlab.activations._precision import upcast
from actlab.activations._validate import check_range, floating_array
from actlab.checks import message, show


def _finite_or_zero(x: jax.Array) -> jax.Array:
    """``x`` with infinities replaced by 0, for the ``x * f'(x)`` terms whose limit at inf is 0."""
    return jnp.where(jnp.isinf(x), 0, x)


def _logistic(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sigmoid(x), sigmoid(-x))``, each to a few ulp, from one ``exp(-|x|)``."""
    e = jnp.exp(-jnp.abs(x))
    big = 1 / (1 + e)
    small = e * big
    positive = x >= 0
    return jnp.where(positive, big, small), jnp.where(positive, small, big)


def _times_sigmoid(factor: jax.Array, z: jax.Array) -> jax.Array:
    """``factor * sigmoid(z)`` without an early underflow.

    For ``z << 0``, ``sigmoid(z) ~ e^z`` can be subnormal (flushed to 0 by XLA on CPU) while the
    product is a normal number; multiplying by ``w = exp(z/2)`` twice keeps every intermediate
    normal as long as the result is.
    """
    w = jnp.exp(-jnp.abs(z) / 2)
    e = w * w
    return jnp.where(z >= 0, factor / (1 + e), (factor * w) * w / (1 + e))


@jax.custom_jvp
def _sigmoid(x):
    return _logistic(x)[0]


@_sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    e = jnp.exp(-jnp.abs(x))
    r = 1 / (1 + e)  # shared with the value's computation after CSE: one exp, one division
    # e / (1 + e)^2. Where 1 + e rounds (to 1 for x > 37 in float64) that rounding error
    # doubles in (1 + e)^2, an ulp; for e < 2^-20 the series e (1 - 2e + 3e^2 - 4e^3) has none.
    series = e * (1 - e * (2 - e * (3 - 4 * e)))
    return _sigmoid(x), jnp.where(e < 2.0**-20, series, (e * r) * r) * x_dot


@jax.custom_jvp
def _tanh(x):
    if x.dtype != jnp.float64:  # XLA's float32 tanh is within 4 ulp, better than the below
        return jnp.tanh(x)
    # tanh|x| = -m / (2 + m), m = expm1(-2|x|): within 4 ulp, where XLA's float64 tanh loses up
    # to 7 (6 at the 99th percentile) just below 1, for 5 < |x| < 19
    m = jnp.expm1(-2 * jnp.abs(x))
    return jnp.copysign(-m / (2 + m), x)


@_tanh.defjvp
def _tanh_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    w = jnp.exp(-jnp.abs(x))  # sech^2 x = 4 w^2 / (1 + w^2)^2
    e = w * w
    return _tanh(x), (4 * w) * w / ((1 + e) * (1 + e)) * x_dot


@jax.custom_jvp
def _softplus(x):
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return _softplus(x), _sigmoid(x) * x_dot


@jax.custom_jvp
def _log_sigmoid(x):
    # log s(x) = min(x, 0) - log1p(e^{-|x|}): no cancellation in either tail
    return jnp.minimum(x, 0) - jnp.log1p(jnp.exp(-jnp.abs(x)))


@_log_sigmoid.defjvp
def _log_sigmoid_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return _log_sigmoid(x), _sigmoid(-x) * x_dot


def _squareplus_parts(x: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(h, c)``: ``h = sqrt(x^2 + b)`` without overflow, ``c = b / (2 h (h + |x|))``.

    ``c`` is the value of ``(1 + x/h)/2`` for ``x < 0`` and of ``(1 - x/h)/2`` for ``x >= 0``,
    computed without the cancellation of ``h - |x|``; at ``x = +-inf`` it is 0.
    """
    h = jnp.hypot(x, jnp.sqrt(b))
    c = (b / (2 * h)) / (h + jnp.abs(x))
    return h, jnp.where(jnp.isinf(x), 0, c)


@jax.custom_jvp
def _squareplus(x, b):
    h, _ = _squareplus_parts(x, b)
    # (x + h)/2 (halved first: no overflow), which for x < 0 cancels: there it is (b/2) / (h - x)
    return jnp.where(x >= 0, x / 2 + h / 2, (b / 2) / (h - x))


@_squareplus.defjvp
def _squareplus_jvp(primals, tangents):
    x, b = primals
    x_dot, b_dot = tangents
    h, c = _squareplus_parts(x, b)
    dx = jnp.where(x >= 0, 1 - c, c)
    db = jnp.where(jnp.isinf(x), 0, 1 / (4 * h))
    return _squareplus(x, b), dx * x_dot + db * b_dot


@jax.custom_jvp
def _silu(x):
    return jnp.where(jnp.isneginf(x), -0.0, _times_sigmoid(x, x))


@_silu.defjvp
def _silu_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    s_neg = _logistic(x)[1]
    return _silu(x), _times_sigmoid(1 + _finite_or_zero(x) * s_neg, x) * x_dot


def _mish_parts(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``(t, 1 - t, sigmoid(x), w)`` for ``t = tanh(softplus(x))``, without cancellation.

    ``t`` is the rational function ``((1 + e^x)^2 - 1) / ((1 + e^x)^2 + 1)`` of ``e = e^{-|x|}``.
    For ``x <= 0`` the first three are returned divided by ``e = w * w`` (each ``~e^x`` there), so
    the caller multiplies by ``w`` twice after scaling by ``x`` and no intermediate underflows.
    """
    w = jnp.exp(-jnp.abs(x) / 2)
    e = w * w
    n = e * (e + 2)
    d = 1 + 2 * e + 2 * e * e
    negative = x <= 0
    t = jnp.where(negative, (e + 2) / (n + 2), (1 + 2 * e) / d)  # / e when negative
    one_minus_t = jnp.where(negative, 2 / (n + 2), 2 * e * e / d)
    s = 1 / (1 + e)  # sigmoid(x), divided by e when negative
    return t, one_minus_t, s, w


def _mish_scale(value: jax.Array, x: jax.Array, w: jax.Array) -> jax.Array:
    return jnp.where(x <= 0, (value * w) * w, value)


@jax.custom_jvp
def _mish(x):
    t, _, _, w = _mish_parts(x)
    return jnp.where(jnp.isneginf(x), -0.0, _mish_scale(x * t, x, w))


@_mish.defjvp
def _mish_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    t, one_minus_t, s, w = _mish_parts(x)
    t_true = _mish_scale(t, x, w)  # tanh(softplus(x)) itself, for the (1 + t) factor
    dmish = t + _finite_or_zero(x) * one_minus_t * (1 + t_true) * s
    return _mish(x), _mish_scale(dmish, x, w) * x_dot


def _exp_half_square(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(q, r)`` with ``q * q * r == exp(-x**2 / 2)`` to a few ulp, for ``|x| <= 40``.

    ``x**2`` carries a rounding error that ``exp`` multiplies by ``x**2 / 2`` (about 450 ulp at
    ``x = 30``). Splitting ``x = hi + lo`` (Veltkamp) makes ``hi**2`` exact, so
    ``exp(-x**2/2) = exp(-hi**2/4)**2 * exp(-lo (hi + lo/2))`` loses only a few ulp. The caller
    multiplies its other factors in first and ``q`` twice, so nothing underflows before the
    result does.
    """
    split = 2.0 ** math.ceil((jnp.finfo(x.dtype).nmant + 1) / 2) + 1
    t = split * x
    hi = t - (t - x)
    lo = x - hi
    # |d| <= |lo| |x| < 2**-12 x**2 in float32 (0.05 for |x| <= 14, beyond which phi is
    # subnormal) and 2**-27 x**2 in float64: four Taylor terms of exp(-d) are exact to an ulp.
    d = lo * (hi + lo / 2)
    rest = 1 - d * (1 - d * (0.5 - d * (1 / 6 - d / 24)))
    return jnp.exp(-(hi * hi) / 4), rest


_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _mills_ratio(t: jax.Array) -> jax.Array:
    """``Phi(-t) / phi(t)`` for ``0 <= t <= 40``: a Chebyshev series (``_mills``), to ~2 ulp.

    Terms below the dtype's resolution are dropped (about 14 of 32 remain for float32).
    """
    cutoff = jnp.finfo(t.dtype).eps * abs(_mills.COEFFICIENTS[0]) / 8
    last = max(i for i, c in enumerate(_mills.COEFFICIENTS) if abs(c) > cutoff)
    coefficients = _mills.COEFFICIENTS[: last + 1]
    s = (t - _mills.SHIFT) / (t + _mills.SHIFT)
    b1, b2 = jnp.zeros_like(s), jnp.zeros_like(s)
    for c in coefficients[:0:-1]:  # Clenshaw
        b1, b2 = 2 * s * b1 - b2 + c, b1
    return (s * b1 - b2 + coefficients[0]) / (t + _mills.SHIFT)


def _gaussian_tail(x: jax.Array, factor: jax.Array) -> jax.Array:
    """``factor * phi(x)``, multiplying ``factor`` in before the small factors of ``phi``."""
    quarter, rest = _exp_half_square(x)
    return (((factor * _INV_SQRT_2PI) * quarter) * quarter) * rest


@jax.custom_jvp
def _gelu_exact(x):
    # Phi(x) = Q(|x|) for x < 0 and 1 - Q(x) for x >= 0, with Q(t) = phi(t) R(t): no erfc.
    t = jnp.clip(jnp.abs(x), 0, 40)  # Q(40) underflows in every float format
    r = _mills_ratio(t)
    negative = _gaussian_tail(t, jnp.maximum(x, -40) * r)  # -0 for x <= -40, -inf included
    positive = x * (1 - _gaussian_tail(t, r))
    return jnp.where(x < 0, negative, positive)


@_gelu_exact.defjvp
def _gelu_exact_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    # GELU' = Phi(x) + x phi(x) = phi(t) (R(t) - t) for x < 0 and 1 + phi(t) (t - R(t)) for x >= 0.
    t = jnp.clip(jnp.abs(x), 0, 40)
    r = _mills_ratio(t)
    slope = jnp.where(x < 0, _gaussian_tail(t, r - t), 1 + _gaussian_tail(t, t - r))
    return _gelu_exact(x), slope * x_dot


def _gelu_tanh_argument(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(2u, 2u')`` with ``u = sqrt(2/pi) (x + 0.044715 x^3)``, for ``x`` clipped to [-40, 40]."""
    xc = jnp.clip(x, -40, 40)  # beyond, sigmoid(2u) is exactly 0 or 1 in every float format
    two_u = 2 * _SQRT_2_OVER_PI * (xc + 0.044715 * xc * xc * xc)
    two_du = 2 * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * xc * xc)
    return two_u, two_du


@jax.custom_jvp
def _gelu_tanh(x):
    # 0.5 * (1 + tanh(u)) == sigmoid(2u), which does not cancel for x << 0
    return jnp.where(jnp.isneginf(x), -0.0, _times_sigmoid(x, _gelu_tanh_argument(x)[0]))


@_gelu_tanh.defjvp
def _gelu_tanh_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    two_u, two_du = _gelu_tanh_argument(x)
    s_neg = _logistic(two_u)[1]
    slope = _times_sigmoid(1 + jnp.clip(x, -40, 40) * s_neg * two_du, two_u)
    return _gelu_tanh(x), slope * x_dot


@jax.custom_jvp
def _softsign(x):
    return jnp.where(jnp.isinf(x), jnp.sign(x), x / (1 + jnp.abs(x)))


@_softsign.defjvp
def _softsign_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    r = 1 / (1 + jnp.abs(x))
    return _softsign(x), r * r * x_dot


_sigmoid_call = jax.jit(upcast(_sigmoid))
_tanh_call = jax.jit(upcast(_tanh))
_softplus_call = jax.jit(upcast(_softplus))
_silu_call = jax.jit(upcast(_silu))
_log_sigmoid_call = jax.jit(upcast(_log_sigmoid))
_squareplus_call = jax.jit(upcast(_squareplus))
_mish_call = jax.jit(upcast(_mish))
_gelu_exact_call = jax.jit(upcast(_gelu_exact))
_gelu_tanh_call = jax.jit(upcast(_gelu_tanh))
_softsign_call = jax.jit(upcast(_softsign))


def sigmoid(x: ArrayLike) -> jax.Array:
    r"""Logistic sigmoid :math:`1 / (1 + e^{-x})`.

    Its derivative :math:`s(x)s(-x) \le 1/4` is computed as :math:`e/(1+e)^2`, :math:`e = e^{-|x|}`,
    exact in both tails (``jax.nn.sigmoid``'s rounds to 0 for ``x > 37`` in float64).

    Args:
      x: input array, any shape and floating dtype.

    Returns:
      An array of the shape and dtype of ``x``, in ``[0, 1]``.
    """
    return _sigmoid_call(floating_array(x, "sigmoid"))


def tanh(x: ArrayLike) -> jax.Array:
    r"""Hyperbolic tangent; derivative :math:`\mathrm{sech}^2 x = 4e/(1+e)^2`, :math:`e = e^{-2|x|}`.

    ``1 - tanh(x)**2`` (``jax.numpy.tanh``'s derivative) is 0 for ``|x| > 19.1`` in float64; this
    one is exact until the true value underflows near ``|x| = 372``.

    Args:
      x: input array, any shape and floating dtype.

    Returns:
      An array of the shape and dtype of ``x``, in ``[-1, 1]``.
    """
    return _tanh_call(floating_array(x, "tanh"))


def softplus(x: ArrayLike) -> jax.Array:
    r"""Softplus :math:`\log(1 + e^x)`, computed as :math:`\max(x, 0) + \log1p(e^{-|x|})`.

    Args:
      x: input array, any shape and floating dtype.

    Returns:
      An array of the shape and dtype of ``x``, in ``[0, inf]``. Its derivative is ``sigmoid``.
    """
    return _softplus_call(floating_array(x, "softplus"))


def silu(x: ArrayLike) -> jax.Array:
    r"""SiLU / swish: :math:`x \, \sigma(x)`; derivative :math:`\sigma(x)(1 + x\,\sigma(-x))`.

    Args:
      x: input array, any shape and floating dtype.

    Returns:
      An array of the shape and dtype of ``x``; ``silu(-inf) = -0``.

    References:
      Elfwing et al. 2018; Ramachandran et al., "Searching for activation functions", 2017.
    """
    return _silu_call(floating_array(x, "silu"))


swish = silu


def log_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Log-sigmoid :math:`\log \sigma(x) = -\mathrm{softplus}(-x)`, as ``min(x, 0) - log1p(e^{-|x|})``.

    Its derivative :math:`\sigma(-x)` is exact in both tails.

    Args:
      x: input array, any shape; integer and bool input is promoted to the default float.

    Returns:
      An array of the shape and dtype of ``x``, in ``[-inf, 0]``.
    """
    return _log_sigmoid_call(floating_array(x, "log_sigmoid"))


def squareplus(x: ArrayLike, b: ArrayLike = 4.0) -> jax.Array:
    r"""Squareplus :math:`(x + \sqrt{x^2 + b}) / 2` (Barron 2021), a softplus made of roots.

    For ``x < 0`` it is computed as :math:`(b/2) / (\sqrt{x^2 + b} - x)` (the textbook form
    cancels to 0 there), and the root as ``hypot(x, sqrt(b))``, so nothing overflows.

    Args:
      x: input array, any shape; integer and bool input is promoted to the default float.
      b: smoothness, finite and ``> 0`` (``b = 0`` is ReLU, with a kink: use :func:`relu`);
        may be traced; differentiable.

    Returns:
      An array of the shape and dtype of ``x``, in ``[0, inf]``.

    References:
      Barron, "Squareplus: a softplus-like algebraic rectifier", arXiv:2112.11687, 2021.
    """
    x = floating_array(x, "squareplus")
    check_range("squareplus", "b", b, 0.0, low_open=True)
    return _squareplus_call(x, b)


def mish(x: ArrayLike) -> jax.Array:
    r"""Mish: :math:`x \tanh(\mathrm{softplus}(x))`.

    ``tanh(softplus(x))`` is evaluated as the rational function of :math:`e^{-|x|}` it equals, so
    neither the value nor the derivative cancels in either tail.

    Args:
      x: input array, any shape and floating dtype.

    Returns:
      An array of the shape and dtype of ``x``.

    References:
      Misra, "Mish: a self regularized non-monotonic activation function", 2019.
    """
    return _mish_call(floating_array(x, "mish"))


def gelu(x: ArrayLike, approximate: bool = False) -> jax.Array:
    r"""Gaussian error linear unit :math:`x \Phi(x)`.

    Args:
      x: input array, any shape and floating dtype.
      approximate: if False (default), the exact form :math:`x\Phi(x)`, with :math:`\Phi` from
        the Gaussian Mills ratio (a fitted Chebyshev series, see ``tools/fit_mills_ratio.py``)
        rather than ``erfc``, accurate to a few ulp in both tails; if True, the tanh form
        :math:`x \sigma(2u)`, :math:`u = \sqrt{2/\pi}(x + 0.044715 x^3)` (equal to
        :math:`\tfrac x2 (1 + \tanh u)` without its cancellation for ``x << 0``).
        Note ``jax.nn.gelu`` defaults to the tanh form.

    Returns:
      An array of the shape and dtype of ``x``.

    References:
      Hendrycks and Gimpel, "Gaussian error linear units (GELUs)", 2016.
    """
    x = floating_array(x, "gelu")
    if not isinstance(approximate, bool):
        raise TypeError(message("approximate", "a bool", show(approximate), where="gelu"))
    return _gelu_tanh_call(x) if approximate else _gelu_exact_call(x)


def softsign(x: ArrayLike) -> jax.Array:
    r"""Softsign :math:`x / (1 + |x|)`; derivative :math:`(1 + |x|)^{-2}`, squared last.

    Args:
      x: input array, any shape and floating dtype.

    Returns:
      An array of the shape and dtype of ``x``, in ``[-1, 1]``.
    """
    return _softsign_call(floating_array(x, "softsign"))


soft_sign = softsign
