"""Parameter regimes: which tensors learning may change, and how the weights are made from them (w = H(u)).

    from priorlab.regimes import apply, summary
    apply(model, "bias_only")          # in place; returns the model
    print(summary(model))              # trainable / total parameters per layer

Regimes: full, frozen, bias_only, readout, mask, permute, shared, hyper, locality (see ``apply``'s docstring and
docs/regimes.md). ``remove(model)`` bakes a regime's parametrizations into plain weights, loadable into the plain
architecture.
"""

from priorlab.regimes.core import (
    REGIMES,
    Ridge,
    Summary,
    apply,
    find_readout,
    fit_readout,
    remove,
    ridge_readout,
    summary,
    tensors,
)
from priorlab.regimes.parametrizations import (
    Generator,
    Hyper,
    InputHyperLinear,
    Mask,
    Permute,
    Shared,
    SinkhornPermute,
    hashed_index,
)

__all__ = [
    "REGIMES",
    "Generator",
    "Hyper",
    "InputHyperLinear",
    "Mask",
    "Permute",
    "Ridge",
    "Shared",
    "SinkhornPermute",
    "Summary",
    "apply",
    "find_readout",
    "fit_readout",
    "hashed_index",
    "remove",
    "ridge_readout",
    "summary",
    "tensors",
]
