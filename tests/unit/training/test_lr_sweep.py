"""The learning-rate explorer (`app.training.lr_sweep`): log-spaced rates, each trained from
the current point on the same batches, divergence marked, the live session untouched."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.training import lr_sweep
from app.training.landscape import flatten
from app.training.persist import fork_session, session_state
from app.training.session import TrainingSession


def test_the_sweep_leaves_the_live_session_untouched(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session({"optimizer": "adam", "lr": 0.01})
    s.advance(40)
    weights = flatten(s.params).tobytes()
    slots = {k: [v.copy() for layer in s.model.opt_state.slots[k] for v in layer.values()]
             for k in s.model.opt_state.slots}
    hyper, step, version, queue = copy.deepcopy(s.hyper), s.step, s.version, [q.copy() for q in s.queue]
    rng = copy.deepcopy(s.queue.rng.bit_generator.state)
    lr_sweep.run(session_state(s), 1e-4, 10.0, 7, 30)
    assert flatten(s.params).tobytes() == weights
    for k, arrays in slots.items():
        now = [v for layer in s.model.opt_state.slots[k] for v in layer.values()]
        assert all(a.tobytes() == b.tobytes() for a, b in zip(arrays, now)), k
    assert s.hyper == hyper and s.step == step and s.version == version
    assert [q.tolist() for q in s.queue] == [q.tolist() for q in queue]
    assert s.queue.rng.bit_generator.state == rng


def test_each_rate_is_the_session_trained_alone_at_that_rate(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session({"optimizer": "momentum", "batch_size": 7})
    s.advance(11)  # mid-epoch, with velocity: both carried into every rate's copy
    sweep = lr_sweep.run(session_state(s), 0.001, 1.0, 4, 25)
    assert sweep.lrs == pytest.approx([0.001, 0.01, 0.1, 1.0], rel=1e-12)
    assert sweep.lrs[0] == 0.001 and sweep.lrs[-1] == 1.0
    for lr, loss in zip(sweep.lrs, sweep.losses):
        solo = fork_session(s)
        solo.set_hyper({"lr": lr})
        solo.advance(25)
        assert loss == solo.metrics()["train_loss"]
    assert sweep.start_loss == s.metrics()["train_loss"]
    assert sweep.current_lr == s.hyper.lr
    finite = [(loss, lr) for loss, lr in zip(sweep.losses, sweep.lrs) if loss is not None]
    assert sweep.best_lr == min(finite)[1]


def test_divergence_is_marked_and_its_loss_is_null(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session({"optimizer": "sgd", "lr": 0.01}, dataset="plane", hidden=[4], activation="relu")
    s.advance(5)
    events: list[dict[str, Any]] = []
    sweep = lr_sweep.run(session_state(s), 1e-3, 10.0, 5, 200, report=events.append)
    assert sweep.diverged[0] is False and sweep.losses[0] is not None
    assert sweep.diverged[-1] is True and sweep.losses[-1] is None
    assert all((loss is None) == gone for loss, gone in zip(sweep.losses, sweep.diverged))
    assert sweep.best_lr is not None and sweep.best_lr < 10.0
    assert [e["lr_done"] for e in events] == list(range(5))
    assert [e["diverged"] for e in events] == sweep.diverged
    body = sweep.to_dict()
    assert set(body) == {"lrs", "losses", "diverged", "start_loss", "current_lr", "best_lr"}


def test_the_rates_are_evenly_spaced_on_a_log_scale() -> None:
    lrs = lr_sweep.learning_rates(1e-4, 1.0, 9)
    steps = np.diff(np.log10(lrs))
    assert np.allclose(steps, 0.5, rtol=1e-12)


@pytest.mark.parametrize(("args", "words"), [
    ((1e-6, 1.0, 5, 10), "low"),
    ((1e-3, 11.0, 5, 10), "high"),
    ((0.1, 0.1, 5, 10), "high must be above low"),
    ((0.5, 0.1, 5, 10), "high must be above low"),
    (("0.1", 1.0, 5, 10), "low"),
    ((0.1, 1.0, 2, 10), "points"),
    ((0.1, 1.0, 42, 10), "points"),
    ((0.1, 1.0, 5, 0), "updates"),
    ((0.1, 1.0, 5, 501), "updates"),
])
def test_bad_sweeps_are_refused_naming_what_is_wrong(make_session: Callable[..., TrainingSession],
                                                    args: tuple[Any, ...], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        lr_sweep.run(session_state(make_session()), *args)
