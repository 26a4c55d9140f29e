"""Every statistics function refuses bad input with a one-line UserError that names the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform
from torch import nn

from priorlab.errors import UserError
from priorlab.stats import (
    compare_rdms,
    compare_to_null,
    correct,
    mean_ci,
    noise_ceiling,
    null_distribution,
    paired_difference,
    wilson,
)

RNG = np.random.default_rng(0)
GOOD = squareform(pdist(RNG.normal(size=(6, 3))))
OTHER = squareform(pdist(RNG.normal(size=(6, 3))))
BIG = squareform(pdist(RNG.normal(size=(7, 3))))
WITH_NAN = GOOD.copy()
WITH_NAN[0, 2] = np.nan
CONSTANT = 1 - np.eye(6)
ZEROS = np.zeros((6, 6))
X = torch.randn(6, 4)


def net():
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU())


CASES = {
    "two stimuli": (lambda: compare_rdms(GOOD[:2, :2], OTHER[:2, :2]), "N >= 3"),
    "different sizes": (lambda: compare_rdms(GOOD, BIG), "different sizes"),
    "not square": (lambda: compare_rdms(GOOD[:, :5], OTHER), "square"),
    "a vector": (lambda: compare_rdms(pdist(GOOD), OTHER), "square"),
    "NaN": (lambda: compare_rdms(GOOD, WITH_NAN), "b: the RDM has NaN"),
    "constant": (lambda: compare_rdms(CONSTANT, OTHER, "spearman"), "a: the RDM is constant"),
    "constant pearson": (lambda: compare_rdms(GOOD, CONSTANT, "pearson"), "b: the RDM is constant"),
    "zero cosine": (lambda: compare_rdms(ZEROS, OTHER, "cosine"), "every dissimilarity is 0"),
    "method": (lambda: compare_rdms(GOOD, OTHER, "kendall_b"), "method must be one of"),
    "alternative": (lambda: compare_rdms(GOOD, OTHER, alternative="bigger"), "alternative must be one of"),
    "n_boot": (lambda: compare_rdms(GOOD, OTHER, n_boot=-1), "n_boot must be a whole number >= 0"),
    "n_perm": (lambda: compare_rdms(GOOD, OTHER, n_perm=2.5), "n_perm must be a whole number"),
    "seed": (lambda: compare_rdms(GOOD, OTHER, seed=-3), "seed must be"),
    "confidence": (lambda: compare_rdms(GOOD, OTHER, confidence=95), "confidence must be"),
    "text": (lambda: compare_rdms("rdm", OTHER), "a: not a numeric array"),
    "paired layers": (lambda: paired_difference({"x": GOOD}, {"y": OTHER}, GOOD), "the layers differ"),
    "paired size": (lambda: paired_difference({"x": BIG}, {"x": OTHER}, GOOD), "rdms_a['x'] and target"),
    "paired constant": (lambda: paired_difference([GOOD], [CONSTANT], OTHER), "rdms_b['0']: the RDM is constant"),
    "paired empty": (lambda: paired_difference({}, {}, GOOD), "no layers"),
    "paired n_boot": (lambda: paired_difference([GOOD], [OTHER], GOOD, n_boot=0), "n_boot must be a whole number >= 1"),
    "paired shape": (lambda: paired_difference(np.zeros((6, 6)), [OTHER], GOOD), "[L, N, N]"),
    "ceiling one": (lambda: noise_ceiling([GOOD]), "at least 2 RDMs"),
    "ceiling sizes": (lambda: noise_ceiling([GOOD, BIG]), "different sizes"),
    "ceiling 2-D": (lambda: noise_ceiling(GOOD), "stack of RDMs"),
    "ceiling constant": (lambda: noise_ceiling([GOOD, CONSTANT]), "target_rdms[1]: the RDM is constant"),
    "ceiling NaN": (lambda: noise_ceiling([GOOD, WITH_NAN]), "target_rdms[1]: the RDM has NaN"),
    "null stimuli": (lambda: null_distribution(net, X[:2], n=2), "N >= 3"),
    "null n": (lambda: null_distribution(net, X, n=1), "n must be a whole number >= 2"),
    "null seeds": (lambda: null_distribution(net, X, seeds=[1, 1]), "distinct seeds"),
    "null n vs seeds": (lambda: null_distribution(net, X, n=3, seeds=[1, 2]), "n and seeds disagree"),
    "null init": (lambda: null_distribution(net, X, n=2, init="he"), "init must be one of"),
    "null metric": (lambda: null_distribution(net, X, n=2, metric="manhattan"), "metric must be one of"),
    "null measure": (lambda: null_distribution(net, X, n=2, measure="cka"), "method must be one of"),
    "null target size": (lambda: null_distribution(net, X, n=2, target=BIG), "target: an RDM of 7 stimuli"),
    "null target constant": (lambda: null_distribution(net, X, n=2, target=CONSTANT), "target: the RDM is constant"),
    "null factory": (lambda: null_distribution(net(), X, n=2), "model_factory: expected a callable"),
    "null factory output": (lambda: null_distribution(lambda: 3, X, n=2), "not an nn.Module"),
    "null tuple inputs": (lambda: null_distribution(net, (X, X), n=2), "give a target RDM"),
    "null mode": (lambda: null_distribution(net, X, n=2, mode="test"), "mode must be one of"),
    "to_null missing": (lambda: compare_to_null({"a": 0.1}, np.zeros((5, 2))), "no value for layer(s) 0, 1"),
    "to_null length": (lambda: compare_to_null([0.1, 0.2, 0.3], np.zeros((5, 2))), "expected 2 values"),
    "to_null NaN": (lambda: compare_to_null([np.nan], np.zeros((5, 1))), "observed: contains NaN"),
    "to_null null NaN": (lambda: compare_to_null([0.1], np.full((5, 1), np.nan)), "NaN or infinite values at layer(s) 0"),
    "to_null K": (lambda: compare_to_null([0.1], np.zeros((1, 1))), "K >= 2"),
    "to_null alternative": (lambda: compare_to_null([0.1], np.zeros((5, 1)), "up"), "alternative must be one of"),
    "correct method": (lambda: correct([0.1], "bonferroni"), "method must be one of holm, fdr_bh"),
    "correct range": (lambda: correct([0.1, 1.2]), "must lie in [0, 1]"),
    "correct NaN": (lambda: correct([0.1, np.nan]), "NaN"),
    "correct empty": (lambda: correct([]), "non-empty"),
    "correct 2-D": (lambda: correct([[0.1, 0.2]]), "1-D"),
    "wilson k > n": (lambda: wilson(5, 3), "k: the number of successes"),
    "wilson n": (lambda: wilson(0, 0), "n: the number of trials"),
    "wilson fractional k": (lambda: wilson(1.5, 3), "k: the number of successes"),
    "wilson confidence": (lambda: wilson(1, 3, confidence=1.5), "confidence must be"),
    "mean_ci one value": (lambda: mean_ci([0.5]), "at least 2 numbers"),
    "mean_ci NaN": (lambda: mean_ci([0.5, np.nan]), "NaN"),
    "mean_ci n_boot": (lambda: mean_ci([0.5, 0.6], n_boot=0), "n_boot must be"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_one_line_user_error(case):
    call, message = CASES[case]
    with pytest.raises(UserError) as info:
        call()
    text = str(info.value)
    assert message in text, text
    assert "\n" not in text


def test_good_inputs_pass_the_same_checks():
    """The fixtures above are only bad where they mean to be."""
    assert np.isfinite(compare_rdms(GOOD, OTHER, n_boot=10, n_perm=10).value)
    assert np.isfinite(noise_ceiling([GOOD, OTHER]).lower)
    assert null_distribution(net, X, n=2).values.shape == (2, 2)
