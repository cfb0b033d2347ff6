r"""Mean-field theory of signal propagation through wide random MLPs.

A layer computes ``z^{l+1} = phi(z^l) @ W + b`` with ``W_ij ~ N(0, sigma_w2 / fan_in)`` and
``b_j ~ N(0, sigma_b2)``. As the width grows the pre-activations of each layer become Gaussian
(Poole et al. 2016; Schoenholz et al. 2017) and two numbers describe them.

* Their variance ``q^l`` follows the *length map*

  .. math:: q^{l+1} = V(q^l) = \sigma_w^2\, \mathbb{E}_z[\phi(\sqrt{q^l} z)^2] + \sigma_b^2,
            \qquad z \sim N(0, 1),

  whose fixed point is ``q*``.
* The correlation ``c`` of the pre-activations of two inputs, both at variance ``q*``, follows the
  *correlation map*

  .. math:: C(c) = \frac{\sigma_w^2\, \mathbb{E}[\phi(u_1)\phi(u_2)] + \sigma_b^2}{q^*},
            \qquad (u_1, u_2) \sim N\big(0, q^* \begin{pmatrix}1 & c\\ c & 1\end{pmatrix}\big).

  ``C(1) = 1`` always; its slope there is ``chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]``, the factor
  by which the squared norm of the back-propagated gradient is multiplied per layer.
  ``chi_1 < 1``: the *ordered* phase (gradients vanish, all inputs become parallel, ``c* = 1``);
  ``chi_1 > 1``: the *chaotic* phase (gradients explode, a stable ``c* < 1`` appears);
  ``chi_1 = 1``: the *critical* line, the "edge of chaos".
* Depth scales: ``q^l - q*`` decays like ``exp(-l / xi_q)`` and ``c^l - c*`` like
  ``exp(-l / xi_c)``, with ``xi_q = -1 / log V'(q*)`` and ``xi_c = -1 / log C'(c*)``;
  ``xi_c`` diverges on the critical line (and where ``q* = 0``, see ``MeanField.chi_c``).

Every function takes the activation ``act`` as a registry name (``"tanh"``), an activation from
``actlab.activations.get`` (``get("leaky_relu", negative_slope=0.2)``), or any elementwise callable
on JAX arrays. ``phi'`` is the activation's own derivative (``jax.jvp``), so at a kink it is the
registry's ``grad_at_zero`` choice; ``phi'`` matters only almost everywhere (a kink has Gaussian
measure zero, and no quadrature node ever falls on one).
For :class:`MeanField` objects, which keep their compiled evaluators, repeated queries are fast; the
module-level functions build one per call.

**Closed forms.** For ``relu``, ``leaky_relu``, ``prelu`` with a scalar slope and ``identity``
(``phi(x) = x`` for ``x > 0``, ``a x`` otherwise) every expectation is exact:
``E[phi^2] = q (1 + a^2) / 2``, ``chi_1 = sigma_w2 (1 + a^2) / 2``, and
``E[phi(u_1) phi(u_2)] = q (a c + (1 - a)^2 k(c) / 2)`` with the arc-cosine kernel
``k(c) = (sqrt(1 - c^2) + (pi - arccos c) c) / pi`` (Cho and Saul 2009); these are used instead
of quadrature.

**Quadrature.** Every other expectation is computed by :mod:`actlab.gradflow._quadrature`
(composite Gauss-Legendre in float64, split at the kinks; errors below ``3e-14`` relative).

References:
  Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli. Exponential expressivity in deep neural networks
  through transient chaos. NeurIPS 2016.
  Schoenholz, Gilmer, Ganguli, Sohl-Dickstein. Deep information propagation. ICLR 2017.
  Cho, Saul. Kernel methods for deep learning. NeurIPS 2009.
  Williams. Computing with infinite networks. NeurIPS 1997.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from scipy import optimize

from actlab import activations as A
from actlab.checks import message, number, show
from actlab.gradflow._quadrature import Q_FLOOR, Expectations

Phase = Literal["ordered", "critical", "chaotic"]

#: ``|chi_1 - 1| <= PHASE_TOL`` is called critical.
PHASE_TOL = 1e-6
#: A length-map fixed point above this (times ``q0``) is reported as divergent.
Q_MAX = 1e12
#: Below this (times ``q0``), a fixed point of a map with ``V(0) = 0`` is reported as ``q* = 0``.
Q_MIN = 1e-14
#: Relative tolerance of the root finders (``scipy.optimize.brentq``'s ``rtol``).
ROOT_RTOL = 1e-13
#: Iteration limit of each ``brentq`` call; not converging raises ``RuntimeError``.
ROOT_MAXITER = 200
#: ``c*`` is resolved down to this distance from 1; closer fixed points are returned as 1.0.
C_RESOLUTION = 1e-10


class DivergenceError(ValueError):
    """The length map has no finite fixed point above the starting variance: ``q^l -> inf``."""


def _above_zero(name: str, value: object) -> float:
    return number(value, name, low=0.0, low_open=True)


def _at_least_zero(name: str, value: object) -> float:
    return number(value, name, low=0.0)


def _variances(sigma_w2: object, sigma_b2: object) -> tuple[float, float]:
    return _above_zero("sigma_w2", sigma_w2), _at_least_zero("sigma_b2", sigma_b2)


def _correlation(c: object) -> float:
    return number(c, "c", low=-1.0, high=1.0)


def _arccos_kernel(c: float) -> float:
    """Arc-cosine kernel ``(sqrt(1 - c^2) + (pi - arccos c) c) / pi = 2 E[relu(u_1) relu(u_2)]``."""
    return (math.sqrt(max(0.0, 1.0 - c * c)) + (math.pi - math.acos(c)) * c) / math.pi


def _negative_slope(name: str, params: dict) -> float | None:
    """``a`` if the activation is ``x`` for ``x > 0`` and ``a x`` otherwise, else ``None``."""
    if name == "identity":
        return 1.0
    if name == "relu":
        return 0.0
    key = {"leaky_relu": "negative_slope", "prelu": "slope"}.get(name)
    if key is None:
        return None
    slope = params.get(key, A.spec(name).params[key].default)
    return float(slope) if np.ndim(slope) == 0 else None


class MeanField:
    """Mean-field quantities of one activation, for any ``(sigma_w2, sigma_b2)``.

    Builds the compiled evaluator of ``(phi, phi')`` once; every method is a pure function of its
    arguments and returns Python floats (or a phase name).

    Args:
      act: registry name, ``actlab.activations.get(...)`` result, or an elementwise callable.
      kinks: extra kink locations of ``act`` (points where ``phi'`` jumps), used as quadrature
        panel edges; registry activations already know theirs, and so does a callable with a
        ``kinks`` attribute (a :class:`ShapedActivation`). Needed for accuracy only.

    Raises:
      ValueError: unknown name, a non-elementwise activation (softmax), or ``kinks`` not finite.
      TypeError: ``act`` neither a string nor callable.

    Example:
      >>> mf = MeanField("tanh")
      >>> round(mf.critical_sigma_w2(0.0), 6)
      1.0
      >>> mf.phase(2.0, 0.05)
      'chaotic'
    """

    def __init__(self, act: A.ActivationLike, *, kinks: Sequence[float] = ()) -> None:
        act = A.resolve(act, where="MeanField")
        registered = A.describe(act)
        if registered is not None:
            self.name = repr(registered) if registered.params else registered.name
            known_kinks = A.spec(registered.name).kinks
            self._slope = _negative_slope(registered.name, dict(registered.params))
        else:
            self.name = getattr(act, "__name__", repr(act))
            known_kinks, self._slope = tuple(getattr(act, "kinks", ())), None
        extra = np.asarray(kinks, dtype=float).ravel()
        if not np.all(np.isfinite(extra)):
            raise ValueError(
                message("kinks", "finite numbers", show(list(kinks)), where="MeanField")
            )
        self.kinks = np.unique(np.concatenate([[0.0], np.asarray(known_kinks, float), extra]))
        self._expectations = Expectations(act, self.name, self.kinks)

    def _moment_values(self, q: float) -> np.ndarray:
        return self._expectations.moments(q)

    def _cross_values(self, q: float, c: float) -> np.ndarray:
        return self._expectations.cross(q, c)

    # ----------------------------------------------------------------- length map
    def length_map(self, q: float, sigma_w2: float, sigma_b2: float) -> float:
        r"""One step of the length map, ``V(q) = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2``.

        Args:
          q: pre-activation variance of the current layer, ``>= 0``.
          sigma_w2, sigma_b2: weight and bias variances (``> 0`` and ``>= 0``).

        Returns:
          The variance of the next layer's pre-activations.
        """
        q = _at_least_zero("q", q)
        sigma_w2, sigma_b2 = _variances(sigma_w2, sigma_b2)
        if self._slope is not None:
            return sigma_w2 * q * (1.0 + self._slope**2) / 2.0 + sigma_b2
        return sigma_w2 * self._moment_values(q)[0] + sigma_b2

    def q_star(self, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0) -> float:
        r"""The fixed point ``q* = V(q*)`` reached by iterating ``q^{l+1} = V(q^l)`` from ``q0``.

        When ``V`` is increasing (every registry activation but ``sbaf``) the iterates move
        monotonically toward the nearest fixed point in the direction of ``V(q0) - q0``. That
        point is bracketed by steps of a factor 2
        (up to ``Q_MAX * q0``, down to ``max(sigma_b2, Q_MIN * q0)``; ``q* >= sigma_b2`` always)
        and refined by ``scipy.optimize.brentq`` (``rtol = ROOT_RTOL``, at most ``ROOT_MAXITER``
        iterations). If ``|V(q0) - q0| <= ROOT_RTOL * q0``, ``q0`` is returned: for ReLU at
        ``sigma_w2 = 2, sigma_b2 = 0`` every ``q`` is a fixed point.

        Args:
          sigma_w2, sigma_b2: weight and bias variances (``> 0`` and ``>= 0``).
          q0: starting variance, ``> 0``.

        Returns:
          ``q*``; ``0.0`` when the iterates decay to zero (``sigma_b2 = 0`` and ``phi(0) = 0`` in
          the ordered phase, e.g. tanh with ``sigma_w2 <= 1``).

        Raises:
          DivergenceError: (a ``ValueError``) when ``q^l`` grows without bound, e.g. ReLU with
            ``sigma_w2 > 2``, or ``sigma_w2 = 2`` and ``sigma_b2 > 0``.
          RuntimeError: if ``brentq`` does not converge.
        """
        sigma_w2, sigma_b2 = _variances(sigma_w2, sigma_b2)
        q0 = _above_zero("q0", q0)
        if self._slope is not None:
            gain = sigma_w2 * (1.0 + self._slope**2) / 2.0
            if gain < 1.0:
                return sigma_b2 / (1.0 - gain)
            if gain == 1.0 and sigma_b2 == 0.0:
                return q0
            raise DivergenceError(
                f"q* diverges for {self.name} at sigma_w2={sigma_w2}, sigma_b2={sigma_b2}: the "
                f"length map is V(q) = {gain:g} q + {sigma_b2:g}, so q^l grows without bound "
                f"(a finite q* needs sigma_w2 < {2.0 / (1.0 + self._slope**2):g}, or equality "
                "with sigma_b2 = 0)"
            )

        def gap(q: float) -> float:
            return sigma_w2 * self._moment_values(q)[0] + sigma_b2 - q

        start = gap(q0)
        if abs(start) <= ROOT_RTOL * q0:
            return q0
        if start > 0.0:
            low, high = q0, 2.0 * q0
            while gap(high) > 0.0:
                low, high = high, 2.0 * high
                if high > Q_MAX * q0:
                    raise DivergenceError(
                        f"q* diverges for {self.name} at sigma_w2={sigma_w2}, sigma_b2={sigma_b2}: "
                        f"the length map stays above the diagonal from q0={q0} to "
                        f"{Q_MAX * q0:.3g}, so q^l grows without bound"
                    )
        else:
            low, high = 0.5 * q0, q0
            floor = max(sigma_b2, Q_MIN * q0)
            while low > floor and gap(low) < 0.0:
                low, high = 0.5 * low, low
            if low <= floor:  # no sign change above the floor; q* >= sigma_b2 as V >= sigma_b2
                low = sigma_b2
                if sigma_b2 == 0.0 and sigma_w2 * self._moment_values(0.0)[0] <= Q_MIN * q0:
                    return 0.0  # V(0) = 0: the iterates decay to the fixed point at zero
        return _brentq(gap, low, high, f"q* of {self.name}")

    # ----------------------------------------------------------------- gradients, correlations
    def chi1(self, sigma_w2: float, sigma_b2: float, *, q: float | None = None) -> float:
        r"""``chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]``: per-layer growth of ``||delta||^2``.

        Args:
          sigma_w2, sigma_b2: weight and bias variances.
          q: evaluate at this pre-activation variance instead of ``q*`` (e.g. a layer that has not
            reached the fixed point yet).

        Returns:
          ``chi_1``; for two-slope activations (ReLU, leaky ReLU) exactly
          ``sigma_w2 (1 + a^2) / 2``, which does not depend on ``q`` and is returned even where
          ``q*`` diverges.

        Raises:
          DivergenceError: if ``q*`` is needed and diverges.
        """
        sigma_w2, sigma_b2 = _variances(sigma_w2, sigma_b2)
        if self._slope is not None:
            return sigma_w2 * (1.0 + self._slope**2) / 2.0
        q = self.q_star(sigma_w2, sigma_b2) if q is None else _at_least_zero("q", q)
        return sigma_w2 * self._moment_values(q)[1]

    def correlation_map(
        self, c: float, sigma_w2: float, sigma_b2: float, *, q: float | None = None
    ) -> float:
        r"""Correlation of the next layer's pre-activations for two inputs with correlation ``c``.

        ``C(c) = (sigma_w2 E[phi(u_1) phi(u_2)] + sigma_b2) / q*`` with ``u_1, u_2`` of variance
        ``q*`` and correlation ``c`` (both inputs at the fixed point). ``C(1) = 1``; for ReLU with
        ``sigma_b2 = 0`` it is the arc-cosine kernel ``(sqrt(1-c^2) + (pi - arccos c) c) / pi``.

        Args:
          c: input correlation in ``[-1, 1]``.
          sigma_w2, sigma_b2: weight and bias variances.
          q: use this common variance instead of ``q*`` (then ``C`` is divided by ``V(q)``).

        Returns:
          ``C(c)`` in ``[-1, 1]``. At ``q* = 0`` it is the limit ``q -> 0+``.
        """
        c = _correlation(c)
        sigma_w2, sigma_b2 = _variances(sigma_w2, sigma_b2)
        q = self.q_star(sigma_w2, sigma_b2) if q is None else _above_zero("q", q)
        scale = max(q, Q_FLOOR)
        if self._slope is not None:
            a = self._slope
            cross = scale * (a * c + (1.0 - a) ** 2 * _arccos_kernel(c) / 2.0)
            norm = scale * (1.0 + a * a) / 2.0
        else:
            cross = self._cross_values(scale, c)[0]
            norm = self._moment_values(scale)[0]
        return (sigma_w2 * cross + sigma_b2) / (sigma_w2 * norm + sigma_b2)

    def chi_c(
        self, sigma_w2: float, sigma_b2: float, *, c: float = 1.0, q: float | None = None
    ) -> float:
        r"""Slope of the correlation map, ``C'(c) = sigma_w2 E[phi'(u_1) phi'(u_2)] / (V(q) / q)``.

        At a fixed point ``q* > 0`` (so ``V(q*) = q*``) this is Schoenholz et al.'s
        ``chi_c = sigma_w2 E[phi'(u_1) phi'(u_2)]``, and at ``c = 1`` it equals ``chi_1``. At
        ``q* = 0`` (``sigma_b2 = 0``, ``phi(0) = 0``, ordered) the map is the limit ``q -> 0+``,
        whose slope at 1 is 1, not ``chi_1``: e.g. ReLU without bias, where ``C`` is the
        arc-cosine kernel for every ``sigma_w2``, and tanh, which becomes linear as ``q -> 0``.

        Args:
          sigma_w2, sigma_b2: weight and bias variances.
          c: correlation where the slope is taken (default 1).
          q: use this common variance instead of ``q*``.

        Returns:
          ``C'(c)``.
        """
        c = _correlation(c)
        sigma_w2, sigma_b2 = _variances(sigma_w2, sigma_b2)
        q = self.q_star(sigma_w2, sigma_b2) if q is None else _above_zero("q", q)
        scale = max(q, Q_FLOOR)
        if self._slope is not None:
            a = self._slope
            slopes = a + (1.0 - a) ** 2 * (math.pi - math.acos(c)) / (2.0 * math.pi)
            norm = scale * (1.0 + a * a) / 2.0
        else:
            slopes = self._cross_values(scale, c)[1]
            norm = self._moment_values(scale)[0]
        return sigma_w2 * slopes * scale / (sigma_w2 * norm + sigma_b2)

    def c_star(self, sigma_w2: float, sigma_b2: float, *, tol: float = PHASE_TOL) -> float:
        r"""The stable fixed point of the correlation map.

        ``1.0`` unless the phase is chaotic (``chi_1 > 1 + tol``); then the largest root of
        ``C(c) = c`` below 1, bracketed on a grid (``-1 .. 0.9`` and ``1 - 10^{-k/2}`` down to
        ``1 - C_RESOLUTION``) and refined by ``brentq``. A root within ``C_RESOLUTION`` of 1 is
        returned as ``1.0``. For odd ``phi`` and ``sigma_b2 = 0`` it is 0.

        Raises:
          DivergenceError: if ``q*`` diverges.
        """
        if self.phase(sigma_w2, sigma_b2, tol=tol) != "chaotic":
            return 1.0
        q = self.q_star(sigma_w2, sigma_b2)

        def gap(c: float) -> float:
            return self.correlation_map(c, sigma_w2, sigma_b2, q=q) - c

        near_one = 1.0 - np.geomspace(0.1, C_RESOLUTION, 19)
        grid = np.concatenate([np.linspace(-1.0, 0.9, 20), near_one])
        upper = None
        for lower in grid[::-1]:
            if gap(lower) >= 0.0:
                break
            upper = lower
        else:
            raise RuntimeError(f"c* of {self.name}: C(c) < c on the whole grid, including c = -1")
        if upper is None:
            return 1.0
        return _brentq(gap, float(lower), float(upper), f"c* of {self.name}")

    # ----------------------------------------------------------------- depth scales, phase
    def xi_q(self, sigma_w2: float, sigma_b2: float) -> float:
        r"""Depth scale of the length map, ``xi_q = -1 / log V'(q*)``.

        ``V'(q) = sigma_w2 E[phi(u) phi'(u) z] / sqrt(q)`` (Stein's lemma; equal to
        ``chi_1 + sigma_w2 E[phi phi'']`` for smooth ``phi``, and needing no second derivative).

        Returns:
          ``xi_q`` in layers; ``inf`` where ``|V'(q*)| >= 1`` (a marginal fixed point, e.g. tanh at
          ``sigma_w2 = 1, sigma_b2 = 0``), ``0.0`` where ``V'(q*) = 0``.
        """
        sigma_w2, sigma_b2 = _variances(sigma_w2, sigma_b2)
        if self._slope is not None:
            gain = sigma_w2 * (1.0 + self._slope**2) / 2.0
        else:
            gain = sigma_w2 * self._moment_values(self.q_star(sigma_w2, sigma_b2))[2]
        return _depth_scale(gain)

    def xi_c(self, sigma_w2: float, sigma_b2: float, *, tol: float = PHASE_TOL) -> float:
        r"""Depth scale of the correlation map, ``xi_c = -1 / log C'(c*)``.

        ``C'(c*) = chi_1`` in the ordered phase when ``q* > 0``; ``inf`` on the critical line
        (``|chi_1 - 1| <= tol``), where Schoenholz et al. show that arbitrarily deep networks
        remain trainable, and also where ``q* = 0`` (no bias, ``phi(0) = 0``): there ``C'(1) = 1``
        (see ``chi_c``), so correlations approach 1 slower than exponentially, or not at all.
        """
        if self.phase(sigma_w2, sigma_b2, tol=tol) == "critical":
            return math.inf
        c = self.c_star(sigma_w2, sigma_b2, tol=tol)
        return _depth_scale(self.chi_c(sigma_w2, sigma_b2, c=c))

    def phase(self, sigma_w2: float, sigma_b2: float, *, tol: float = PHASE_TOL) -> Phase:
        """The phase: ``'ordered'`` (``chi_1 < 1 - tol``), ``'chaotic'`` (``chi_1 > 1 + tol``) or
        ``'critical'``."""
        tol = _at_least_zero("tol", tol)
        chi = self.chi1(sigma_w2, sigma_b2)
        if chi < 1.0 - tol:
            return "ordered"
        if chi > 1.0 + tol:
            return "chaotic"
        return "critical"

    def critical_sigma_w2(
        self, sigma_b2: float, *, bracket: tuple[float, float] = (1e-2, 1e3)
    ) -> float:
        r"""The ``sigma_w2`` where ``chi_1 = 1`` for bias variance ``sigma_b2`` (the edge of chaos).

        Two-slope activations: exactly ``2 / (1 + a^2)`` (2 for ReLU, for any ``sigma_b2``; with
        ``sigma_b2 > 0``, ``q*`` diverges there). Otherwise the smallest crossing of 1 by
        ``chi_1`` on a geometric grid over ``bracket`` (ratio at most 1.25 between neighbours),
        refined by ``brentq``.

        Args:
          sigma_b2: bias variance, ``>= 0``.
          bracket: ``(low, high)`` search range for ``sigma_w2``.

        Returns:
          The critical ``sigma_w2`` (tanh: 1 at ``sigma_b2 = 0``, about 1.761 at 0.05).

        Raises:
          ValueError: if ``chi_1`` does not cross 1 inside ``bracket`` before ``q*`` diverges.
        """
        sigma_b2 = _at_least_zero("sigma_b2", sigma_b2)
        low, high = _above_zero("bracket[0]", bracket[0]), _above_zero("bracket[1]", bracket[1])
        if not low < high:
            raise ValueError(message("bracket", "(low, high) with low < high", show(bracket)))
        if self._slope is not None:
            return 2.0 / (1.0 + self._slope**2)

        def excess(sigma_w2: float) -> float:
            return self.chi1(sigma_w2, sigma_b2) - 1.0

        previous = None
        steps = max(2, math.ceil(math.log(high / low) / math.log(1.25)) + 1)
        for sigma_w2 in np.geomspace(low, high, steps):
            try:
                value = excess(float(sigma_w2))
            except DivergenceError as err:
                raise ValueError(
                    f"no critical sigma_w2 for {self.name} at sigma_b2={sigma_b2}: chi_1 < 1 up to "
                    f"sigma_w2={previous}, and q* diverges at sigma_w2={sigma_w2:.4g}"
                ) from err
            if value == 0.0:
                return float(sigma_w2)
            if value > 0.0:
                if previous is None:
                    raise ValueError(
                        f"chi_1 > 1 already at sigma_w2={low} for {self.name} at "
                        f"sigma_b2={sigma_b2}; lower bracket[0]"
                    )
                what = f"critical sigma_w2 of {self.name}"
                return _brentq(excess, previous, float(sigma_w2), what)
            previous = float(sigma_w2)
        raise ValueError(
            f"chi_1 < 1 for {self.name} at sigma_b2={sigma_b2} for all sigma_w2 in {bracket}"
        )


def _depth_scale(gain: float) -> float:
    gain = abs(gain)
    if gain >= 1.0:
        return math.inf
    if gain == 0.0:
        return 0.0
    return -1.0 / math.log(gain)


def _brentq(fn: Callable[[float], float], low: float, high: float, what: str) -> float:
    root, result = optimize.brentq(
        fn,
        low,
        high,
        xtol=1e-300,
        rtol=ROOT_RTOL,
        maxiter=ROOT_MAXITER,
        full_output=True,
        disp=False,
    )
    if not result.converged:
        raise RuntimeError(
            f"{what}: brentq did not converge in {ROOT_MAXITER} iterations on [{low}, {high}] "
            f"({result.flag})"
        )
    return float(root)
