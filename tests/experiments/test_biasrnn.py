"""biasrnn: a recurrent net with frozen random weights whose biases alone learn to generate and forecast."""

import json

import numpy as np
import pytest
import torch

import priorlab
from claimcheck import assert_verdicts_consistent, verdict_of
from figcheck import assert_redraws
from priorlab.experiments.biasrnn import Config, nmse, train_generator
from priorlab.nets.biasrnn import BiasRNN, jacobian_disc, jacobian_eigenvalues, valid_steps
from priorlab.regimes import apply, summary


def test_only_biases_are_trainable():
    net = apply(BiasRNN(50, 3, 3, gain=1.5, alpha=0.5, seed=0), "bias_only")
    assert summary(net).trainable == 50 + 3  # hand count: recurrent bias and readout bias
    assert summary(net).total == 50 * 50 + 50 + 3 * 50 + 50 * 3 + 3
    assert net.rec.weight.std().item() == pytest.approx(1.5 / np.sqrt(50), rel=0.1)


def test_nmse():
    t = torch.randn(1000, 2) * torch.tensor([1.0, 5.0])
    assert nmse(t, t) == 0
    # predicting each component's mean gives the (biased) variance over the unbiased one
    assert nmse(t.mean(0).expand_as(t), t) == pytest.approx(999 / 1000, rel=1e-4)


@pytest.mark.parametrize("inputs", [0, 2])
def test_jacobian_matches_the_closed_form(inputs):
    torch.manual_seed(0)
    net = BiasRNN(30, inputs, max(inputs, 1), gain=1.5, alpha=0.4, seed=0)
    with torch.no_grad():
        net.rec.bias.normal_()
    h = torch.randn(30)
    w = net.rec.weight
    if inputs:
        w = w + net.inp.weight @ net.out.weight  # the output is fed back as the next input
        drive = net.rec(h) + net.inp(net.out(h))
    else:
        drive = net.rec(h)
    jac = (1 - 0.4) * torch.eye(30) + 0.4 * torch.diag(1 - torch.tanh(drive) ** 2) @ w
    expected = np.sort_complex(torch.linalg.eigvals(jac).detach().numpy())
    np.testing.assert_allclose(np.sort_complex(jacobian_eigenvalues(net, h)), expected, atol=1e-5)


def test_generator_acceptance():
    """Issue 4, acceptance 5: 200 units, period 25, NMSE < 0.1 over the 4 periods after the training window."""
    cfg = Config()
    assert cfg.units == 200 and cfg.period == 25
    net, out = train_generator(cfg, seed=0, progress=lambda it, **_: it)
    assert out["gen_nmse"] < 0.1
    assert len(out["output"]) - out["n_train"] == 100
    # the weights never moved
    fresh = BiasRNN(200, 0, 1, cfg.gain, cfg.alpha, seed=0)
    assert torch.equal(net.rec.weight, fresh.rec.weight) and torch.equal(net.out.weight, fresh.out.weight)


def test_run_end_to_end(home):
    run = priorlab.run("biasrnn", gen_steps=5, forecast_steps=5, systems=["vanderpol"], units=40, seed=1)
    assert run.status == "done"
    assert {"gen_nmse", "forecast_nmse_vanderpol", "persistence_nmse_vanderpol"} <= set(run.metrics)
    assert {"generation.png", "forecast.png", "jacobian.png"} <= {p.name for p in run.figures}
    # without Lorenz there is no portrait: the key figure is the generation, and draw() redraws every figure
    assert assert_redraws(run.path) == {"generation.png", "forecast.png", "jacobian.png"}
    arrays = run.arrays()
    n_train, gen_nmse = arrays["gen_scores"]
    assert gen_nmse == run.metrics["gen_nmse"] and n_train == 4 * 25
    assert arrays["vanderpol_scores"][0] == run.metrics["forecast_nmse_vanderpol"]
    timing = json.loads((run.path / "env.json").read_text())["timing"]
    assert {"train_s", "measure_s", "figures_s"} <= set(timing)  # the training is timed apart from the scoring
    # 5 Adam steps cannot learn the cosine: the generation claim differs, and every verdict follows its row
    assert verdict_of(assert_verdicts_consistent(run.path), "gen_nmse") == "differs"


def test_valid_time_portrait_and_verdicts(home):
    """Issue 13: valid_time_lorenz / valid_time_vdp, the Lorenz phase portrait, the verdicts of the quick run."""
    run = priorlab.run("biasrnn", gen_steps=200, forecast_steps=100)
    m = run.metrics
    assert 0 < m["valid_steps_lorenz"] <= 400 and 0 < m["valid_steps_vdp"] <= 400
    assert m["valid_time_lorenz"] == pytest.approx(m["valid_steps_lorenz"] * 0.02 * 0.9056)
    assert {"portrait.png", "jacobian.png"} <= {p.name for p in run.figures}
    assert "portrait.png" in assert_redraws(run.path)  # the key figure, drawn again from arrays.npz
    assert m["eig_centre_generator"] == pytest.approx(0.5, abs=0.02)  # 1 - alpha: the leak
    assert m["eig_radius_generator"] == pytest.approx(m["eig_radius_theory_generator"], rel=0.15)
    rows = assert_verdicts_consistent(run.path)
    assert {r["verdict"] for r in rows} == {"reproduces"}


def test_valid_steps_counts_until_the_error_passes_the_threshold():
    truth = torch.zeros(6, 2, 3)
    pred = truth.clone()
    pred[4:, 0] = 0.5  # RMS error 0.5 > 0.4 from step 4 on; the second forecast never fails
    assert valid_steps(pred, truth).tolist() == [4.0, 6.0]


def test_jacobian_disc_is_centred_at_one_minus_alpha():
    net = BiasRNN(300, 0, 1, gain=1.5, alpha=0.3, seed=0)
    centre, radius = jacobian_disc(net, torch.zeros(300))
    assert centre == pytest.approx(0.7)
    assert radius == pytest.approx(0.3 * 1.5, rel=0.05)  # tanh'(0) = 1


@pytest.mark.parametrize(
    "setting, named",
    [("warmup=80", "warmup"), ("systems=duffing", "systems"), ("systems=lorenz,lorenz", "systems"),
     ("batch=8", "renamed to 'batch_size'")],
)
def test_bad_config_names_the_key(cli, setting, named):
    r = cli(["run", "biasrnn", "--set", setting])
    assert r.code == 2 and named in r.err


@pytest.mark.slow
def test_full_scale_forecasts_beat_persistence(home):
    run = priorlab.run("biasrnn", scale="full", seed=0)
    m = run.metrics
    assert m["gen_nmse"] < 0.1
    for system in ("lorenz", "vanderpol"):
        assert m[f"forecast_nmse_{system}"] < m[f"persistence_nmse_{system}"]
