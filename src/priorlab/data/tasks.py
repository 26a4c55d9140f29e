"""Small supervised tasks as tensors, for the bias-learning experiments (biasonly).

    task = load_task("parity", seed=0)           # digits, even vs odd: 2 classes
    task = load_task("digits", seed=0)           # the 10 digits
    task = load_task("fit1d", seed=0, target="sin", n_train=100)   # regression on [-pi, pi], 1000 test points
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["Task", "load_task"]


@dataclass
class Task:
    kind: Literal["classify", "regress"]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    outputs: int

    @property
    def inputs(self) -> int:
        return self.x_train.shape[1]

    @property
    def metric(self) -> str:
        return "acc" if self.kind == "classify" else "mse"

    def to(self, device) -> Task:
        move = [t.to(device) for t in (self.x_train, self.y_train, self.x_test, self.y_test)]
        return Task(self.kind, *move, self.outputs)


def load_task(name: str, seed: int, target: str = "sin", n_train: int = 100) -> Task:
    """``digits`` (10 classes), ``parity`` (the digit's parity) on the stratified 8x8-digits split of `seed`, or
    ``fit1d``: `target` at `n_train` evenly spaced points of [-pi, pi]."""
    if name in ("digits", "parity"):
        from priorlab.data.digits import digits

        s = digits(seed=seed)
        if name == "parity":
            return Task("classify", s.x_train, s.y_train % 2, s.x_test, s.y_test % 2, 2)
        return Task("classify", s.x_train, s.y_train, s.x_test, s.y_test, s.n_classes)
    from priorlab.data.functions import target_function

    _, f = target_function(target)
    x_train = torch.linspace(-math.pi, math.pi, n_train)[:, None]
    x_test = torch.linspace(-math.pi, math.pi, 1000)[:, None]
    return Task("regress", x_train, f(x_train[:, 0])[:, None], x_test, f(x_test[:, 0])[:, None], 1)
