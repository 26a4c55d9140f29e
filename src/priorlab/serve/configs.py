"""The playground's configs: the fit1d and fold experiments' pydantic Configs, narrowed to classroom sizes and
widened by the controls the page has (depth, regime, optimizer, classes, an uploaded dataset)."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from priorlab.data.planes import MAX_CLASSES
from priorlab.experiments import fit1d, fold
from priorlab.regimes.core import REGIMES

# regimes offered in the page, in this order, where priorlab.regimes has them ("readout": readout-only random features)
_WANTED = ("full", "bias_only", "readout", "mask", "locality")
REGIME_NAMES = tuple(r for r in _WANTED if r in REGIMES)
PENDING_REGIMES = tuple(r for r in _WANTED if r not in REGIMES)
Regime = Literal[REGIME_NAMES]  # type: ignore[valid-type]
Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
Activation = Literal["sigmoid", "tanh", "relu", "cos", "sin", "saw"]
MAX_WIDTH, MAX_DEPTH = 64, 10


class Fit1dPlay(fit1d.Config):
    """fit1d's Config in the playground: one network, up to 64 units × 10 layers."""

    hidden: int = Field(10, ge=1, le=MAX_WIDTH, description="hidden units per layer")
    depth: int = Field(1, ge=1, le=MAX_DEPTH, description="hidden layers (1 = the fit1d experiment's network)")
    regime: Regime = Field("full", description="what learning may change (readout = random features)")
    optimizer: Optimizer = Field("adam", description="optimizer")
    n_samples: int = Field(50, ge=2, le=2000, description="training samples, uniform in the range")
    n_eval: int = Field(400, ge=10, le=2000, description="fresh noiseless points for interp/extrap errors")
    extrap_margin: float = Field(2 * math.pi, gt=0, le=100, description="width of the extrapolation bands")
    x_min: float = Field(-2 * math.pi, ge=-100, le=100, description="training range start")
    x_max: float = Field(2 * math.pi, ge=-100, le=100, description="training range end")

    PRESETS: ClassVar[dict] = {}

    @model_validator(mode="after")
    def _one_network(self):
        if self.networks is not None:
            raise ValueError("'networks': the playground trains one network (use activation and hidden)")
        return self


class FoldPlay(fold.Config):
    """fold's Config in the playground: one network on a 2-D task of 2–5 classes, or an uploaded CSV."""

    task: Literal["spiral", "circles", "xor", "moons", "gaussians"] = Field("spiral", description="2-D task")
    classes: int = Field(2, ge=2, le=5, description="classes of the task (xor: at most 4)")
    dataset: str | None = Field(
        None, pattern=r"^[0-9a-f]{12}$", description="an uploaded CSV's id (POST /api/data); replaces task"
    )
    n_points: int = Field(400, ge=20, le=5000, description="training points")
    width: int = Field(8, ge=1, le=MAX_WIDTH, description="units in every hidden layer")
    hidden_layers: int = Field(3, ge=1, le=MAX_DEPTH, description="hidden layers")
    activation: Activation = Field("tanh", description="non-linearity")
    regime: Regime = Field("full", description="what learning may change (readout = random features)")
    optimizer: Optimizer = Field("adam", description="optimizer")
    lr: float = Field(0.02, gt=0.0, le=1.0, description="learning rate")
    successes: list[str] = Field([], description="not used by the playground")

    @model_validator(mode="after")
    def _classes_fit_task(self):
        if self.dataset is None and self.classes > MAX_CLASSES[self.task]:
            raise ValueError(f"'classes' {self.classes}: task '{self.task}' has at most {MAX_CLASSES[self.task]}")
        return self


PLAYGROUND = {"fit1d": (fit1d, Fit1dPlay), "fold": (fold, FoldPlay)}
