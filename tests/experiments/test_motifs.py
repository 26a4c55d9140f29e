"""Motif data, the shared/unshared detectors, the hand-set letter templates, and the motifs experiment."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from claimcheck import assert_verdicts_consistent, verdict_of
from figcheck import assert_no_figures, assert_redraws
from priorlab.data.motifs import MOTIF, letters, motif_sequences
from priorlab.experiments.motifs import Config, claims, detector_scores
from priorlab.nets.motifs import SlidingDetector, classify_by_templates, template_detections
from priorlab.stats.claims import evaluate


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


def test_detector_scores_are_the_cross_correlation_and_find_a_loud_motif():
    cfg = Config(length=24, amplitude=50.0, n_test=60)
    torch.manual_seed(0)
    model = SlidingDetector(cfg.length, len(MOTIF), 3, shared=True)
    example, hits = detector_scores(cfg, model, seed=0)
    # the peer: numpy's correlation of the shown sequence with the motif
    for row in range(2):
        np.testing.assert_allclose(example["matched"][row], np.correlate(example["x"][row], MOTIF, "valid"), rtol=1e-5,
                                   atol=1e-4)
    assert hits["motif_hit_rate"] == 1.0  # amplitude 50: the max is always on the motif
    assert int(np.argmax(example["matched"][0])) == example["start"]
    assert (example["learned"] >= 0).all()  # ReLU scores


def test_motif_claim_follows_the_amplitude():
    rows = {r["metric"]: r for r in evaluate(claims(Config(amplitude=1.0)), {"motif_hit_rate": 0.5})}
    assert rows["motif_hit_rate"]["verdict"] == "not tested at this scale"
    rows = {r["metric"]: r for r in evaluate(claims(Config()), {"motif_hit_rate": 0.5})}
    assert rows["motif_hit_rate"]["verdict"] == "differs"


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
    assert {"scores.png", "decision.png", "sequences.png", "samples.png", "letters.png", "templates.png"} <= {
        p.name for p in run.figures
    }
    rows = assert_verdicts_consistent(run.path)
    assert all(r["verdict"] == "reproduces" for r in rows), rows
    # the decision figure's counts: 'D' exactly where corners outnumber endpoints
    arrays = run.arrays()
    decided = (arrays["corners_test"] > arrays["endpoints_test"]).mean()
    assert arrays["acc_shared"].shape == (2, 2) and 0.3 < decided < 0.7
    # draw() from arrays.npz gives the same six figures; the decision figure's letters are a 'C' and a 'D' whose
    # maps hold the counts it plots
    assert assert_redraws(run.path) == {f"{n}.png" for n in ("scores", "decision", "sequences", "samples", "letters",
                                                             "templates")}
    first = [int(np.flatnonzero(arrays["labels_test"] == cls)[0]) for cls in (0, 1)]
    np.testing.assert_array_equal(arrays["decision_endpoints"].sum((1, 2)), arrays["endpoints_test"][first])
    np.testing.assert_array_equal(arrays["decision_corners"].sum((1, 2)), arrays["corners_test"][first])
    # barely trained, the learned convolution is not shift invariant yet: its verdict flips
    short = priorlab.run("motifs", out=tmp_path / "s", train_sizes=[8], repeats=1, n_letters=100, n_test=200, steps=2,
                         figures="none")
    assert_no_figures(short.path)
    rows = assert_verdicts_consistent(short.path)
    assert verdict_of(rows, "acc_conv_unseen") == "differs"
    assert verdict_of(rows, "acc_templates_unseen") == "reproduces"  # hand-set: nothing to train


def test_motifs_bad_config(home):
    import priorlab
    from priorlab.config import UserError

    with pytest.raises(UserError, match="length"):
        priorlab.run("motifs", length=5)
    with pytest.raises(UserError, match="train_sizes"):
        priorlab.run("motifs", train_sizes=[1, 8])
