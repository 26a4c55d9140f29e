"""Mean-field theory: closed forms where they exist (ReLU arc-cosine kernel, erf), known critical points,
and the empirical per-layer correlation of wide random tanh networks (issue 3, acceptance item 3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from priorlab.theory import chi1, correlation_map, critical_sigma_w, fixed_point_q, length_map


def relu_maps(sigma_w, sigma_b, depth, c0, q0):
    """Cho & Saul (2009) arc-cosine kernel: E[relu(u1) relu(u2)] = q/(2π) (sin θ + (π − θ) cos θ), θ = arccos c."""
    q = sigma_w**2 * q0 + sigma_b**2
    c = (sigma_w**2 * c0 * q0 + sigma_b**2) / q
    out = [c]
    for _ in range(depth - 1):
        th = np.arccos(np.clip(c, -1, 1))
        q12 = sigma_w**2 * q / (2 * np.pi) * (np.sin(th) + (np.pi - th) * np.cos(th)) + sigma_b**2
        q = sigma_w**2 * q / 2 + sigma_b**2
        c = q12 / q
        out.append(c)
    return np.array(out)


def erf_maps(sigma_w, sigma_b, depth, c0, q0):
    """Williams (1997): E[erf(u1) erf(u2)] = 2/π arcsin(2 q12 / sqrt((1 + 2 q11)(1 + 2 q22)))."""
    q = sigma_w**2 * q0 + sigma_b**2
    q12 = sigma_w**2 * c0 * q0 + sigma_b**2
    out = [q12 / q]
    for _ in range(depth - 1):
        q, q12 = (
            sigma_w**2 * 2 / np.pi * np.arcsin(2 * q / (1 + 2 * q)) + sigma_b**2,
            sigma_w**2 * 2 / np.pi * np.arcsin(2 * q12 / (1 + 2 * q)) + sigma_b**2,
        )
        out.append(q12 / q)
    return np.array(out)


@pytest.mark.parametrize("sigma_w,sigma_b,c0,q0", [(1.0, 0.0, 0.3, 1.0), (1.6, 0.4, 0.8, 2.0), (0.9, 0.2, -0.5, 0.5)])
def test_relu_and_erf_match_closed_forms(sigma_w, sigma_b, c0, q0):
    assert np.allclose(correlation_map("relu", sigma_w, sigma_b, 12, c0, q0), relu_maps(sigma_w, sigma_b, 12, c0, q0), atol=1e-5)
    assert np.allclose(correlation_map("erf", sigma_w, sigma_b, 12, c0, q0), erf_maps(sigma_w, sigma_b, 12, c0, q0), atol=1e-9)


def test_first_entry_is_the_first_weight_layer():
    # W x + b: q = σ_w² q0 + σ_b², covariance σ_w² c0 q0 + σ_b², whatever the activation
    for act in ("tanh", "sin", np.square):
        c = correlation_map(act, 2.0, 0.5, 3, c0=0.3, q0=1.5)
        assert c[0] == pytest.approx((4 * 0.3 * 1.5 + 0.25) / (4 * 1.5 + 0.25))
    assert length_map("tanh", 2.0, 0.5, 1, q0=1.5)[0] == pytest.approx(4 * 1.5 + 0.25)


def test_linear_network_keeps_correlation_without_bias():
    assert np.allclose(correlation_map("linear", 1.3, 0.0, 10, c0=0.42), 0.42)


def test_callable_equals_named_activation():
    named = correlation_map("tanh", 1.7, 0.2, 8, 0.6)
    assert np.allclose(correlation_map(torch.tanh, 1.7, 0.2, 8, 0.6), named, atol=1e-12)
    assert np.allclose(correlation_map(np.tanh, 1.7, 0.2, 8, 0.6), named, atol=1e-12)
    assert chi1(np.tanh, 1.7, 0.2) == pytest.approx(chi1("tanh", 1.7, 0.2), rel=1e-7)


def test_order_chaos_boundary_known_points():
    # tanh without bias: q* = 0 below σ_w = 1, so χ₁ = σ_w² and the boundary is σ_w = 1 (Poole et al. 2016)
    assert critical_sigma_w("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    assert chi1("tanh", 0.8, 0.0) == pytest.approx(0.64)
    # ReLU: χ₁ = σ_w²/2 for every σ_b, so the boundary is σ_w = sqrt(2)
    for sb in (0.0, 0.3):
        assert critical_sigma_w("relu", sb) == pytest.approx(np.sqrt(2), abs=1e-6)
    # a bias pushes the tanh boundary to larger σ_w, and χ₁ = 1 there at the fixed point
    sw = critical_sigma_w("tanh", 0.3)
    assert sw > 1.05
    assert chi1("tanh", sw, 0.3, fixed_point_q("tanh", sw, 0.3)) == pytest.approx(1.0, abs=1e-8)


def test_bad_activation_names_the_choices():
    with pytest.raises(ValueError, match="tanh"):
        correlation_map("swish", 1.0, 0.0, 3, 0.5)
    with pytest.raises(ValueError, match="c0"):
        correlation_map("tanh", 1.0, 0.0, 3, 1.5)


def empirical_correlations(sigma_ws, sigma_bs, c0s, width=2000, nets=16, depth=20, seed=0):
    """Uncentred pre-activation correlation per layer, averaged over `nets` random tanh networks, for every
    (σ_w, σ_b, c0). All configurations share each layer's standard-normal draws; the nets are batched (bmm)."""
    gen = torch.Generator().manual_seed(seed)
    configs = [(sw, sb, c0) for sw in sigma_ws for sb in sigma_bs for c0 in c0s]
    # two inputs per configuration with mean squared entry 1 and correlation c0 exactly
    u, v = torch.linalg.qr(torch.randn(width, 2, generator=gen, dtype=torch.float64))[0].T * width**0.5
    x = torch.stack([torch.stack([u, c0 * u + (1 - c0**2) ** 0.5 * v], 1) for _, _, c0 in configs], 1)
    x = x.reshape(width, -1).float().expand(nets, width, 2 * len(configs))  # [nets, width, 2 * configs]
    sw = torch.tensor([s for s, _, _ in configs]).repeat_interleave(2).float()
    sb = torch.tensor([s for _, s, _ in configs]).repeat_interleave(2).float()
    out = torch.empty(depth, len(configs))
    for layer in range(depth):
        w = torch.randn(nets, width, width, generator=gen)
        b = torch.randn(nets, width, 1, generator=gen)
        h = torch.bmm(w, x) * (sw / width**0.5) + b * sb  # [nets, width, 2 * configs]
        h1, h2 = h[..., 0::2], h[..., 1::2]
        out[layer] = ((h1 * h2).sum(1) / (h1.norm(dim=1) * h2.norm(dim=1))).mean(0)
        x = torch.tanh(h)
    return configs, out.numpy()


def test_tanh_networks_follow_the_correlation_map():
    """Issue 3 item 3: width 2000, 16 networks, 20 layers, within 0.05 at every layer."""
    configs, emp = empirical_correlations([1.5, 2.5], [0.0, 0.3], [0.5, 0.9])
    for k, (sw, sb, c0) in enumerate(configs):
        pred = correlation_map("tanh", sw, sb, 20, c0=c0, q0=1.0)
        err = np.abs(emp[:, k] - pred)
        assert err.max() < 0.05, f"σ_w={sw}, σ_b={sb}, c0={c0}: max |empirical − theory| = {err.max():.3f}"
