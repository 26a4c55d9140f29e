"""Train K small models at once: a ``torch.func`` ensemble with a fused optimizer step.

The K members share one *functional* model ``loss_fn(params, *batch) -> scalar`` (one member's loss) and keep
their parameters stacked along dim 0 (``params[name]`` is ``[K, ...]``). One training step is

    losses = vmap(loss_fn)(params, *batch)          # [K]: every member's own loss
    grads  = grad(losses.sum())(params)             # member k's gradient is exactly dL_k/dθ_k
    params, m, v <- Adam(params, grads, lr[k])      # elementwise, so each member keeps its own lr

with no per-member Python work: a step is a fixed handful of tensor operations whatever K is. On a GPU the whole
step (forward, backward, Adam with on-device step counter and bias corrections, loss bookkeeping) is captured
once in a CUDA graph and replayed; on the CPU it can be compiled with ``torch.compile``.

Members that differ only in size (a width sweep) are zero-padded to the largest shape and every trainable
tensor is multiplied by a 0/1 padding mask inside the loss, so padded entries neither act nor learn
(their gradient is exactly zero and Adam leaves them at zero). Frozen tensors (``frozen``) take part in the
loss but are never updated, which is how bias-only models (fixed random weights, learned biases) batch.

Results equal training each member alone with ``torch.optim.Adam`` (same init, same lr), up to rounding.

When to use which:

- :func:`priorlab.train.loop.fit` trains ONE model (any ``nn.Module``, any regime; minibatches, penalties, gradient
  clipping, callbacks). A module that already holds several networks in its own stacked tensors
  (:class:`priorlab.nets.batched_mlp.BatchedMLP`) is one model too: ``fit`` it on the sum of its networks' losses.
- :class:`Ensemble` trains K same-shaped small networks given as K modules (seeds and widths of a sweep, e.g. fit1d's
  ``run_many``), full batch, with per-member learning rates and divergence, and no per-member Python work per step.

Typical use::

    modules = [make_model(width=h, seed=s) for h, s in members]
    fwd, params, frozen, masks = from_modules(modules)
    ens = Ensemble(lambda p, x, y: ((fwd(p, x) - y) ** 2).mean(), params, frozen=frozen, masks=masks, lr=1e-2)
    result = ens.train(300, x, y)            # result.losses [300, K], result.diverged_at [K] (-1: never)
    yhat = ens.evaluate(fwd, x_test)         # [K, ...]
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

Params = dict[str, Tensor]


# ----------------------------------------------------------------------------------------------
# stacking members


def stack_padded(states: Sequence[Params]) -> tuple[Params, Params | None]:
    """Stack K tensor dicts along a new dim 0, zero-padding tensors whose shapes differ between members.

    Returns ``(stacked, masks)``; ``masks[name]`` is 1 where member k has a real entry, and only names whose
    shapes differ get a mask (``masks`` is None when all shapes agree).
    """
    if not states:
        raise ValueError("stack_padded needs at least one member")
    names = list(states[0])
    for s in states[1:]:
        if list(s) != names:
            raise ValueError(f"members have different tensors: {sorted(s)} vs {sorted(names)}")
    stacked: Params = {}
    masks: Params = {}
    for name in names:
        tensors = [s[name] for s in states]
        shapes = [t.shape for t in tensors]
        if len({len(sh) for sh in shapes}) != 1:
            raise ValueError(f"'{name}' has a different number of dimensions in different members")
        if all(sh == shapes[0] for sh in shapes):
            stacked[name] = torch.stack([t.detach() for t in tensors])
            continue
        big = [max(d) for d in zip(*shapes)]
        buf = tensors[0].new_zeros((len(tensors), *big))
        mask = torch.zeros_like(buf)
        for k, t in enumerate(tensors):
            region = (k, *(slice(0, d) for d in t.shape))
            buf[region] = t.detach()
            mask[region] = 1
        stacked[name], masks[name] = buf, mask
    return stacked, (masks or None)


def from_modules(modules: Sequence[nn.Module]) -> tuple[Callable, Params, Params, Params | None]:
    """Turn K modules of one architecture (sizes may differ) into ``(forward, params, frozen, masks)``.

    ``forward(p, *inputs)`` runs one member given its tensors (``p`` holds trainable and frozen ones);
    ``params`` are the trainable parameters stacked (padded), ``frozen`` the parameters with
    ``requires_grad=False`` and the buffers, ``masks`` the padding masks of the trainable ones (or None).
    """
    widest = max(modules, key=lambda m: sum(p.numel() for p in m.parameters()))
    base = copy.deepcopy(widest).to("meta")

    def split(m: nn.Module) -> tuple[Params, Params]:
        train = {n: p.detach() for n, p in m.named_parameters() if p.requires_grad}
        fixed = {n: p.detach() for n, p in m.named_parameters() if not p.requires_grad}
        fixed.update({n: b.detach() for n, b in m.named_buffers()})
        return train, fixed

    parts = [split(m) for m in modules]
    params, masks = stack_padded([p for p, _ in parts])
    frozen, _ = stack_padded([f for _, f in parts]) if parts[0][1] else ({}, None)

    def forward(p: Params, *inputs):
        return functional_call(base, p, inputs)

    return forward, params, frozen, masks


# ----------------------------------------------------------------------------------------------
# the engine


@dataclass
class TrainResult:
    losses: Tensor  # [steps, K] each member's loss before each update
    diverged_at: Tensor  # [K] first step with a non-finite loss, -1 if none

    @property
    def final(self) -> Tensor:
        return self.losses[-1]


class Ensemble:
    """K members of one functional model trained together (see the module docstring).

    Args:
        loss_fn: ``loss_fn(p, *batch) -> scalar`` for ONE member; ``p`` holds its trainable and frozen tensors.
        params: trainable tensors stacked along dim 0 (``[K, ...]``); copied, so the caller's stay untouched.
        frozen: tensors the loss uses but training never changes (``[K, ...]``).
        masks: 0/1 padding masks for (some of) ``params`` (from :func:`stack_padded`).
        lr: one learning rate, or one per member (sequence or tensor of length K).
        optimizer: ``adam`` (``torch.optim.Adam`` semantics, L2 ``weight_decay``) or ``sgd`` (plain gradient descent).
        batch_dims: per ``batch`` argument, ``None`` (shared by all members) or ``0`` (stacked per member);
            default: all shared.
        compile: ``torch.compile`` the step (one graph: forward, backward and Adam fused). ``"auto"`` means off:
            compiling takes tens of seconds, which pays only for long trainings or many :meth:`reset` runs.
        cuda_graph: capture the step in a CUDA graph on a GPU (True, False or ``"auto"`` = on CUDA).
    """

    def __init__(
        self,
        loss_fn: Callable[..., Tensor],
        params: Params,
        *,
        frozen: Params | None = None,
        masks: Params | None = None,
        lr: float | Sequence[float] | Tensor = 1e-3,
        optimizer: str = "adam",
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        batch_dims: Sequence[int | None] | None = None,
        compile: bool | str = "auto",
        cuda_graph: bool | str = "auto",
    ):
        if optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        self.loss_fn = loss_fn
        self.names = list(params)
        first = params[self.names[0]]
        self.K, self.device, self.dtype = first.shape[0], first.device, first.dtype
        self.params = {n: t.detach().clone() for n, t in params.items()}
        self.frozen = {n: t.detach() for n, t in (frozen or {}).items()}
        self.masks = {n: m.to(first) for n, m in (masks or {}).items()}
        for n, t in self.params.items():
            if t.shape[0] != self.K:
                raise ValueError(f"'{n}' has {t.shape[0]} members, expected {self.K}")
        lr_t = torch.as_tensor(lr, dtype=self.dtype, device=self.device).reshape(-1)
        if lr_t.numel() not in (1, self.K):
            raise ValueError(f"lr must be one number or {self.K} numbers, got {lr_t.numel()}")
        self.lr = lr_t.expand(self.K).clone()
        self.optimizer, self.betas, self.eps, self.weight_decay = optimizer, betas, eps, weight_decay
        self.batch_dims = tuple(batch_dims) if batch_dims is not None else None
        # optimizer state, all on the device so that a step needs no host synchronisation
        self.step_count = torch.zeros((), dtype=self.dtype, device=self.device)
        self.exp_avg = {n: torch.zeros_like(t) for n, t in self.params.items()}
        self.exp_avg_sq = {n: torch.zeros_like(t) for n, t in self.params.items()}
        self._lr_views = {n: self.lr.view(-1, *([1] * (t.dim() - 1))) for n, t in self.params.items()}
        self._row = torch.zeros((), dtype=torch.long, device=self.device)  # history row of the next step
        self._compile = compile
        self._cuda_graph = cuda_graph
        self._compiled = None
        self._functional_grad = False
        self._cached = None  # (key, history, diverged_at, step runner, batch) of the last train() call

    # --- the math -------------------------------------------------------------------------
    def _member_losses(self, params: Params, batch: tuple) -> Tensor:
        masked = {n: t * self.masks[n] if n in self.masks else t for n, t in params.items()}
        dims = self.batch_dims if self.batch_dims is not None else (None,) * len(batch)
        return vmap(self.loss_fn, in_dims=(0, *dims))({**masked, **self.frozen}, *batch)

    def _step_impl(self, batch: tuple) -> Tensor:
        """One optimizer step for every member; returns the losses before it. Pure tensor work, no sync."""

        # members are independent, so d(sum of losses)/d(member k's tensors) is member k's own gradient
        if self._functional_grad:  # one graph for torch.compile (autograd.grad would break it in two)

            def total(p):
                losses = self._member_losses(p, batch)
                return losses.sum(), losses

            grads, losses = grad(total, has_aux=True)(self.params)
        else:  # eager and CUDA graphs: plain autograd has less per-call overhead
            with torch.enable_grad():
                leaves = {n: t.detach().requires_grad_() for n, t in self.params.items()}
                losses = self._member_losses(leaves, batch)
                grads = dict(zip(leaves, torch.autograd.grad(losses.sum(), list(leaves.values()))))
            losses = losses.detach()
        with torch.no_grad():
            self.step_count.add_(1)
            if self.optimizer == "sgd":
                for n, p in self.params.items():
                    g = grads[n] + self.weight_decay * p if self.weight_decay else grads[n]
                    p.sub_(self._lr_views[n] * g)
                return losses
            b1, b2 = self.betas
            bc1 = 1 - torch.pow(b1, self.step_count)
            bc2_sqrt = torch.sqrt(1 - torch.pow(b2, self.step_count))
            for n, p in self.params.items():
                g = grads[n] + self.weight_decay * p if self.weight_decay else grads[n]
                m, v = self.exp_avg[n], self.exp_avg_sq[n]
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
                p.sub_((self._lr_views[n] / bc1) * m / denom)
        return losses

    # --- public ----------------------------------------------------------------------------
    def losses(self, *batch) -> Tensor:
        """Every member's current loss, ``[K]``."""
        with torch.no_grad():
            return self._member_losses(self.params, batch)

    def evaluate(self, fn: Callable, *args, in_dims: Sequence[int | None] | None = None) -> Tensor:
        """``fn(p, *args)`` for every member (masked params + frozen), stacked along dim 0."""
        masked = {n: t * self.masks[n] if n in self.masks else t for n, t in self.params.items()}
        dims = tuple(in_dims) if in_dims is not None else (None,) * len(args)
        with torch.no_grad():
            return vmap(fn, in_dims=(0, *dims))({**masked, **self.frozen}, *args)

    def member(self, k: int) -> Params:
        """Member k's trainable tensors, padding removed (its own shapes)."""
        out = {}
        for n, t in self.params.items():
            if n in self.masks:
                idx = self.masks[n][k].nonzero()
                ext = (idx.max(0).values + 1).tolist() if len(idx) else [0] * (t.dim() - 1)
                t = t[k][tuple(slice(0, e) for e in ext)]
            else:
                t = t[k]
            out[n] = t.detach().clone()
        return out

    def step(self, *batch) -> Tensor:
        """One eager training step (no graph, no compile); returns the losses before it, ``[K]``."""
        return self._step_impl(batch)

    def train(self, steps: int, *batch) -> TrainResult:
        """``steps`` full-batch steps on ``batch``. The host waits for the device only once, at the end.

        The executable step (CUDA graph or compiled) is kept for the next call with the same ``steps`` and the same
        batch tensors, so repeated trainings of one shape (after :meth:`reset`) pay for capture/compile once.
        """
        key = (steps, tuple(id(b) for b in batch))
        self._row.zero_()
        if self._cached is None or self._cached[0] != key:
            history = torch.empty((steps, self.K), dtype=self.dtype, device=self.device)
            diverged_at = torch.full((self.K,), -1, dtype=torch.long, device=self.device)
            # the batch is kept referenced, so its ids (the key) cannot be reused by other tensors
            self._cached = (key, history, diverged_at, self._runner(batch, history, diverged_at), batch)
        _, history, diverged_at, run, _ = self._cached
        diverged_at.fill_(-1)
        for i in range(steps):
            run(i)
        return TrainResult(losses=history.clone(), diverged_at=diverged_at.clone())

    def reset(self, params: Params, lr: float | Sequence[float] | Tensor | None = None) -> None:
        """Start again from new initial ``params`` (same shapes), with fresh optimizer state."""
        with torch.no_grad():
            for n, t in self.params.items():
                t.copy_(params[n])
            for t in (*self.exp_avg.values(), *self.exp_avg_sq.values()):
                t.zero_()
            self.step_count.zero_()
            if lr is not None:
                self.lr.copy_(torch.as_tensor(lr, dtype=self.dtype, device=self.device).reshape(-1).expand(self.K))

    # --- execution strategies --------------------------------------------------------------
    def _bookkeep(self, losses: Tensor, history: Tensor, diverged_at: Tensor) -> None:
        """Record this step's losses in its history row and the first non-finite step, on the device."""
        i = self._row
        history.index_copy_(0, i.view(1), losses.detach().unsqueeze(0))
        bad = (~torch.isfinite(losses)) & (diverged_at < 0)
        diverged_at.copy_(torch.where(bad, i.expand_as(diverged_at), diverged_at))
        i.add_(1)

    def _full_step(self, batch, history, diverged_at) -> None:
        self._bookkeep(self._step_impl(batch), history, diverged_at)

    def _runner(self, batch: tuple, history: Tensor, diverged_at: Tensor) -> Callable[[int], None]:
        use_graph = self._cuda_graph is True or (self._cuda_graph == "auto" and self.device.type == "cuda")
        if use_graph and self.device.type == "cuda":
            graph = self._capture(batch, history, diverged_at)
            return lambda i: graph.replay()
        if self._want_compile():
            step = self._get_compiled()
            return lambda i: step(batch, history, diverged_at)
        return lambda i: self._full_step(batch, history, diverged_at)

    def _want_compile(self) -> bool:
        if self._compile == "auto":
            return False  # compile time (seconds) only pays off for long runs: ask for it explicitly
        return bool(self._compile)

    def _get_compiled(self):
        if self._compiled is None:
            self._functional_grad = True
            self._compiled = torch.compile(self._full_step, dynamic=False)
        return self._compiled

    def _state(self) -> list[Tensor]:
        return [self.step_count, self._row, *self.params.values(), *self.exp_avg.values(), *self.exp_avg_sq.values()]

    def _capture(self, batch, history, diverged_at) -> torch.cuda.CUDAGraph:
        """Capture one full step in a CUDA graph; warm-up steps are undone so the numbers are unchanged."""
        saved = [t.clone() for t in self._state()]
        saved_hist, saved_div = history.clone(), diverged_at.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(min(3, len(history))):  # history has one row per step: stay inside it
                self._full_step(batch, history, diverged_at)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._full_step(batch, history, diverged_at)
        # capture records without running; now restore the state the warm-up changed
        for t, s in zip(self._state(), saved):
            t.copy_(s)
        history.copy_(saved_hist)
        diverged_at.copy_(saved_div)
        return graph
