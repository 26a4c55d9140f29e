"""Look inside networks: capture activations, RDMs and their comparison, CKA, layer-wise analysis in a budget.

Names from `priorlab.probe.topography` and `priorlab.probe.folding` are forwarded lazily too.
"""

from __future__ import annotations

import importlib

from priorlab.probe.capture import capture, natural_blocks
from priorlab.probe.cka import MinibatchCKA, cka, cka_gram, minibatch_cka
from priorlab.probe.layerwise import (
    LayerwiseResult,
    layerwise_analysis,
    layerwise_cka,
    layerwise_grams,
    layerwise_rdms,
)
from priorlab.probe.rdm import compare, rdm

__all__ = [
    "LayerwiseResult",
    "MinibatchCKA",
    "capture",
    "cka",
    "cka_gram",
    "compare",
    "layerwise_analysis",
    "layerwise_cka",
    "layerwise_grams",
    "layerwise_rdms",
    "minibatch_cka",
    "natural_blocks",
    "rdm",
]

_FORWARDED = ("topography", "folding")


def __getattr__(name):
    if name in _FORWARDED:
        return importlib.import_module(f"priorlab.probe.{name}")
    for sub in _FORWARDED:
        try:
            module = importlib.import_module(f"priorlab.probe.{sub}")
        except ModuleNotFoundError as e:
            if e.name != f"priorlab.probe.{sub}":
                raise
            continue
        public = getattr(module, "__all__", None)
        if (public is None or name in public) and not name.startswith("_") and hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'priorlab.probe' has no attribute {name!r}")
