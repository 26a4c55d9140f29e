"""multitask: one frozen random network, one bias vector per task; switching the biases switches the task."""

import numpy as np
import pytest
import torch

import priorlab
from figcheck import assert_redraws
from priorlab.experiments.multitask import Config, balanced_weights, train_task
from priorlab.nets.onelayer import UnitMask, one_hidden, task_net


def test_balanced_weights_give_the_mean_of_per_class_losses():
    torch.manual_seed(0)
    y = torch.tensor([0] * 90 + [1] * 10)
    logits = torch.randn(100, 2)
    weighted = torch.nn.CrossEntropyLoss(weight=balanced_weights(y, 2))(logits, y)
    per = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    torch.testing.assert_close(weighted, (per[y == 0].mean() + per[y == 1].mean()) / 2)


def test_unit_mask_keeps_exactly_k_units_and_passes_gradients_through():
    m = UnitMask(100, keep=0.3, seed=0)
    h = torch.ones(5, 100)
    out = m(h)
    assert int((out[0] != 0).sum()) == 30
    kept = m.scores.topk(30).indices
    assert set(out[0].nonzero().flatten().tolist()) == set(kept.tolist())
    (out * torch.arange(100.0)).sum().backward()
    torch.testing.assert_close(m.scores.grad, 5 * torch.arange(100.0))  # straight through, every unit


@pytest.mark.parametrize("method", ["bias", "mask"])
def test_tasks_share_one_frozen_weight_and_own_their_biases(method):
    shared = one_hidden(8, 32, 1, seed=0)[0].weight
    w0 = shared.detach().clone()
    nets = [task_net(method, 32, c, shared, seed=1 + k, keep=0.5) for k, c in enumerate((3, 2))]
    assert nets[0][0].weight is nets[1][0].weight is shared
    x = torch.randn(40, 8)
    for net, c in zip(nets, (3, 2)):
        heads = net[-1].weight.detach().clone()
        train_task(net, x, torch.randint(0, c, (40,)), c, Config(steps=20, lr=0.05))
        assert torch.equal(net[-1].weight, heads)  # heads are random and frozen
    assert torch.equal(shared, w0)
    if method == "bias":
        assert not torch.equal(nets[0][0].bias, nets[1][0].bias)  # each task its own bias vector
        trainable = {n for n, p in nets[0].named_parameters() if p.requires_grad}
        assert trainable == {"0.bias", "2.bias"}
    else:
        assert torch.equal(nets[0][0].bias, torch.zeros(32))


def test_switching_bias_vectors_switches_tasks(home):
    tasks = ["digit", "parity", "small", "is7"]
    run = priorlab.run("multitask", tasks=tasks, widths=[512], steps=200, seed=0)
    m = run.metrics
    switch = run.arrays()["switch_bias"]
    for k, task in enumerate(tasks):
        own = m[f"task_acc_{task}"]
        assert own >= m[f"chance_{task}"] + 0.2
        assert switch[k, k] == pytest.approx(own)
        # task k's head read through any other task's biases loses most of what it learned
        others = np.delete(switch[k], k)
        assert (others <= own - 0.25).all(), (task, switch[k])
    assert m["chance_digit"] == pytest.approx(0.1) and m["chance_parity"] == pytest.approx(0.5)
    assert assert_redraws(run.path) == {"accuracy.png", "switch.png", "states.png"}  # draw() from the arrays


def test_bad_config_names_the_key(cli):
    r = cli(["run", "multitask", "--set", "tasks=digit"])
    assert r.code == 2 and "tasks" in r.err
    r = cli(["run", "multitask", "--set", "keep=1.5"])
    assert r.code == 2 and "keep" in r.err


@pytest.mark.slow
def test_full_scale_acceptance(home):
    """Issue 4, acceptance 4: width 4096, four tasks, each at least chance + 0.2."""
    run = priorlab.run("multitask", scale="full", seed=0)
    m = run.metrics
    for task in ["digit", "parity", "small", "is7"]:
        assert m[f"task_acc_{task}_w4096"] >= m[f"chance_{task}"] + 0.2
    switch = run.arrays()["switch_bias"]
    own = np.diag(switch)
    assert (switch[~np.eye(4, dtype=bool)].reshape(4, 3) <= own[:, None] - 0.25).all()


def test_state_space_and_verdicts(home):
    """Issue 13: the hidden states under each task's biases are drawn; the verdicts follow from the numbers, and
    with too little training the first claim differs."""
    from claimcheck import assert_verdicts_consistent

    run = priorlab.run("multitask", tasks=["digit", "parity"], widths=[512], methods=["bias"])
    assert "states.png" in {p.name for p in run.figures}
    assert 0 < run.metrics["states_task_variance"] < 1
    rows = assert_verdicts_consistent(run.path)
    assert rows[0]["verdict"] == "reproduces"
    weak = priorlab.run("multitask", tasks=["digit", "parity"], widths=[16], methods=["bias"], steps=3)
    assert assert_verdicts_consistent(weak.path)[0]["verdict"] == "differs"


def test_repeats_give_means_with_cis(home):
    """Issue 11: with repeats, every accuracy is the mean over seeds with its bootstrap CI and n; repeat 0 is the
    single-seed run (same W1, heads and numbers), and the repeats use fresh seeds."""
    cfg = dict(tasks=["digit", "parity"], widths=[64], methods=["bias"], steps=60)
    one = priorlab.run("multitask", **cfg)
    three = priorlab.run("multitask", repeats=3, **cfg)
    runs = three.arrays()["acc_runs"]  # [method, width, task, repeat]
    assert runs.shape == (1, 1, 2, 3) and len(set(runs[0, 0, 0])) > 1  # the seeds differ
    for k, task in enumerate(cfg["tasks"]):
        name = f"task_acc_{task}"
        assert runs[0, 0, k, 0] == pytest.approx(one.metrics[name])
        m = three.metrics
        assert m[name] == pytest.approx(runs[0, 0, k].mean()) and m[f"{name}_n"] == 3
        assert m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"]
        assert min(runs[0, 0, k]) - 1e-12 <= m[f"{name}_ci_low"] and m[f"{name}_ci_high"] <= max(runs[0, 0, k]) + 1e-12
    assert one.metrics["task_acc_digit_n"] == 1 and "task_acc_digit_ci_low" not in one.metrics
    assert assert_redraws(three.path) == {"accuracy.png", "switch.png", "states.png"}  # with CIs from the arrays
    s = three.metrics
    assert s["switched_acc_bias_ci_low"] <= s["switched_acc_bias"] <= s["switched_acc_bias_ci_high"]
