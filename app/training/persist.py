"""A whole session as one JSON-safe dict, and back: for snapshots, saved runs and forks.

The state holds what cannot be recomputed: configuration, hyperparameters,
the model (weights, optimizer state, counters, frozen masks), the initial
weights, the random generators' positions, the rest of the current epoch and
the history. The data is not stored: it is regenerated from the
configuration's seed, bit for bit. A restored session continues exactly as
the original would have: same batches, same dropout masks, same numbers.

A diverged session is stored as its last finite state (still marked
diverged), since a model with NaN weights cannot be imported back.

The early stopping rule is stored, not its watch: a restored session watches
from its next epoch's end anew (its best epoch is measured again), as after a
change of the rule.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from app.nn.model import Model
from app.nn.quantization import Setting
from app.training.config import HyperState, RunConfig
from app.training.early_stopping import StopRule
from app.training.rollback import Divergence
from app.training.session import TrainingSession

STATE_VERSION = 1


def _params(params: list[dict[str, np.ndarray]]) -> list[dict[str, list[Any]]]:
    return [{"W": p["W"].tolist(), "b": p["b"].tolist()} for p in params]


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's position; its 128-bit integers as decimal strings (JSON numbers stop at 64 bits)."""
    state = rng.bit_generator.state
    return {**state, "state": {k: str(v) for k, v in state["state"].items()}}


def _set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = {**state, "state": {k: int(v) for k, v in state["state"].items()}}


def _dropout_state(s: TrainingSession) -> dict[str, Any]:
    """The dropout generator's position; with an update half done, where it stood before that update
    drew its masks (the update is stored as not begun, so it draws them again, the same)."""
    before = s.step_by_step.dropout_before if s.step_by_step.pending is not None else None
    if before is None:
        return _rng_state(s.dropout_rng)
    return {**before, "state": {k: str(v) for k, v in before["state"].items()}}


def session_state(s: TrainingSession) -> dict[str, Any]:
    """Everything needed to continue `s` elsewhere; JSON-safe."""
    # An update half done in step-by-step mode is stored as not begun: its batch
    # goes back to the front of the epoch, so the restored run takes the same path.
    pending = s.step_by_step.pending
    front = [pending.idx.tolist()] if pending is not None else []
    model, queue = s.model.to_dict(), front + [q.tolist() for q in s.queue]
    point = s.rollback_point
    if s.diverged is not None and point is not None:
        model, queue = point.model.to_dict(), [list(map(int, q)) for q in point.queue]
    hyper = s.hyper.to_dict() | {"eps": s.hyper.eps}
    return {
        "state_version": STATE_VERSION,
        "config": s.config.to_dict(),
        "hyper": hyper,
        "model": model,
        "initial_params": _params(s.initial_params),
        "rng": {"batch": _rng_state(s.queue.rng), "dropout": _dropout_state(s)},
        "queue": queue,
        "history": s.history.to_state(),
        "trace_index": s.step_by_step.trace_index,
        "diverged": s.diverged.to_dict() if s.diverged is not None else None,
        "early_stopping": asdict(s.stop_rule) if s.stop_rule is not None else None,
        "tasks": s.tasks.to_state(),
        "quantization": s.quantization.to_dict(),
    }


def restore_session(state: dict[str, Any]) -> TrainingSession:
    """Rebuild a session from `session_state` output; ValueError when it does not fit.

    A pending phase-by-phase update comes back as not begun (see `session_state`);
    the model is exactly the one before that update, since phases before
    `update` change no parameter.
    """
    if state.get("state_version") != STATE_VERSION:
        raise ValueError(f"unknown session state version {state.get('state_version')!r}; expected {STATE_VERSION}")
    s = TrainingSession(RunConfig.from_dict(state["config"]), HyperState(**state["hyper"]))
    model = Model.from_dict(state["model"])
    if model.spec != s.spec:
        raise ValueError("the stored model does not fit the stored configuration")
    initial = [{"W": np.array(p["W"], dtype=np.float64).reshape(m["W"].shape), "b": np.array(p["b"], dtype=np.float64)}
               for p, m in zip(state["initial_params"], model.params)]
    _set_rng_state(s.queue.rng, state["rng"]["batch"])
    _set_rng_state(s.dropout_rng, state["rng"]["dropout"])
    s.history.load_state(state["history"])
    diverged = Divergence(**state["diverged"]) if state["diverged"] is not None else None
    tasks = state.get("tasks")  # absent in states stored before task sequences: one task, no replay
    if tasks is not None:
        s.restore_tasks(tasks)
    batches = [np.array(q, dtype=np.int64) for q in state["queue"]]
    rows = s.queue.n_train + s.tasks.available  # a replayed sample's index is past the training points
    if any(q.size and (q.min() < 0 or q.max() >= rows) for q in batches):
        raise ValueError("the stored batches index points the stored session does not have")
    s.resume(model, initial, batches, int(state["trace_index"]), diverged)
    rule = state.get("early_stopping")  # absent in states stored before early stopping
    if rule is not None:
        s.set_early_stopping(StopRule(**rule))
    quantization = state.get("quantization")  # absent in states stored before quantization
    if quantization is not None:
        s.quantization = Setting(**quantization)  # as it was: the change is in the history already
    return s


def fork_session(s: TrainingSession) -> TrainingSession:
    """An independent copy of `s` at its current state (a student's fork)."""
    return restore_session(session_state(s))
