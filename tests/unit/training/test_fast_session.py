"""TrainingSession on the fast path against the numpy reference path, end to
end: the same seed, the same controls mid-run, the same numbers and history;
divergence and rollback; deadlines; the fallback and the server's warm-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from app.nn import fast
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession
from app.training.updates import FAST_CHUNK


@pytest.fixture(autouse=True)
def fast_ready() -> None:
    if not fast.available():
        pytest.fail(f"fast path unavailable: {fast.reason()}")


def _pair(make_session: Callable[..., TrainingSession], hyper: dict[str, Any] | None = None,
          **config: Any) -> tuple[TrainingSession, TrainingSession]:
    fst, ref = make_session(hyper, **config), make_session(hyper, **config)
    fst.fast, ref.fast = True, False
    return fst, ref


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """The same bits (NaN is never equal): the promise between the two paths."""
    return np.array_equal(a.astype(float), b.astype(float))


def assert_same_run(fst: TrainingSession, ref: TrainingSession) -> None:
    """Params and optimizer state the same bits; counters, history, losses, last
    gradients and deltas, the rest of the epoch and the generators equal."""
    assert (fst.step, fst.epoch) == (ref.step, ref.epoch)
    for l, (p, q) in enumerate(zip(fst.params, ref.params, strict=True)):
        for k in ("W", "b"):
            assert _same(p[k], q[k]), f"params layer {l} {k}"
            assert _same(fst.last_update.grads[l][k], ref.last_update.grads[l][k]), f"grads layer {l} {k}"
            assert _same(fst.last_update.deltas[l][k], ref.last_update.deltas[l][k]), f"deltas layer {l} {k}"
    for name, slot in ref.model.opt_state.slots.items():
        for l, (p, q) in enumerate(zip(fst.model.opt_state.slots[name], slot)):
            for k in ("W", "b"):
                assert _same(p[k], q[k]), f"optimizer {name} layer {l} {k}"
    assert fst.history.since(-1, 0, limit=None) == ref.history.since(-1, 0, limit=None)
    assert fst.history.to_csv() == ref.history.to_csv()
    loss, ref_loss = fst.last_update.loss, ref.last_update.loss
    assert loss == ref_loss or (np.isnan(loss) and np.isnan(ref_loss))
    assert [q.tolist() for q in fst.queue] == [q.tolist() for q in ref.queue]
    assert fst.queue.rng.bit_generator.state == ref.queue.rng.bit_generator.state
    assert fst.dropout_rng.bit_generator.state == ref.dropout_rng.bit_generator.state
    assert fst.metrics() == ref.metrics()
    assert fst.diverged == ref.diverged


def _both(fst: TrainingSession, ref: TrainingSession, action: Callable[[TrainingSession], Any]) -> None:
    assert action(fst) == action(ref)


# What both sessions are asked to do, in order, on the way to 1,000 updates.
SCRIPT: list[Callable[[TrainingSession], Any]] = [
    lambda s: s.advance(37),
    lambda s: s.set_hyper({"lr": 0.1, "momentum": 0.5}),
    lambda s: s.step_epoch(),
    lambda s: s.set_hyper({"batch_size": 7}),           # rechunks the rest of the epoch
    lambda s: s.advance(120),
    lambda s: s.set_hyper({"regularization": "l1", "reg_rate": 0.003, "dropout": 0.2}),
    lambda s: s.freeze(0, "neuron", 0, 1, True),
    lambda s: s.freeze(1, "weight", 0, 0, True),
    lambda s: s.advance(150),
    lambda s: s.set_hyper({"optimizer": "adam", "lr": 0.01}),
    lambda s: s.step_phase(),                           # a half-done update...
    lambda s: s.step_phase(),
    lambda s: s.advance(100),                           # ...that advance completes first
    lambda s: s.freeze(0, "neuron", 0, 1, False),       # Adam's t now differs per entry
    lambda s: s.set_param(0, "W", 0, 0, 0.25),
    lambda s: s.set_hyper({"regularization": "l2", "reg_rate": 0.01, "dropout": 0.0}),
    lambda s: s.advance(200),
    lambda s: s.set_hyper({"optimizer": "rmsprop", "lr": 0.003, "batch_size": 25}),
    lambda s: s.advance(150),
    lambda s: s.set_hyper({"optimizer": "nesterov", "lr": 0.02, "dropout": 0.5}),
    lambda s: s.advance(1000 - s.step),
]


@pytest.mark.parametrize("config", [
    {},                                                             # circle, playground [4, 2] tanh
    {"dataset": "xor", "task": "binary", "activation": "relu", "hidden": [8, 8]},
    {"dataset": "spiral3", "hidden": [6, 4], "activations": ["tanh", "sigmoid"]},
    {"dataset": "plane", "hidden": [5, 3], "activations": ["leaky_relu", "linear"]},
], ids=["playground", "binary_relu", "multiclass", "regression"])
def test_a_fast_session_is_the_reference_session(make_session, config: dict[str, Any]) -> None:
    fst, ref = _pair(make_session, **config)
    for action in SCRIPT:
        _both(fst, ref, action)
        assert_same_run(fst, ref)
    assert fst.step == ref.step == 1000
    assert fst.epoch > 10


def test_no_hidden_layer(make_session) -> None:
    fst, ref = _pair(make_session, {"dropout": 0.3, "regularization": "l2", "reg_rate": 0.01},
                     dataset="gauss", hidden=[])
    for s in (fst, ref):
        s.advance(333)
        s.step_epoch()
    assert_same_run(fst, ref)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_and_rollback_are_the_same(make_session) -> None:
    fst, ref = _pair(make_session, {"lr": 10}, dataset="plane", hidden=[8] * 6)
    _both(fst, ref, lambda s: s.advance(20))
    _both(fst, ref, lambda s: s.advance(5000))
    assert fst.diverged is not None and fst.diverged == ref.diverged
    assert_same_run(fst, ref)
    _both(fst, ref, lambda s: s.rollback())
    _both(fst, ref, lambda s: s.set_hyper({"lr": 0.001}))
    _both(fst, ref, lambda s: s.advance(300))
    assert fst.diverged is None
    assert_same_run(fst, ref)


# One update costs this much time on the clock below (a power of two: exact sums).
TICK = 2.0 ** -10


def _on_update_time(hyper: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[TrainingSession, list[int]]:
    """A session on a clock that moves only with training, `TICK` per update, and the
    size of every compiled call it makes, in order."""
    s = TrainingSession(RunConfig(), HyperState(**hyper), clock=lambda: s.step * TICK)
    chunks: list[int] = []
    real = fast.train_run

    def spy(*args: Any, **kwargs: Any) -> Any:
        chunks.append(len(args[7]))  # the batches of this call
        return real(*args, **kwargs)

    monkeypatch.setattr(fast, "train_run", spy)
    return s, chunks


def test_a_deadline_stops_the_fast_path_at_the_first_chunk_boundary_past_it(monkeypatch) -> None:
    s, chunks = _on_update_time({"batch_size": 1}, monkeypatch)  # 250 updates an epoch
    # Before any chunk has run, its pace is unknown: a whole chunk, then the deadline is past.
    assert s.advance(10**6, deadline=50.5 * TICK) == FAST_CHUNK
    assert chunks == [FAST_CHUNK]
    # Now a chunk is sized to the time left at the last chunk's pace (one TICK an update):
    # 20 updates fit in 20.5 TICKs; the next chunk, with half a TICK left, is one update.
    chunks.clear()
    assert s.advance(10**6, deadline=(s.step + 20.5) * TICK) == 21
    assert chunks == [20, 1]
    # Already past the deadline: one update still runs (as on the reference path).
    chunks.clear()
    assert s.advance(1000, deadline=s.step * TICK - 1) == 1
    assert chunks == [1]
    # Without a deadline, chunks are cut by FAST_CHUNK and the epoch's end only.
    chunks.clear()
    assert s.advance(200) == 200
    assert chunks == [64, 64, 36, 36] and s.step == 286
    # Epochs end where the reference ends them: every epoch row at a multiple of its length.
    assert s.history.since(-1, 0, limit=None)["epochs"]["step"] == [250]


def test_a_deadline_stops_the_reference_path_after_the_update_that_passes_it(monkeypatch) -> None:
    s, chunks = _on_update_time({}, monkeypatch)
    s.fast = False
    # The deadline is checked before every update but the first: 6 updates reach 6 TICKs >= 5.5.
    assert s.advance(10**6, deadline=5.5 * TICK) == 6
    assert s.advance(1000, deadline=s.step * TICK - 1) == 1
    assert chunks == []


def test_the_class_switch_and_the_fallback_give_the_reference_path(make_session, monkeypatch) -> None:
    calls = []
    real = fast.train_run

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fast, "train_run", spy)
    fst = make_session()
    fst.advance(50)
    assert calls, "a default session trains on the fast path"
    calls.clear()
    monkeypatch.setattr(TrainingSession, "fast", False)
    ref = make_session()
    ref.advance(50)
    assert not calls
    monkeypatch.setattr(TrainingSession, "fast", True)
    fast.disable("numba could not load (test)")
    try:
        fallback = make_session()
        fallback.advance(50)
        assert not calls
    finally:
        fast.reset()
    assert_same_run(fallback, ref)
    assert_same_run(fst, ref)


def test_metrics_come_from_the_compiled_evaluation_with_the_same_bits(make_session, monkeypatch) -> None:
    calls = []
    real = fast.evaluate
    monkeypatch.setattr(fast, "evaluate", lambda *args: calls.append(1) or real(*args))
    fst, ref = _pair(make_session, dataset="spiral3", hidden=[6, 4], train_ratio=60, val_ratio=20)
    for s in (fst, ref):
        s.advance(40)
    calls.clear()
    assert fst.metrics() == ref.metrics()
    assert len(calls) == 3  # train, val, test on the fast session; none on the reference one
    assert fst.metrics()["val_acc"] is not None


def test_a_session_does_not_wait_for_a_warm_up_in_progress(make_session, monkeypatch) -> None:
    monkeypatch.setattr(fast, "_status", "compiling")  # as while the server's thread compiles
    s = make_session()
    s.fast = True
    assert s.advance(10) == 10  # on the numpy path, without blocking


class _Awaited(logging.Handler):
    """Keeps the messages logged, from any thread, and sets `seen` once one contains `text`
    (after keeping it: a waiter woken by `seen` finds the message there)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seen = text, threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if self.text in self.messages[-1]:
            self.seen.set()


@contextmanager
def _awaiting(text: str) -> Iterator[_Awaited]:
    """The server's logger (where its warm-up thread reports), at INFO, watched for `text`."""
    handler = _Awaited(text)
    logger = logging.getLogger("paramlab")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_the_server_says_when_it_falls_back(caplog) -> None:
    from app.server.main import start_fast_path

    fast.disable("ModuleNotFoundError: No module named 'numba'")
    try:
        with _awaiting("fast path") as log:
            start_fast_path(True)
            assert log.seen.wait(timeout=60), "the warm-up thread never reported"
        assert ("fast path unavailable: ModuleNotFoundError: No module named 'numba'; "
                "using the numpy reference path") in log.messages
        with caplog.at_level(logging.INFO, logger="paramlab"):
            start_fast_path(False)
        assert TrainingSession.fast is False
        assert any("fast path off" in r.getMessage() for r in caplog.records)
    finally:
        TrainingSession.fast = True
        fast.reset()
    with _awaiting("fast path ready") as log:
        start_fast_path(True)
        assert log.seen.wait(timeout=120), "the warm-up thread never reported the fast path ready"
    assert fast.available(wait=False)
