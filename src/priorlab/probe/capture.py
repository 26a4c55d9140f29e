"""Capture the outputs of named modules with forward hooks.

    acts = capture(model, x)                       # the model's natural blocks
    acts = capture(model, x, ["features.3", "fc"])  # module paths, as in print(model)
    acts["head.0"], acts["head.1.0"]               # tuple outputs are split: name.0, name.1, ... (nested: name.1.0)
    acts = capture(gru_model, seqs, timesteps="all")  # recurrent layers: gru.0@t0, gru.0@t1, …, gru.h_n.0, …

One rule names layer outputs everywhere (capture, `priorlab.probe.layerwise`, the compare experiment), through
:class:`Hooks`:

- A module called several times in one forward pass (a shared ReLU) gives ``name`` for its first call and
  ``name@1``, ``name@2``, … for later ones; tuple/list/dict outputs are split after that (``name.0``, ``name@1.0``,
  ``name.key``).
- Recurrent modules (nn.RNN, nn.LSTM, nn.GRU, batched input): the sequence output is ``name.0``, [N, T, H] (made
  batch-first when the module is not), or with ``timesteps`` one [N, H] entry per time step, ``name.0@t5`` (the
  step's index from 0; ``"last"`` gives ``name.0@t<T-1>``, ``"all"`` every step, a list of ints those steps,
  negative ones counted from the end). The final states h_n (and c_n), [layers·directions, N, H], are split along
  their first dimension and never flattened across items: ``name.h_n.0`` is layer 0's final hidden state [N, H],
  ``name.c_n.1`` layer 1's final cell state (bidirectional: index 2·layer + direction, as in PyTorch).
- :func:`natural_blocks` (the layers used when none are named) are the model's children, recursing into
  containers: Sequential, ModuleList, ModuleDict, nn.Transformer/TransformerEncoder/TransformerDecoder, and any
  module holding exactly one stack of repeated blocks (a ModuleList or Sequential of ≥ 2 modules of one class, as
  in a custom encoder's ``self.layers``), so a transformer gives one layer per encoder block (``encoder.layers.0``,
  ``encoder.layers.1``, …).
- An output whose values equal an earlier one's item by item (a Flatten after a layer, nn.Identity, Dropout in eval
  mode, the last layer's h_n beside the last time step) is an alias: :func:`find_aliases` finds them, and layer-wise
  analysis skips them and lists them (``LayerwiseResult.aliases``). `capture` returns every output it was asked for.

Outputs are detached and cloned inside the hook, so a later in-place op (torchvision Inception's
``relu(inplace=True)`` after a hooked BatchNorm) cannot change what was stored.
The model runs under ``torch.no_grad()`` in whatever train/eval mode it is in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

CONTAINERS = (
    nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Transformer, nn.TransformerEncoder, nn.TransformerDecoder
)
STACKS = (nn.ModuleList, nn.Sequential)
Timesteps = str | int | Sequence[int] | None


def _is_stack(module: nn.Module) -> bool:
    """A ModuleList or Sequential of at least 2 modules, all of one class: a stack of repeated blocks."""
    return isinstance(module, STACKS) and len(module) >= 2 and len({type(m) for m in module}) == 1


def _opens(module: nn.Module) -> bool:
    if isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return len(module) > 0
    if isinstance(module, CONTAINERS):
        return True
    return sum(_is_stack(child) for child in module.children()) == 1


def natural_blocks(model: nn.Module) -> list[str]:
    """The model's children, recursing into containers (see the module docstring): module paths in order.

    A model with no children (a bare nn.Linear) is its own single block, named ''."""
    names = []

    def walk(module: nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            path = f"{prefix}{name}"
            if _opens(child):
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


def check_timesteps(timesteps) -> str | list[int] | None:
    """None, "last", "all", or distinct step indices: an int, a list of ints, or text such as "0,5,-1" (a list);
    anything else is a ValueError naming `timesteps`."""
    if timesteps is None or timesteps in ("last", "all"):
        return timesteps
    items = timesteps.split(",") if isinstance(timesteps, str) else timesteps
    items = list(items) if isinstance(items, Sequence) else [items]
    try:
        if not items or any(isinstance(t, bool | float) for t in items):
            raise ValueError
        steps = [int(t) for t in items]
    except (TypeError, ValueError):
        raise ValueError(
            f"timesteps: expected 'last', 'all' or step indices such as 0,5,-1, got {timesteps!r}"
        ) from None
    if len(set(steps)) != len(steps):
        raise ValueError(f"timesteps: the steps must be distinct, got {steps}")
    return steps


def time_indices(timesteps: Timesteps, steps: int) -> list[int]:
    """The step indices 0..steps-1 that `timesteps` ("last", "all" or a list, negatives from the end) picks."""
    if timesteps == "last":
        return [steps - 1]
    if timesteps == "all":
        return list(range(steps))
    out = []
    for t in timesteps:
        if not -steps <= t < steps:
            raise ValueError(f"timesteps: step {t} is outside a sequence of {steps} steps (0..{steps - 1})")
        if t % steps not in out:
            out.append(t % steps)
    return out


def _join(name: str, part) -> str:
    return f"{name}.{part}" if name else str(part)  # the model itself is the module ''


def iter_outputs(name: str, value):
    """(name, tensor) for a module output, splitting tuples/lists as name.0, name.1, … and dicts as name.key."""
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from iter_outputs(_join(name, i), item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_outputs(_join(name, key), item)


def _recurrent_outputs(name: str, module: nn.RNNBase, out, state, timesteps: Timesteps):
    """A recurrent module's (output, h_n) or (output, (h_n, c_n)): the sequence per step, the states per layer."""
    if isinstance(out, torch.Tensor) and out.ndim == 3:
        if not module.batch_first:
            out = out.transpose(0, 1)
        if timesteps is None:
            yield _join(name, 0), out
        else:
            for t in time_indices(timesteps, out.shape[1]):
                yield _join(name, f"0@t{t}"), out[:, t]
    else:  # unbatched input or a PackedSequence: the generic rule
        yield from iter_outputs(_join(name, 0), out)
    for label, h in zip(("h_n", "c_n"), state if isinstance(state, tuple) else (state,)):
        if isinstance(h, torch.Tensor) and h.ndim == 3:
            for k in range(h.shape[0]):
                yield _join(name, f"{label}.{k}"), h[k]
        else:
            yield from iter_outputs(_join(name, label), h)


def module_outputs(name: str, module: nn.Module, output, timesteps: Timesteps = None):
    """(entry, tensor) for one call's output of `module`, named by the rule in this module's docstring."""
    if isinstance(module, nn.RNNBase) and isinstance(output, tuple) and len(output) == 2:
        yield from _recurrent_outputs(name, module, output[0], output[1], timesteps)
    else:
        yield from iter_outputs(name, output)


def fingerprint(t: torch.Tensor) -> tuple:
    """A key equal for two tensors exactly when they hold the same values item by item (same items, same number of
    values per item, same dtype; -0.0 and 0.0 count as equal)."""
    if t.is_floating_point() or t.is_complex():
        t = t + 0  # -0.0 + 0 = 0.0
    flat = t.detach().reshape(-1).contiguous().cpu()
    digest = hashlib.blake2b(flat.view(torch.uint8).numpy().tobytes(), digest_size=16).hexdigest()
    return (t.dtype, t.shape[0] if t.ndim else 0, flat.numel(), digest)


def find_aliases(outputs: Mapping[str, torch.Tensor], inputs: torch.Tensor | None = None) -> dict[str, str]:
    """{entry: the earlier entry (or 'input', the model's input) it equals}, for every entry of `outputs` (in order)
    whose values equal an earlier one's item by item — a Flatten after a layer, nn.Identity, Dropout in eval mode."""
    first = fingerprint(inputs) if isinstance(inputs, torch.Tensor) else None
    return alias_map(((entry, fingerprint(t)) for entry, t in outputs.items()), first)


def alias_map(keys: Iterable[tuple[str, tuple]], input_key: tuple | None = None) -> dict[str, str]:
    """{entry: first entry with the same fingerprint} from (entry, fingerprint) pairs in order; an entry with the
    input's fingerprint maps to 'input'."""
    seen: dict[tuple, str] = {} if input_key is None else {input_key: "input"}
    aliases = {}
    for entry, key in keys:
        if key in seen:
            aliases[entry] = seen[key]
        else:
            seen[key] = entry
    return aliases


class StopForward(Exception):
    """Raised by a hook once every entry a pass asked for is out: the rest of the forward call is not needed."""


class Hooks:
    """Forward hooks on the named modules: the one place where layer outputs are read and named.

    Each call of a hooked module gives its output entries, named by the rule in this module's docstring
    (``timesteps``: None, "last", "all" or a list of step indices, for recurrent modules). Every entry goes to
    ``sink(entry, tensor)``; the default sink stores a detached clone (reshaped to [N, -1] with ``flatten``) in
    ``outputs``, so in-place ops later in the forward cannot change it. ``run(inputs, until=entries)`` makes one
    forward pass under ``torch.no_grad()`` and stops it as soon as every entry in ``until`` has been given out."""

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str],
        flatten: bool = False,
        sink: Callable[[str, torch.Tensor], None] | None = None,
        timesteps: Timesteps = None,
    ):
        self.model = model
        self.outputs: dict[str, torch.Tensor] = {}
        self.flatten = flatten
        self.timesteps = check_timesteps(timesteps)
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
            call = name if k == 0 else f"{name}@{k}"
            for entry, tensor in module_outputs(call, module, output, self.timesteps):
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
    timesteps: Timesteps = None,
) -> dict[str, torch.Tensor]:
    """Outputs of the named modules of `model` on `inputs` (a tensor or a tuple of positional tensors).

    layers: module paths (None = natural blocks). flatten: reshape each output to [N, -1].
    timesteps: for recurrent modules, None (the sequence output whole), "last", "all" or a list of step indices.
    batch_size: run a batch-first input tensor in batches along dim 0 and concatenate the outputs along dim 0
    (so only for models whose every captured output is batch-first)."""
    names = resolve_layers(model, layers)
    with Hooks(model, names, flatten, timesteps=timesteps) as hooks:
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
