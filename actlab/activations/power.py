"""Power-law activations of Saha, Bora et al.: SBAF and A-ReLU (approximate ReLU)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from actlab.activations._kinks import piecewise_slope
from actlab.activations._precision import upcast
from actlab.activations._validate import check_kink_grad, check_range, concrete, floating_array


@jax.custom_jvp
def _sbaf(x, k, alpha):
    xc = jnp.clip(x, 0, 1)
    return 1 / (1 + k * xc**alpha * (1 - xc) ** (1 - alpha))


@_sbaf.defjvp
def _sbaf_jvp(primals, tangents):
    x, k, alpha = primals
    x_dot, k_dot, alpha_dot = tangents
    inside = (x > 0) & (x < 1)
    xs = jnp.where(inside, x, 0.5)  # keeps log and division finite in the unused branch
    h = xs**alpha * (1 - xs) ** (1 - alpha)
    g = k * h
    scale = -1 / ((1 + g) * (1 + g))
    dx = jnp.where(inside, scale * g * (alpha / xs - (1 - alpha) / (1 - xs)), 0)
    dx = jnp.where(jnp.isnan(x), jnp.nan, dx)
    dk = jnp.where(inside, scale * h, 0)
    dalpha = jnp.where(inside, scale * g * (jnp.log(xs) - jnp.log1p(-xs)), 0)
    return _sbaf(x, k, alpha), dx * x_dot + dk * k_dot + dalpha * alpha_dot


@jax.jit
def _sbaf_call(x, k, alpha):
    return upcast(_sbaf)(x, k, alpha)


def sbaf(x: ArrayLike, k: ArrayLike = 1.0, alpha: ArrayLike = 0.5) -> jax.Array:
    r"""Saha-Bora activation: :math:`1 / (1 + k x^\alpha (1 - x)^{1 - \alpha})` on ``[0, 1]``.

    Outside ``[0, 1]`` the power :math:`x^\alpha` is not real. SBAF is extended there by its values
    at the ends (``x < 0`` gives ``sbaf(0)``, ``x > 1`` gives ``sbaf(1)``), so it is continuous and
    its derivative is 0 outside. At ``x = 0`` and ``x = 1`` the inward derivative is infinite for
    ``0 < alpha < 1``; the derivative used there is 0, the extension's. No branch produces a NaN
    value or gradient for finite inputs; NaN inputs propagate.

    Args:
      x: input array, any shape and floating dtype; meant for ``[0, 1]``.
      k: finite, ``>= 0`` (may be traced; differentiable).
      alpha: in ``[0, 1]`` (may be traced; differentiable).

    Returns:
      An array of the shape and dtype of ``x``, in ``(0, 1]``.

    References:
      Saha, Bora et al., "Evolution of novel activation functions in neural network training with
      applications to classification of exoplanets", 2019 (arXiv:1906.01975).
    """
    x = floating_array(x, "sbaf")
    check_range("sbaf", "k", k, 0.0)
    check_range("sbaf", "alpha", alpha, 0.0, 1.0)
    return _sbaf_call(x, k, alpha)


@jax.custom_jvp
def _arelu(x, k, n, at_zero):
    xs = jnp.where(x > 0, x, 1)
    return jnp.where(x > 0, k * xs**n, jnp.where(jnp.isnan(x), x, 0))


@_arelu.defjvp
def _arelu_jvp(primals, tangents):
    x, k, n, at_zero = primals
    x_dot, k_dot, n_dot, _ = tangents
    positive = x > 0
    xs = jnp.where(positive, x, 1)  # keeps powers and log finite in the unused branch
    power = xs**n
    dx = piecewise_slope(x, (0.0,), (0.0, k * n * xs ** (n - 1)), (at_zero,))
    dk = jnp.where(positive, power, 0)
    dn = jnp.where(positive, k * power * jnp.log(xs), 0)
    return _arelu(x, k, n, at_zero), dx * x_dot + dk * k_dot + dn * n_dot


@jax.jit
def _arelu_call(x, k, n, at_zero):
    return upcast(_arelu)(x, k, n, at_zero)


def arelu(
    x: ArrayLike, k: ArrayLike = 1.0, n: ArrayLike = 1.5, *, grad_at_zero: float = 0.0
) -> jax.Array:
    r"""Approximate ReLU (A-ReLU): :math:`k x^n` for ``x > 0``, else 0.

    For ``n > 1`` it is differentiable at 0 with derivative 0; for ``n == 1`` it is ``k`` times a
    ReLU, with a kink. ``n < 1`` is rejected: the derivative is unbounded at ``0+``.

    Args:
      x: input array, any shape and floating dtype.
      k: scale, finite and ``>= 0`` (may be traced; differentiable).
      n: exponent, finite and ``>= 1`` (may be traced; differentiable).
      grad_at_zero: derivative used at ``x == 0``: in ``[0, k]`` when ``n == 1``, else 0 (the
        derivative exists). Default 0.

    Returns:
      An array of the shape and dtype of ``x``.

    References:
      Saha, Bora et al., arXiv:1906.01975 (2019).
    """
    x = floating_array(x, "arelu")
    check_range("arelu", "k", k, 0.0)
    check_range("arelu", "n", n, 1.0)
    n_value, k_value = concrete(n), concrete(k)
    if n_value is not None and k_value is not None:
        right = k_value * (n_value == 1)
        check_kink_grad("arelu", "grad_at_zero", grad_at_zero, np.zeros_like(right), right)
    return _arelu_call(x, k, n, grad_at_zero)
