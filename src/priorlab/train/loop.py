"""The one training loop for one model: forward, loss, backward, optional clip and penalty, step.

    hist = fit(model, lambda step: mse(model(x), y), steps=1000, lr=0.05)          # full batch
    batches = epoch_batches(len(x), 64, epochs=15, generator=torch.Generator().manual_seed(seed))
    hist = fit(model, lambda idx: F.cross_entropy(model(x[idx]), y[idx]), batches, lr=1e-2)

``loss_fn`` gets the step's batch: the step index when ``batches`` is a number of full-batch steps, or the next item
of ``batches`` (e.g. index tensors from :func:`epoch_batches` / :func:`random_batches`, which draw from an explicit
``torch.Generator`` so the data order depends on the seed alone). A NaN/inf loss raises
:class:`priorlab.errors.Diverged` with the step.

Use :func:`fit` for one model (any ``nn.Module``, any regime); use :class:`priorlab.train.ensemble.Ensemble` to train
K same-shaped small networks at once (seeds, widths of a sweep), which is what ``run_many`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from priorlab.errors import check_finite

__all__ = ["History", "epoch_batches", "fit", "make_optimizer", "random_batches", "trainable"]


@dataclass
class History:
    """What :func:`fit` leaves behind: the loss per step (before its update) and the number of steps."""

    losses: np.ndarray
    steps: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def trainable(model_or_params) -> list[torch.Tensor]:
    """The parameters that require a gradient (of a module, or of an iterable of tensors)."""
    params = model_or_params.parameters() if isinstance(model_or_params, nn.Module) else model_or_params
    return [p for p in params if p.requires_grad]


def make_optimizer(
    params: Iterable[torch.Tensor],
    name: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
) -> torch.optim.Optimizer:
    """``adam`` | ``adamw`` | ``sgd`` | ``rmsprop`` by name."""
    params = list(params)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer: unknown '{name}' (allowed: adam, adamw, sgd, rmsprop)")


def epoch_batches(
    n: int, batch_size: int, epochs: int, generator: torch.Generator, min_size: int = 1
) -> Iterator[torch.Tensor]:
    """Index tensors: each epoch a fresh permutation of ``range(n)`` cut into batches (smaller than ``min_size``
    dropped)."""
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=generator).split(batch_size):
            if len(idx) >= min_size:
                yield idx


def random_batches(n: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Index tensors: ``steps`` batches of ``min(batch_size, n)`` indices drawn with replacement."""
    for _ in range(steps):
        yield torch.randint(n, (min(batch_size, n),), generator=generator)


def fit(
    model_or_params: nn.Module | Iterable[torch.Tensor],
    loss_fn: Callable[[Any], torch.Tensor],
    batches: int | Iterable[Any],
    *,
    optimizer: str | torch.optim.Optimizer = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    clip: float | None = None,
    penalty: Callable[[], torch.Tensor] | None = None,
    callback: Callable[[int, float], None] | None = None,
    progress: Callable[..., Iterable] | None = None,
    description: str = "",
) -> History:
    """Train: for each batch, loss = loss_fn(batch) (+ penalty()), check it is finite, backward, clip, step.

    model_or_params: the module (its trainable parameters are optimised) or the tensors to optimise.
    batches: a number of full-batch steps (loss_fn gets the step index) or an iterable of batches.
    optimizer: a name for :func:`make_optimizer` or a ready optimizer. clip: max gradient norm.
    callback(step, loss) runs after each update (progress, animation frames, early stops by raising).
    progress wraps the batch iterator (e.g. ``ctx.progress``). A module is put in train mode first.
    """
    if isinstance(model_or_params, nn.Module):
        model_or_params.train()
    params = trainable(model_or_params)
    if not params:
        raise ValueError("fit: nothing to train (no parameter requires a gradient)")
    opt = (
        optimizer
        if isinstance(optimizer, torch.optim.Optimizer)
        else make_optimizer(params, optimizer, lr=lr, weight_decay=weight_decay, momentum=momentum)
    )
    if isinstance(batches, int):
        total: int | None = batches
        items: Iterable[Any] = range(batches)
    else:
        total = len(batches) if hasattr(batches, "__len__") else None
        items = batches
    if progress is not None:
        items = progress(items, total=total, description=description)
    losses: list[float] = []
    step = -1
    for step, batch in enumerate(items):
        loss = loss_fn(batch)
        if penalty is not None:
            loss = loss + penalty()
        value = loss.item()
        check_finite(value, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        losses.append(value)
        if callback is not None:
            callback(step, value)
    return History(np.asarray(losses, dtype=np.float64), step + 1)


def one_by_one(run, cfgs, ctxs):
    """A ``run_many`` for trials that cannot be batched: ``run(cfg, ctx)`` for each, yielding its metrics or the
    exception it raised (recorded for that trial alone)."""
    yield from per_trial(lambda cfg, ctx, _: run(cfg, ctx), cfgs, ctxs, [None] * len(cfgs))


def per_trial(report, cfgs, ctxs, trained):
    """The tail of a ``run_many``: for each trial, its entry of ``trained`` if that is an exception (it failed in the
    group), else ``report(cfg, ctx, entry)``'s metrics — or the exception that raised, for that trial alone."""
    for cfg, ctx, item in zip(cfgs, ctxs, trained):
        if isinstance(item, Exception):
            yield item
            continue
        try:
            yield report(cfg, ctx, item)
        except Exception as exc:  # noqa: BLE001 - the runner records it for this trial
            yield exc
