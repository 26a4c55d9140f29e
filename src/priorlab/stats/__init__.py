"""Uncertainty for priorlab's comparisons: bootstrap CIs over stimuli, permutation tests, random-draw nulls,
noise ceilings, corrections across layers, and intervals for repeated runs.

    from priorlab import stats
    c = stats.compare_rdms(layer_rdm, target_rdm)                  # value, ci_low, ci_high, se, p
    null = stats.null_distribution(make_net, images, n=50)          # [K draws, L layers]
    t = stats.compare_to_null(trained_values, null)                 # per-layer p and 95% band
    d = stats.paired_difference(trained_rdms, random_rdms, target)  # trained - random, shared resamples
    nc = stats.noise_ceiling(subject_rdms)                          # lower, upper (Nili et al. 2014)
    stats.correct(p_per_layer, "holm")                              # or "fdr_bh"
    stats.wilson(k, n); stats.mean_ci(per_seed_values)
    stats.evaluate([stats.Claim(...)], metrics)                     # a study's claims judged from a run's numbers

Every function checks its input and raises a one-line `priorlab.errors.UserError` naming the problem.
"""

from __future__ import annotations

from priorlab.stats.ceiling import NoiseCeiling, noise_ceiling
from priorlab.stats.claims import Claim, evaluate
from priorlab.stats.corrections import correct
from priorlab.stats.intervals import Interval, mean_ci, wilson
from priorlab.stats.nulls import NullDistribution, NullTest, compare_to_null, null_distribution
from priorlab.stats.rdms import Comparison, PairedDifference, compare_rdms, paired_difference

__all__ = [
    "Claim",
    "Comparison",
    "Interval",
    "NoiseCeiling",
    "NullDistribution",
    "NullTest",
    "PairedDifference",
    "compare_rdms",
    "compare_to_null",
    "correct",
    "evaluate",
    "mean_ci",
    "noise_ceiling",
    "null_distribution",
    "paired_difference",
    "wilson",
]
