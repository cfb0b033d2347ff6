"""Gradient flow in deep networks: measurements on networks and batches, and mean-field theory."""

from actlab.gradflow.jacobian import JacobianSpectrum, jacobian_spectrum, layer_jacobian_spectrum
from actlab.gradflow.signals import (
    Signals,
    layer_signals,
    signals,
    stack_signals,
    switch_activation,
)
from actlab.gradflow.theory import (
    PHASE_TOL,
    DivergenceError,
    MeanField,
    c_star,
    chi1,
    chi_c,
    correlation_map,
    critical_sigma_w2,
    length_map,
    phase,
    q_star,
    xi_c,
    xi_q,
)
from actlab.gradflow.units import SATURATION_THRESHOLD, UnitStats, ensemble_unit_stats, unit_stats

__all__ = [
    "PHASE_TOL",
    "SATURATION_THRESHOLD",
    "DivergenceError",
    "JacobianSpectrum",
    "MeanField",
    "Signals",
    "UnitStats",
    "c_star",
    "chi1",
    "chi_c",
    "correlation_map",
    "critical_sigma_w2",
    "ensemble_unit_stats",
    "jacobian_spectrum",
    "layer_jacobian_spectrum",
    "layer_signals",
    "length_map",
    "phase",
    "q_star",
    "signals",
    "stack_signals",
    "switch_activation",
    "unit_stats",
    "xi_c",
    "xi_q",
]
