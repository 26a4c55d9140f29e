"""Weight transformations w = H(u) as `torch.nn.utils.parametrize` modules.

Each class is a tiny ``nn.Module`` whose ``forward`` maps the stored tensor (``parametrizations.<name>.original``)
to the weight the layer uses. Where the stored tensor is the trainable one (``Permute``: latent scores, ``Shared``:
the tied values u, ``Hyper``: chunk embeddings), ``right_inverse`` builds it from the layer's current weight at
registration; where it is the frozen weight (``Mask``), the trainable scores live inside the parametrization.

Hard choices (a mask, a permutation) use straight-through gradients: the forward pass returns the exact hard
weight, the backward pass hands ∂C/∂w to the continuous scores as if the hard step were the identity.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# ----------------------------------------------------------------------------------------------
# straight-through estimators


class _TopKMask(torch.autograd.Function):
    """Forward: 1 at the k largest scores, 0 elsewhere (exactly k ones). Backward: identity (straight-through).
    Written with out-of-place ops and ``setup_context``, so torch.func (vmap over an ensemble's members) batches it."""

    generate_vmap_rule = True

    @staticmethod
    def forward(scores: torch.Tensor, k: int) -> torch.Tensor:
        flat = scores.flatten()
        top = torch.topk(flat, k, sorted=False).indices
        return torch.zeros_like(flat).scatter(0, top, torch.ones_like(flat)).view_as(scores)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


class _RankPlace(torch.autograd.Function):
    """Forward: put the sorted fixed values at the ranks of the latent scores (an exact permutation of the values).
    Backward: identity (straight-through), so the latent scores move as free weights would. vmappable as _TopKMask."""

    generate_vmap_rule = True

    @staticmethod
    def forward(latent: torch.Tensor, sorted_values: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(sorted_values).scatter(0, order, sorted_values).view_as(latent)  # out[order] = values

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None, None


# ----------------------------------------------------------------------------------------------


class Mask(nn.Module):
    """Edge-popup supermask (Ramanujan et al. 2020): w = w0 ⊙ topk(|s|, fraction).

    The stored ``original`` is the frozen random weight w0; the scores s are the trainable parameter.
    Exactly ``round(fraction * numel)`` entries are kept (at least one). Gradient to s: ∂C/∂w ⊙ w0 (straight-through).
    """

    def __init__(self, weight: torch.Tensor, fraction: float = 0.5):
        super().__init__()
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"mask fraction must be in (0, 1], got {fraction}")
        self.fraction = float(fraction)
        self.k = max(1, round(self.fraction * weight.numel()))
        self.scores = nn.Parameter(torch.empty_like(weight))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Scores ~ U(±1/sqrt(fan_in)), edge-popup's kaiming-uniform (also what priorlab.randomize calls)."""
        w = self.scores
        fan_in = w[0].numel() if w.dim() > 1 else w.numel()
        nn.init.uniform_(w, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def mask(self) -> torch.Tensor:
        return _TopKMask.apply(self.scores.abs(), self.k)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask()

    def extra_repr(self) -> str:
        return f"fraction={self.fraction}, k={self.k}"


class Permute(nn.Module):
    """The weight is always an exact permutation of a fixed set of values (its values at registration).

    Method ``"rank"`` (LaPerm-style, Qiu & Suda 2020; Cai et al. 2024): the stored ``original`` is a latent
    score per entry, initialised to the weight itself; the weight puts the i-th smallest fixed value where the
    latent has its i-th smallest score. Gradients reach the latent straight-through (∂C/∂latent = ∂C/∂w), so
    training moves latent scores as it would move free weights, and every step re-sorts: LaPerm's
    "train freely, then re-impose the rank order of the initial values" with a sync period of one step.
    Cost: one sort per forward pass; scales to any layer.
    """

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.register_buffer("sorted_values", weight.detach().flatten().sort().values.clone())

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        order = torch.argsort(latent.detach().flatten(), stable=True)
        return _RankPlace.apply(latent, self.sorted_values, order)

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        return weight.detach().clone()  # latent = weight: the identity permutation at start

    def extra_repr(self) -> str:
        return f"method=rank, n={self.sorted_values.numel()}"


class SinkhornPermute(nn.Module):
    """Permutation learned through a Sinkhorn relaxation (Mena et al. 2018), hard in the forward pass.

    Trainable logits L [n, n] over the n = numel entries. Soft: P = Sinkhorn(L / tau) (doubly stochastic), w_soft =
    P v. Hard: the assignment maximising Σ L (Hungarian, scipy), w_hard = v[assignment] — an exact permutation of
    the fixed values v. Forward returns w_hard + (w_soft − w_soft.detach()), equal to w_hard exactly, with the soft
    gradient. Quadratic in n: for tensors up to ``max_size`` entries (use ``"rank"`` for larger layers).
    The stored ``original`` is the frozen weight (the values v).
    """

    max_size = 1024

    def __init__(self, weight: torch.Tensor, tau: float = 0.1, iters: int = 20):
        super().__init__()
        n = weight.numel()
        if n > self.max_size:
            raise ValueError(
                f"permute method 'sinkhorn' needs an n×n matrix per tensor: a tensor of {n} entries exceeds "
                f"{self.max_size}; use method='rank'"
            )
        self.tau, self.iters = tau, iters
        # identity preferred at start (hard = identity), soft still spread enough to pass gradients
        self.logits = nn.Parameter(torch.eye(n, dtype=weight.dtype, device=weight.device) * 5 * tau)

    def soft(self) -> torch.Tensor:
        log_p = self.logits / self.tau
        for _ in range(self.iters):
            log_p = log_p - log_p.logsumexp(1, keepdim=True)
            log_p = log_p - log_p.logsumexp(0, keepdim=True)
        return log_p.exp()

    def assignment(self) -> torch.Tensor:
        from scipy.optimize import linear_sum_assignment

        _, cols = linear_sum_assignment(self.logits.detach().float().cpu().numpy(), maximize=True)
        return torch.as_tensor(cols, device=self.logits.device)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        v = weight.flatten()
        soft = self.soft() @ v
        hard = v[self.assignment()]
        return (hard + (soft - soft.detach())).view_as(weight)

    def extra_repr(self) -> str:
        return f"method=sinkhorn, n={self.logits.shape[0]}, tau={self.tau}, iters={self.iters}"


class Shared(nn.Module):
    """Weight tying: w = u[index]. The stored ``original`` is u (one value per tie group).

    ``index`` has the weight's shape, with integer group ids 0 … K−1 (every id used). At registration u is the
    mean of the weight over each group. Autograd's gradient of u is the sum of ∂C/∂w over the group's entries.
    """

    def __init__(self, index: torch.Tensor):
        super().__init__()
        index = torch.as_tensor(index, dtype=torch.long)
        n = int(index.max()) + 1 if index.numel() else 0
        if index.numel() == 0 or int(index.min()) < 0:
            raise ValueError("shared index map must be non-empty with ids >= 0")
        if torch.bincount(index.flatten(), minlength=n).min() == 0:
            raise ValueError(f"shared index map must use every id 0..{n - 1}")
        self.n_shared = n
        self.register_buffer("index", index.clone())

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u[self.index]

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        if weight.shape != self.index.shape:
            raise ValueError(
                f"shared index map has shape {tuple(self.index.shape)}, the weight {tuple(weight.shape)}"
            )
        flat = self.index.flatten()
        sums = torch.zeros(self.n_shared, dtype=weight.dtype, device=weight.device)
        sums.index_add_(0, flat, weight.detach().flatten())
        counts = torch.bincount(flat, minlength=self.n_shared).to(weight.dtype)
        return sums / counts

    def extra_repr(self) -> str:
        return f"shared={self.n_shared}, tied={self.index.numel()}"


def hashed_index(shape: torch.Size | tuple[int, ...], n_shared: int, seed: int = 0) -> torch.Tensor:
    """A HashedNets-style (Chen et al. 2015) random tie map: every id 0…n_shared−1 used, sizes as equal as possible."""
    numel = math.prod(shape)
    if not 1 <= n_shared <= numel:
        raise ValueError(f"number of shared values must be in 1..{numel}, got {n_shared}")
    g = torch.Generator().manual_seed(seed)
    ids = torch.arange(numel) % n_shared
    return ids[torch.randperm(numel, generator=g)].view(*shape)


class Generator(nn.Module):
    """The hypernetwork body: embedding [.., embed_dim] -> a chunk of weights [.., chunk] (two-layer tanh MLP)."""

    def __init__(self, embed_dim: int, chunk: int, hidden: int = 32):
        super().__init__()
        self.embed_dim, self.chunk = embed_dim, chunk
        self.net = nn.Sequential(nn.Linear(embed_dim, hidden), nn.Tanh(), nn.Linear(hidden, chunk))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Hyper(nn.Module):
    """A weight generated by a small network (static hypernetwork, Ha et al. 2016).

    The weight is cut into chunks of ``generator.chunk`` entries (the last one padded); chunk j is
    ``scale * generator(z_j)``. The stored ``original`` is the embedding table z [n_chunks, embed_dim]; the
    generator may be shared between several layers (then each layer has its own embeddings and scale).
    ``scale`` (a fixed buffer) makes the initial generated weight's SD equal to the replaced weight's SD.
    """

    def __init__(self, weight: torch.Tensor, generator: Generator, seed: int = 0):
        super().__init__()
        self.generator = generator
        self.shape = tuple(weight.shape)
        self.numel = weight.numel()
        self.n_chunks = math.ceil(self.numel / generator.chunk)
        g = torch.Generator().manual_seed(seed)
        self._z0 = torch.randn(self.n_chunks, generator.embed_dim, generator=g).to(weight.dtype)
        with torch.no_grad():
            raw = self._generate(self._z0.to(weight.device))
            target_sd = weight.detach().float().std().item() if self.numel > 1 else 1.0
            scale = target_sd / max(raw.float().std().item(), 1e-12) if self.numel > 1 else 1.0
        self.register_buffer("scale", torch.tensor(scale, dtype=weight.dtype))

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z).flatten()[: self.numel].view(self.shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.scale * self._generate(z)

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        return self._z0.to(
            device=weight.device, dtype=weight.dtype
        )  # not an inverse: the embeddings start random

    def extra_repr(self) -> str:
        return f"shape={self.shape}, chunks={self.n_chunks}"


class InputHyperLinear(nn.Module):
    """A Linear layer whose weight is generated per sample from the input (a dynamic hypernetwork).

    For input x (last dim ``in_features``): z_j(x) = z_j + E x for every chunk j, W(x) = scale * G(z(x)),
    y = W(x) x + b. Replaces an ``nn.Linear`` (``apply(model, "hyper", target=..., from_input=True)``).
    """

    def __init__(self, linear: nn.Linear, generator: Generator, seed: int = 0):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        static = Hyper(linear.weight, generator, seed=seed)
        self.generator = generator
        self.register_buffer("scale", static.scale.clone())
        self.n_chunks, self.numel = static.n_chunks, static.numel
        self.embeddings = nn.Parameter(static._z0.clone())
        self.encoder = nn.Linear(linear.in_features, generator.embed_dim)
        nn.init.zeros_(self.encoder.weight)  # starts as the static hypernetwork
        nn.init.zeros_(self.encoder.bias)
        self.bias = nn.Parameter(linear.bias.detach().clone()) if linear.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        xf = x.reshape(-1, self.in_features)
        z = self.embeddings[None] + self.encoder(xf)[:, None, :]  # [B, chunks, embed]
        w = self.scale * self.generator(z).flatten(1)[:, : self.numel]
        y = torch.einsum("boi,bi->bo", w.view(-1, self.out_features, self.in_features), xf)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*lead, self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, chunks={self.n_chunks}"
