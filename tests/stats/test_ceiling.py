"""noise_ceiling against rsatoolbox.inference.boot_noise_ceiling (Nili et al. 2014 lower/upper bounds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform

from priorlab.probe import compare
from priorlab.stats import noise_ceiling

METHODS = [("pearson", "corr"), ("spearman", "spearman"), ("kendall_a", "tau-a"), ("cosine", "cosine")]


def subjects(s: int, n: int, noise: float, seed: int) -> np.ndarray:
    """S noisy measurements of one shared structure, as Euclidean RDMs [S, N, N]."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    return np.stack([squareform(pdist(x + noise * rng.normal(size=x.shape))) for _ in range(s)])


@pytest.mark.filterwarnings("ignore:Noise ceiling for tau based on averaged ranks")
@pytest.mark.parametrize("ours,theirs", METHODS)
@pytest.mark.parametrize("s", [2, 5])
def test_noise_ceiling_equals_rsatoolbox(ours, theirs, s):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    rdms = subjects(s, 16, 0.8, seed=s)
    lower, upper = rsatoolbox.inference.boot_noise_ceiling(
        rsatoolbox.rdm.RDMs(np.stack([squareform(m, checks=False) for m in rdms])), method=theirs
    )
    nc = noise_ceiling(torch.from_numpy(rdms), ours)
    assert abs(nc.lower - lower) < 1e-6 and abs(nc.upper - upper) < 1e-6
    assert nc.lower < nc.upper and (nc.method, nc.n_rdms) == (ours, s)


def test_ties_are_pooled_by_average_rank():
    """Integer-valued RDMs (many ties): the spearman pool is the mean of average ranks, as rsatoolbox's."""
    rsatoolbox = pytest.importorskip("rsatoolbox")
    rdms = np.round(subjects(4, 12, 1.0, seed=9))
    lower, upper = rsatoolbox.inference.boot_noise_ceiling(
        rsatoolbox.rdm.RDMs(np.stack([squareform(m, checks=False) for m in rdms])), method="spearman"
    )
    nc = noise_ceiling(list(rdms))
    assert abs(nc.lower - lower) < 1e-6 and abs(nc.upper - upper) < 1e-6


def test_two_rdms_lower_bound_is_their_comparison():
    rdms = subjects(2, 10, 0.5, seed=1)
    nc = noise_ceiling(rdms, "pearson")
    assert nc.lower == pytest.approx(compare(torch.from_numpy(rdms[0]), torch.from_numpy(rdms[1]), "pearson"))


def test_identical_rdms_have_a_ceiling_of_one():
    rdms = np.repeat(subjects(1, 10, 0.0, seed=2), 3, axis=0)
    nc = noise_ceiling(rdms)
    assert nc.lower == pytest.approx(1.0) and nc.upper == pytest.approx(1.0)
