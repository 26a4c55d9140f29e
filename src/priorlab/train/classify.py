"""Train a classifier with cross-entropy: one short loop a reader can hold in their head.

split = priorlab.data.digits.digits(flatten=False)
net = priorlab.nets.lenet()
acc = fit_classifier(net, split, epochs=15)      # test accuracy, ~0.97 on digits in a few seconds
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from priorlab.train.loop import epoch_batches, fit


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = sum(
        (model(x[i : i + batch_size].to(device)).argmax(1).cpu() == y[i : i + batch_size]).sum().item()
        for i in range(0, len(x), batch_size)
    )
    model.train(was_training)
    return correct / max(len(x), 1)


def fit_classifier(
    model: nn.Module,
    split,
    epochs: int = 15,
    lr: float = 1e-2,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
) -> float:
    """Adam on minibatches of `split.x_train`; returns accuracy on `split.x_test`.

    split: anything with x_train, y_train, x_test, y_test tensors (e.g. priorlab.data.digits.Split).
    progress: wraps the epoch iterator (e.g. ``ctx.progress``); penalty(model) is added to the loss
    (e.g. a wiring cost). A NaN/inf loss raises priorlab.errors.Diverged.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    x, y = split.x_train, split.y_train
    batches = epoch_batches(len(x), batch_size, epochs, torch.Generator().manual_seed(seed))
    if progress is not None:  # the bar counts epochs
        batches = _per_epoch(batches, progress, epochs, -(-len(x) // batch_size))
    fit(
        model,
        lambda idx: nn.functional.cross_entropy(model(x[idx].to(device)), y[idx].to(device)),
        batches,
        lr=lr,
        weight_decay=weight_decay,
        penalty=(lambda: penalty(model)) if penalty is not None else None,
    )
    model.eval()
    return accuracy(model, split.x_test, split.y_test)


def _per_epoch(batches, progress, epochs: int, per_epoch: int):
    it = iter(batches)
    for _ in progress(range(epochs)):
        for _ in range(per_epoch):
            yield next(it)
