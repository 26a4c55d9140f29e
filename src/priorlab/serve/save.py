"""A playground session saved as a run in the store, through the runner's own run lifecycle (folder, env.json,
index row, metrics, verdict.json, report page), so `priorlab runs`, `priorlab show` and `priorlab report` see it."""

from __future__ import annotations

import dataclasses

from priorlab.context import RunContext
from priorlab.errors import UserError
from priorlab.runner import Run, _close_run, _discard, open_prepared
from priorlab.serve.sessions import Session


def _reproduces_experiment(session: Session) -> bool:
    """A depth-1, fully trained fit1d session with adam/sgd is exactly `priorlab run fit1d` with its config."""
    cfg = session.config
    return session.experiment == "fit1d" and cfg.depth == 1 and cfg.regime == "full" and cfg.optimizer in ("adam", "sgd")


def describe(session: Session) -> str:
    cfg = session.config
    if session.experiment == "fit1d":
        net = f"{cfg.depth} hidden layer{'s' if cfg.depth > 1 else ''} of {cfg.hidden} {cfg.activation} units"
        data = f"y = {cfg.target} from {cfg.n_samples} samples (noise SD {cfg.noise:g}) on [{cfg.x_min:.3g}, {cfg.x_max:.3g}]"
    else:
        net = f"{cfg.hidden_layers} hidden layers of {cfg.width} {cfg.activation} units"
        data = (f"an uploaded CSV ({len(session.y)} points, {session.classes} classes)" if cfg.dataset else
                f"the '{cfg.task}' task ({cfg.n_points} points, {cfg.classes} classes, noise SD {cfg.noise:g})")
    return (f"Trained in the browser playground: {net}, regime {cfg.regime}, fitted to {data} for {session.step_count} "
            f"full-batch {cfg.optimizer} steps at learning rate {session.lr:g} (seed {cfg.seed}).")


class _Playground:
    """The experiment module as the runner sees it, with this session's setup and claims that say when the
    playground's protocol is not the study's."""

    def __init__(self, session: Session):
        self._module, self._session = session.module, session

    def __getattr__(self, name):
        return getattr(self._module, name)

    def setup(self, config) -> str:
        return describe(self._session)

    def claims(self, config):
        claims = self._module.claims(config)
        if _reproduces_experiment(self._session):
            return claims
        why = "trained in the playground, not by the study's protocol (" + (
            "one network, not the best of several seeds" if self._session.experiment == "fold"
            else f"depth {config.depth}, regime {config.regime}, optimizer {config.optimizer}") + ")"
        return [dataclasses.replace(c, applies=why) if c.applies is True else c for c in claims]


def _figures(session: Session, ctx: RunContext, metrics: dict) -> None:
    from priorlab.viz import curves, planes

    if session.experiment == "fit1d":
        cfg, d = session.config, session.data
        figs = curves.fit_figures(session.curve, d.f, d.x, d.y, cfg.x_min, cfg.x_max, cfg.extrap_margin,
                                  session.losses, metrics["interp_mse"], metrics["extrap_mse"])
        for name, fig in figs.items():
            ctx.save_figure(name, fig)
        ctx.save_arrays(x_train=d.x.numpy(), y_train=d.y.numpy())
        return
    if session.classes == 2:
        batched = lambda g: session.model(g)[None]  # decision_figure draws network s of a batch
        ctx.save_figure("decision", planes.decision_figure(batched, 0, session.x, session.y, metrics["train_acc"]))
    ctx.save_arrays(x=session.x.numpy(), y=session.y.numpy())


def save_session(session: Session, root=None) -> Run:
    """Write ``session`` as a finished run of its experiment under the runs root; returns the Run."""
    with session.lock:
        if session.step_count == 0:
            raise UserError("nothing to save: train at least one step first")
        if session.stopped and session.stopped.startswith("diverged"):
            raise UserError(f"nothing to save: the session {session.stopped.split(':')[0]}")
        config = session.config.model_copy(update={"steps": session.step_count})
        losses = list(session.losses)
    opened = open_prepared(_Playground(session), config, session.experiment, root=root, device="cpu",
                           argv=["priorlab", "serve"],
                           env_extra={"source": "playground", "playground_session": session.id})
    ctx = opened.ctx
    try:
        with session.lock:  # the network as it is now, while no step runs
            metrics = session.metrics()
            metrics["train_loss_final"] = losses[-1]
            _figures(session, ctx, metrics)
        ctx.save_model(session.weights())
    except BaseException:
        _discard(opened)
        raise
    ctx.note(describe(session))
    return _close_run(opened, metrics, "done")

