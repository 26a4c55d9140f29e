"""Look inside networks: capture activations, RDMs and their comparison, CKA and other similarity measures,
layer-wise analysis in a budget, RDMs to and from rsatoolbox (``to_rsatoolbox`` / ``from_rsatoolbox``).

Folding and topography are the submodules `priorlab.probe.folding` and `priorlab.probe.topography`
(``from priorlab.probe import topography``); they are not imported here, so that importing `priorlab.probe`
does not pull in scipy.stats."""

from __future__ import annotations

from priorlab.probe.capture import Hooks, capture, find_aliases, natural_blocks
from priorlab.probe.cka import MinibatchCKA, cka, cka_gram, minibatch_cka
from priorlab.probe.interop import from_rsatoolbox, to_rsatoolbox
from priorlab.probe.layerwise import (
    LayerwiseResult,
    layerwise_analysis,
    layerwise_cka,
    layerwise_grams,
    layerwise_rdms,
    layerwise_similarity,
    paired_pwcca,
    paired_similarity,
)
from priorlab.probe.rdm import compare, rdm
from priorlab.probe.similarity import gram_similarity, similarity

__all__ = [
    "Hooks",
    "LayerwiseResult",
    "MinibatchCKA",
    "capture",
    "cka",
    "cka_gram",
    "compare",
    "find_aliases",
    "from_rsatoolbox",
    "gram_similarity",
    "layerwise_analysis",
    "layerwise_cka",
    "layerwise_grams",
    "layerwise_rdms",
    "layerwise_similarity",
    "minibatch_cka",
    "natural_blocks",
    "paired_pwcca",
    "paired_similarity",
    "rdm",
    "similarity",
    "to_rsatoolbox",
]
