"""priorlab: what a network's architecture gives, and what learning adds.

    import priorlab
    res = priorlab.compare(model, x, labels=y)     # your nn.Module and tensor: layer by layer vs its random self
    run = priorlab.run("fit1d", hidden=3)          # any experiment (objects where the CLI takes specs)
    run = priorlab.load_run("20261202-1650")       # a run by id, id prefix or folder

Heavy imports (torch) happen lazily, so that ``priorlab --help`` stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Result", "__version__", "compare", "load_run", "randomize", "run"]


_LAZY = {"randomize": "priorlab.randomization", "run": "priorlab.api", "compare": "priorlab.api",
         "Result": "priorlab.api", "load_run": "priorlab.runner"}


def __getattr__(name):
    # the package root is a facade over the layers (pyproject's import contracts): every module in them imports
    # `priorlab` for __version__, so the root names its targets by string and loads them on first use
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'priorlab' has no attribute {name!r}")
