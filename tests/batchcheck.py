"""Shared check for batched sweeps (imported by tests): a sweep over seeds of an experiment is one group, and
running it makes exactly one ``run_many`` call that gives every trial a `done` run."""

from __future__ import annotations

import pytest

from priorlab import runner
from priorlab.experiments import load
from priorlab.sweep.plan import expand, group_trials


def run_seed_group(experiment: str, values: dict, seeds: list[int], monkeypatch, never_alone: bool = False,
                   **run_batch_kw) -> list:
    """Plan ``values`` over ``seeds`` (one worker), assert it is one group, run it with ``runner.run_batch`` (figures
    none unless given) counting ``run_many`` calls, assert one call of every trial and all done; returns the runs.
    ``never_alone``: fail if the experiment's own ``run`` is called (no trial of the group runs alone)."""
    groups = group_trials(experiment, expand(values, {}, seeds), workers=1)
    assert [len(g) for g in groups] == [len(seeds)]
    module, calls = load(experiment), []
    real = module.run_many
    monkeypatch.setattr(module, "run_many", lambda cfgs, ctxs: calls.append(len(cfgs)) or real(cfgs, ctxs))
    if never_alone:
        monkeypatch.setattr(module, "run", lambda *a: pytest.fail("a trial of the group ran alone"))
    run_batch_kw.setdefault("figures", "none")
    runs = runner.run_batch(experiment, [t.values for t in groups[0]], trial_keys=[t.key for t in groups[0]],
                            **run_batch_kw)
    assert calls == [len(seeds)] and [r.status for r in runs] == ["done"] * len(seeds)
    return runs
