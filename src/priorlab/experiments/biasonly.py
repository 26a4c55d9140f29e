"""Random weights, learned biases: how close does training only the biases of a wide random network come to full training?

One hidden ReLU layer, y = W2 relu(W1 x + b1) + b2, with W1 ~ N(0, 1/d), W2 ~ N(0, 1/N) and zero biases at the
start (Williams et al. 2024). For each width N and regime the same initial network is trained:

    bias_only     only b1 and b2 learn (priorlab.regimes.apply(net, "bias_only"))
    readout       only W2 and b2 learn: random features; solved in closed form (ridge) or by Adam
    full          every parameter learns
    full_matched  a fully trained network narrow enough to have as many trainable parameters as bias_only (N + C)

Tasks of different difficulty run side by side (`tasks`: digit parity, 2 classes; the 10 digits; a 1-D fit), each
with `repeats` seeds; the gap full − bias-only (bias-only − full in MSE) and full_matched − bias-only get bootstrap CIs
over seeds. Training is full-batch Adam. When W1 is frozen its product with the training inputs never changes, so it is
computed once (`priorlab.nets.onelayer.FrozenFirstLayer`): the forward pass is the same function, an order of
magnitude cheaper.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product
from typing import ClassVar, Literal, get_args

import numpy as np
import torch
from pydantic import Field
from torch import nn

from priorlab.config import BaseConfig, LearningRate, Widths, unique_list
from priorlab.context import RunContext, shared_time
from priorlab.data.functions import TargetExpr
from priorlab.data.tasks import Task, load_task
from priorlab.errors import Diverged
from priorlab.nets.onelayer import full_batch, matched_width, one_hidden
from priorlab.regimes import apply, fit_readout, summary
from priorlab.stats.claims import Claim
from priorlab.stats.intervals import ci_text, mean_cis, with_ci
from priorlab.train.ensemble import Ensemble, from_modules
from priorlab.train.loop import fit
from priorlab.viz.regimes import gap_curves, width_curves

DESCRIPTION = (
    "Random weights, learned biases: bias-only vs readout vs full training of one hidden layer, by width"
)
ORDER = 40
CITATION = (
    "Williams, Ryoo, Jiralerspong, Payeur, Perich, Mazzucato, Lajoie (2024). Expressivity of Neural Networks with "
    "Random Weights and Learned Biases. ICLR 2025."
)
QUESTION = (
    "How close does training only the biases of a random hidden layer come to full training as it widens, at the "
    "same width and at the same number of trainable parameters, on an easy and a hard task?"
)
KEY_FIGURE = "gap"
FIGURES = {
    "gap": "Left: full − bias-only against width, per task (mean and 95% bootstrap CI over seeds). Right: "
    "full_matched − bias-only against the trainable-parameter count they share. Above 0: bias-only is behind.",
    "width": "Test score against hidden width, one panel per task, one curve per regime, mean and 95% bootstrap CI "
    "over seeds (error bars only with more than one seed). "
    "full_matched is drawn at the width of the bias-only network whose trainable-parameter count it matches.",
    "params": "The same scores against the number of trainable parameters.",
}
DEMO = [{}]
SOURCE = "Williams et al. 2024 (STUDIES.md §3)"

Regime = Literal["bias_only", "readout", "full", "full_matched"]
REGIMES = get_args(Regime)
TaskName = Literal["parity", "digits", "fit1d"]
# default full-batch Adam steps by task kind: (bias_only and readout by Adam, full and full_matched)
TASK_STEPS = {"classify": (300, 100), "regress": (3000, 3000)}
EASY, HARD = "parity", "digits"  # the difficulty comparison: 2 classes vs 10


class Config(BaseConfig):
    tasks: unique_list(TaskName, max_length=3) = Field(
        [EASY, HARD], description="parity: even vs odd 8x8 digit; digits: the 10 digits; fit1d: fit target(x)"
    )
    widths: Widths = Field([16, 128, 1024], max_length=16, description="hidden widths N")
    regimes: unique_list(Regime, max_length=4) = Field(list(REGIMES), description="regimes to compare")
    repeats: int = Field(3, ge=1, le=100, description="seeds per (task, width, regime): seed, seed+1, ...")
    steps: int | None = Field(
        None, ge=1, le=1_000_000, description="Adam steps, bias_only and readout (null: 300 digits, 3000 fit1d)"
    )
    steps_full: int | None = Field(
        None, ge=1, le=1_000_000, description="Adam steps, full and full_matched (null: 100 digits, 3000 fit1d)"
    )
    lr: LearningRate = Field(0.003, description="Adam learning rate for full, full_matched and readout")
    lr_bias: LearningRate = Field(0.05, description="Adam learning rate for bias_only")
    readout_fit: Literal["ridge", "adam"] = Field("ridge", description="readout: closed-form ridge or Adam")
    ridge: float = Field(1e-2, ge=0, le=1e6, description="ridge penalty of the closed-form readout")
    target: TargetExpr = Field("sin", description="fit1d target: sin, square, abs, poly3 or an expression in x")
    n_train: int = Field(
        100, ge=2, le=100_000, description="fit1d: evenly spaced training points on [-pi, pi]"
    )

    FULL: ClassVar[dict] = {"widths": [2**k for k in range(4, 15)], "repeats": 3}
    RENAMED: ClassVar[dict] = {"task": "tasks"}


# ----------------------------------------------------------------------------------------------
# training and scoring


def loss_fn(task: Task) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return nn.functional.cross_entropy if task.kind == "classify" else nn.functional.mse_loss


@torch.no_grad()
def score(net: nn.Module, task: Task) -> float:
    """Test accuracy (classification) or test MSE (regression)."""
    out = net(task.x_test)
    if task.kind == "classify":
        return (out.argmax(1) == task.y_test).float().mean().item()
    return nn.functional.mse_loss(out, task.y_test).item()


def schedule(cfg: Config, task: Task, regime: str) -> tuple[int, float]:
    """Adam steps and learning rate of a regime (null steps: the task kind's default)."""
    default_steps, default_steps_full = TASK_STEPS[task.kind]
    if regime in ("full", "full_matched"):
        return cfg.steps_full or default_steps_full, cfg.lr
    return cfg.steps or default_steps, cfg.lr_bias if regime == "bias_only" else cfg.lr


def run_member(cfg: Config, task: Task, regime: str, width: int, seed: int) -> tuple[float, int, int]:
    """Train one network; returns (test score, trainable parameters, hidden width used)."""
    if regime == "full_matched":
        width = matched_width(width, task.inputs, task.outputs)
    net = one_hidden(task.inputs, width, task.outputs, seed).to(task.x_train.device)
    apply(net, "full" if regime == "full_matched" else regime)
    if regime == "readout" and cfg.readout_fit == "ridge":
        targets = task.y_train
        if task.kind == "classify":
            targets = nn.functional.one_hot(task.y_train, task.outputs).float()
        fit_readout(net, task.x_train, targets, lam=cfg.ridge)
    else:
        steps, lr = schedule(cfg, task, regime)
        forward, criterion = full_batch(net, task.x_train), loss_fn(task)
        fit(net, lambda _: criterion(forward(), task.y_train), steps, lr=lr)
    return score(net, task), summary(net).trainable, width


# ----------------------------------------------------------------------------------------------
# the run


def load_tasks(cfg: Config, ctx: RunContext) -> list[Task]:
    """The run's tasks on its device, features in the default dtype (float32 unless a caller set float64)."""
    tasks = []
    for name in cfg.tasks:
        t = load_task(name, cfg.seed, cfg.target, cfg.n_train)
        cast = [a.to(torch.get_default_dtype()) if a.is_floating_point() else a
                for a in (t.x_train, t.y_train, t.x_test, t.y_test)]
        tasks.append(Task(t.kind, *cast, t.outputs).to(ctx.device))
    return tasks


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    tasks = load_tasks(cfg, ctx)
    widths = sorted(cfg.widths)
    jobs = list(product(range(len(tasks)), range(len(widths)), range(len(cfg.regimes)), range(cfg.repeats)))
    with ctx.timed("train"):
        results = {(t, i, j, r): run_member(cfg, tasks[t], cfg.regimes[i], widths[j], ctx.seed + r)
                   for t, j, i, r in ctx.progress(jobs, description="training")}
    return measure(cfg, ctx, [task.metric for task in tasks], widths, results)


def measure(cfg: Config, ctx: RunContext, names, widths, results) -> dict[str, float]:
    """Metrics ``<acc|mse>_<task>_<regime>_w<N>`` (means over repeats, bootstrap CIs over seeds and n), the gaps with
    CIs, the table, the arrays, from results[(task, regime, width, repeat)] = run_member's (score, trainable, hidden)."""
    shape = (len(cfg.tasks), len(cfg.regimes), len(widths))
    scores = np.zeros((*shape, cfg.repeats))
    params, used = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    for (t, i, j, r), (s, p, u) in results.items():
        scores[t, i, j, r], params[t, i, j], used[t, i, j] = s, p, u
    metrics, rows = {}, []
    for t, task in enumerate(cfg.tasks):
        for j, w in enumerate(widths):
            for i, regime in enumerate(cfg.regimes):
                name = f"{names[t]}_{task}_{regime}_w{w}"
                with_ci(metrics, name, scores[t, i, j], seed=cfg.seed)
                rows.append({"task": task, "width": w, "regime": regime, "hidden units": int(used[t, i, j]),
                             "trainable": int(params[t, i, j]), "test score": ci_text(metrics, name, 4),
                             "sd": round(float(scores[t, i, j].std()), 4)})
    ctx.table("Test accuracy (MSE for fit1d) by task, width and regime: mean [95% CI] (n seeds)", rows)
    ctx.save_arrays(widths=np.array(widths), scores=scores, trainable=params, hidden=used,
                    regimes=np.array(cfg.regimes), tasks=np.array(cfg.tasks))
    gap_metrics(cfg, metrics, names, widths, scores, params)
    for sentence in small_width_notes(cfg, metrics, widths, used):
        ctx.note(sentence)
    return metrics


def draw(cfg: Config, arrays: dict[str, np.ndarray], ctx: RunContext) -> None:
    """Every figure from the saved scores [task, regime, width, repeat]: ``width`` and ``params`` (CIs recomputed
    with the run's bootstrap seed) and ``gap``."""
    widths, scores, params = arrays["widths"].tolist(), arrays["scores"], arrays["trainable"]
    names = ["mse" if task == "fit1d" else "acc" for task in cfg.tasks]
    if ctx.draws("width") or ctx.draws("params"):
        ci = tuple(mean_cis(np.moveaxis(scores, 3, 0), seed=cfg.seed))[1:] if cfg.repeats > 1 else None
        for name, fig in width_curves(widths, scores, params, cfg.regimes, cfg.tasks, names, ci).items():
            ctx.save_figure(name, fig)
    if ctx.draws("gap"):
        gaps, matched = gap_metrics(cfg, {}, names, widths, scores, params)
        if gaps:
            ctx.save_figure("gap", gap_curves(widths, gaps, matched))


def _behind(cfg: Config, names, scores, t: int, regime: str) -> np.ndarray | None:
    """[width, repeat]: how far bias-only is behind `regime` (its score minus bias-only's; reversed for MSE)."""
    if regime not in cfg.regimes or "bias_only" not in cfg.regimes:
        return None
    d = scores[t, cfg.regimes.index(regime)] - scores[t, cfg.regimes.index("bias_only")]
    return d if names[t] == "acc" else -d


def gap_metrics(cfg: Config, metrics, names, widths, scores, params):
    """``gap_<task>_w<N>`` (full − bias-only) and ``gap_matched_<task>_w<N>`` with CIs over seeds, and
    ``gap_difficulty``: the mean over widths of gap_digits − gap_parity."""
    gaps, matched = {}, {}
    for t, task in enumerate(cfg.tasks):
        for regime, stem, out in (("full", "gap", gaps), ("full_matched", "gap_matched", matched)):
            d = _behind(cfg, names, scores, t, regime)
            if d is None:
                continue
            for j, w in enumerate(widths):
                with_ci(metrics, f"{stem}_{task}_w{w}", d[j], seed=cfg.seed)
            out[task] = np.array([[metrics.get(f"{stem}_{task}_w{w}{end}", np.nan) for end in ("", "_ci_low", "_ci_high")]
                                  for w in widths])  # [width, (mean, low, high)]; no CI (NaN) for one seed
        if task in matched:
            matched[task] = (params[t, cfg.regimes.index("bias_only")], matched[task])
    if EASY in gaps and HARD in gaps:
        hard = _behind(cfg, names, scores, cfg.tasks.index(HARD), "full")
        easy = _behind(cfg, names, scores, cfg.tasks.index(EASY), "full")
        with_ci(metrics, "gap_difficulty", (hard - easy).mean(0), seed=cfg.seed)
        metrics["difficulty_widths"] = int((hard.mean(1) > easy.mean(1)).sum())
    return gaps, matched


def small_width_notes(cfg: Config, metrics, widths, used) -> list[str]:
    """A sentence per task where bias-only beats the matched fully trained net (small widths), with why."""
    notes = []
    if "full_matched" not in cfg.regimes or "bias_only" not in cfg.regimes:
        return notes
    for t, task in enumerate(cfg.tasks):
        ahead = [j for j, w in enumerate(widths) if metrics.get(f"gap_matched_{task}_w{w}", 0) < 0]
        if ahead:
            n = [int(used[t, cfg.regimes.index("full_matched"), j]) for j in ahead]
            notes.append(
                f"{task}: bias-only beats the matched fully trained net at N = {', '.join(str(widths[j]) for j in ahead)}. "
                f"There the matched net has only n = {', '.join(map(str, n))} hidden units (n ≥ 1 even where that gives "
                "it more parameters than bias-only): a bottleneck narrower than the task needs, while bias-only keeps N "
                "random features. Parameter counts only match once N ≫ d + 1 + C; the claim is judged at the largest width."
            )
    return notes


def setup(cfg: Config) -> str:
    return (
        f"Tasks {', '.join(cfg.tasks)}; hidden widths {', '.join(map(str, sorted(cfg.widths)))}; regimes "
        f"{', '.join(cfg.regimes)}; {cfg.repeats} seeds each (init; the digits split is fixed by the seed). One hidden "
        "ReLU layer, W1 ~ N(0, 1/d), W2 ~ N(0, 1/N), biases 0; full-batch Adam. CIs: bootstrap over seeds."
    )


def claims(cfg: Config) -> list[Claim]:
    widths, out = sorted(cfg.widths), []
    need = {"bias_only", "full"} <= set(cfg.regimes)
    for task in cfg.tasks:
        if len(widths) > 1:
            out.append(Claim(
                f"{task}: bias-only approaches full training as width grows (gap at N = {widths[-1]} below half the "
                f"gap at N = {widths[0]})", source=SOURCE,
                metric=lambda m, t=task: m[f"gap_{t}_w{widths[-1]}"] / m[f"gap_{t}_w{widths[0]}"],
                expected=(-0.5, 0.5), label=f"gap_{task}_w{widths[-1]} / gap_{task}_w{widths[0]}",
                applies=True if need else "needs the bias_only and full regimes"))
        out.append(Claim(
            f"{task}: bias-only stays behind a fully trained net with as many trainable parameters (N = {widths[-1]})",
            source=SOURCE, metric=f"gap_matched_{task}_w{widths[-1]}", expected=(0.0, 1.0),
            applies=True if "full_matched" in cfg.regimes and need else "needs bias_only and full_matched"))
    out.append(Claim(
        "the gap grows with task difficulty: 10-way digits trail full training by more than parity does "
        "(mean over widths)", source=SOURCE, metric="gap_difficulty", expected=(0.0, 1.0),
        applies=True if {EASY, HARD} <= set(cfg.tasks) and need else "needs the tasks parity and digits"))
    return out


# ----------------------------------------------------------------------------------------------
# sweeps: trials that differ only in seed train together, one ensemble per (task, regime, width)

BATCH_KEYS = ("seed",)
MEMBER_BUDGET = 2**26  # examples × hidden units × members that one ensemble trains at once (memory)


def _head(p: dict, pre: torch.Tensor) -> torch.Tensor:
    """W2 relu(pre + b1) + b2 with pre = x W1ᵀ: the network past its frozen first layer (FrozenFirstLayer)."""
    return nn.functional.linear(torch.relu(pre + p["0.bias"]), p["2.weight"], p["2.bias"])


def train_members(cfg: Config, tasks: list[Task], regime: str, width: int, seeds: list[int]) -> list:
    """run_member for several (task, seed) pairs of one regime and width, their networks trained together as one
    ensemble (priorlab.train.ensemble), each on its own task's data: (score, trainable, hidden) or Diverged each."""
    if regime == "readout" and cfg.readout_fit == "ridge":  # closed form: nothing to train together
        return [run_member(cfg, task, regime, width, seed) for task, seed in zip(tasks, seeds)]
    task0 = tasks[0]
    used = matched_width(width, task0.inputs, task0.outputs) if regime == "full_matched" else width
    nets = [apply(one_hidden(t.inputs, used, t.outputs, s).to(t.x_train.device),
                  "full" if regime == "full_matched" else regime) for t, s in zip(tasks, seeds)]
    fwd, params, frozen, masks = from_modules(nets)
    criterion = loss_fn(task0)
    if "0.weight" in frozen:  # W1 frozen: its product with the inputs is computed once per member
        with torch.no_grad():
            data = torch.stack([t.x_train @ net[0].weight.T for t, net in zip(tasks, nets)])
        loss = lambda p, pre, y: criterion(_head(p, pre), y)  # noqa: E731
    else:
        data = torch.stack([t.x_train for t in tasks])
        loss = lambda p, x, y: criterion(fwd(p, x), y)  # noqa: E731
    steps, lr = schedule(cfg, task0, regime)
    ens = Ensemble(loss, params, frozen=frozen, masks=masks, lr=lr, batch_dims=(0, 0))
    diverged = ens.train(steps, data, torch.stack([t.y_train for t in tasks])).diverged_at.tolist()
    out = []
    for k, (net, task) in enumerate(zip(nets, tasks)):
        net.load_state_dict(ens.member(k), strict=False)  # the trained tensors; the frozen ones are the net's own
        out.append(Diverged(diverged[k]) if diverged[k] >= 0 else (score(net, task), summary(net).trainable, used))
    return out


def run_many(cfgs: list[Config], ctxs: list[RunContext]):
    """Trials that differ only in seed: for each task, width and regime, the networks of every trial and repeat
    are one ensemble (a trial's task split follows its seed, so each member has its own data); then each trial is
    measured as run() measures it. Yields each trial's metrics (or the Diverged of one of its networks) in order."""
    cfg0, widths = cfgs[0], sorted(cfgs[0].widths)
    tasks = [load_tasks(cfg, ctx) for cfg, ctx in zip(cfgs, ctxs)]
    members = [(c, r) for c in range(len(cfgs)) for r in range(cfg0.repeats)]
    results: list[dict] = [{} for _ in cfgs]
    with shared_time(ctxs, "train"):
        for t in range(len(cfg0.tasks)):
            for j, w in enumerate(widths):
                size = max(1, MEMBER_BUDGET // (len(tasks[0][t].x_train) * max(w, tasks[0][t].inputs)))
                for i, regime in enumerate(cfg0.regimes):
                    for at in range(0, len(members), size):
                        chunk = members[at:at + size]
                        out = train_members(cfg0, [tasks[c][t] for c, _ in chunk], regime, w,
                                            [ctxs[c].seed + r for c, r in chunk])
                        for (c, r), res in zip(chunk, out):
                            results[c][t, i, j, r] = res
    for cfg, ctx, task_list, res in zip(cfgs, ctxs, tasks, results):
        yield next((v for v in res.values() if isinstance(v, Exception)), None) or measure(
            cfg, ctx, [task.metric for task in task_list], widths, res)
