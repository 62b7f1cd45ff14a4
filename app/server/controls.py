"""Apply one validated control message to a live session (a step, which may be
long, runs in slices in `service.Service.step`).

Shared by the websocket and the HTTP API so both behave the same. Raises
`SessionError` (from the session) when a valid message cannot be honoured
in this session's state; the caller turns it into an error message.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app import protocol as p
from app.server.registry import LiveSession
from app.training.early_stopping import StopRule
from app.training.session import SessionError, TrainingSession


def apply(live: LiveSession, msg: BaseModel) -> str | None:
    """Apply `msg`; returns "rebuilt" when the network or data changed, else None."""
    s = live.session
    rebuilt = None
    if isinstance(msg, p.Play):
        if s.diverged is not None:
            raise SessionError("the run diverged; roll back or reset before playing", field="type", value="play",
                               allowed="rollback, reset")
        check_not_stopped(s, "play")
        live.set_playing(True)
    elif isinstance(msg, p.Pause):
        live.set_playing(False)
        s.mark_changed()
    elif isinstance(msg, p.SetSpeed):
        live.updates_per_second = msg.updates_per_second
        live.credit = 0.0
        s.mark_changed()
    elif isinstance(msg, p.SetHyper):
        s.set_hyper(msg.model_dump(exclude={"type"}, exclude_none=True))
    elif isinstance(msg, (p.Configure, p.FineTune)):
        if isinstance(msg, p.FineTune):
            s.fine_tune(_config_changes(msg.config), msg.start)
        else:
            s.configure(_config_changes(msg.config))
        rule = s.stop_rule
        if rule is not None and rule.metric.startswith("val_") and s.data.n("val") == 0:
            s.set_early_stopping(None)  # it would watch a split that is gone: the frame shows the watch off
        rebuilt = "rebuilt"
    elif isinstance(msg, p.Reset):
        s.reset(msg.same_weights)
        rebuilt = "rebuilt"
    elif isinstance(msg, p.SetParam):
        s.set_param(msg.layer, msg.kind, msg.i, msg.j, msg.value)
    elif isinstance(msg, p.Freeze):
        s.freeze(msg.layer, msg.target, msg.i, msg.j, msg.frozen)
    elif isinstance(msg, p.Rollback):
        s.rollback()
        rebuilt = "rebuilt"  # the history was rewound: every client needs it anew, not as a delta
    elif isinstance(msg, p.Trace):
        s.set_trace(msg.index)
    elif isinstance(msg, p.EarlyStopping):
        s.set_early_stopping(_stop_rule(s, msg.rule))
    elif isinstance(msg, p.Replay):
        s.set_replay(msg.share, msg.buffer)
    elif isinstance(msg, p.Quantize):
        s.set_quantization(msg.bits, msg.granularity, msg.aware)
    elif isinstance(msg, p.ForkAt):
        s.fork_at(msg.step)
        rebuilt = "rebuilt"  # the history was cut back there, as after a rollback
    elif isinstance(msg, p.RestoreBest):
        s.restore_best()
        live.set_playing(False)
        rebuilt = "rebuilt"  # the history was rewound, as after a rollback
    else:  # pragma: no cover - the protocol's union is exhaustive
        raise SessionError(f"message type {type(msg).__name__} is not a control message")
    if rebuilt:
        live.rebuilds += 1
    live.notify()
    return rebuilt


def check_not_stopped(s: TrainingSession, request: str) -> None:
    """Refuse to train a run early stopping stopped (it would train past the stop it shows)."""
    if s.stopped_early:
        raise SessionError(f"early stopping stopped this run: restore the best epoch (restore_best), or change or "
                           f"turn off the rule (early_stopping), before you {request} again", field="type",
                           value=request, allowed="restore_best, early_stopping")


def check_step(live: LiveSession, unit: str, count: int) -> None:
    """Refuse a step that would train past `MAX_STEP_UPDATES` updates or `MAX_STEP_SAMPLES` samples.

    A step runs to its end before anything else is answered, so its size is
    bounded by the work it means in this session (its data and batch size),
    not by the count alone; one epoch is always allowed.
    """
    s = live.session
    check_not_stopped(s, "step")
    if unit == "phase":
        return
    n = s.data.n("train")
    batch = max(1, min(s.hyper.batch_size, n))
    per_epoch = -(-n // batch)
    per_unit = per_epoch if unit == "epoch" else 1
    most = max(1, min(p.MAX_STEP_UPDATES // per_unit, p.MAX_STEP_SAMPLES // (per_unit * batch)))
    if count > most:
        raise SessionError(
            f"count: at most {most} {unit}s at a time in this session ({n} training points in batches of "
            f"{batch}: at most {p.MAX_STEP_UPDATES} updates and {p.MAX_STEP_SAMPLES:,} samples per step); "
            f"step again for more (got {count})", field="count", value=count, allowed=f"1 to {most}")


def _stop_rule(s: TrainingSession, rule: p.StopRule | None) -> StopRule | None:
    """The engine's rule for a valid `early_stopping` message; a val_* metric needs a validation split."""
    if rule is None:
        return None
    if rule.metric.startswith("val_") and s.data.n("val") == 0:
        raise SessionError(f"rule.metric: {rule.metric} is measured on the validation split, which is empty: give "
                           "the validation split a share first (configure val_ratio), or watch train_loss or "
                           "train_acc", field="rule.metric", value=rule.metric,
                           allowed="train_loss, train_acc (no validation split)")
    try:
        return StopRule(rule.patience, rule.metric, rule.min_delta, rule.max_epochs)
    except ValueError as exc:  # the protocol checked the same bounds: not expected
        raise SessionError(str(exc), field="rule") from None


def _config_changes(patch: p.ConfigPatch) -> dict[str, Any]:
    changes = patch.model_dump(exclude_unset=True)
    return changes
