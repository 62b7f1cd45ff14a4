"""Step-by-step mode: forward -> loss -> backward -> update on one mini-batch,
and what the trace says after each phase (docs/protocol.md, "frame")."""

from __future__ import annotations

import numpy as np
import pytest

from app.nn.network import backward, forward
from app.training.phases import PHASES


def test_phases_walk_in_order_and_only_update_counts(make_session) -> None:
    s = make_session()
    names = []
    for cycle in range(3):
        for expected in PHASES:
            names.append(s.step_phase())
            assert s.phase == expected
            assert s.step == cycle + (expected == "update")
    assert names == list(PHASES) * 3
    assert s.step == 3
    assert list(s.history.updates.steps) == [1, 2, 3]


def test_trace_has_what_each_phase_computed(make_session, copy_params) -> None:
    s = make_session(hidden=[3, 2])
    s.advance(4)  # some velocity, so the update is not trivial
    s.set_trace(5)
    params_before = copy_params(s.params)
    spec = s.spec
    x = s.data.X["train"][5:6]
    Y = s.Y["train"][5:6]
    out, cache = forward(spec, params_before, x)
    sample_grads = backward(spec, params_before, cache, Y)

    assert s.step_phase() == "forward"
    t = s.step_by_step.trace
    assert t is not None and t.index == 5
    assert t.x == s.data.raw["train"][5].tolist()
    assert t.target == Y[0].tolist()
    assert t.output == out[0].tolist()
    assert t.z == [z[0].tolist() for z in cache.Z]
    assert t.a == [a[0].tolist() for a in cache.A]
    assert len(t.a) == len(t.z) + 1 and t.a[0] == x[0].tolist()
    assert t.loss is None and t.batch_loss is None and t.dz is None
    batch = s.step_by_step.pending.idx.copy()
    assert t.batch_size == len(batch) == 10
    assert t.in_batch == bool(np.any(batch == 5))

    assert s.step_phase() == "loss"
    t = s.step_by_step.trace
    assert t.loss == pytest.approx(0.5 * float(((out - Y) ** 2).sum()), rel=1e-12)
    bout, bcache = forward(spec, params_before, s.data.X["train"][batch])
    assert t.batch_loss == pytest.approx(0.5 * float(((bout - s.Y["train"][batch]) ** 2).sum(axis=1).mean()),
                                            rel=1e-12)
    assert t.dz is None

    assert s.step_phase() == "backward"
    t = s.step_by_step.trace
    assert t.dz == [dz[0].tolist() for dz in sample_grads.dZ]
    assert len(t.dz) == len(s.params)
    # The batch gradient is what layers[l].dW shows.
    batch_grads = backward(spec, params_before, bcache, s.Y["train"][batch])
    for l, layer in enumerate(s.view().layers):
        np.testing.assert_allclose(layer.dW, batch_grads.dW[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.db, batch_grads.db[l], rtol=1e-12, atol=1e-15)
    # Nothing has moved yet.
    for p, q in zip(s.params, params_before):
        np.testing.assert_array_equal(p["W"], q["W"])
    assert s.step == 4

    assert s.step_phase() == "update"
    assert s.step == 5
    snap = s.view()
    assert snap.phase == "update" and snap.trace is s.step_by_step.trace
    assert s.step_by_step.trace.dz is not None and s.step_by_step.trace.loss is not None
    for l, layer in enumerate(snap.layers):
        for kind, delta in (("W", layer.delta_W), ("b", layer.delta_b)):
            # deltas are exactly what was added ...
            np.testing.assert_array_equal(params_before[l][kind] + delta, s.params[l][kind])
            # ... that is, params_after - params_before
            np.testing.assert_allclose(delta, s.params[l][kind] - params_before[l][kind], rtol=1e-12, atol=1e-17)
            assert np.any(delta != 0)


def test_phase_trace_uses_the_batch_of_the_update(make_session, assert_params_equal) -> None:
    """A full phase cycle is the same update as advance(1), bit for bit."""
    a = make_session({"dropout": 0.2})
    b = make_session({"dropout": 0.2})
    for _ in range(3):
        for _ in PHASES:
            a.step_phase()
        b.advance(1)
        assert_params_equal(a.params, b.params)
    assert list(a.history.updates.values["batch_loss"]) == list(b.history.updates.values["batch_loss"])


@pytest.mark.parametrize("done_phases", [1, 2, 3])
def test_advance_completes_a_half_done_update(make_session, assert_params_equal, done_phases) -> None:
    a = make_session()
    b = make_session()
    a.advance(2)
    for _ in range(done_phases):
        a.step_phase()
    assert a.step == 2
    # The half-done update counts as the first of the updates asked for.
    assert a.advance(3) == 3
    assert a.step == 5
    assert a.step_by_step.pending is None and a.phase is None and a.step_by_step.trace is None
    b.advance(5)
    assert_params_equal(a.params, b.params)
    assert list(a.history.updates.steps) == [1, 2, 3, 4, 5]


def test_play_after_a_full_phase_cycle_leaves_step_by_step_mode(make_session) -> None:
    s = make_session()
    for _ in PHASES:
        s.step_phase()
    assert s.phase == "update" and s.step_by_step.trace is not None
    s.advance(1)
    snap = s.view()
    assert snap.phase is None and snap.trace is None


def test_step_epoch_from_a_half_done_update_finishes_this_epoch_only(make_session) -> None:
    s = make_session()
    per_epoch = 25
    s.advance(per_epoch - 1)
    s.step_phase()  # the last mini-batch of epoch 1, half done
    assert s.step_epoch() == 1
    assert (s.step, s.epoch) == (per_epoch, 1)
    s.advance(3)
    s.step_phase()
    s.step_phase()
    assert s.step_epoch() == per_epoch - 3
    assert (s.step, s.epoch) == (2 * per_epoch, 2)


def test_set_trace_validates_and_retraces(make_session) -> None:
    s = make_session()
    s.step_phase()
    s.set_trace(3)
    assert s.step_by_step.trace is not None and s.step_by_step.trace.index == 3
    assert s.step_by_step.trace.x == s.data.raw["train"][3].tolist()
    n = s.data.n("train")
    with pytest.raises(ValueError) as info:
        s.set_trace(n)
    assert info.value.field == "index" and info.value.allowed == f"0 to {n - 1}"
