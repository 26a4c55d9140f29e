"""Motif detectors (the motifs experiment): a detector slid along a sequence with or without weight sharing, learned
3×3 image templates, a dense contrast model, and the hand-set letter templates (endpoints and corners)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SlidingDetector(nn.Module):
    """Detectors of ``k`` samples at every position of a sequence, ReLU, max over positions, then a linear read-out.

    ``shared=True``: one kernel per channel slid along the sequence (a convolution). ``shared=False``: every
    position has its own kernel (a locally connected layer: same receptive field, no sharing).
    """

    def __init__(self, length: int, k: int, channels: int, shared: bool):
        super().__init__()
        positions = 1 if shared else length - k + 1
        self.k = k
        self.weight = nn.Parameter(torch.randn(positions, channels, k) / k**0.5)
        self.bias = nn.Parameter(torch.zeros(positions, channels))
        self.readout = nn.Linear(channels, 2)

    def forward(self, x):
        windows = x.unfold(1, self.k, 1)  # [N, P, k]
        responses = (
            torch.einsum("npk,pck->npc", windows, self.weight.expand(windows.shape[1], -1, -1)) + self.bias
        )
        return self.readout(torch.relu(responses).amax(1))


class ConvTemplates(nn.Module):
    """Learned 3×3 templates cross-correlated with the image, ReLU, max over the image, linear read-out."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.readout = nn.Linear(channels, 2)

    def forward(self, x):
        return self.readout(torch.relu(self.conv(x)).amax((2, 3)))


def dense_classifier(n_inputs: int, hidden: int = 64) -> nn.Sequential:
    """A fully connected two-class network on the flattened input (no notion of position): the contrast."""
    return nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, hidden), nn.ReLU(), nn.Linear(hidden, 2))


# ----------------------------------------------------------------------------------------------
# hand-set templates


def hand_templates() -> tuple[torch.Tensor, list[str]]:
    """Five 3×3 templates [5, 1, 3, 3]: an endpoint (+3 centre, −1 around) and four right-angled corners
    (+1 on the centre and its two arms, −1 on the other neighbours)."""
    endpoint = -torch.ones(3, 3)
    endpoint[1, 1] = 3
    corners = []
    for dr, dc in ((1, 1), (1, -1), (-1, 1), (-1, -1)):  # arms: down/up and right/left
        k = -torch.ones(3, 3)
        k[1, 1] = k[1 + dr, 1] = k[1, 1 + dc] = 1
        corners.append(k)
    names = ["endpoint", "corner ┌", "corner ┐", "corner └", "corner ┘"]
    return torch.stack([endpoint, *corners])[:, None], names


def template_detections(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-correlate, threshold: endpoint map [N, H, W] (response ≥ 2) and corner map (any corner response ≥ 3)."""
    kernels, _ = hand_templates()
    responses = F.conv2d(images, kernels, padding=1)
    return responses[:, 0] >= 2, (responses[:, 1:] >= 3).any(1)


def classify_by_templates(images: torch.Tensor) -> torch.Tensor:
    """Sum the detections: 'D' (1) when corners outnumber endpoints, else 'C' (0)."""
    ends, corners = template_detections(images)
    return (corners.sum((1, 2)) > ends.sum((1, 2))).long()
