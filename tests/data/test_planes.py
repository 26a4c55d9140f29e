"""2-D tasks: shapes, balance, determinism, and each task's defining geometry."""

import numpy as np
import pytest
import torch

from priorlab.data.planes import TASKS, grid_lines, plane


@pytest.mark.parametrize("task", TASKS)
def test_shapes_balance_and_determinism(task):
    x, y = plane(task, n=301, noise=0.05, seed=3)
    assert x.shape == (301, 2) and x.dtype == torch.float32
    assert y.shape == (301,) and y.dtype == torch.int64
    assert set(y.tolist()) == {0, 1} and abs(int(y.sum()) - 150) <= 1
    x2, y2 = plane(task, n=301, noise=0.05, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = plane(task, n=301, noise=0.05, seed=4)
    assert not torch.equal(x, x3)


def test_noise_free_geometry():
    x, y = plane("circles", 400, noise=0.0)
    r = x.norm(dim=1)
    assert r[y == 0].max() <= 0.45 + 1e-6 and r[y == 1].min() >= 0.65 - 1e-6
    x, y = plane("xor", 400, noise=0.0)
    assert torch.equal((x[:, 0] * x[:, 1] < 0).long(), y)
    x, y = plane("spiral", 400, noise=0.0)
    # the two arms are point reflections of each other: r is in [0.15, 1] for both
    assert x.norm(dim=1).min() >= 0.15 - 1e-6 and x.norm(dim=1).max() <= 1 + 1e-6


def test_spiral_is_not_linearly_separable_but_gaussians_nearly_are():
    from sklearn.linear_model import LogisticRegression

    def linear_acc(task):
        x, y = plane(task, 600, noise=0.05, seed=0)
        return LogisticRegression().fit(x.numpy(), y.numpy()).score(x.numpy(), y.numpy())

    assert linear_acc("spiral") < 0.85
    assert linear_acc("xor") < 0.7
    assert linear_acc("gaussians") > 0.9


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown task 'square'"):
        plane("square")
    with pytest.raises(ValueError, match="noise"):
        plane("xor", noise=-1)


def test_grid_lines_are_straight_and_ordered():
    g = grid_lines(-1, 1, lines=5, points=50)
    assert g.shape == (10, 50, 2)
    assert torch.allclose(g[:5, :, 1], g[:5, :1, 1].expand(5, 50))  # horizontal: y constant
    assert torch.allclose(g[5:, :, 0], g[5:, :1, 0].expand(5, 50))  # vertical: x constant
    assert (np.diff(g[:5, :, 0].numpy(), axis=1) > 0).all()
