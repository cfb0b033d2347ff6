"""Gradient flow in deep networks: mean-field theory (and, later, measurements)."""

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

__all__ = [
    "PHASE_TOL",
    "DivergenceError",
    "MeanField",
    "c_star",
    "chi1",
    "chi_c",
    "correlation_map",
    "critical_sigma_w2",
    "length_map",
    "phase",
    "q_star",
    "xi_c",
    "xi_q",
]
