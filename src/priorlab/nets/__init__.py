"""Model builders.

Importing this package imports torch (the CLI never imports it). The builders are bound here after their
submodules load, so `priorlab.nets.deep` and `priorlab.nets.lenet` are the functions, not the modules.

Public loaders: ``build(spec)`` (the zoo: lenet | lstm | torchvision:<name> | module:<file>:<factory>) and
``load_weights(model, path)`` (safetensors or a weights-only torch file; nested checkpoints, ``module.``/``model.``
prefixes; a pickled whole model refused with how to save a state_dict) — see ``priorlab.nets.zoo``.
"""

from priorlab.nets.deep import DeepNet, deep
from priorlab.nets.lenet import LeNet, lenet
from priorlab.nets.locality import (
    LocalityLinear,
    apply_locality,
    distances,
    locality_prior,
    prune_smallest,
    raw_weight,
    wiring_cost,
)
from priorlab.nets.onehidden import OneHidden
from priorlab.nets.zoo import build, load_weights

__all__ = [
    "DeepNet", "LeNet", "LocalityLinear", "OneHidden", "apply_locality", "deep", "distances", "lenet",
    "locality_prior", "prune_smallest", "raw_weight", "wiring_cost",
    "build", "load_weights",
]
