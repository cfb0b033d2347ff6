r"""Activation transforms for depth: Deep Kernel Shaping (DKS) and Tailored Activation
Transformation (TAT) for plain MLPs.

A plain MLP of ``depth`` hidden layers, weights ``W ~ N(0, 1 / fan_in)`` (``sigma_w2 = 1``), no
biases, inputs with ``||x||^2 / d = 1``, propagates the squared length ``q`` of a pre-activation
vector and the correlation ``c`` of two of them through each layer by the local maps

.. math:: Q(q) = \mathbb{E}_z[\hat\phi(\sqrt{q} z)^2], \qquad
          C(c) = \mathbb{E}[\hat\phi(u_1) \hat\phi(u_2)], \quad
          (u_1, u_2) \sim N\big(0, \begin{pmatrix}1 & c\\ c & 1\end{pmatrix}\big)

(``C`` is the correlation map when ``Q(1) = 1``). The network's map is the ``depth``-fold
composition ``C_f = C \circ \dots \circ C``; a deep network is trainable when ``C_f`` stays far
from the constant map ``c -> 1`` (Martens et al. 2021).

**DKS** transforms ``phi`` into :math:`\hat\phi(x) = \gamma\,(\phi(\alpha x + \beta) + \delta)`
so that, for ``z ~ N(0, 1)``:

* ``Q(1) = E[phi_hat(z)^2] = 1`` (``gamma``): the length stays at 1 through every layer;
* ``C(0) = E[phi_hat(z)]^2 = 0`` (``delta = -E[phi(alpha z + beta)]``): orthogonal inputs stay
  orthogonal;
* ``C_f'(1) = C'(1)^depth = zeta``, with ``C'(1) = E[phi_hat'(z)^2]``: the slope of the whole
  network's map at ``c = 1``, a measure of how far it is from linear (``zeta = 1``: linear;
  large: degenerate);
* ``Q'(1) = E[phi_hat(z) phi_hat'(z) z] = 1`` (the "Q slope" condition, Stein's lemma form of
  ``d/dq E[phi_hat(sqrt(q) z)^2]`` at ``q = 1``): lengths away from 1 return slowly and stably.

``delta`` and ``gamma`` follow from ``alpha, beta`` in closed form; ``(log alpha, beta)`` solve
the last two equations (``scipy.optimize.root``, Powell's hybrid method with the exact Jacobian
from JAX, then Newton steps), all expectations by actlab's quadrature (composite Gauss-Legendre
in float64, split at the images of the kinks; see :mod:`actlab.gradflow._quadrature`).

**TAT** for leaky ReLU (Zhang et al. 2022) keeps the function positively homogeneous and chooses
its negative slope ``a``: :math:`\hat\phi(x) = \sqrt{2 / (1 + a^2)}\,\mathrm{lrelu}_a(x)` has
``Q(q) = q`` for every ``q``, and the local C map in closed form

.. math:: C(c) = \frac{2 a c + (1 - a)^2 k(c)}{1 + a^2}, \qquad
          k(c) = \frac{\sqrt{1 - c^2} + (\pi - \arccos c)\, c}{\pi}

(Cho and Saul's arc-cosine kernel). ``a`` is the root of ``C_f(0) = eta`` on ``[0, 1]``
(``C_f(0)`` falls from its ReLU value at ``a = 0`` to 0 at ``a = 1``, where ``phi_hat`` is
linear), found by ``scipy.optimize.brentq``.

References:
  Martens, Ballard, Desjardins, Swirszcz, Dalibard, Sohl-Dickstein, Schoenholz. Rapid training of
  deep neural networks without skip connections or normalization layers using Deep Kernel
  Shaping. arXiv:2110.01765, 2021.
  Zhang, Botev, Martens. Deep learning without shortcuts: shaping the kernel with tailored
  rectifiers. ICLR 2022.
  Cho, Saul. Kernel methods for deep learning. NeurIPS 2009.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from scipy import optimize

from actlab import activations as A
from actlab.checks import integer, message, number, show
from actlab.gradflow._quadrature import _U_BREAKS, _line_nodes

__all__ = [
    "CONDITION_TOL",
    "DKSTransform",
    "ShapedActivation",
    "TATTransform",
    "dks_transform",
    "leaky_relu_c_map",
    "tat_transform",
]

#: Every condition of a returned transform holds to this absolute error (else ``ValueError``).
CONDITION_TOL = 1e-10
#: ``(alpha, beta)`` starting points of the DKS search, tried in this order.
_STARTS = tuple((a, b) for a in (1.0, 0.3, 0.1, 0.03) for b in (0.0, 0.5, -0.5, 1.0, -1.0, 2.0))


@dataclasses.dataclass(frozen=True)
class ShapedActivation:
    r"""``x -> gamma * (base(alpha * x + beta) + delta)``: an elementwise activation.

    Usable wherever actlab takes an activation (``MLP(activation=...)``, :class:`MeanField`,
    ``jit``/``vmap``/``grad``); frozen and hashable, so it can be a static argument. The constants
    are Python floats, so the output keeps the input's dtype.

    Attributes:
      base: the activation transformed (a callable; usually from ``actlab.activations.get``).
      alpha, beta: input scale (``> 0``) and shift.
      gamma, delta: output scale and shift (``delta`` is added before scaling).
      kinks: where the derivative jumps, in this function's own input (``(k - beta) / alpha``
        for each kink ``k`` of ``base``); read by :class:`MeanField` for its quadrature panels.
      label: a short name for plots and messages.
    """

    base: Callable[[jax.Array], jax.Array]
    alpha: float = 1.0
    beta: float = 0.0
    gamma: float = 1.0
    delta: float = 0.0
    kinks: tuple[float, ...] = ()
    label: str = ""

    def __call__(self, x: ArrayLike) -> jax.Array:
        return self.gamma * (self.base(self.alpha * x + self.beta) + self.delta)

    @property
    def __name__(self) -> str:  # MeanField and plots name activations by __name__
        return self.label or repr(self)


class DKSTransform(NamedTuple):
    """The result of :func:`dks_transform`.

    Attributes:
      activation: the transformed activation, a :class:`ShapedActivation`.
      alpha, beta, gamma, delta: its constants, ``phi_hat(x) = gamma (phi(alpha x + beta) + delta)``.
      depth, zeta: the targets met: ``C'(1)^depth = zeta``.
      conditions: the achieved values, by the solver's quadrature: ``q_value`` (``Q(1)``, target
        1), ``c_zero`` (``C(0)``, target 0), ``q_slope`` (``Q'(1)``, target ``q_slope``),
        ``c_slope`` (``C'(1)``, target ``zeta ** (1 / depth)``), ``network_c_slope``
        (``C'(1) ** depth``, target ``zeta``).
    """

    activation: ShapedActivation
    alpha: float
    beta: float
    gamma: float
    delta: float
    depth: int
    zeta: float
    conditions: Mapping[str, float]


class TATTransform(NamedTuple):
    """The result of :func:`tat_transform`.

    Attributes:
      activation: ``sqrt(2 / (1 + a^2)) * leaky_relu(x, a)``, a :class:`ShapedActivation`.
      negative_slope: ``a``.
      gamma: the output scale ``sqrt(2 / (1 + a^2))``.
      depth, eta: the targets met: ``C_f(0) = eta``.
      conditions: ``q_value`` (``Q(1)``, 1), ``q_slope`` (``Q'(1)``, 1), ``c_zero`` (local
        ``C(0)``), ``network_c_zero`` (``C_f(0)``, target ``eta``), ``network_c_slope``
        (``C_f'(1)``), all in closed form.
    """

    activation: ShapedActivation
    negative_slope: float
    gamma: float
    depth: int
    eta: float
    conditions: Mapping[str, float]


# ----------------------------------------------------------------------------- DKS


def _kinks_of(act: Any, kinks: Sequence[float]) -> np.ndarray:
    registered = A.describe(act)
    known = A.spec(registered.name).kinks if registered is not None else getattr(act, "kinks", ())
    extra = np.asarray(kinks, dtype=float).ravel()
    if not np.all(np.isfinite(extra)):
        raise ValueError(
            message("kinks", "finite numbers", show(list(kinks)), where="dks_transform")
        )
    return np.unique(np.concatenate([np.asarray(known, float), extra]))


@functools.lru_cache(maxsize=64)
def _dks_statistics(phi: Callable[[jax.Array], jax.Array], kinks: tuple[float, ...]):
    """A jitted ``(log alpha, beta) -> [gamma, delta, Q(1), C(0), Q'(1), C'(1)]`` for ``phi``.

    ``Q``, ``C`` are those of ``phi_hat`` with ``gamma, delta`` set for ``Q(1) = 1``, ``C(0) = 0``;
    panel edges at the images ``(p - beta) / alpha`` of the kinks and bends ``p`` of ``phi``.
    """
    points = np.concatenate([np.asarray(kinks, float), _U_BREAKS])

    def statistics(params: jax.Array) -> jax.Array:
        alpha, beta = jnp.exp(params[0]), params[1]
        z, w = _line_nodes((points - beta) / alpha, jnp.float64(1.0))
        y, dy = jax.jvp(phi, (alpha * z + beta,), (alpha * jnp.ones_like(z),))
        mean = w @ y
        gamma = 1.0 / jnp.sqrt(w @ (y - mean) ** 2)
        h, dh = gamma * (y - mean), gamma * dy
        return jnp.stack([gamma, -mean, w @ h**2, (w @ h) ** 2, w @ (h * dh * z), w @ dh**2])

    return jax.jit(statistics), jax.jit(jax.jacfwd(statistics))


def dks_transform(
    act: A.ActivationLike,
    depth: int,
    *,
    zeta: float = 1.5,
    q_slope: float = 1.0,
    kinks: Sequence[float] = (),
) -> DKSTransform:
    r"""The DKS transform of ``act`` for a plain MLP of ``depth`` hidden layers.

    Finds :math:`\hat\phi(x) = \gamma(\phi(\alpha x + \beta) + \delta)` with ``Q(1) = 1``,
    ``C(0) = 0``, ``Q'(1) = q_slope`` and ``C'(1)^depth = zeta`` (see the module docstring), for
    weights ``N(0, 1 / fan_in)``, no biases and inputs of ``||x||^2 / d = 1``.

    Args:
      act: a registry name, an activation from ``actlab.activations.get``, or an elementwise
        callable (with a ``kinks`` attribute or ``kinks=`` for accuracy if it has kinks).
      depth: hidden layers (nonlinear layers), ``>= 1``.
      zeta: target slope ``C_f'(1)`` of the network's C map, ``> 1`` (1.5 in the paper).
      q_slope: target local ``Q'(1)``, ``> 0`` (1 in the paper).
      kinks: extra kink locations of ``act``, in its own input.

    Returns:
      A :class:`DKSTransform`; its conditions hold to ``CONDITION_TOL``.

    Raises:
      ValueError: ``depth < 1``, ``zeta <= 1``, ``q_slope <= 0``, or no ``(alpha, beta)`` found
        from any starting point (e.g. ``identity``, whose ``C'(1)`` is always 1, or ``relu``,
        whose input scale is absorbed by ``gamma``).

    Example:
      >>> t = dks_transform("tanh", depth=20, zeta=1.5)
      >>> round(t.conditions["network_c_slope"], 9), round(t.conditions["q_value"], 9)
      (1.5, 1.0)
    """
    where = "dks_transform"
    depth = integer(depth, "depth", minimum=1, where=where)
    zeta = number(zeta, "zeta", low=1.0, low_open=True, where=where)
    q_slope = number(q_slope, "q_slope", low=0.0, low_open=True, where=where)
    phi = A.resolve(act, where=where)
    all_kinks = _kinks_of(phi, kinks)
    local_slope = zeta ** (1.0 / depth)
    targets = np.array([q_slope, local_slope])
    with jax.enable_x64(True):
        statistics, jacobian = _dks_statistics(phi, tuple(all_kinks.tolist()))

        def residual(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            params = jnp.asarray(p, jnp.float64)
            values = np.asarray(statistics(params))[4:] - targets
            return values, np.asarray(jacobian(params))[4:]

        solution = None
        for alpha0, beta0 in _STARTS:
            found = _solve(residual, np.array([math.log(alpha0), beta0]))
            if found is not None:
                solution = found
                break
        if solution is None:
            raise ValueError(
                message("act", f"an activation whose transform can reach C'(1) = {local_slope:.6g} "
                        f"(zeta={zeta:g} over depth {depth}) with Q'(1) = {q_slope:g}",
                        f"{_label(phi)}, for which no (alpha, beta) was found from "
                        f"{len(_STARTS)} starting points", where=where)
            )  # fmt: skip
        gamma, delta, q_value, c_zero, q_got, c_got = (
            float(v) for v in np.asarray(statistics(jnp.asarray(solution)))
        )
    alpha, beta = math.exp(solution[0]), float(solution[1])
    shaped = ShapedActivation(
        base=phi, alpha=alpha, beta=beta, gamma=gamma, delta=delta,
        kinks=tuple(float((k - beta) / alpha) for k in all_kinks),
        label=f"DKS {_label(phi)}",
    )  # fmt: skip
    conditions = {
        "q_value": q_value,
        "c_zero": c_zero,
        "q_slope": q_got,
        "c_slope": c_got,
        "network_c_slope": c_got**depth,
    }
    return DKSTransform(shaped, alpha, beta, gamma, delta, depth, zeta, conditions)


def _solve(
    residual: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], start: np.ndarray
) -> np.ndarray | None:
    """A root of ``residual`` from ``start`` (hybrid method, then Newton), or ``None``."""
    with np.errstate(all="ignore"):
        try:
            result = optimize.root(
                residual, start, jac=True, method="hybr", options={"xtol": 1e-14}
            )
        except (ValueError, FloatingPointError):
            return None
        p = result.x
        for _ in range(4):  # polish: hybr stops on its step size, not on the residual
            value, jac = residual(p)
            if not np.all(np.isfinite(value)) or not np.all(np.isfinite(jac)):
                return None
            if np.max(np.abs(value)) <= 1e-15:
                break
            try:
                p = p - np.linalg.solve(jac, value)
            except np.linalg.LinAlgError:
                return None
        value, _ = residual(p)
    if not np.all(np.isfinite(value)) or np.max(np.abs(value)) > CONDITION_TOL:
        return None
    if not np.all(np.isfinite(p)) or abs(p[0]) > 50.0:  # alpha outside [e^-50, e^50]
        return None
    return p


def _label(act: Any) -> str:
    registered = A.describe(act)
    if registered is not None:
        return repr(registered) if registered.params else registered.name
    return getattr(act, "__name__", repr(act))


# ----------------------------------------------------------------------------- TAT


def _arccos_kernel(c: float) -> float:
    return (math.sqrt(max(0.0, 1.0 - c * c)) + (math.pi - math.acos(c)) * c) / math.pi


def leaky_relu_c_map(c: float, negative_slope: float) -> float:
    r"""Local C map of leaky ReLU with slope ``a``, normalised (``Q(1) = 1``):
    ``(2 a c + (1 - a)^2 k(c)) / (1 + a^2)``, ``k`` the arc-cosine kernel.

    Args:
      c: input correlation in ``[-1, 1]``.
      negative_slope: ``a``, any real.

    Example:
      >>> round(leaky_relu_c_map(0.0, 0.0), 6)  # ReLU: 1 / pi
      0.31831
    """
    c = number(c, "c", low=-1.0, high=1.0, where="leaky_relu_c_map")
    a = number(negative_slope, "negative_slope", where="leaky_relu_c_map")
    return (2.0 * a * c + (1.0 - a) ** 2 * _arccos_kernel(c)) / (1.0 + a * a)


def _deep_c_zero(a: float, depth: int) -> float:
    c = 0.0
    for _ in range(depth):
        c = min(1.0, leaky_relu_c_map(c, a))
    return c


def tat_transform(depth: int, *, eta: float = 0.9) -> TATTransform:
    r"""TAT for leaky ReLU: the negative slope ``a`` with ``C_f(0) = eta`` after ``depth`` layers.

    The activation is ``sqrt(2 / (1 + a^2)) * leaky_relu(x, a)``: ``Q(q) = q`` for every ``q``, so
    ``Q(1) = 1`` and ``Q'(1) = 1``; the network's C map, the ``depth``-fold composition of
    :func:`leaky_relu_c_map`, sends orthogonal inputs to correlation ``eta``.

    Args:
      depth: hidden layers, ``>= 1``.
      eta: target ``C_f(0)``, in ``(0, C_relu^depth(0))``: the ReLU network (``a = 0``) gives the
        largest value reachable with ``a`` in ``[0, 1]`` (``1 / pi`` at depth 1).

    Returns:
      A :class:`TATTransform` (``network_c_zero`` equals ``eta`` to about ``1e-15``).

    Raises:
      ValueError: ``depth < 1``, or ``eta`` outside the reachable interval (naming it).

    Example:
      >>> t = tat_transform(50, eta=0.9)
      >>> 0.0 < t.negative_slope < 1.0, round(t.conditions["network_c_zero"], 12)
      (True, 0.9)
    """
    where = "tat_transform"
    depth = integer(depth, "depth", minimum=1, where=where)
    eta = number(eta, "eta", where=where)
    ceiling = _deep_c_zero(0.0, depth)
    if not 0.0 < eta < ceiling:
        raise ValueError(
            message("eta", f"a value in (0, {ceiling:.12g}) (the upper end: the ReLU network of "
                    f"depth {depth}, negative slope 0)", show(eta), where=where)
        )  # fmt: skip
    slope = optimize.brentq(
        lambda a: _deep_c_zero(a, depth) - eta, 0.0, 1.0, xtol=1e-300, rtol=1e-15, maxiter=500
    )
    gamma = math.sqrt(2.0 / (1.0 + slope * slope))
    base = A.get("leaky_relu", negative_slope=float(slope))
    shaped = ShapedActivation(base=base, gamma=gamma, kinks=(0.0,), label="TAT leaky_relu")
    local_slope = (2.0 * slope + (1.0 - slope) ** 2) / (1.0 + slope**2)  # k'(1) = 1: always 1
    conditions = {
        "q_value": gamma**2 * (1.0 + slope**2) / 2.0,
        "q_slope": gamma**2 * (1.0 + slope**2) / 2.0,
        "c_zero": leaky_relu_c_map(0.0, slope),
        "network_c_zero": _deep_c_zero(slope, depth),
        "network_c_slope": local_slope**depth,
    }
    return TATTransform(shaped, float(slope), gamma, depth, eta, conditions)
