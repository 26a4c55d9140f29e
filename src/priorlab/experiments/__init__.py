"""Experiment registry.

Each experiment is a module in this package with

- ``DESCRIPTION``: one line, a plain string literal (read without importing the module);
- ``ORDER``: optional int literal, position in ``priorlab list`` and in the demo (default 100);
- ``Config``: a :class:`priorlab.config.BaseConfig` subclass whose defaults reproduce the source study;
- ``run(config, ctx) -> dict[str, float]``: the experiment, writing figures through ``ctx``
  (:class:`priorlab.runner.RunContext`);
- ``CITATION`` (str), ``FIGURES`` ({figure stem: caption}), ``DEMO`` (list of config dicts the demo runs;
  default ``[{}]``).

Modules are discovered by reading their source with :mod:`ast`, so that ``priorlab list`` and
``priorlab --help`` import neither torch nor the experiments.
"""

from __future__ import annotations

import ast
import importlib
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from priorlab.errors import UserError

_HERE = Path(__file__).parent


@lru_cache(maxsize=1)
def _discover() -> dict[str, str]:
    found: list[tuple[int, str, str]] = []
    for path in sorted(_HERE.glob("*.py")):
        if path.name.startswith("_"):
            continue
        desc, order = None, 100
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if name == "DESCRIPTION" and isinstance(node.value, ast.Constant):
                    desc = str(node.value.value)
                elif name == "ORDER" and isinstance(node.value, ast.Constant):
                    order = int(node.value.value)
        if desc is not None:
            found.append((order, path.stem, desc))
    return {name: desc for _, name, desc in sorted(found)}


class _Registry(dict):
    def __init__(self):
        super().__init__(_discover())


EXPERIMENTS: dict[str, str] = _Registry()


def names() -> list[str]:
    return list(EXPERIMENTS)


def load(name: str) -> ModuleType:
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment '{name}' (available: {', '.join(EXPERIMENTS)})")
    return importlib.import_module(f"priorlab.experiments.{name}")
