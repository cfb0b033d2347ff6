"""Exponential linear units: ELU, SELU and CELU.

ELU with ``alpha != 1`` and SELU have a kink at 0 (the one-sided derivatives differ), so they take
``grad_at_zero`` like ReLU; CELU is continuously differentiable for every ``alpha``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from actlab.activations._kinks import piecewise_slope
from actlab.activations._precision import upcast
from actlab.activations._validate import check_kink_grad, check_range, floating_array

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@jax.custom_jvp
def _elu(x, alpha, scale, at_zero):
    negative = jnp.minimum(x, 0)
    return jnp.where(x > 0, scale * x, (scale * alpha) * jnp.expm1(negative))


@_elu.defjvp
def _elu_jvp(primals, tangents):
    x, alpha, scale, at_zero = primals
    x_dot, alpha_dot, _, _ = tangents
    negative = jnp.minimum(x, 0)
    half = jnp.exp(negative / 2)  # alpha e^x as (alpha w) w: no early underflow for alpha > 1
    left = ((scale * alpha) * half) * half
    dx = piecewise_slope(x, (0.0,), (left, scale), (at_zero,))
    dalpha = jnp.where(x > 0, 0, scale * jnp.expm1(negative))
    return _elu(x, alpha, scale, at_zero), dx * x_dot + dalpha * alpha_dot


@jax.jit
def _elu_call(x, alpha, scale, at_zero):
    return upcast(_elu)(x, alpha, scale, at_zero)


def elu(
    x: ArrayLike, alpha: ArrayLike = 1.0, *, grad_at_zero: ArrayLike | None = None
) -> jax.Array:
    r"""Exponential linear unit: ``x`` if ``x > 0`` else :math:`\alpha (e^x - 1)`.

    Args:
      x: input array, any shape and floating dtype.
      alpha: scale of the negative part, finite and ``>= 0`` (may be traced; differentiable).
      grad_at_zero: derivative used at ``x == 0``, in ``[min(alpha, 1), max(alpha, 1)]`` (a single
        point when ``alpha == 1``). Default: ``alpha``, the left derivative (as ``jax.nn.elu``
        and PyTorch).

    Returns:
      An array of the shape and dtype of ``x``.

    References:
      Clevert et al., "Fast and accurate deep network learning by exponential linear units", 2016.
    """
    x = floating_array(x, "elu")
    check_range("elu", "alpha", alpha, 0.0)
    at_zero = alpha if grad_at_zero is None else grad_at_zero
    check_kink_grad("elu", "grad_at_zero", at_zero, alpha, 1.0)
    return _elu_call(x, alpha, 1.0, at_zero)


def selu(x: ArrayLike, *, grad_at_zero: float | None = None) -> jax.Array:
    r"""Scaled ELU: :math:`\lambda x` if ``x > 0`` else :math:`\lambda\alpha(e^x - 1)`.

    With :math:`\alpha \approx 1.6733` and :math:`\lambda \approx 1.0507` (Klambauer et al. 2017),
    the self-normalising constants.

    Args:
      x: input array, any shape and floating dtype.
      grad_at_zero: derivative used at ``x == 0``, in ``[lambda, lambda * alpha]``. Default:
        ``lambda * alpha``, the left derivative (as ``jax.nn.selu`` and PyTorch).

    Returns:
      An array of the shape and dtype of ``x``.
    """
    x = floating_array(x, "selu")
    at_zero = SELU_SCALE * SELU_ALPHA if grad_at_zero is None else grad_at_zero
    check_kink_grad("selu", "grad_at_zero", at_zero, SELU_SCALE * SELU_ALPHA, SELU_SCALE)
    return _elu_call(x, SELU_ALPHA, SELU_SCALE, at_zero)


@jax.custom_jvp
def _celu(x, alpha):
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0) / alpha))


@_celu.defjvp
def _celu_jvp(primals, tangents):
    x, alpha = primals
    x_dot, alpha_dot = tangents
    scaled = jnp.minimum(x, 0) / alpha
    dx = jnp.where(x > 0, 1, jnp.exp(scaled))
    dx = jnp.where(jnp.isnan(x), jnp.nan, dx)
    dalpha = jnp.where(x > 0, 0, jnp.expm1(scaled) - scaled * jnp.exp(scaled))
    return _celu(x, alpha), dx * x_dot + dalpha * alpha_dot


@jax.jit
def _celu_call(x, alpha):
    return upcast(_celu)(x, alpha)


def celu(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""Continuously differentiable ELU: ``x`` if ``x > 0`` else :math:`\alpha(e^{x/\alpha} - 1)`.

    Args:
      x: input array, any shape and floating dtype.
      alpha: finite and ``> 0`` (may be traced; differentiable).

    Returns:
      An array of the shape and dtype of ``x``. Both one-sided derivatives at 0 equal 1.

    References:
      Barron, "Continuously differentiable exponential linear units", 2017.
    """
    x = floating_array(x, "celu")
    check_range("celu", "alpha", alpha, 0.0, low_open=True)
    return _celu_call(x, alpha)
