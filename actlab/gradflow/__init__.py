"""Gradient flow in deep networks: measurements on networks and batches, and mean-field theory.

Measurements take a *network*, an :class:`actlab.models.MLP` or hidden layers ``[(W, b), ...]``
with ``activation=`` (:data:`actlab.models.Network`):

- :func:`signals`, :func:`stack_signals`: per-layer forward and backward signals and gradient
  norms (:class:`Signals`);
- :func:`jacobian_spectrum`: singular values of the input-output Jacobian
  (:class:`JacobianSpectrum`);
- :func:`unit_stats`, :func:`ensemble_unit_stats`: dead, sparse, saturated units
  (:class:`UnitStats`).

Theory for any activation (a name, an activation from ``actlab.activations.get``, or a callable):
:class:`MeanField` and its one-call forms (:func:`q_star`, :func:`chi1`, :func:`correlation_map`,
:func:`critical_sigma_w2`, ...), :func:`mean_field_numbers`, and :func:`phase_diagram`; the
infinite-width kernels of an MLP, :func:`nngp` and :func:`ntk` (both at once: :func:`kernels`),
beside the measured one, :func:`empirical_ntk`; and what infinitely wide networks predict,
:func:`nngp_posterior_mean`, :func:`ntk_predictor` (both from inputs: :func:`infinite_width_predict`).

Activations shaped for depth: :func:`dks_transform` (Deep Kernel Shaping: ``gamma (phi(alpha x +
beta) + delta)`` with ``Q(1) = 1``, ``C(0) = 0``, ``Q'(1) = 1`` and ``C'(1)^depth = zeta``;
:class:`DKSTransform`) and :func:`tat_transform` (TAT for leaky ReLU: the negative slope with
``C_f(0) = eta``; :class:`TATTransform`, :func:`leaky_relu_c_map`), each giving a
:class:`ShapedActivation` usable as any activation.
"""

from actlab.gradflow._empirical_ntk import empirical_ntk
from actlab.gradflow._functional import (
    c_star,
    chi1,
    chi_c,
    correlation_map,
    critical_sigma_w2,
    length_map,
    mean_field_numbers,
    phase,
    q_star,
    xi_c,
    xi_q,
)
from actlab.gradflow._jacobian import JacobianSpectrum, jacobian_spectrum
from actlab.gradflow._kernel_regression import (
    Predictions,
    infinite_width_predict,
    nngp_posterior_mean,
    ntk_predictor,
    one_hot_targets,
)
from actlab.gradflow._kernels import Kernels, kernels, nngp, ntk
from actlab.gradflow._meanfield import PHASE_TOL, DivergenceError, MeanField
from actlab.gradflow._phase_diagram import PhaseDiagram, phase_diagram
from actlab.gradflow._signals import Signals, signals, stack_signals
from actlab.gradflow._transforms import (
    CONDITION_TOL,
    DKSTransform,
    ShapedActivation,
    TATTransform,
    dks_transform,
    leaky_relu_c_map,
    tat_transform,
)
from actlab.gradflow._units import SATURATION_THRESHOLD, UnitStats, ensemble_unit_stats, unit_stats

__all__ = [
    "CONDITION_TOL",
    "PHASE_TOL",
    "SATURATION_THRESHOLD",
    "DKSTransform",
    "DivergenceError",
    "JacobianSpectrum",
    "Kernels",
    "MeanField",
    "PhaseDiagram",
    "Predictions",
    "ShapedActivation",
    "Signals",
    "TATTransform",
    "UnitStats",
    "c_star",
    "chi1",
    "chi_c",
    "correlation_map",
    "critical_sigma_w2",
    "dks_transform",
    "empirical_ntk",
    "ensemble_unit_stats",
    "infinite_width_predict",
    "jacobian_spectrum",
    "kernels",
    "leaky_relu_c_map",
    "length_map",
    "mean_field_numbers",
    "nngp",
    "nngp_posterior_mean",
    "ntk",
    "ntk_predictor",
    "one_hot_targets",
    "phase",
    "phase_diagram",
    "q_star",
    "signals",
    "stack_signals",
    "tat_transform",
    "unit_stats",
    "xi_c",
    "xi_q",
]
