"""Capture the outputs of named modules with forward hooks.

    acts = capture(model, x)                       # the model's natural blocks
    acts = capture(model, x, ["features.3", "fc"])  # module paths, as in print(model)
    acts["lstm.0"], acts["lstm.1.0"]               # tuple outputs are split: name.0, name.1, ... (nested: name.1.0)

Outputs are detached and cloned inside the hook, so a later in-place op (torchvision Inception's
``relu(inplace=True)`` after a hooked BatchNorm) cannot change what was stored. A module called several times
in one forward pass (a shared ReLU) stores its later calls as ``name@1``, ``name@2``, …. :class:`Hooks` is the one
hook mechanism: ``priorlab.probe.layerwise`` reads layers through it too, with the same names.
The model runs under ``torch.no_grad()`` in whatever train/eval mode it is in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def natural_blocks(model: nn.Module) -> list[str]:
    """The model's top-level children, recursing into Sequential/ModuleList/ModuleDict containers.

    A model with no children (a bare nn.Linear) is its own single block, named ''."""
    names = []

    def walk(module: nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            if isinstance(child, CONTAINERS) and len(child) > 0:
                walk(child, path + ".")
            else:
                names.append(path)

    walk(model, "")
    return names or [""]


def resolve_layers(model: nn.Module, layers: Sequence[str] | str | None) -> list[str]:
    """Validate layer names (module paths) against the model; None gives its natural blocks."""
    if layers is None:
        return natural_blocks(model)
    if isinstance(layers, str):
        layers = [layers]
    known = dict(model.named_modules())
    missing = [name for name in layers if name not in known]
    if missing:
        sample = ", ".join(list(known)[1:12])
        raise ValueError(
            f"layers: no module named {', '.join(map(repr, missing))} in the model (some names: {sample}, …)"
        )
    return list(layers)


def iter_outputs(name: str, value):
    """(name, tensor) for a module output, splitting tuples/lists as name.0, name.1, … and dicts as name.key."""
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from iter_outputs(f"{name}.{i}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_outputs(f"{name}.{key}", item)


class StopForward(Exception):
    """Raised by a hook once every entry a pass asked for is out: the rest of the forward call is not needed."""


class Hooks:
    """Forward hooks on the named modules: the one place where layer outputs are read and named.

    Each call of a hooked module gives its output entries: ``name`` for its first call in a forward pass,
    ``name@1``, ``name@2``, … for later calls (a shared ReLU), and tuple/list/dict outputs split after that
    (``name.0``, ``name@1.0``, ``name.key``). Every entry goes to ``sink(entry, tensor)``; the default sink stores a
    detached clone (reshaped to [N, -1] with ``flatten``) in ``outputs``, so in-place ops later in the forward
    cannot change it. ``run(inputs, until=entries)`` makes one forward pass under ``torch.no_grad()`` and stops it
    as soon as every entry in ``until`` has been given out."""

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str],
        flatten: bool = False,
        sink: Callable[[str, torch.Tensor], None] | None = None,
    ):
        self.model = model
        self.outputs: dict[str, torch.Tensor] = {}
        self.flatten = flatten
        self._sink = sink or self._store
        self._calls: dict[str, int] = {}
        self._until: set[str] | None = None
        modules = dict(model.named_modules())
        self._handles = [modules[name].register_forward_hook(self._hook(name)) for name in layers]

    def _store(self, entry: str, tensor: torch.Tensor) -> None:
        v = tensor.detach().clone()
        self.outputs[entry] = v.reshape(v.shape[0], -1) if self.flatten and v.ndim > 0 else v

    def _hook(self, name: str):
        def hook(module, inputs, output):
            k = self._calls.get(name, 0)
            self._calls[name] = k + 1
            for entry, tensor in iter_outputs(name if k == 0 else f"{name}@{k}", output):
                self._sink(entry, tensor)
                if self._until is not None:
                    self._until.discard(entry)
            if self._until is not None and not self._until:
                raise StopForward

        return hook

    def run(self, inputs, until: Iterable[str] | None = None) -> None:
        """One forward pass of the model on `inputs` (a tensor or a tuple of positional inputs), calls counted
        afresh; with `until`, stopped once all those entries are out."""
        self._calls = {}
        self._until = set(until) if until is not None else None
        try:
            with torch.no_grad():
                forward(self.model, inputs)
        except StopForward:
            pass
        finally:
            self._until = None

    def take(self) -> dict[str, torch.Tensor]:
        """The stored outputs of the last forward pass (and start afresh for the next)."""
        out, self.outputs = self.outputs, {}
        return out

    def remove(self) -> None:
        for h in self._handles:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def forward(model: nn.Module, inputs):
    """Call the model on a tensor, or on a tuple of positional inputs."""
    return model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)


def capture(
    model: nn.Module,
    inputs,
    layers: Sequence[str] | str | None = None,
    flatten: bool = False,
    batch_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Outputs of the named modules of `model` on `inputs` (a tensor or a tuple of positional tensors).

    layers: module paths (None = natural blocks). flatten: reshape each output to [N, -1].
    batch_size: run a batch-first input tensor in batches along dim 0 and concatenate the outputs along dim 0
    (so only for models whose every captured output is batch-first)."""
    names = resolve_layers(model, layers)
    with Hooks(model, names, flatten) as hooks:
        if batch_size is None:
            hooks.run(inputs)
            return hooks.take()
        if not isinstance(inputs, torch.Tensor):
            raise TypeError("batch_size: batching needs a single input tensor")
        parts: dict[str, list[torch.Tensor]] = {}
        for start in range(0, inputs.shape[0], batch_size):
            hooks.run(inputs[start : start + batch_size])
            for name, value in hooks.take().items():
                parts.setdefault(name, []).append(value)
        return {name: torch.cat(values) for name, values in parts.items()}
