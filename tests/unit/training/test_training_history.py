"""History: bounded thinning that keeps the newest point, `since`, and the CSV."""

from __future__ import annotations

import csv
import io
import math

import pytest

from app.training.history import EPOCH_COLUMNS, History, Series


def test_series_stays_bounded_and_keeps_the_newest_point() -> None:
    s = Series(("loss",), capacity=16)
    for step in range(1, 5001):
        stride = s.stride
        s.append(step, {"loss": float(step)})
        assert len(s) < 16
        # The newest recorded point is at most one stride behind the newest step...
        assert step - s.steps[-1] < s.stride
        # ...and a thinning never drops the point that triggered it.
        if s.stride != stride:
            assert s.steps[-1] == step
        assert list(s.values["loss"]) == [float(x) for x in s.steps]
    assert s.stride > 1
    assert list(s.steps) == sorted(set(s.steps))
    # Thinning keeps the shape: the points stay spread over the whole run.
    assert s.steps[0] <= 5000 // 8 and len(s) >= 16 // 2 - 1


def test_series_since_returns_only_newer_rows() -> None:
    s = Series(("a", "b"), capacity=1000)
    for step in range(1, 101):
        s.append(step, {"a": step * 0.5, "b": None if step % 10 == 0 else float(step)})
    out = s.since(95)
    assert out == {"step": [96, 97, 98, 99, 100], "a": [48.0, 48.5, 49.0, 49.5, 50.0],
                   "b": [96.0, 97.0, 98.0, 99.0, None]}
    assert s.since(100) == {"step": [], "a": [], "b": []}
    assert s.since(-1)["step"] == list(range(1, 101))
    # A step that was never recorded still works as a bookmark.
    s2 = Series(("a",), capacity=1000)
    for step in (2, 4, 6, 8):
        s2.append(step, {"a": 1.0})
    assert s2.since(5)["step"] == [6, 8]


@pytest.mark.parametrize("n, limit", [(1500, 1000), (2001, 1000), (999, 10), (37, 5), (10, 10)])
def test_series_since_with_a_limit_is_bounded_and_ends_at_the_newest(n: int, limit: int) -> None:
    s = Series(("a",), capacity=100000)
    for step in range(1, n + 1):
        s.append(step, {"a": float(step)})
    out = s.since(0, limit)
    assert 0 < len(out["step"]) <= limit
    assert out["step"][-1] == n
    gaps = {b - a for a, b in zip(out["step"], out["step"][1:])}
    assert len(gaps) <= 1  # evenly thinned
    assert out["a"] == [float(x) for x in out["step"]]


def test_non_finite_values_are_sent_as_null() -> None:
    h = History()
    h.record_update(1, math.nan)
    h.record_update(2, math.inf)
    h.record_update(3, 0.5)
    assert h.since(-1, 0)["batch_loss"] == [None, None, 0.5]


def test_history_since_step_and_change_index(make_session) -> None:
    s = make_session()
    s.advance(30)  # one epoch at 25
    s.set_hyper({"lr": 0.1})
    s.advance(30)  # another at 50
    s.set_hyper({"momentum": 0.5})
    h = s.history
    assert len(h.updates) == 60
    delta = h.since(45, 1)
    assert delta["steps"] == list(range(46, 61))
    assert delta["batch_loss"] == list(h.updates.values["batch_loss"][45:])
    assert delta["epochs"]["step"] == [50] and delta["epochs"]["epoch"] == [2]
    assert delta["changes"] == [{"step": 60, "field": "momentum", "old": 0.9, "new": 0.5}]
    full = h.since(-1, 0, limit=None)
    assert full["epochs"]["step"] == [25, 50] and len(full["changes"]) == 2
    assert set(full["epochs"]) == {"epoch", "step", *EPOCH_COLUMNS}


def test_long_runs_keep_a_bounded_history() -> None:
    h = History(step_capacity=64, epoch_capacity=8)
    for step in range(1, 10001):
        h.record_update(step, 1.0 / step)
        if step % 10 == 0:
            h.record_epoch(step, step // 10, dict.fromkeys(EPOCH_COLUMNS, 0.1))
    assert len(h.updates) < 64 and len(h.epochs) < 8
    rows = h.since(-1, 0, limit=None)
    # Epoch rows are thinned the same way: the newest is at most a stride behind.
    assert 10000 - rows["epochs"]["step"][-1] < 10 * h.epochs.stride
    assert rows["epochs"]["epoch"] == [s // 10 for s in rows["epochs"]["step"]]
    assert 10000 - rows["steps"][-1] < h.updates.stride


def test_history_csv_has_the_epoch_rows(make_session) -> None:
    s = make_session(val_ratio=20)
    s.advance(20)
    s.set_hyper({"lr": 0.1})
    s.step_epoch()
    s.step_epoch()
    table = list(csv.DictReader(io.StringIO(s.history.to_csv())))
    epochs = [r for r in table if r["kind"] == "epoch"]
    full = s.history.since(-1, 0, limit=None)["epochs"]
    assert [int(r["epoch"]) for r in epochs] == full["epoch"] == [1, 2]
    assert [int(r["step"]) for r in epochs] == full["step"]
    for i, row in enumerate(epochs):
        for column in EPOCH_COLUMNS:
            # repr: exact; a lab column with no value in this row (None) is an empty cell
            assert (None if row[column] == "" else float(row[column])) == full[column][i]
    assert float(epochs[-1]["train_loss"]) == s.metrics()["train_loss"]
    updates = [r for r in table if r["kind"] == "update"]
    assert len(updates) == s.step and float(updates[-1]["batch_loss"]) == s.last_update.loss
    changes = [r for r in table if r["kind"] == "change"]
    assert [(c["step"], c["field"], c["old"], c["new"]) for c in changes] == [("20", "lr", "0.03", "0.1")]


@pytest.mark.parametrize("capacity", [2, 3, 5, 16])
def test_append_column_is_append_one_by_one(capacity: int) -> None:
    """The fast path records a run's losses in one call: the same rows, strides and thinning."""
    import random

    rnd = random.Random(capacity)
    one, many = Series(("loss",), capacity), Series(("loss",), capacity)
    step = 0
    for _ in range(200):
        values = [rnd.random() for _ in range(rnd.choice([0, 1, 2, 7, 25, 64]))]
        for i, v in enumerate(values):
            one.append(step + 1 + i, {"loss": v})
        many.append_column(step + 1, values)
        step += len(values)
        assert list(many.steps) == list(one.steps)
        assert list(many.values["loss"]) == list(one.values["loss"])
        assert (many.stride, many._skipped) == (one.stride, one._skipped)
    assert one.stride > 1


def test_epoch_rows_keep_the_penalized_training_loss_and_older_states_load_without_it(make_session) -> None:
    s = make_session({"regularization": "l2", "reg_rate": 0.1})
    s.step_epoch()
    row = s.history.since(-1, 0)["epochs"]
    assert row["train_loss_penalized"] == [s.metrics()["train_loss_penalized"]]
    assert row["train_loss_penalized"][0] > row["train_loss"][0]  # the penalty is in it
    state = s.history.to_state()
    del state["epochs"]["values"]["train_loss_penalized"]  # a snapshot saved before the column was kept
    older = History()
    older.load_state(state)
    rows = older.since(-1, 0)["epochs"]
    assert rows["train_loss"] == row["train_loss"] and rows["train_loss_penalized"] == [None]
    assert "train_loss_penalized" in s.history.to_csv().splitlines()[0]
