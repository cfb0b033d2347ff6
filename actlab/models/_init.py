"""Weight and bias initializers set by the mean-field variances ``sigma_w2`` and ``sigma_b2``.

An initializer is a function ``init(key, shape, dtype) -> Array`` (the ``jax.nn.initializers``
protocol). Kernels follow the Flax convention: shape ``(fan_in, fan_out)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from actlab.checks import message, number, one_of, show

__all__ = ["INIT_SCHEMES", "Initializer", "bias_init", "default_sigma_w2", "kernel_init"]

Initializer = Callable[..., jax.Array]
"""``init(key, shape, dtype=jnp.float32) -> Array``."""

INIT_SCHEMES = ("he", "glorot", "lecun", "orthogonal")
_DEFAULT_SIGMA_W2 = {"he": 2.0, "lecun": 1.0, "orthogonal": 1.0}


def default_sigma_w2(init: str) -> float:
    """The weight variance times fan-in of a Gaussian or orthogonal scheme: 2 for ``"he"``, 1 for
    ``"lecun"`` and ``"orthogonal"``.

    Raises:
      ValueError: ``"glorot"`` (its variance depends on both fans) or an unknown scheme.

    Example:
      >>> default_sigma_w2("he")
      2.0
    """
    one_of(init, "init", tuple(_DEFAULT_SIGMA_W2), where="default_sigma_w2")
    return _DEFAULT_SIGMA_W2[init]


def kernel_init(init: str | Initializer = "he", sigma_w2: float | None = None) -> Initializer:
    r"""The kernel initializer for a scheme name and weight variance.

    - ``"he"``: :math:`W_{ij} \sim N(0, \sigma_w^2 / \text{fan\_in})`, default ``sigma_w2 = 2``
      (He et al. 2015; critical for ReLU).
    - ``"lecun"``: the same Gaussian with default ``sigma_w2 = 1``.
    - ``"orthogonal"``: :math:`W = \sqrt{\sigma_w^2}\, Q` with ``Q`` a random (semi-)orthogonal
      matrix, default ``sigma_w2 = 1`` (Saxe et al. 2014); for a square kernel the entries then
      have variance ``sigma_w2 / fan_in`` too.
    - ``"glorot"``: uniform with variance ``2 / (fan_in + fan_out)`` (Glorot and Bengio 2010); its
      variance is fixed, so ``sigma_w2`` must stay ``None``.
    - a callable ``init(key, shape, dtype)``: used as given; ``sigma_w2`` must stay ``None``.

    Gaussian schemes are untruncated, so mean-field predictions apply exactly.

    Args:
      init: scheme name or initializer.
      sigma_w2: weight variance times fan-in, ``> 0``; ``None`` for the scheme's default.

    Returns:
      An initializer ``(key, shape, dtype) -> Array``.

    Example::

        >>> w = kernel_init("he", sigma_w2=1.5)(jax.random.key(0), (512, 256))
        >>> round(float(w.var() * 512), 1)
        1.5
    """
    if callable(init) and not isinstance(init, str):
        if sigma_w2 is not None:
            raise ValueError(
                message("sigma_w2", "None with a custom initializer (sigma_w2 sets the schemes "
                        "'he', 'lecun' and 'orthogonal')", show(sigma_w2), where="kernel_init")
            )  # fmt: skip
        return init
    if init not in INIT_SCHEMES:
        listed = ", ".join(repr(s) for s in INIT_SCHEMES)
        raise ValueError(
            message("init", f"one of {listed} or an initializer", show(init), where="kernel_init")
        )
    if init == "glorot":
        if sigma_w2 is not None:
            raise ValueError(
                message("sigma_w2", "None with init='glorot', whose variance is fixed at "
                        "2 / (fan_in + fan_out) (use 'he' or 'lecun' to set it)", show(sigma_w2),
                        where="kernel_init")
            )  # fmt: skip
        return jax.nn.initializers.glorot_uniform()
    scale = (
        _DEFAULT_SIGMA_W2[init]
        if sigma_w2 is None
        else number(sigma_w2, "sigma_w2", low=0.0, low_open=True, where="kernel_init")
    )
    if init == "orthogonal":
        return jax.nn.initializers.orthogonal(scale=math.sqrt(scale))
    return jax.nn.initializers.variance_scaling(scale, "fan_in", "normal")


def bias_init(sigma_b2: float = 0.0) -> Initializer:
    r"""Biases :math:`b_i \sim N(0, \sigma_b^2)`; zeros when ``sigma_b2 == 0``.

    Args:
      sigma_b2: bias variance, ``>= 0``.

    Returns:
      An initializer ``(key, shape, dtype) -> Array``.
    """
    sigma_b2 = number(sigma_b2, "sigma_b2", low=0.0, where="bias_init")
    if sigma_b2 == 0:
        return jax.nn.initializers.zeros
    std = math.sqrt(sigma_b2)

    def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        return std * jax.random.normal(key, shape, dtype)

    return init
