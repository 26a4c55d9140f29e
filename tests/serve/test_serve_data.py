"""The additive pieces the playground needs: 2-D tasks with 2–5 classes, periodic activations in nets.deep."""

from __future__ import annotations

import math

import pytest
import torch

from priorlab.data.planes import MAX_CLASSES, TASKS, plane
from priorlab.nets.deep import deep
from priorlab.nets.onehidden import OneHidden, saw


@pytest.mark.parametrize("task", TASKS)
def test_plane_classes_balanced_and_deterministic(task):
    for k in range(2, MAX_CLASSES[task] + 1):
        x, y = plane(task, 103, 0.05, seed=4, classes=k)
        counts = torch.bincount(y, minlength=k)
        assert x.shape == (103, 2) and counts.sum() == 103 and counts.max() - counts.min() <= 1
        assert torch.equal(plane(task, 103, 0.05, seed=4, classes=k)[0], x)
        assert x.abs().max() < 2.0
    x2, y2 = plane(task, 50, 0.05, seed=1)  # classes=2 is the original task, unchanged
    assert torch.equal(plane(task, 50, 0.05, seed=1, classes=2)[1], y2)


def test_plane_classes_out_of_range():
    with pytest.raises(ValueError, match="classes must be 2–4 for 'xor'"):
        plane("xor", 100, classes=5)
    with pytest.raises(ValueError, match="classes"):
        plane("spiral", 100, classes=1)


def test_xor_four_classes_are_quadrants():
    x, y = plane("xor", 400, 0.0, seed=0, classes=4)
    quadrant = {(1, 1): 0, (-1, 1): 1, (-1, -1): 2, (1, -1): 3}
    assert all(quadrant[(int(math.copysign(1, a)), int(math.copysign(1, b)))] == c for (a, b), c in zip(x.tolist(), y.tolist()))


@pytest.mark.parametrize("name, fn", [("cos", torch.cos), ("sin", torch.sin), ("saw", saw)])
def test_deep_periodic_activations(name, fn):
    torch.manual_seed(0)
    net = deep(5, 2, name, bias=True, init="torch-default", in_features=1, out_features=1)
    x = torch.linspace(-3, 3, 11)[:, None]
    first = net.layer1.linear(x)
    assert torch.allclose(net.layer1(x), fn(first))


def test_deep_depth1_is_onehidden():
    """A depth-1 deep net with torch's init is OneHidden's network (same shapes, same draw from the same seed)."""
    torch.manual_seed(3)
    a = OneHidden(6, "cos")
    torch.manual_seed(3)
    b = deep(6, 1, "cos", bias=True, init="torch-default", in_features=1, out_features=1)
    assert torch.equal(a.hidden.weight, b.layer1.linear.weight) and torch.equal(a.out.weight, b.readout.weight)
    x = torch.linspace(-2, 2, 7)
    assert torch.allclose(a(x), b(x[:, None])[:, 0])
