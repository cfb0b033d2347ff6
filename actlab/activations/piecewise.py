"""Piecewise activations: ReLU and its relatives, and the piecewise-quadratic sparse plus and hard SiLU.

Each has a ``jax.custom_jvp`` rule. At a kink the derivative is a documented, selectable element
of the Clarke subdifferential (the interval between the one-sided derivatives); choosing a value
outside it raises ``ValueError``. The public functions validate at trace time and call a jitted
core, so an eager call is dispatched by ``jax.jit`` (the ``custom_jvp`` sits inside it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from actlab.activations._kinks import piecewise_slope
from actlab.activations._precision import upcast
from actlab.activations._validate import check_kink_grad, check_range, floating_array
from actlab.checks import message


def _fixed_kinks(
    value: Callable[[jax.Array], jax.Array], kinks: Sequence[float], slopes: Sequence[float]
) -> Callable[..., jax.Array]:
    """A jitted ``f(x, *grad_at_kinks)`` for a function whose kinks and slopes are constants."""

    @jax.custom_jvp
    def f(x, *at_kinks):
        return value(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        x, *at_kinks = primals
        return f(x, *at_kinks), piecewise_slope(x, kinks, slopes, at_kinks) * tangents[0]

    @jax.jit
    def call(x, *at_kinks):
        return f(x, *(jnp.asarray(g, x.dtype) for g in at_kinks))

    return call


_relu = _fixed_kinks(lambda x: jnp.maximum(x, 0), kinks=(0.0,), slopes=(0.0, 1.0))
_relu6 = _fixed_kinks(lambda x: jnp.clip(x, 0, 6), kinks=(0.0, 6.0), slopes=(0.0, 1.0, 0.0))
_hard_tanh = _fixed_kinks(lambda x: jnp.clip(x, -1, 1), kinks=(-1.0, 1.0), slopes=(0.0, 1.0, 0.0))
_hard_sigmoid = _fixed_kinks(
    lambda x: jnp.clip(x + 3, 0, 6) / 6, kinks=(-3.0, 3.0), slopes=(0.0, 1 / 6, 0.0)
)
_sparse_sigmoid = _fixed_kinks(
    lambda x: (jnp.clip(x, -1, 1) + 1) / 2, kinks=(-1.0, 1.0), slopes=(0.0, 0.5, 0.0)
)


def _two_kink_grads(fn: str, grad_at_kinks: float | tuple[float, float], high: float):
    pair = np.broadcast_to(np.asarray(grad_at_kinks, dtype=np.float64), (2,))
    check_range(fn, "grad_at_kinks", pair, 0.0, high)
    return float(pair[0]), float(pair[1])


def identity(x: ArrayLike) -> jax.Array:
    r"""Identity: :math:`f(x) = x`. Derivative 1 everywhere; a network of identities is affine.

    Args:
      x: input array, any shape and floating dtype.

    Returns:
      ``x`` as a JAX array.
    """
    return floating_array(x, "identity")


def relu(x: ArrayLike, *, grad_at_zero: float = 0.0) -> jax.Array:
    r"""Rectified linear unit: :math:`\max(x, 0)`.

    The derivative is 0 for ``x < 0`` and 1 for ``x > 0``; at exactly ``x == 0`` it is
    ``grad_at_zero``.

    Args:
      x: input array, any shape and floating dtype.
      grad_at_zero: derivative used at ``x == 0``; any value in the subdifferential ``[0, 1]``.
        Default 0, as ``jax.nn.relu`` and PyTorch (``jnp.maximum(x, 0)`` differentiates to 0.5).
        On the CPU, XLA reads subnormal inputs as zero, so ``x = +-1e-40`` (float32) gets it too.

    Returns:
      An array of the shape and dtype of ``x``.

    Example:
      >>> jax.grad(lambda x: relu(x, grad_at_zero=1.0))(0.0)
      Array(1., dtype=float32, weak_type=True)

    References:
      Bertoin et al., "Numerical influence of ReLU'(0) on backpropagation", NeurIPS 2021.
    """
    x = floating_array(x, "relu")
    check_range("relu", "grad_at_zero", grad_at_zero, 0.0, 1.0)
    return _relu(x, grad_at_zero)


def relu6(x: ArrayLike, *, grad_at_kinks: float | tuple[float, float] = 0.0) -> jax.Array:
    r"""ReLU capped at 6: :math:`\min(\max(x, 0), 6)`.

    Args:
      x: input array, any shape and floating dtype.
      grad_at_kinks: derivatives used at ``x == 0`` and ``x == 6``; one value for both or a pair,
        each in ``[0, 1]``. Default 0 at both (as ``jax.nn.relu6`` and PyTorch).

    Returns:
      An array of the shape and dtype of ``x``.
    """
    x = floating_array(x, "relu6")
    return _relu6(x, *_two_kink_grads("relu6", grad_at_kinks, 1.0))


def hard_tanh(x: ArrayLike, *, grad_at_kinks: float | tuple[float, float] = 0.0) -> jax.Array:
    r"""Hard tanh: :math:`\min(\max(x, -1), 1)`.

    Args:
      x: input array, any shape and floating dtype.
      grad_at_kinks: derivatives used at ``x == -1`` and ``x == 1``; one value or a pair, each in
        ``[0, 1]``. Default 0 at both (PyTorch's choice; ``jax.nn.hard_tanh`` gives 1).

    Returns:
      An array of the shape and dtype of ``x``.
    """
    x = floating_array(x, "hard_tanh")
    return _hard_tanh(x, *_two_kink_grads("hard_tanh", grad_at_kinks, 1.0))


def hard_sigmoid(x: ArrayLike, *, grad_at_kinks: float | tuple[float, float] = 0.0) -> jax.Array:
    r"""Hard sigmoid: :math:`\mathrm{relu6}(x + 3) / 6`.

    Args:
      x: input array, any shape and floating dtype.
      grad_at_kinks: derivatives used at ``x == -3`` and ``x == 3``; one value or a pair, each in
        ``[0, 1/6]``. Default 0 at both (as ``jax.nn.hard_sigmoid`` and PyTorch).

    Returns:
      An array of the shape and dtype of ``x``.
    """
    x = floating_array(x, "hard_sigmoid")
    return _hard_sigmoid(x, *_two_kink_grads("hard_sigmoid", grad_at_kinks, 1 / 6))


def sparse_sigmoid(x: ArrayLike, *, grad_at_kinks: float | tuple[float, float] = 0.0) -> jax.Array:
    r"""Sparse sigmoid: 0 for ``x <= -1``, :math:`(x + 1)/2` on ``[-1, 1]``, 1 for ``x >= 1``.

    The derivative of :func:`sparse_plus` (Blondel et al., Fenchel-Young losses, section 6.2).

    Args:
      x: input array, any shape; integer and bool input is promoted to the default float.
      grad_at_kinks: derivatives used at ``x == -1`` and ``x == 1``; one value or a pair, each
        in ``[0, 1/2]``. Default 0 at both (``jax.nn.sparse_sigmoid``, a ``clip``, gives 1/4).

    Returns:
      An array of the shape and dtype of ``x``, in ``[0, 1]``.

    Example:
      >>> sparse_sigmoid(jnp.array([-2.0, 0.0, 0.5, 2.0]))
      Array([0.  , 0.5 , 0.75, 1.  ], dtype=float32)
    """
    x = floating_array(x, "sparse_sigmoid")
    return _sparse_sigmoid(x, *_two_kink_grads("sparse_sigmoid", grad_at_kinks, 0.5))


@jax.custom_jvp
def _sparse_plus(x, at_low, at_high):
    inside = (jnp.clip(x, -1, 1) + 1) ** 2 / 4
    return jnp.where(x >= 1, x, inside)


@_sparse_plus.defjvp
def _sparse_plus_jvp(primals, tangents):
    x, at_low, at_high = primals
    return _sparse_plus(x, at_low, at_high), _sparse_sigmoid(x, at_low, at_high) * tangents[0]


@jax.jit
def _sparse_plus_call(x, at_low, at_high):
    return upcast(_sparse_plus)(x, at_low, at_high)  # quadratic: half precision in float32


def sparse_plus(x: ArrayLike) -> jax.Array:
    r"""Sparse plus: 0 for ``x <= -1``, :math:`(x + 1)^2 / 4` on ``[-1, 1]``, ``x`` for ``x >= 1``.

    The sparse twin of softplus: convex, monotone and continuously differentiable (no kinks),
    with derivative :func:`sparse_sigmoid`. Only the second derivative jumps, at -1 and 1; it is
    taken as 0 there (``sparse_sigmoid``'s default).

    Args:
      x: input array, any shape; integer and bool input is promoted to the default float.

    Returns:
      An array of the shape and dtype of ``x``, in ``[0, inf]``.

    References:
      Blondel, Martins and Niculae, "Learning with Fenchel-Young losses", JMLR 2020.
    """
    return _sparse_plus_call(floating_array(x, "sparse_plus"), 0.0, 0.0)


@jax.custom_jvp
def _hard_silu(x, at_low, at_high):
    return jnp.where(x <= -3, 0, x * (jnp.clip(x + 3, 0, 6) / 6))  # 0, not NaN, at -inf


@_hard_silu.defjvp
def _hard_silu_jvp(primals, tangents):
    x, at_low, at_high = primals
    middle = (2 * x + 3) / 6  # x/3 + 1/2 with one rounding: 2x + 3 is exact near the root -3/2
    slope = piecewise_slope(x, (-3.0, 3.0), (0.0, middle, 1.0), (at_low, at_high))
    return _hard_silu(x, at_low, at_high), slope * tangents[0]


@jax.jit
def _hard_silu_call(x, at_low, at_high):
    return upcast(_hard_silu)(x, at_low, at_high)  # quadratic: half precision in float32


HARD_SILU_KINK_INTERVALS = ((-0.5, 0.0), (1.0, 1.5))


def hard_silu(x: ArrayLike, *, grad_at_kinks: tuple[float, float] = (0.0, 1.0)) -> jax.Array:
    r"""Hard SiLU / hard swish: :math:`x \, \mathrm{hard\_sigmoid}(x) = x\,\mathrm{relu6}(x + 3)/6`.

    The derivative is 0 for ``x < -3``, :math:`x/3 + 1/2` on ``(-3, 3)`` and 1 for ``x > 3``; it
    jumps at both ends (from 0 to -1/2 at -3, from 3/2 to 1 at 3).

    Args:
      x: input array, any shape; integer and bool input is promoted to the default float.
      grad_at_kinks: the pair of derivatives used at ``x == -3`` and ``x == 3``, in ``[-1/2, 0]``
        and ``[1, 3/2]``. Default ``(0, 1)``, the outer slopes, as ``jax.nn.hard_silu``
        (PyTorch's ``hardswish`` uses the inner ones, ``(-1/2, 3/2)``).

    Returns:
      An array of the shape and dtype of ``x``, in ``[-3/8, inf)``.

    References:
      Howard et al., "Searching for MobileNetV3", ICCV 2019.
    """
    x = floating_array(x, "hard_silu")
    pair = np.asarray(grad_at_kinks, dtype=np.float64)
    if pair.shape != (2,):
        raise ValueError(
            message(
                "grad_at_kinks", "a pair (at -3, at 3)", f"shape {pair.shape}", where="hard_silu"
            )
        )
    for value, (low, high) in zip(pair, HARD_SILU_KINK_INTERVALS, strict=True):
        check_range("hard_silu", "grad_at_kinks", value, low, high)
    return _hard_silu_call(x, float(pair[0]), float(pair[1]))


hard_swish = hard_silu


@jax.custom_jvp
def _leaky(x, slope, at_zero):
    return jnp.where(x > 0, x, slope * x)


@_leaky.defjvp
def _leaky_jvp(primals, tangents):
    x, slope, at_zero = primals
    x_dot, slope_dot, _ = tangents
    dx = piecewise_slope(x, (0.0,), (slope, 1.0), (at_zero,))
    return _leaky(x, slope, at_zero), dx * x_dot + jnp.where(x > 0, 0, x) * slope_dot


@jax.jit
def _leaky_call(x, slope, at_zero):
    slope = jnp.broadcast_to(jnp.asarray(slope, x.dtype), x.shape)
    at_zero = jnp.broadcast_to(jnp.asarray(at_zero, x.dtype), x.shape)
    return _leaky(x, slope, at_zero)


def leaky_relu(
    x: ArrayLike, negative_slope: ArrayLike = 0.01, *, grad_at_zero: ArrayLike | None = None
) -> jax.Array:
    r"""Leaky ReLU: ``x`` if ``x > 0`` else ``negative_slope * x``.

    Args:
      x: input array, any shape and floating dtype.
      negative_slope: slope for ``x < 0``; a finite scalar (may be traced, e.g. under ``vmap``).
      grad_at_zero: derivative used at ``x == 0``, in ``[min(negative_slope, 1),
        max(negative_slope, 1)]``. Default: ``negative_slope`` (the left derivative, PyTorch's
        choice; ``jax.nn.leaky_relu`` uses 1).

    Returns:
      An array of the shape and dtype of ``x``. ``negative_slope`` is differentiable.
    """
    x = floating_array(x, "leaky_relu")
    if jnp.ndim(negative_slope) != 0:
        raise ValueError(
            message(
                "negative_slope",
                "a scalar (prelu takes per-unit slopes)",
                f"shape {jnp.shape(negative_slope)}",
                where="leaky_relu",
            )
        )
    check_range("leaky_relu", "negative_slope", negative_slope)
    at_zero = negative_slope if grad_at_zero is None else grad_at_zero
    check_kink_grad("leaky_relu", "grad_at_zero", at_zero, negative_slope, 1.0)
    return _leaky_call(x, negative_slope, at_zero)


def prelu(x: ArrayLike, slope: ArrayLike, *, grad_at_zero: ArrayLike | None = None) -> jax.Array:
    r"""Parametric ReLU (He et al. 2015): ``x`` if ``x > 0`` else ``slope * x``, slope learnable.

    Args:
      x: input array, shape ``(..., features)`` or any shape, floating dtype.
      slope: array broadcastable to ``x.shape`` (a scalar, or ``(features,)`` per unit);
        differentiated like any other argument.
      grad_at_zero: derivative used at ``x == 0``, elementwise in ``[min(slope, 1), max(slope, 1)]``.
        Default: ``slope`` (the left derivative).

    Returns:
      An array of the shape and dtype of ``x``.

    References:
      He et al., "Delving deep into rectifiers", ICCV 2015.
    """
    x = floating_array(x, "prelu")
    try:
        shape = np.broadcast_shapes(jnp.shape(slope), x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            message(
                "slope",
                f"a shape that broadcasts to x's shape {x.shape}",
                f"shape {jnp.shape(slope)}",
                where="prelu",
            )
        )
    check_range("prelu", "slope", slope)
    at_zero = slope if grad_at_zero is None else grad_at_zero
    check_kink_grad("prelu", "grad_at_zero", at_zero, slope, 1.0)
    return _leaky_call(x, slope, at_zero)
