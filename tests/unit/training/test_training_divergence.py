"""A diverging run pauses itself, says why, and rolls back to a finite state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.training.session import SessionError, TrainingSession

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow is the point here


def _finite(s: TrainingSession) -> bool:
    return all(np.isfinite(p[k]).all() for p in s.params for k in ("W", "b"))


def _diverge_with_lr_10(make_session) -> TrainingSession:
    # A deep regression network at the top learning rate blows up within ~100 updates.
    s = make_session({"lr": 10}, dataset="plane", hidden=[8] * 6)
    assert s.advance(5000) < 5000
    return s


def test_lr_10_on_a_big_network_diverges_and_stops(make_session) -> None:
    s = _diverge_with_lr_10(make_session)
    d = s.diverged
    assert d is not None
    assert d.step == s.step > 0
    assert str(s.step) in d.cause and ("inf" in d.cause or "nan" in d.cause or "NaN" in d.cause)
    assert d.rollback_step == 0  # the state this advance() started from
    assert s.view().diverged == d
    # Play stops: nothing more runs until a rollback.
    assert s.advance(10) == 0
    assert s.step_epoch() == 0
    assert s.step == d.step
    with pytest.raises(SessionError):
        s.step_phase()
    # The recorded loss of that update is not finite; metrics send null, not NaN.
    assert not math.isfinite(s.history.updates.values["batch_loss"][-1])
    assert s.metrics()["batch_loss"] is None


def test_rollback_restores_a_finite_state_and_clears_divergence(make_session) -> None:
    s = make_session({"lr": 10}, dataset="plane", hidden=[8] * 6)
    s.advance(20)
    assert s.diverged is None and _finite(s)
    s.advance(5000)
    assert s.diverged is not None
    version = s.version
    back = s.diverged.rollback_step
    assert back < s.diverged.step
    assert s.rollback() == back
    assert s.diverged is None and _finite(s) and s.step == back
    assert s.version > version
    snap = s.view()
    assert snap.diverged is None
    # The frame shows the restored state: finite, and no update (gradient, change) since it.
    for layer in snap.layers:
        for key in ("W", "b", "velocity_W", "velocity_b"):
            assert np.isfinite(getattr(layer, key)).all()
        for key in ("dW", "db", "delta_W", "delta_b"):
            assert not getattr(layer, key).any(), key
    # A lower learning rate from there trains on.
    s.set_hyper({"lr": 0.001})
    assert s.advance(50) == 50 and s.diverged is None and _finite(s)
    # A second rollback has nothing to undo.
    with pytest.raises(SessionError):
        s.rollback()


def test_rollback_returns_to_the_state_before_the_last_change(make_session, copy_params,
                                                              assert_params_equal) -> None:
    s = make_session({"lr": 0.001}, dataset="plane", hidden=[8] * 6)
    s.advance(10)
    before = copy_params(s.params)
    velocity = copy_params(s.model.opt_state.slots["velocity"])
    s.set_hyper({"lr": 10})
    s.advance(5000)
    assert s.diverged is not None and s.diverged.rollback_step == 10
    assert s.rollback() == 10
    assert s.step == 10 and s.diverged is None
    assert_params_equal(s.params, before)
    assert_params_equal(s.model.opt_state.slots["velocity"], velocity)


def test_history_after_rollback_goes_on_from_the_restored_step(make_session) -> None:
    s = make_session({"lr": 0.001}, dataset="plane", hidden=[8] * 6)
    s.advance(10)
    s.set_hyper({"lr": 10})
    s.advance(5000)
    assert s.diverged is not None
    s.rollback()
    s.set_hyper({"lr": 0.001})
    s.advance(20)
    steps = list(s.history.updates.steps)
    assert steps == list(range(1, 31)), "history must not keep the diverged updates"
    assert all(math.isfinite(v) for v in s.history.updates.values["batch_loss"])
    assert s.history.since(25, 0)["steps"] == [26, 27, 28, 29, 30]
    assert s.history.changes[-1]["field"] == "lr"  # the change log is kept


def test_a_huge_weight_set_by_hand_diverges_at_the_next_update(make_session) -> None:
    s = make_session(dataset="plane")
    s.advance(5)
    s.set_param(len(s.params) - 1, "b", 0, 0, 1e300)
    assert s.advance(100) == 1
    assert s.diverged is not None and s.diverged.step == 6
    assert "update 6" in s.diverged.cause
    assert s.rollback() == 5
    assert s.step == 5 and s.diverged is None and _finite(s)


def test_divergence_in_step_by_step_mode(make_session) -> None:
    s = make_session(dataset="plane")
    s.advance(5)
    s.set_param(len(s.params) - 1, "b", 0, 0, 1e300)
    for _ in range(4):
        s.step_phase()
    assert s.diverged is not None and s.diverged.step == 6
    with pytest.raises(SessionError):
        s.step_phase()
    assert s.rollback() == 5 and s.diverged is None
    assert s.phase is None and s.step_by_step.trace is None and s.step_by_step.pending is None


def test_rollback_without_divergence_is_refused(make_session) -> None:
    s = make_session()
    with pytest.raises(SessionError) as info:
        s.rollback()
    assert info.value.code == "not_diverged"
    s.advance(10)
    with pytest.raises(SessionError):
        s.rollback()
    assert s.step == 10


def test_rollback_returns_to_before_the_change_that_caused_the_divergence(make_session) -> None:
    s = make_session({"lr": 0.001}, dataset="plane", hidden=[8] * 6)
    s.step_epoch()
    s.step_epoch()
    healthy = s.step
    before = [p["W"].copy() for p in s.params]
    s.set_hyper({"lr": 10})  # the cause
    s.advance(5000)
    assert s.diverged is not None and s.diverged.rollback_step == healthy
    s.rollback()
    assert s.step == healthy
    assert all(np.array_equal(p["W"], w) for p, w in zip(s.params, before))


def test_a_wild_edit_is_undone_by_rollback(make_session) -> None:
    s = make_session({"lr": 0.1}, dataset="plane", hidden=[8, 8], activation="relu")
    s.advance(30)
    old = float(s.params[0]["W"][0, 0])
    s.set_param(0, "W", 0, 0, 1e300)
    s.advance(100)
    assert s.diverged is not None
    s.rollback()
    assert float(s.params[0]["W"][0, 0]) == old and s.step == 30


def test_a_rollback_right_after_an_import_returns_to_the_imported_model(make_session) -> None:
    source = make_session({"optimizer": "momentum", "lr": 0.01}, dataset="plane", hidden=[8] * 6)
    source.advance(30)
    doc = source.export_model()
    assert doc["step"] == 30 and np.any(np.array(doc["optimizer"]["state"]["velocity"][0]["W"]) != 0)
    s = make_session({"lr": 1000}, dataset="plane", hidden=[8] * 6)
    s.import_model(doc)
    s.advance(5000)
    assert s.diverged is not None and s.diverged.rollback_step == 30
    assert s.rollback() == 30
    # The imported weights, optimizer state and counters, not step 0 with a fresh optimizer.
    assert s.export_model() == doc
