r"""Infinite-width kernels of an MLP: the NNGP kernel and the neural tangent kernel (NTK).

The network is neural-tangents' ``stax.serial`` of ``depth`` pairs ``Dense(W_std=sqrt(sigma_w2),
b_std=sqrt(sigma_b2))``, activation, then a scalar read-out ``Dense`` with the same stds, in the
NTK parameterisation (``z = sqrt(sigma_w2 / fan_in) h @ omega + sqrt(sigma_b2) beta`` with
``omega, beta ~ N(0, 1)`` the trained parameters). As every width goes to infinity the output is
a Gaussian process with kernel ``K`` (NNGP; Neal 1996, Lee et al. 2018), and gradient flow on it
is kernel gradient flow with the constant kernel ``Theta`` (NTK; Jacot et al. 2018):

.. math::
   K^1(x, x') = \sigma_w^2 \frac{x \cdot x'}{d} + \sigma_b^2, \qquad \Theta^1 = K^1,

   K^{l+1} = \sigma_w^2\, \mathbb{E}[\phi(u)\phi(v)] + \sigma_b^2, \qquad
   \Theta^{l+1} = K^{l+1} + \sigma_w^2\, \mathbb{E}[\phi'(u)\phi'(v)]\, \Theta^l,

with ``(u, v)`` centred Gaussian of covariance ``[[K^l(x, x), K^l(x, x')], [K^l(x, x'),
K^l(x', x')]]``; :func:`nngp` and :func:`ntk` return ``K^{depth+1}`` and ``Theta^{depth+1}``.
With a common variance ``q*`` on the diagonal, ``K^{l+1} / q*`` is the correlation map of
:mod:`actlab.gradflow._meanfield`.

**Closed forms** (exact, any variances): ``phi(x) = x`` for ``x > 0`` and ``a x`` otherwise
(relu, leaky_relu, prelu with a scalar slope, identity), by the arc-cosine kernel (Cho and Saul
2009): ``E[phi(u) phi(v)] = a K + (1 - a)^2 sqrt(q q') k_1(c) / 2`` and ``E[phi' phi'] = a + (1 -
a)^2 (pi - arccos c) / (2 pi)``; and ``jax.scipy.special.erf`` (or ``jax.lax.erf``) by Williams'
arcsine kernel. **Every other activation** is integrated by the composite Gauss-Legendre rules of
:mod:`actlab.gradflow._quadrature` (split at the kinks, so kinked activations are as accurate as
smooth ones; errors below ``1e-13`` in float64), one bivariate quadrature per input pair and layer
(about 5e5 evaluations of ``phi`` and ``phi'``: about 10 ms per pair and layer on one CPU core).
For inputs of one first-layer variance (on a sphere) every layer's map is one function of the
correlation: it is integrated at ``ANGLE_NODES`` angles ``arccos c`` and interpolated by
Chebyshev polynomials, smooth in the angle even at kinks (``method="interpolate"``, chosen
automatically for many pairs of such inputs). Measured against the per-pair quadrature in float64,
depth 3, for relu6, hard_tanh, selu, gelu, tanh and softsign: below ``6e-14`` (with 33 angles,
errors up to ``2e-7`` for hard_tanh; 129 are used).

Everything is traceable: ``jax.jit`` or ``jax.vmap`` a function of the inputs that calls these
(the activation, ``depth``, ``sigma_w2`` and ``sigma_b2`` are Python values). The computation runs
in the inputs' dtype (float64 inputs under ``jax.enable_x64`` for full accuracy).

References:
  Neal. Bayesian learning for neural networks. 1996.
  Lee, Bahri, Novak, Schoenholz, Pennington, Sohl-Dickstein. Deep neural networks as Gaussian
  processes. ICLR 2018.
  Jacot, Gabriel, Hongler. Neural tangent kernel. NeurIPS 2018.
  Novak et al. Neural Tangents: fast and easy infinite neural networks in Python. ICLR 2020.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from actlab import activations as A
from actlab.checks import floating_batch, integer, message, number, one_of, show
from actlab.gradflow import _quadrature as Q
from actlab.gradflow._meanfield import _negative_slope

__all__ = ["METHODS", "Kernels", "kernels", "nngp", "ntk"]

#: How a layer map without a closed form is evaluated: see :func:`kernels`.
METHODS = ("auto", "pairs", "interpolate")

#: Input pairs integrated at once by the quadrature (memory: about 20 MB per pair in float64).
PAIRS_PER_BATCH = 8
#: Chebyshev points in the angle ``arccos c`` of the interpolated layer map (equal variances).
ANGLE_NODES = 129
#: Inputs count as of equal variance when their first-layer variances differ by at most this
#: (relative) in float64, and ``1e-6`` in lower precision.
EQUAL_RTOL = 1e-12


class Kernels(NamedTuple):
    """The infinite-width kernels of one network on two sets of inputs.

    Attributes:
      nngp: ``(n1, n2)`` NNGP kernel ``K`` of the scalar read-out.
      ntk: ``(n1, n2)`` neural tangent kernel ``Theta`` of the scalar read-out.
    """

    nngp: jax.Array
    ntk: jax.Array


@dataclasses.dataclass(frozen=True)
class _Dual:
    """What one layer's kernel map needs to know about the activation (hashable: a jit key)."""

    act: Callable[[jax.Array], jax.Array]
    kinks: tuple[float, ...]
    points: tuple[float, ...]
    slope: float | None  # two-slope closed form
    erf: bool  # arcsine closed form

    def value_and_slope(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return jax.jvp(self.act, (x,), (jnp.ones_like(x),))


def _dual(act: A.ActivationLike, kinks: Sequence[float], where: str) -> _Dual:
    fn = A.resolve(act, where=where)
    registered = A.describe(fn)
    slope, known = None, ()
    if registered is not None:
        slope = _negative_slope(registered.name, dict(registered.params))
        known = A.spec(registered.name).kinks
    extra = np.asarray(kinks, dtype=float).ravel()
    if not np.all(np.isfinite(extra)):
        raise ValueError(message("kinks", "finite numbers", show(list(kinks)), where=where))
    all_kinks = np.unique(np.concatenate([[0.0], np.asarray(known, float), extra]))
    points = np.concatenate([all_kinks, Q._U_BREAKS])
    is_erf = fn is jax.scipy.special.erf or fn is jax.lax.erf
    return _Dual(fn, tuple(all_kinks.tolist()), tuple(points.tolist()), slope, is_erf)


def _arccos_terms(a: float, q1: jax.Array, q2: jax.Array, k: jax.Array):
    """``E[phi(u) phi(v)]``, ``E[phi'(u) phi'(v)]`` for ``phi = x (x > 0), a x (x <= 0)``."""
    scale = jnp.sqrt(q1 * q2)
    c = jnp.clip(k / jnp.where(scale > 0, scale, 1.0), -1.0, 1.0)
    theta = jnp.arccos(c)
    arccos1 = (jnp.sqrt(1.0 - c * c) + (math.pi - theta) * c) / math.pi
    values = a * k + (1.0 - a) ** 2 * scale * arccos1 / 2.0
    slopes = a + (1.0 - a) ** 2 * (math.pi - theta) / (2.0 * math.pi)
    return values, slopes


def _erf_terms(q1: jax.Array, q2: jax.Array, k: jax.Array):
    """Williams' arcsine kernel of ``erf`` and the kernel of its derivative."""
    norm = (1.0 + 2.0 * q1) * (1.0 + 2.0 * q2)
    values = 2.0 / math.pi * jnp.arcsin(jnp.clip(2.0 * k / jnp.sqrt(norm), -1.0, 1.0))
    slopes = 4.0 / math.pi / jnp.sqrt(norm - 4.0 * k * k)
    return values, slopes


def _second_moment(dual: _Dual, q: jax.Array) -> jax.Array:
    """``E[phi(sqrt(q) z)^2]`` for each variance in ``q`` (1-D)."""
    if dual.slope is not None:
        return q * (1.0 + dual.slope**2) / 2.0
    if dual.erf:
        return 2.0 / math.pi * jnp.arcsin(2.0 * q / (1.0 + 2.0 * q))
    points = jnp.asarray(dual.points, q.dtype)
    return jax.vmap(lambda v: Q.line_moments(dual.value_and_slope, points, v)[0])(q)


def _pair_terms(dual: _Dual, q1: jax.Array, q2: jax.Array, c: jax.Array) -> jax.Array:
    """``(m, 2)`` quadratures ``[E phi(u) phi(v), E phi'(u) phi'(v)]`` for ``m`` pairs given by
    ``(m,)`` variances ``q1, q2`` and correlations ``c``."""
    points, kinks = jnp.asarray(dual.points, c.dtype), jnp.asarray(dual.kinks, c.dtype)

    def one_pair(args):
        return Q.pair_cross(dual.value_and_slope, points, kinks, *args)[:2]

    return jax.lax.map(one_pair, (q1, q2, c), batch_size=PAIRS_PER_BATCH)


def _angle_interpolation(dual: _Dual, q: jax.Array, c: jax.Array):
    """The layer map at one common variance ``q``, as a function of the angle ``arccos c``:
    quadratures at ``ANGLE_NODES`` Chebyshev points of ``[0, pi]`` (ends included, so ``c = +-1``
    are exact), then Clenshaw's recurrence for every entry of ``c``.

    In the angle the layer map is smooth up to both ends even for kinked activations (ReLU's is
    ``(sin t + (pi - t) cos t) / pi``, while in ``c`` it has a square-root singularity at 1), so
    the interpolant converges spectrally (see the module docstring for measured errors)."""
    m = ANGLE_NODES - 1
    nodes = np.cos(np.pi * np.arange(m + 1) / m)  # Chebyshev points in s = 1 - 2 t / pi
    angles = jnp.asarray(np.pi * (1.0 - nodes) / 2.0, c.dtype)
    table = _pair_terms(dual, jnp.full((m + 1,), q), jnp.full((m + 1,), q), jnp.cos(angles))
    # coefficients a_k of sum_k a_k T_k(s) through the m + 1 points (a discrete cosine transform)
    ends = np.ones(m + 1)
    ends[[0, -1]] = 0.5
    transform = (
        2.0 / m * ends[None, :] * np.cos(np.pi * np.outer(np.arange(m + 1), np.arange(m + 1)) / m)
    )
    transform[[0, -1]] *= 0.5
    coefficients = jnp.asarray(transform, c.dtype) @ table  # (m + 1, 2)
    s = 1.0 - 2.0 * jnp.arccos(c) / np.pi

    def step(carry, a):
        b1, b2 = carry
        return (a[:, None, None] + 2.0 * s[None] * b1 - b2, b1), None

    zero = jnp.zeros((2, *c.shape), c.dtype)
    (b1, b2), _ = jax.lax.scan(step, (zero, zero), coefficients[:0:-1])
    out = coefficients[0][:, None, None] + s[None] * b1 - b2
    return out[0], out[1]


def _cross_terms(
    dual: _Dual, q1: jax.Array, q2: jax.Array, k: jax.Array, symmetric: bool, common: bool
):
    """``E[phi(u) phi(v)]`` and ``E[phi'(u) phi'(v)]``, each ``(n1, n2)``, for ``(u, v)`` of
    variances ``q1 (n1, 1)``, ``q2 (1, n2)`` and covariance ``k (n1, n2)`` (``symmetric``: ``k``
    is, and so are the results; ``common``: every variance is the same)."""
    if dual.slope is not None:
        return _arccos_terms(dual.slope, q1, q2, k)
    if dual.erf:
        return _erf_terms(q1, q2, k)
    q1, q2 = jnp.broadcast_to(q1, k.shape), jnp.broadcast_to(q2, k.shape)
    scale = jnp.sqrt(q1 * q2)
    c = jnp.clip(k / jnp.where(scale > 0, scale, 1.0), -1.0, 1.0)
    if symmetric:  # q / sqrt(q q) can round to 1 - 1e-16, where kinked maps have slope ~1e8
        c = jnp.where(jnp.eye(k.shape[0], dtype=bool), 1.0, c)
    if common:
        return _angle_interpolation(dual, q1[0, 0], c)
    # one quadrature per pair; a symmetric kernel integrates its upper triangle and mirrors it
    rows, cols = np.triu_indices(k.shape[0]) if symmetric else np.indices(k.shape).reshape(2, -1)
    sums = _pair_terms(dual, q1[rows, cols], q2[rows, cols], c[rows, cols])
    out = jnp.zeros((2, *k.shape), k.dtype).at[:, rows, cols].set(sums.T)
    if symmetric:
        out = out.at[:, cols, rows].set(sums.T)
    return out[0], out[1]


@functools.partial(jax.jit, static_argnames=("dual", "depth", "symmetric", "common"))
def _propagate(dual, depth, symmetric, common, x1, x2, sigma_w2, sigma_b2) -> Kernels:
    d = x1.shape[1]
    q1 = sigma_w2 * jnp.sum(x1 * x1, axis=1) / d + sigma_b2
    q2 = sigma_w2 * jnp.sum(x2 * x2, axis=1) / d + sigma_b2
    if common:  # one variance for all: every layer's map is one function of the correlation
        mean = (jnp.sum(q1) + jnp.sum(q2)) / (q1.size + q2.size)
        q1, q2 = jnp.full_like(q1, mean), jnp.full_like(q2, mean)
    k = sigma_w2 * (x1 @ x2.T) / d + sigma_b2
    eye = jnp.eye(k.shape[0], dtype=bool) if symmetric else None
    if symmetric:  # exact diagonal: c = 1 there, not 1 - 1e-16
        k = jnp.where(eye, q1[:, None], k)
    theta = k
    for _ in range(depth):
        values, slopes = _cross_terms(dual, q1[:, None], q2[None, :], k, symmetric, common)
        new_q1 = sigma_w2 * _second_moment(dual, q1) + sigma_b2
        new_q2 = new_q1 if symmetric else sigma_w2 * _second_moment(dual, q2) + sigma_b2
        k = sigma_w2 * values + sigma_b2
        if symmetric:
            k = jnp.where(eye, new_q1[:, None], k)
        theta = k + sigma_w2 * slopes * theta
        q1, q2 = new_q1, new_q2
    return Kernels(k, theta)


def kernels(
    act: A.ActivationLike,
    x1: ArrayLike,
    x2: ArrayLike | None = None,
    *,
    depth: int,
    sigma_w2: float,
    sigma_b2: float,
    kinks: Sequence[float] = (),
    method: str = "auto",
) -> Kernels:
    r"""The NNGP kernel and the NTK of a ``depth``-hidden-layer MLP between two sets of inputs.

    See the module docstring for the convention (neural-tangents' NTK parameterisation) and the
    recursions.

    Args:
      act: a registry name, an activation from ``actlab.activations.get``, or an elementwise
        callable (``jax.scipy.special.erf`` has a closed form).
      x1: ``(n1, d)`` inputs.
      x2: ``(n2, d)`` inputs; ``None`` for ``x1`` (then the kernels are exactly symmetric).
      depth: number of hidden layers (activations), ``>= 1``.
      sigma_w2: weight variance, ``> 0``.
      sigma_b2: bias variance, ``>= 0``.
      kinks: where a plain callable's derivative jumps, besides 0 (registry activations know
        theirs); needed for accuracy only.
      method: for activations without a closed form: ``"pairs"``, one bivariate quadrature per
        input pair and layer (any inputs; milliseconds per pair); ``"interpolate"``, for inputs
        of one first-layer variance (e.g. on a sphere; unequal ones are replaced by their mean):
        every layer's map is then one function of the correlation, integrated at
        ``ANGLE_NODES`` angles and interpolated (seconds for any number of pairs);
        ``"auto"`` (default): ``"interpolate"`` when concrete inputs have equal variances
        (``EQUAL_RTOL``) and there are more than ``2 * ANGLE_NODES`` pairs, else ``"pairs"``.

    Returns:
      :class:`Kernels` ``(nngp, ntk)``, each ``(n1, n2)``, in the inputs' dtype.

    Raises:
      ValueError: ``depth < 1``, inputs that are not ``(n, d)`` batches with the same ``d``,
        variances out of range, an unknown activation.

    Example:
      >>> from actlab.gradflow import kernels
      >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> k = kernels("relu", x, depth=1, sigma_w2=2.0, sigma_b2=0.0)
      >>> k.nngp  # 2 * E[relu(u) relu(v)] at q = 1: 1 on the diagonal, 1 / pi off it
      Array([[1.        , 0.31830987],
             [0.31830987, 1.        ]], dtype=float32)
      >>> k.ntk  # K^2 + sigma_w2 E[relu' relu'] K^1 = 1 + 2 * 1/2 * 1 on the diagonal
      Array([[2.        , 0.31830987],
             [0.31830987, 2.        ]], dtype=float32)
    """
    where = "kernels"
    dual = _dual(act, kinks, where)
    x1 = floating_batch(x1, "x1", where=where)
    symmetric = x2 is None
    x2 = x1 if symmetric else floating_batch(x2, "x2", features=x1.shape[1], where=where)
    depth = integer(depth, "depth", minimum=1, where=where)
    sigma_w2 = number(sigma_w2, "sigma_w2", low=0.0, low_open=True, where=where)
    sigma_b2 = number(sigma_b2, "sigma_b2", low=0.0, where=where)
    dtype = jnp.result_type(x1.dtype, x2.dtype)
    x1, x2 = x1.astype(dtype), x2.astype(dtype)
    method = one_of(method, "method", METHODS, where=where)
    common = False
    if method != "pairs" and dual.slope is None and not dual.erf:
        common = method == "interpolate" or _equal_variances(x1, x2, sigma_w2, sigma_b2)
    return _propagate(dual, depth, symmetric, common, x1, x2, dtype.type(sigma_w2),
                      dtype.type(sigma_b2))  # fmt: skip


def _equal_variances(x1: jax.Array, x2: jax.Array, sigma_w2: float, sigma_b2: float) -> bool:
    """Whether concrete inputs all have one first-layer variance (``EQUAL_RTOL``), and there are
    enough pairs for the interpolation to pay; ``False`` for traced inputs."""
    if x1.shape[0] * x2.shape[0] <= 2 * ANGLE_NODES:
        return False
    try:
        rows = np.concatenate([np.asarray(x1, np.float64), np.asarray(x2, np.float64)])
    except jax.errors.TracerArrayConversionError:
        return False
    q = sigma_w2 * np.mean(rows * rows, axis=1) + sigma_b2
    rtol = EQUAL_RTOL if x1.dtype == np.float64 else 1e-6
    return bool(np.ptp(q) <= rtol * np.max(q))


def nngp(
    act: A.ActivationLike,
    x1: ArrayLike,
    x2: ArrayLike | None = None,
    *,
    depth: int,
    sigma_w2: float,
    sigma_b2: float,
    kinks: Sequence[float] = (),
    method: str = "auto",
) -> jax.Array:
    """The ``(n1, n2)`` NNGP kernel of the scalar read-out; see :func:`kernels`.

    Example:
      >>> from actlab.gradflow import nngp
      >>> x = jnp.ones((3, 4))
      >>> nngp("tanh", x, depth=3, sigma_w2=1.5, sigma_b2=0.1).shape
      (3, 3)
    """
    return kernels(act, x1, x2, depth=depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                   kinks=kinks, method=method).nngp  # fmt: skip


def ntk(
    act: A.ActivationLike,
    x1: ArrayLike,
    x2: ArrayLike | None = None,
    *,
    depth: int,
    sigma_w2: float,
    sigma_b2: float,
    kinks: Sequence[float] = (),
    method: str = "auto",
) -> jax.Array:
    """The ``(n1, n2)`` neural tangent kernel of the scalar read-out; see :func:`kernels`.

    Example:
      >>> from actlab.gradflow import ntk
      >>> x = jnp.array([[3.0, 4.0]])
      >>> ntk("identity", x, depth=2, sigma_w2=1.0, sigma_b2=0.0)  # (depth + 1) |x|^2 / d
      Array([[37.5]], dtype=float32)
    """
    return kernels(act, x1, x2, depth=depth, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                   kinks=kinks, method=method).ntk  # fmt: skip
