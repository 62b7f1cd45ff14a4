"""The change log is bounded: a gesture (a dragged slider) is one entry, the
oldest entries go past a fixed number, and a client that follows deltas still
receives every change exactly once. Times come from an injected clock."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

from app.server.messages import frame_bytes, history_message
from app.server.registry import Client, LiveSession
from app.training.history import GESTURE_SECONDS, History


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def entries(h: History) -> list[tuple[Any, ...]]:
    return [(c["step"], c["field"], c["old"], c["new"]) for c in h.changes]


def test_a_dragged_slider_is_one_change_from_its_first_value_to_its_last() -> None:
    clock = Clock()
    h = History(clock=clock)
    lr = 0.03
    for i in range(60):  # a second of dragging, a change every 1/60 s, while training
        new = round(0.03 + 0.01 * (i + 1), 6)
        h.record_change(10 + i, "lr", lr, new)
        lr = new
        clock.now += 1 / 60
    assert entries(h) == [(69, "lr", 0.03, lr)], "one marker, at the step of the last change"
    assert h.change_count == 1


def test_changes_apart_in_time_or_between_other_fields_stay_apart() -> None:
    clock = Clock()
    h = History(clock=clock)
    h.record_change(1, "lr", 0.03, 0.1)
    clock.now += GESTURE_SECONDS + 0.01  # a new gesture
    h.record_change(500, "lr", 0.1, 0.2)
    h.record_change(500, "momentum", 0.9, 0.5)
    h.record_change(501, "lr", 0.2, 0.3)  # another field came between
    assert entries(h) == [(1, "lr", 0.03, 0.1), (500, "lr", 0.1, 0.2), (500, "momentum", 0.9, 0.5),
                          (501, "lr", 0.2, 0.3)]


def test_a_change_handed_out_is_final_and_the_gesture_goes_on_in_a_new_entry() -> None:
    h = History(clock=Clock())
    h.record_change(5, "lr", 0.03, 0.1)
    sent = h.since(-1, 0)["changes"]
    h.record_change(5, "lr", 0.1, 0.2)
    h.record_change(5, "lr", 0.2, 0.3)
    assert sent == [{"step": 5, "field": "lr", "old": 0.03, "new": 0.1}]
    assert entries(h) == [(5, "lr", 0.03, 0.1), (5, "lr", 0.1, 0.3)]


def test_the_log_keeps_the_newest_thousand_changes() -> None:
    h = History(clock=Clock())
    for i in range(30_000):  # alternating fields: nothing merges
        h.record_change(i, "lr" if i % 2 else "momentum", i, i + 1)
    assert len(h.changes) == 1000 and h.change_count == 30_000 and h.first_change == 29_000
    assert h.changes[0]["step"] == 29_000 and h.changes[-1]["step"] == 29_999
    assert [c["step"] for c in h.since(-1, 29_990)["changes"]] == list(range(29_990, 30_000))
    assert len(h.since(-1, 0)["changes"]) == 1000, "a client further behind gets what is kept"
    assert h.since(-1, 30_000)["changes"] == []
    csv_changes = [line for line in h.to_csv().splitlines() if line.startswith("change,")]
    assert len(csv_changes) == 1000


def follow(seed: int, capacity: int, poll_every: int) -> tuple[list[dict[str, Any]], dict[str, float], History]:
    """Random gestures on three fields, each change from the field's current value,
    and a client taking deltas every 1..`poll_every` changes. Returns what the client
    received, the fields' final values and the history."""
    rng = random.Random(seed)
    clock = Clock()
    h = History(change_capacity=capacity, clock=clock)
    values = {"lr": 0.03, "momentum": 0.9, "reg_rate": 0.0}
    received: list[dict[str, Any]] = []
    seen, next_poll = 0, rng.randint(1, poll_every)
    field = "lr"
    for step in range(2000):
        if rng.random() < 0.2:
            field = rng.choice(list(values))  # the next gesture may be on another slider
        new = round(values[field] + rng.choice((-1, 1)) * 0.01, 6)
        h.record_change(step, field, values[field], new)
        values[field] = new
        clock.now += rng.choice((0.01, 0.02, 2.0))
        next_poll -= 1
        if next_poll == 0:
            received += h.since(step, seen)["changes"]
            seen, next_poll = h.change_count, rng.randint(1, poll_every)
    received += h.since(2000, seen)["changes"]
    return received, values, h


def assert_chains(received: list[dict[str, Any]], final: dict[str, float]) -> None:
    """Each field's changes, in the order received, lead from its first value to its
    last with no step left out and none repeated: every `old` is the previous `new`."""
    start = {"lr": 0.03, "momentum": 0.9, "reg_rate": 0.0}
    for field, value in start.items():
        for c in (c for c in received if c["field"] == field):
            assert c["old"] == value, f"{field}: a change missed or received twice"
            value = c["new"]
        assert value == final[field]


def test_a_client_following_deltas_sees_every_change_exactly_once() -> None:
    for seed in range(20):
        received, final, h = follow(seed, capacity=1000, poll_every=15)
        assert_chains(received, final)
        assert len(received) == h.change_count < 2000, "gestures merged, and each change received once"
        assert received[-len(h.changes):] == h.changes


def test_across_dropped_entries_a_client_that_keeps_up_misses_nothing() -> None:
    for seed in range(20):
        received, final, h = follow(seed, capacity=10, poll_every=10)  # polls within the capacity
        assert h.first_change > 0, "old entries were dropped meanwhile"
        assert_chains(received, final)
        assert len(received) == h.change_count
        assert received[-10:] == h.changes


def test_a_saved_log_comes_back_bounded_and_numbered_and_starts_no_gesture() -> None:
    h = History(clock=Clock())
    for i in range(1500):
        h.record_change(i, "lr" if i % 2 else "momentum", i, i + 1)
    state = h.to_state()
    back = History(clock=h.clock)
    back.load_state(state)
    assert back.changes == h.changes and back.change_count == 1500 and back.first_change == 500
    back.record_change(1500, "momentum", 1500, 1501)  # same field as the last, at once: still a new entry
    assert back.change_count == 1501
    # A state saved before the log was bounded: no numbering, 90,000 changes.
    old = {**state, "changes": [{"step": i, "field": "lr", "old": i, "new": i + 1} for i in range(90_000)]}
    del old["first_change"]
    back.load_state(old)
    assert len(back.changes) == 1000 and back.first_change == 89_000 and back.changes[0]["step"] == 89_000


def test_frames_carry_each_change_of_a_drag_once(make_session) -> None:
    """Through the server's messages: a page following frames while a slider is dragged."""
    s = make_session()
    clock = Clock()
    s.history = History(change_capacity=20, clock=clock)
    live = LiveSession("sid", s)
    client = Client(fps=30)
    history_message(live, client)
    received: list[dict[str, Any]] = []
    rng = random.Random(3)
    lr = s.hyper.lr
    for i in range(300):
        lr = round(lr + rng.choice((-1, 1)) * 0.001, 6)
        s.set_hyper({"lr": lr} if i % 7 else {"momentum": round(0.5 + 0.001 * i, 6)})
        clock.now += 0.016
        s.advance(1)
        if rng.random() < 0.3:  # a frame goes out now and then
            received += json.loads(frame_bytes(live, client))["history"]["changes"]
    received += json.loads(frame_bytes(live, client))["history"]["changes"]
    assert s.history.first_change > 0 and len(received) == s.history.change_count
    assert received[-len(s.history.changes):] == s.history.changes
    for field in ("lr", "momentum"):
        chain = [c for c in received if c["field"] == field]
        assert all(a["new"] == b["old"] for a, b in itertools.pairwise(chain))
        assert chain[-1]["new"] == getattr(s.hyper, field)
