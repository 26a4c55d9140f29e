"""Model builders. Each lives in its own module; names are imported lazily (torch is heavy)."""

from __future__ import annotations

import importlib

# public name -> module under priorlab.nets that defines it
_NAMES = {
    "deep": "deep",
    "DeepNet": "deep",
    "OneHidden": "onehidden",
    "LocalityLinear": "locality",
    "locality_prior": "locality",
    "lenet": "lenet",
    "LeNet": "lenet",
    "mlp": "mlp",
}


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(f"priorlab.nets.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'priorlab.nets' has no attribute {name!r}")
