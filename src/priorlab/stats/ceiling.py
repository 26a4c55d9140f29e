"""The noise ceiling of S >= 2 target RDMs (Nili et al. 2014), as rsatoolbox's `boot_noise_ceiling` computes it.

    nc = noise_ceiling(subject_rdms, "spearman")     # [S, N, N]
    nc.lower, nc.upper

lower = mean over s of compare(rdm_s, pool of the other RDMs); upper = mean over s of compare(rdm_s, pool of all).
The pool is the average that best fits under the comparison (rsatoolbox's `pool_rdm`): the mean of the RDMs'
ranks for spearman and kendall_a, of their z-scored dissimilarities for pearson, of the dissimilarities divided by
their root mean square for cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from priorlab.errors import UserError
from priorlab.probe.rdm import compare
from priorlab.stats import checks
from priorlab.stats.resampling import rank_rows, upper_indices


@dataclass(frozen=True)
class NoiseCeiling:
    lower: float
    upper: float
    method: str
    n_rdms: int


def pool(vectors: torch.Tensor, method: str) -> torch.Tensor:
    """The average of [S, M] upper-triangle vectors that suits `method` (rsatoolbox's `pool_rdm`)."""
    if method in ("spearman", "kendall_a"):
        vectors = rank_rows(vectors)
    elif method == "pearson":
        centred = vectors - vectors.mean(1, keepdim=True)
        vectors = centred / centred.std(1, correction=0, keepdim=True)
    else:
        vectors = vectors / vectors.square().mean(1, keepdim=True).sqrt()
    return vectors.mean(0)


def noise_ceiling(target_rdms, method: str = "spearman") -> NoiseCeiling:
    """Lower and upper noise-ceiling bounds of a stack of S >= 2 RDMs [S, N, N] (or a list of [N, N])."""
    method = checks.method(method)
    stack = checks.rdm_stack(target_rdms, "target_rdms")
    if stack.shape[0] < 2:
        raise UserError(f"target_rdms: a noise ceiling needs at least 2 RDMs, got {stack.shape[0]}")
    for s, d in enumerate(stack):
        checks.check_comparable(d, f"target_rdms[{s}]", method)
    i, j = upper_indices(stack.shape[1], stack.device)
    vectors = stack[:, i, j]
    everyone = pool(vectors, method)
    lower, upper = [], []
    for s in range(vectors.shape[0]):
        others = torch.cat([vectors[:s], vectors[s + 1 :]])
        lower.append(compare(vectors[s], pool(others, method), method))
        upper.append(compare(vectors[s], everyone, method))
    return NoiseCeiling(sum(lower) / len(lower), sum(upper) / len(upper), method, vectors.shape[0])
