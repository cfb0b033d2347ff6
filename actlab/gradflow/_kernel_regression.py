r"""Infinite-width predictors: what a wide network trained by gradient flow, or a wide Bayesian
network, predicts, from its kernels alone (Lee et al. 2019).

Targets ``y`` are ``(n,)`` (regression) or ``(n, k)`` (``k`` outputs; classification as
regression with :func:`one_hot_targets`, the class is the argmax of the prediction).

* **NNGP posterior mean** (exact Bayesian inference with a Gaussian likelihood of variance
  ``diag_reg``): ``K(x*, X) (K(X, X) + diag_reg I)^{-1} y``.
* **NTK gradient flow** on the loss ``0.5 * mean((f(X) - y)^2)`` (the mean over all ``n k``
  entries, neural-tangents' convention; ``t`` is learning rate times steps): in the infinite-width
  limit the network's outputs move with the constant kernel ``Theta``,
  ``df/dt = -Theta (f(X) - y) / (n k)``, so

  .. math:: f_t(x^*) = f_0(x^*) + \Theta(x^*, X)\, \Theta^{-1}
            \big(I - e^{-\Theta t / (n k)}\big) (y - f_0(X)),

  which at ``t = inf`` is kernel regression with the NTK. ``f_0 = 0`` (the default) is the mean
  over random initialisations; pass a network's initial outputs to predict that network.

Both are computed from the eigendecomposition of the (symmetric) training kernel; eigenvalues
below zero (rounding) are taken as zero.

References:
  Lee, Xiao, Schoenholz, Bahri, Novak, Sohl-Dickstein, Pennington. Wide neural networks of any
  depth evolve as linear models under gradient descent. NeurIPS 2019.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.checks import integer, message, number, show
from actlab.gradflow._kernels import kernels

__all__ = [
    "Predictions",
    "infinite_width_predict",
    "nngp_posterior_mean",
    "ntk_predictor",
    "one_hot_targets",
]


class Predictions(NamedTuple):
    """Infinite-width predictions on test inputs.

    Attributes:
      nngp: NNGP posterior mean, shaped like one row of the targets per test input.
      ntk: NTK gradient-flow prediction at time ``t`` (``t.shape`` leading axes if ``t`` is an
        array).
    """

    nngp: jax.Array
    ntk: jax.Array


def _check(k_train: ArrayLike, k_test: ArrayLike, y: ArrayLike, where: str):
    k_train, k_test, y = jnp.asarray(k_train), jnp.asarray(k_test), jnp.asarray(y)
    n = k_train.shape[0] if k_train.ndim == 2 else None
    if n is None or k_train.shape != (n, n):
        raise ValueError(message("k_train", "a square (n, n) kernel", f"shape {k_train.shape}",
                                 where=where))  # fmt: skip
    if k_test.ndim != 2 or k_test.shape[1] != n:
        raise ValueError(message("k_test", f"shape (n_test, {n}) (test x train)",
                                 f"shape {k_test.shape}", where=where))  # fmt: skip
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(message("y_train", f"shape ({n},) or ({n}, k)", f"shape {y.shape}",
                                 where=where))  # fmt: skip
    dtype = jnp.result_type(k_train.dtype, k_test.dtype, y.dtype, jnp.float32)
    return k_train.astype(dtype), k_test.astype(dtype), y.astype(dtype)


def _spectral(k_train: jax.Array, k_test: jax.Array, y: jax.Array, gain) -> jax.Array:
    """``k_test V diag(gain(lambda)) V^T y`` for ``k_train = V diag(lambda) V^T``; ``gain`` maps
    the eigenvalues ``(n,)`` to ``(..., n)``."""
    eigenvalues, vectors = jnp.linalg.eigh(k_train)
    eigenvalues = jnp.maximum(eigenvalues, 0.0)
    coefficients = vectors.T @ y.reshape(y.shape[0], -1)  # (n, k)
    gains = gain(eigenvalues)  # (..., n)
    weights = gains[..., None] * coefficients.reshape((1,) * (gains.ndim - 1) + coefficients.shape)
    out = jnp.einsum("an,...nk->...ak", k_test @ vectors, weights)  # (..., n_test, k)
    return out.reshape(*out.shape[:-1], *y.shape[1:])


def nngp_posterior_mean(
    k_train: ArrayLike, k_test: ArrayLike, y_train: ArrayLike, *, diag_reg: float = 0.0
) -> jax.Array:
    r"""The Gaussian-process posterior mean ``K(x*, X) (K(X, X) + diag_reg I)^{-1} y``.

    Args:
      k_train: ``(n, n)`` kernel of the training inputs.
      k_test: ``(n_test, n)`` kernel between test and training inputs.
      y_train: ``(n,)`` or ``(n, k)`` targets.
      diag_reg: observation noise variance added to the diagonal, ``>= 0``.

    Returns:
      ``(n_test,)`` or ``(n_test, k)`` predictions.

    Example:
      >>> k = jnp.array([[2.0, 1.0], [1.0, 2.0]])
      >>> nngp_posterior_mean(k, k, jnp.array([1.0, -1.0]))  # interpolates the training data
      Array([ 1., -1.], dtype=float32)
    """
    where = "nngp_posterior_mean"
    k_train, k_test, y = _check(k_train, k_test, y_train, where)
    diag_reg = number(diag_reg, "diag_reg", low=0.0, where=where)
    return _spectral(k_train, k_test, y, lambda lam: 1.0 / (lam + diag_reg))


def ntk_predictor(
    ntk_train: ArrayLike,
    ntk_test: ArrayLike,
    y_train: ArrayLike,
    *,
    t: ArrayLike = math.inf,
    diag_reg: float = 0.0,
    f0_train: ArrayLike | None = None,
    f0_test: ArrayLike | None = None,
) -> jax.Array:
    r"""The infinite-width network's prediction after gradient flow for time ``t``.

    Args:
      ntk_train: ``(n, n)`` NTK of the training inputs.
      ntk_test: ``(n_test, n)`` NTK between test and training inputs.
      y_train: ``(n,)`` or ``(n, k)`` targets.
      t: training time (learning rate times steps on ``0.5 * mean squared error``), ``>= 0``; a
        scalar or an array of times; ``inf`` (the default) for the converged network.
      diag_reg: added to the diagonal of ``ntk_train`` (ridge), ``>= 0``.
      f0_train, f0_test: the network's outputs at initialisation on the training and test inputs
        (shaped like ``y_train`` and the result); zero (the mean over initialisations) if omitted.

    Returns:
      ``t.shape + (n_test,)`` or ``t.shape + (n_test, k)`` predictions.

    Example:
      >>> theta = jnp.array([[2.0, 1.0], [1.0, 2.0]])
      >>> y = jnp.array([1.0, -1.0])
      >>> ntk_predictor(theta, theta, y, t=jnp.array([0.0, jnp.inf])).round(4)  # untrained, converged
      Array([[ 0.,  0.],
             [ 1., -1.]], dtype=float32)
    """
    where = "ntk_predictor"
    ntk_train, ntk_test, y = _check(ntk_train, ntk_test, y_train, where)
    diag_reg = number(diag_reg, "diag_reg", low=0.0, where=where)
    try:  # checked when concrete (a traced t is the caller's to check)
        negative = bool(np.any(~(np.asarray(t, np.float64) >= 0)))
    except jax.errors.TracerArrayConversionError:
        negative = False
    if negative:
        raise ValueError(message("t", "times >= 0 (inf allowed)", show(t), where=where))
    t = jnp.asarray(t, y.dtype)
    f0_y = jnp.zeros_like(y) if f0_train is None else jnp.asarray(f0_train, y.dtype)
    if f0_y.shape != y.shape:
        raise ValueError(message("f0_train", f"shape {y.shape} (as y_train)",
                                 f"shape {f0_y.shape}", where=where))  # fmt: skip
    rate = t[..., None] / y.size  # (..., 1): time over the loss normalisation

    def gain(lam: jax.Array) -> jax.Array:
        lam = jnp.reshape(lam + diag_reg, (1,) * t.ndim + lam.shape)
        decay = -jnp.expm1(-lam * rate)  # 1 - e^{-lambda t / (n k)}
        safe = jnp.where(lam > 0, lam, 1.0)
        return jnp.where(lam > 0, decay / safe, rate)  # the lambda -> 0 limit is t / (n k)

    moved = _spectral(ntk_train, ntk_test, y - f0_y, gain)
    if f0_test is None:
        return moved
    f0_test = jnp.asarray(f0_test, y.dtype)
    expected = (ntk_test.shape[0], *y.shape[1:])
    if f0_test.shape != expected:
        raise ValueError(message("f0_test", f"shape {expected}", f"shape {f0_test.shape}",
                                 where=where))  # fmt: skip
    return jnp.reshape(f0_test, (1,) * t.ndim + f0_test.shape) + moved  # one per time


def one_hot_targets(labels: ArrayLike, classes: int) -> jax.Array:
    """Regression targets for classification: one-hot rows minus ``1 / classes`` (zero mean, as
    the prior of the outputs).

    Args:
      labels: ``(n,)`` integer labels in ``[0, classes)``.
      classes: number of classes, ``>= 2``.

    Returns:
      ``(n, classes)`` float32 targets; the predicted class is the argmax of a prediction.

    Example:
      >>> one_hot_targets(jnp.array([0, 1]), 2)
      Array([[ 0.5, -0.5],
             [-0.5,  0.5]], dtype=float32)
    """
    classes = integer(classes, "classes", minimum=2, where="one_hot_targets")
    return jax.nn.one_hot(jnp.asarray(labels), classes) - 1.0 / classes


def infinite_width_predict(
    act: A.ActivationLike,
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_test: ArrayLike,
    *,
    depth: int,
    sigma_w2: float,
    sigma_b2: float,
    t: ArrayLike = math.inf,
    diag_reg: float = 0.0,
    kinks: Sequence[float] = (),
) -> Predictions:
    """NNGP posterior mean and NTK gradient-flow prediction of an infinitely wide MLP.

    The kernels are :func:`actlab.gradflow.kernels` (same arguments); the predictors are
    :func:`nngp_posterior_mean` and :func:`ntk_predictor` (with ``f_0 = 0``).

    Args:
      act, depth, sigma_w2, sigma_b2, kinks: the network, as for :func:`kernels`.
      x_train: ``(n, d)`` training inputs; ``y_train``: ``(n,)`` or ``(n, k)`` targets.
      x_test: ``(n_test, d)`` test inputs.
      t, diag_reg: as for :func:`ntk_predictor` (``diag_reg`` is also the NNGP noise variance).

    Returns:
      :class:`Predictions`.

    Example:
      >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
      >>> p = infinite_width_predict("relu", x[:2], jnp.array([1.0, -1.0]), x,
      ...                            depth=2, sigma_w2=2.0, sigma_b2=0.0)
      >>> p.ntk.shape, [round(float(v), 4) for v in p.ntk[:2]]
      ((3,), [1.0, -1.0])
    """
    arguments = {"depth": depth, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2, "kinks": kinks}
    train = kernels(act, x_train, **arguments)
    test = kernels(act, x_test, x_train, **arguments)
    return Predictions(
        nngp_posterior_mean(train.nngp, test.nngp, y_train, diag_reg=diag_reg),
        ntk_predictor(train.ntk, test.ntk, y_train, t=t, diag_reg=diag_reg),
    )
