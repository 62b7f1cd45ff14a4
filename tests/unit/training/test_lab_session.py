"""The session's side of the lab: the dropout mask a frame shows (the same bits on the fast
and the reference path, and the masks the update really used), and the early stopping rule
kept by snapshots and saved runs."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from app.nn import fast
from app.nn.dropout import make_masks
from app.server.registry import LiveSession
from app.training.config import HyperState, RunConfig
from app.training.early_stopping import StopRule
from app.training.persist import restore_session, session_state
from app.training.session import TrainingSession

CONFIG = {"n_points": 100, "hidden": [5, 3], "val_ratio": 20}


def _session(use_fast: bool, **hyper: object) -> TrainingSession:
    s = TrainingSession(RunConfig().with_changes(CONFIG), HyperState(**{"dropout": 0.4, "batch_size": 10, **hyper}))
    s.fast = use_fast
    return s


def _as_lists(dropped: list[np.ndarray] | None) -> list[list[bool]] | None:
    return None if dropped is None else [d.tolist() for d in dropped]


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    if not fast.available(wait=True):
        pytest.skip(f"the fast path is not available here: {fast.reason()}")


def test_the_dropped_units_are_those_of_the_last_updates_first_sample_on_both_paths() -> None:
    ref, fst = _session(False), _session(True)
    ref.advance(6)
    before_last = copy.deepcopy(ref.dropout_rng)  # the generator as the 7th update draws its masks
    ref.advance(1)
    fst.advance(7)  # one compiled call for all seven
    expected = [m[0] == 0 for m in make_masks(ref.spec, 0.4, 10, before_last)]
    assert _as_lists(ref.view().dropped) == _as_lists(expected)
    assert _as_lists(fst.view().dropped) == _as_lists(expected)
    assert any(not all(d) and any(d) for d in _as_lists(expected) or [])  # a rate of 0.4 drops some, not all
    # The very masks the update used: the reference path's last batch again, by hand.
    assert [len(d) for d in fst.view().dropped or []] == [5, 3]


def test_the_fast_path_runs_on_the_same_bits_after_showing_the_mask() -> None:
    ref, fst = _session(False), _session(True)
    for n in (3, 9, 1, 14):
        ref.advance(n)
        fst.advance(n)
        assert _as_lists(ref.view().dropped) == _as_lists(fst.view().dropped)
    assert [p["W"].tolist() for p in ref.params] == [p["W"].tolist() for p in fst.params]


def test_step_by_step_shows_the_pending_updates_mask_for_the_traced_sample() -> None:
    s = _session(False)
    s.advance(2)
    s.set_trace(0)
    s.step_phase()  # forward: the masks of this update are drawn
    pending = s.step_by_step.pending
    assert pending is not None and pending.cache.masks is not None
    hits = np.flatnonzero(pending.idx == 0)
    row = int(hits[0]) if hits.size else 0
    expected = [(m[row] == 0).tolist() for m in pending.cache.masks]
    assert _as_lists(s.view().dropped) == expected
    for _ in range(3):  # loss, backward, update: the same sample's mask
        s.step_phase()
        assert _as_lists(s.view().dropped) == expected
    traced_in_batch = s.view().trace
    assert traced_in_batch is not None and traced_in_batch.in_batch == bool(hits.size)


def test_no_dropout_no_mask() -> None:
    s = _session(True, dropout=0.0)
    s.advance(3)
    assert s.view().dropped is None
    s = _session(True)
    s.advance(3)
    s.set_hyper({"dropout": 0.0})
    assert s.view().dropped is None


def test_the_early_stopping_rule_survives_a_snapshot_and_a_restart() -> None:
    s = _session(True)
    rule = StopRule(patience=3, metric="val_acc", min_delta=0.01, max_epochs=40)
    s.set_early_stopping(rule)
    s.step_epoch()
    restored = restore_session(session_state(s))
    assert restored.stop_rule == rule and restored.early_stopping is not None
    assert restored.early_stopping.rule == rule
    live = LiveSession("id", s)
    again = LiveSession.from_doc("id", live.to_doc())  # what a server restart reads back
    assert again.session.stop_rule == rule
    s.set_early_stopping(None)
    assert restore_session(session_state(s)).stop_rule is None
    old = session_state(s)
    del old["early_stopping"]  # a state stored before early stopping existed
    assert restore_session(old).stop_rule is None


def test_a_restored_session_stops_where_the_original_does() -> None:
    s = _session(True)
    s.set_early_stopping(StopRule(patience=2, metric="train_loss", min_delta=1000))
    twin = restore_session(session_state(s))
    for _ in range(5):
        s.step_epoch()
        twin.step_epoch()
    assert s.stopped_early and twin.stopped_early
    assert s.early_stopping is not None and twin.early_stopping is not None
    assert s.early_stopping.stopped == twin.early_stopping.stopped == (3, s.step)


@pytest.mark.parametrize("phases_done", [1, 2, 3])
def test_a_session_stored_mid_update_with_dropout_goes_on_as_the_original(phases_done: int) -> None:
    """A half-done update is stored as not begun; its dropout masks were already drawn, so the
    stored generator is where it stood before them: the copy draws the same masks again."""
    s = _session(False)
    s.advance(7)
    for _ in range(phases_done):
        s.step_phase()
    copy_ = restore_session(session_state(s))
    copy_.fast = False
    s.advance(12)
    copy_.advance(12)
    for a, b in zip(s.params, copy_.params):
        assert np.array_equal(a["W"], b["W"]) and np.array_equal(a["b"], b["b"])
    assert s.step == copy_.step and s.last_update.loss == copy_.last_update.loss
