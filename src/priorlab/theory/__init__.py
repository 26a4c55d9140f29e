"""Closed-form predictions for random networks: mean-field signal propagation (see `priorlab.theory.meanfield`)."""

from priorlab.theory.meanfield import (
    ACTIVATIONS,
    chi1,
    correlation_map,
    critical_sigma_w,
    fixed_point_q,
    length_map,
    phase_boundary,
)

__all__ = [
    "ACTIVATIONS",
    "chi1",
    "correlation_map",
    "critical_sigma_w",
    "fixed_point_q",
    "length_map",
    "phase_boundary",
]
