"""One-call forms of the mean-field theory: each builds a :class:`MeanField` and asks it once.

For repeated queries of one activation, keep a :class:`MeanField` (it keeps its compiled
evaluators).
"""

from __future__ import annotations

from typing import Any

from actlab import activations as A
from actlab.gradflow._meanfield import PHASE_TOL, MeanField, Phase


def length_map(act: A.ActivationLike, q: float, sigma_w2: float, sigma_b2: float) -> float:
    """``V(q) = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2``; see :meth:`MeanField.length_map`.

    Example:
      >>> length_map("relu", 1.0, 2.0, 0.0)
      1.0
    """
    return MeanField(act).length_map(q, sigma_w2, sigma_b2)


def q_star(act: A.ActivationLike, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0) -> float:
    """Fixed point of the length map reached from ``q0``; see :meth:`MeanField.q_star`.

    Example:
      >>> q_star("relu", 1.0, 0.5)  # 0.5 / (1 - 1/2)
      1.0
    """
    return MeanField(act).q_star(sigma_w2, sigma_b2, q0=q0)


def chi1(act: A.ActivationLike, sigma_w2: float, sigma_b2: float) -> float:
    """``chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]``; see :meth:`MeanField.chi1`.

    Example:
      >>> chi1("relu", 2.0, 0.0)  # He initialisation is critical
      1.0
    """
    return MeanField(act).chi1(sigma_w2, sigma_b2)


def correlation_map(act: A.ActivationLike, c: float, sigma_w2: float, sigma_b2: float) -> float:
    """The correlation map ``C(c)`` at ``q*``; see :meth:`MeanField.correlation_map`.

    Example:
      >>> round(correlation_map("relu", 0.0, 2.0, 0.0), 6)  # 1 / pi
      0.31831
    """
    return MeanField(act).correlation_map(c, sigma_w2, sigma_b2)


def chi_c(act: A.ActivationLike, sigma_w2: float, sigma_b2: float, *, c: float = 1.0) -> float:
    """Slope of the correlation map at ``c`` (``chi_1`` at ``c = 1`` if ``q* > 0``); see
    ``MeanField.chi_c``."""
    return MeanField(act).chi_c(sigma_w2, sigma_b2, c=c)


def c_star(act: A.ActivationLike, sigma_w2: float, sigma_b2: float) -> float:
    """Stable fixed point of the correlation map; see :meth:`MeanField.c_star`."""
    return MeanField(act).c_star(sigma_w2, sigma_b2)


def xi_q(act: A.ActivationLike, sigma_w2: float, sigma_b2: float) -> float:
    """Depth scale ``-1 / log V'(q*)`` of the length map; see :meth:`MeanField.xi_q`."""
    return MeanField(act).xi_q(sigma_w2, sigma_b2)


def xi_c(act: A.ActivationLike, sigma_w2: float, sigma_b2: float) -> float:
    """Depth scale ``-1 / log C'(c*)`` of the correlation map; see :meth:`MeanField.xi_c`."""
    return MeanField(act).xi_c(sigma_w2, sigma_b2)


def phase(
    act: A.ActivationLike, sigma_w2: float, sigma_b2: float, *, tol: float = PHASE_TOL
) -> Phase:
    """``'ordered'``, ``'critical'`` (``|chi_1 - 1| <= tol``) or ``'chaotic'``.

    Example:
      >>> phase("tanh", 0.5, 0.0)
      'ordered'
    """
    return MeanField(act).phase(sigma_w2, sigma_b2, tol=tol)


def critical_sigma_w2(
    act: A.ActivationLike, sigma_b2: float, *, bracket: tuple[float, float] = (1e-2, 1e3)
) -> float:
    """The ``sigma_w2`` with ``chi_1 = 1``; see :meth:`MeanField.critical_sigma_w2`.

    Example:
      >>> critical_sigma_w2("relu", 0.0)
      2.0
    """
    return MeanField(act).critical_sigma_w2(sigma_b2, bracket=bracket)


def mean_field_numbers(act: A.ActivationLike, sigma_w2: float, sigma_b2: float) -> dict[str, Any]:
    """Every mean-field number at once: ``q*``, ``chi1``, ``phase``, ``xi_q``, ``xi_c`` and the
    ``critical sigma_w2`` at this ``sigma_b2``; a number that does not exist (``q*`` diverges, no
    critical point) is ``None`` with its reason under ``notes``.

    Example:
      >>> s = mean_field_numbers("relu", 2.0, 0.0)
      >>> s["chi1"], s["phase"], s["notes"]
      (1.0, 'critical', {})
    """
    mf = MeanField(act)
    values: dict[str, Any] = {"sigma_w2": sigma_w2, "sigma_b2": sigma_b2}
    notes = {}
    for name, fn in (
        ("q*", lambda: mf.q_star(sigma_w2, sigma_b2)),
        ("chi1", lambda: mf.chi1(sigma_w2, sigma_b2)),
        ("phase", lambda: mf.phase(sigma_w2, sigma_b2)),
        ("xi_q", lambda: mf.xi_q(sigma_w2, sigma_b2)),
        ("xi_c", lambda: mf.xi_c(sigma_w2, sigma_b2)),
        ("critical sigma_w2", lambda: mf.critical_sigma_w2(sigma_b2)),
    ):
        try:
            values[name] = fn()
        except ValueError as err:  # DivergenceError, no critical point, ...
            values[name], notes[name] = None, str(err)
    values["notes"] = notes
    return values
