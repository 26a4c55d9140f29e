"""priorlab: what a network's architecture gives, and what learning adds.

Heavy imports (torch) happen lazily, so that ``priorlab --help`` stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_run", "randomize", "run"]


def __getattr__(name):
    if name == "randomize":
        from priorlab.randomization import randomize

        return randomize
    if name in ("run", "load_run"):
        from priorlab import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'priorlab' has no attribute {name!r}")
