"""The parameter record: every one of the last 1,000 updates exact, older ones thinned as
documented, within its bounds; a rebuilt step equals the run stopped there, and a fork
at a step trains on exactly as the run did from that state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.training import timeline
from app.training.errors import SessionError
from app.training.session import TrainingSession

Params = list[dict[str, np.ndarray]]


def _copy(params: Params) -> Params:
    return [{k: v.copy() for k, v in p.items()} for p in params]


def _same(a: Params, b: Params) -> bool:
    return all(np.array_equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in ("W", "b"))


# A run as a script: (updates per advance call, changes made before it).
SCRIPT: list[tuple[int, dict[str, Any]]] = [(37, {}), (25, {}), (1, {"lr": 0.1}), (64, {}), (300, {"momentum": 0.5}),
                                            (3, {}), (9, {"lr": 0.02}), (700, {}), (17, {"batch_size": 7}), (400, {})]


def _play(s: TrainingSession, chunks: list[tuple[int, dict[str, Any]]], each: Callable[[int], None] | None = None,
          one_by_one: bool = False) -> None:
    for n, changes in chunks:
        if changes:
            s.set_hyper(changes)
        if one_by_one:
            for _ in range(n):
                s.advance(1)
                assert each is not None
                each(s.step)
        else:
            while n:
                n -= s.advance(n)


@pytest.mark.parametrize("hyper", [{}, {"optimizer": "adam", "lr": 0.01}, {"dropout": 0.3}])
def test_every_one_of_the_last_thousand_updates_is_rebuilt_exactly(make_session: Callable[..., TrainingSession],
                                                                     hyper: dict[str, Any]) -> None:
    s = make_session(hyper)
    _play(s, SCRIPT)
    # The oracle: the same script advanced one update at a time, its weights copied after each.
    twin = make_session(hyper)
    seen: dict[int, Params] = {0: _copy(twin.params)}
    _play(twin, SCRIPT, lambda step: seen.__setitem__(step, _copy(twin.params)), one_by_one=True)
    assert twin.step == s.step == sum(n for n, _ in SCRIPT)
    record = s.record()
    for step in range(s.step - timeline.RECENT, s.step + 1):
        assert record.find(step) is not None, step
    for step in [*range(s.step - timeline.RECENT, s.step - timeline.RECENT + 80), *range(s.step - 60, s.step + 1),
                 *np.random.default_rng(0).integers(s.step - timeline.RECENT, s.step, 40).tolist()]:
        assert _same(record.state(step, True).model.params, seen[step]), step


def test_a_rebuilt_step_is_the_same_on_the_reference_path(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session()
    _play(s, SCRIPT[:5])
    a, b = s.record().state(200, True), s.record().state(200, False)
    assert _same(a.model.params, b.model.params)
    assert a.model.epoch == b.model.epoch and list(map(len, a.queue)) == list(map(len, b.queue))


def test_a_step_by_step_update_and_a_weight_edit_are_recorded_exactly(make_session: Callable[..., TrainingSession]
                                                                      ) -> None:
    s = make_session()
    s.advance(30)
    for _ in range(8):  # two whole updates phase by phase
        s.step_phase()
    after_phases = _copy(s.params)
    assert _same(s.record().state(32, True).model.params, after_phases)
    s.set_param(0, "W", 0, 0, 0.5)
    edited = _copy(s.params)
    s.advance(20)
    record = s.record()
    # A step where something changed is recorded as the run went on from it: after the change.
    assert _same(record.state(32, True).model.params, edited)
    assert _same(record.state(32 + 20, True).model.params, s.params)


def _changing_every_third_update(s: TrainingSession, until: int) -> None:
    """A change every 3 updates: a keyframe every 3 steps, none continuing the one before."""
    lr = [0.03, 0.031]
    while s.step < until:
        s.set_hyper({"lr": lr[s.step % 2]})
        s.advance(3)


def test_older_steps_are_thinned_as_documented(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session()
    _changing_every_third_update(s, 14_000)
    spans = s.timeline.spans()
    now = s.timeline.thinned_at
    assert now > s.step - timeline.THIN_EVERY * 3  # thinned lately
    recent = [a for a, e in spans if e >= now - timeline.RECENT]
    assert len(recent) >= timeline.RECENT // 3  # every keyframe of the newest 1,000 updates kept
    record = s.record()
    assert all(record.find(step) is not None for step in range(now - timeline.RECENT, s.step + 1))
    middle = [a for a, e in spans if e < now - timeline.RECENT and now - a <= timeline.RECENT + timeline.MIDDLE]
    assert len({a // timeline.MIDDLE_BUCKET for a in middle}) == len(middle)  # one per 10 steps at most
    assert len(middle) >= 0.9 * timeline.MIDDLE / timeline.MIDDLE_BUCKET  # and about one in each
    old = [a for a, e in spans if now - a > timeline.RECENT + timeline.MIDDLE]
    assert len({a // timeline.OLD_BUCKET for a in old}) == len(old) >= 0.9 * (now - 11_000) / timeline.OLD_BUCKET
    assert spans[0][0] == 0  # the start of the run is kept
    assert s.timeline.nbytes == sum(k.nbytes for k in s.timeline.keyframes) <= timeline.MAX_BYTES
    # A thinned-out stretch is not recorded, and a fork there is refused with the nearest recorded steps.
    gap = next(a + 4 for (a, e), (b, _) in zip(spans, spans[1:]) if e + 4 < b)
    assert record.find(gap) is None
    with pytest.raises(SessionError, match=r"not recorded exactly; the nearest recorded steps are \d+ and \d+"):
        s.fork_at(gap)
    # Rebuilt older steps are still exact: a twin run stopped there.
    twin = make_session()
    target = middle[len(middle) // 2]
    _changing_every_third_update(twin, target)
    assert _same(record.state(target, True).model.params, twin.params)


def test_the_record_keeps_within_its_bounds(make_session: Callable[..., TrainingSession],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline, "MAX_KEYFRAMES", 400)
    monkeypatch.setattr(timeline, "MAX_BYTES", 400 * 3_300)
    s = make_session()
    _changing_every_third_update(s, 6_000)
    assert len(s.timeline.keyframes) <= 400 and s.timeline.nbytes <= 400 * 3_300
    assert s.timeline.spans()[0][0] > 0  # nothing older than 11,000 updates to thin: the oldest went
    record = s.record()
    assert all(record.find(step) is not None for step in range(s.step - timeline.RECENT, s.step + 1))


def test_an_uninterrupted_run_stays_exact_at_every_step_once_thinned(make_session: Callable[..., TrainingSession]
                                                                      ) -> None:
    s = make_session()
    twin = make_session()
    while s.step < 13_000:
        s.advance(25)
    record = s.record()
    assert all(record.find(step) is not None for step in range(0, s.step + 1, 7))
    longest = max(e - a for a, e in s.timeline.spans())
    assert longest <= timeline.KEY_EVERY + 25  # a keyframe every KEY_EVERY updates: the longest replay
    for step in (5, 1234, 6001):
        while twin.step < step:
            twin.advance(step - twin.step)
        assert _same(record.state(step, True).model.params, twin.params)


def test_fork_at_then_training_equals_the_run_from_that_state(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session({"dropout": 0.2})
    twin = make_session({"dropout": 0.2})
    s.advance(700)
    twin.advance(333)
    s.history.record_change(0, "marker", 0, 1)
    assert s.fork_at(333) == 333
    assert s.step == 333 and _same(s.params, twin.params)
    assert s.history.updates.steps[-1] == 333
    assert s.history.changes[-1] == {"step": 333, "field": "fork_at", "old": 700, "new": 333}
    s.advance(250)
    twin.advance(250)
    assert _same(s.params, twin.params)
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(s.model.opt_state.slots["velocity"],
                                                            twin.model.opt_state.slots["velocity"]) for k in "Wb")
    assert s.epoch == twin.epoch


def test_fork_at_ends_a_divergence(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session({"lr": 0.001}, dataset="plane", hidden=[8] * 6)
    s.advance(100)
    s.set_hyper({"lr": 10})
    s.advance(5000)
    assert s.diverged is not None
    trouble = s.trouble()
    assert trouble is not None and trouble.kind == "diverged" and trouble.since_step == s.diverged.step
    s.set_hyper({"lr": 0.001})
    s.fork_at(90)
    assert s.diverged is None and s.step == 90 and s.trouble() is None
    assert s.advance(10) == 10


def test_fork_at_refuses_a_step_not_recorded(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session()
    s.advance(40)
    for step in (41, 10_000):
        with pytest.raises(SessionError, match=f"step: {step} is not recorded exactly; the nearest recorded steps are 40"):
            s.fork_at(step)
    assert s.step == 40


def test_the_record_is_cleared_on_rebuild_and_truncated_by_a_rollback(make_session: Callable[..., TrainingSession]
                                                                       ) -> None:
    s = make_session({"lr": 0.001}, dataset="plane", hidden=[8] * 6)
    s.advance(100)
    s.configure({"hidden": [3]})
    assert s.timeline.spans() == []
    s.advance(60)
    s.set_hyper({"lr": 10})
    s.advance(5000)
    assert s.diverged is not None
    back = s.rollback()
    assert s.timeline.spans()[-1][1] == back


def test_replayed_batches_of_a_previous_task_are_rebuilt_exactly(make_session: Callable[..., TrainingSession]
                                                                  ) -> None:
    def run(s: TrainingSession, until: int) -> None:
        s.advance(120)
        s.fine_tune({"rotate": 90}, "current")
        s.set_replay(0.3, 50)
        while s.step < until:
            s.advance(min(40, until - s.step))

    s, twin = make_session({"dropout": 0.1}), make_session({"dropout": 0.1})
    run(s, 700)
    run(twin, 333)
    assert _same(s.record().state(333, True).model.params, twin.params)
    s.fork_at(333)
    s.advance(200)
    twin.advance(200)
    assert _same(s.params, twin.params)
