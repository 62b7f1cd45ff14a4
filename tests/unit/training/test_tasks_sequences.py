"""Random sequences of the transfer lab's operations (fine-tune, replay, batch size, reset, configure,
step by step, fork) keep a session whole: its batches index rows it has, its record of tasks holds
together, and a copy taken at any point continues exactly as the original."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.training.config import HyperState, RunConfig
from app.training.errors import SessionError
from app.training.persist import fork_session
from app.training.session import TrainingSession

TASKS: list[dict[str, Any]] = [  # mostly tasks comparable with the one before (replay stays open)
    {"rotate": 90}, {"rotate": -30, "shift": [1, 1]}, {"dataset": "xor"}, {"rotate": 10}, {"dataset": "spiral3"},
    {"dataset": "mammals"}, {"dataset": "mammals", "columns": ["has_gills", "lays_eggs"]},
    {"features": ["x1", "x2", "x1_sq"]}, {"dataset": "circle", "n_points": 120},
]

operations = st.one_of(
    st.tuples(st.just("fine_tune"), st.sampled_from(range(len(TASKS))), st.sampled_from(["current", "scratch"])),
    st.tuples(st.just("configure"), st.sampled_from(range(len(TASKS))), st.just("")),
    st.tuples(st.just("replay"), st.sampled_from([0.0, 0.2, 0.5, 0.9]), st.sampled_from([1, 7, 100, 2000])),
    st.tuples(st.just("batch_size"), st.sampled_from([1, 3, 10, 25]), st.just("")),
    st.tuples(st.just("advance"), st.integers(1, 30), st.just("")),
    st.tuples(st.just("phase"), st.integers(1, 6), st.just("")),
    st.tuples(st.just("reset"), st.booleans(), st.just("")),
)


def check_whole(s: TrainingSession) -> None:
    rows = s.queue.n_train + s.tasks.available
    for batch in s.queue:
        assert batch.size and batch.max() < rows and batch.min() >= 0
        assert (batch < s.queue.n_train).any()  # every batch moves the epoch on
    records = s.tasks.to_list()
    assert [r["index"] for r in records] == list(range(len(records)))
    assert records[-1]["trained_steps"] is None and all(r["trained_steps"] is not None for r in records[:-1])
    assert records[0]["start"] == "new" and all(r["start"] != "new" for r in records[1:])
    if s.tasks.old is None:
        assert s.tasks.replay.share == 0.0
    X, Y = s.tasks.train_arrays(s.data.X["train"], s.Y["train"])
    assert X.shape[0] == Y.shape[0] == rows


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(operations, min_size=1, max_size=10))
def test_random_sequences_keep_the_session_whole(steps: list[tuple[str, Any, Any]]) -> None:
    s = TrainingSession(RunConfig(dataset="gauss", n_points=200), HyperState(lr=0.1))
    s.step_epoch()
    s.fine_tune({"rotate": 45})  # a comparable previous task: replay is open from the start
    for op, a, b in steps:
        try:
            if op == "fine_tune":
                s.fine_tune(TASKS[a], b)
            elif op == "configure":
                s.configure(TASKS[a])
            elif op == "replay":
                s.set_replay(a, b)
            elif op == "batch_size":
                s.set_hyper({"batch_size": a})
            elif op == "advance":
                s.advance(a)
            elif op == "phase":
                for _ in range(a):
                    s.step_phase()
            else:
                s.reset(a)
        except SessionError:
            pass  # refused as documented (replay without a previous task, columns on 2-D data, ...)
        check_whole(s)
    copy = fork_session(s)
    check_whole(copy)
    for run in (s, copy):
        run.advance(40)
    assert all(np.array_equal(x["W"], y["W"]) for x, y in zip(s.params, copy.params, strict=True))
