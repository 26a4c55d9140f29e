"""Motif data, the shared/unshared detectors, the hand-set letter templates, and the motifs experiment."""

import pytest
import torch
import torch.nn.functional as F

from priorlab.data.motifs import MOTIF, letters, motif_sequences
from priorlab.nets.motifs import SlidingDetector, classify_by_templates, template_detections


def test_motif_planted_only_in_class_one():
    x, y = motif_sequences(200, length=20, noise=0.0, amplitude=2.0, seed=1)
    assert x.shape == (200, 20) and set(y.tolist()) == {0, 1}
    assert (x[y == 0] == 0).all()
    motif = 2.0 * torch.tensor(MOTIF)
    hits = F.conv1d(x[y == 1][:, None], motif[None, None]).amax(-1).squeeze(1)
    torch.testing.assert_close(hits, torch.full_like(hits, float(motif @ motif)))
    starts = F.conv1d(x[y == 1][:, None], motif[None, None]).argmax(-1).squeeze(1)
    assert len(set(starts.tolist())) > 10  # random positions


@pytest.mark.parametrize("region,cols", [("left", slice(20, None)), ("right", slice(None, 20))])
def test_letters_stay_in_their_half(region, cols):
    x, y = letters(100, region=region, seed=2)
    assert x.shape == (100, 1, 20, 40) and set(y.tolist()) == {0, 1}
    assert x[..., cols].sum() == 0 and (x.sum((1, 2, 3)) > 10).all()
    x2, _ = letters(100, region=region, seed=2)
    assert torch.equal(x, x2)


def test_hand_templates_find_two_endpoints_on_c_and_two_corners_on_d():
    x, y = letters(300, region="any", sizes=(7, 15), seed=3)
    ends, corners = template_detections(x)
    n_ends, n_corners = ends.sum((1, 2)), corners.sum((1, 2))
    assert (n_ends[y == 0] == 2).float().mean() >= 0.95 and (n_corners[y == 0] == 0).float().mean() >= 0.95
    assert (n_corners[y == 1] == 2).float().mean() >= 0.95 and (n_ends[y == 1] == 0).float().mean() >= 0.95
    assert (classify_by_templates(x) == y).float().mean() >= 0.95


def test_shared_detector_is_a_convolution_and_shift_invariant():
    torch.manual_seed(0)
    shared = SlidingDetector(length=16, k=5, channels=3, shared=True)
    x = torch.randn(4, 16)
    responses = F.conv1d(x[:, None], shared.weight[0][:, None], bias=shared.bias[0])  # [N, C, P]
    expected = shared.readout(torch.relu(responses).amax(-1))
    torch.testing.assert_close(shared(x), expected)
    # a motif on a blank background, at least a kernel width from either end: the shared detector's output is the
    # same wherever it sits
    shared = SlidingDetector(length=20, k=5, channels=3, shared=True)
    a, b = torch.zeros(1, 20), torch.zeros(1, 20)
    a[0, 4:9], b[0, 11:16] = torch.tensor(MOTIF), torch.tensor(MOTIF)
    torch.testing.assert_close(shared(a), shared(b))
    unshared = SlidingDetector(length=20, k=5, channels=3, shared=False)
    assert not torch.allclose(unshared(a), unshared(b))


def test_motifs_experiment_small(tmp_path, home):
    import priorlab

    run = priorlab.run(
        "motifs", out=tmp_path / "m", train_sizes=[8, 64], repeats=2, n_letters=200, n_test=300, steps=300
    )
    assert run.status == "done"
    m = run.metrics
    for n in (8, 64):
        assert 0 <= m[f"acc_shared_n{n}"] <= 1 and 0 <= m[f"acc_dense_n{n}"] <= 1
    # the claims: sharing wins with few examples; templates and the learned convolution work at unseen positions,
    # where a fully connected network trained on the same letters is at chance
    assert m["acc_shared_n8"] > m["acc_dense_n8"] + 0.1
    assert m["acc_templates_unseen"] >= 0.95
    assert m["acc_conv_unseen"] >= 0.95
    assert m["acc_mlp_unseen"] < 0.7
    assert {"sequences.png", "samples.png", "letters.png", "templates.png"} <= {p.name for p in run.figures}


def test_motifs_bad_config(home):
    import priorlab
    from priorlab.config import UserError

    with pytest.raises(UserError, match="length"):
        priorlab.run("motifs", length=5)
    with pytest.raises(UserError, match="train_sizes"):
        priorlab.run("motifs", train_sizes=[1, 8])
