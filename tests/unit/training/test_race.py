"""Racing optimizers (`app.training.race`): each contender is, to the bit, the run its
optimizer makes alone from the session's current point: checked against a plain numpy
loop (forward, backward, penalty gradient, `optimizers.update`) over the batches the
session would take next, and against a session forked and trained alone."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.nn import fast, network, optimizers, regularization
from app.nn.optimizers import Hyperparams
from app.training import race
from app.training.landscape import flatten
from app.training.persist import fork_session, session_state
from app.training.session import TrainingSession

Params = list[dict[str, np.ndarray]]

CONTENDERS = [
    race.Contender("sgd", lr=0.1),
    race.Contender("momentum", lr=0.05, momentum=0.8),
    race.Contender("nesterov"),
    race.Contender("adam", lr=0.01, beta1=0.85, beta2=0.99),
    race.Contender("rmsprop", lr=0.01, rho=0.9),
]


def started(make_session: Callable[..., TrainingSession], **config: Any) -> TrainingSession:
    """A session some updates into its run, mid-epoch, its momentum optimizer moving."""
    s = make_session({"regularization": "l2", "reg_rate": 0.001, "batch_size": 7}, **config)
    s.advance(37)
    return s


def alone(s: TrainingSession, c: race.Contender, updates: int) -> tuple[Params, list[float]]:
    """The oracle: the contender's optimizer from rest, on the batches `s` would take next,
    in a plain loop of the numpy engine."""
    queue = fork_session(s).queue  # the same rest of the epoch and batch generator position
    batches = [queue.next(s.hyper.batch_size) for _ in range(updates)]
    params = [{k: v.copy() for k, v in p.items()} for p in s.params]
    state = optimizers.init_state(params)
    h = s.hyper
    hp = Hyperparams(lr=c.lr if c.lr is not None else h.lr,
                     momentum=c.momentum if c.momentum is not None else h.momentum,
                     beta1=c.beta1 if c.beta1 is not None else h.beta1,
                     beta2=c.beta2 if c.beta2 is not None else h.beta2,
                     rho=c.rho if c.rho is not None else h.rho, eps=h.eps, optimizer=c.optimizer)
    X, Y = s.data.X["train"], s.Y["train"]
    losses = []
    for idx in batches:
        out, cache = network.forward(s.spec, params, X[idx])
        losses.append(float(s.task.loss(out, Y[idx], cache.Z[-1])))
        grads = network.backward(s.spec, params, cache, Y[idx])
        regularization.add_penalty_grad(params, grads, h.regularization, h.reg_rate)
        optimizers.update(params, grads, state, hp)
    return params, losses


@pytest.mark.parametrize("use_fast", [False, True])  # the race on the numpy path and on the compiled one
@pytest.mark.parametrize("updates", [1, 60])
def test_each_contender_is_its_optimizer_run_alone_to_the_bit(make_session: Callable[..., TrainingSession],
                                                              monkeypatch: pytest.MonkeyPatch, updates: int,
                                                              use_fast: bool) -> None:
    if use_fast and not fast.available(wait=True):
        pytest.skip(f"the fast path is not available here: {fast.reason()}")
    monkeypatch.setattr(TrainingSession, "fast", use_fast)  # the contenders' sessions are made in the race
    s = started(make_session)
    before = flatten(s.params).tobytes()
    lanes = race.run(session_state(s), CONTENDERS, updates)
    for c, lane in zip(CONTENDERS, lanes):
        params, losses = alone(s, c, updates)
        assert lane.done == updates
        assert flatten(lane.session.params).tobytes() == flatten(params).tobytes(), c.optimizer
        assert np.array(lane.losses).tobytes() == np.array(losses).tobytes(), c.optimizer
        assert lane.path[-1].tobytes() == flatten(params).tobytes()
    assert flatten(s.params).tobytes() == before  # the live session was not touched


def test_a_contender_is_the_session_forked_and_trained_alone_with_dropout_too(
        make_session: Callable[..., TrainingSession], assert_params_equal: Callable[[Params, Params], None]) -> None:
    s = make_session({"dropout": 0.3, "batch_size": 5}, hidden=[6, 4])
    s.advance(23)
    lanes = race.run(session_state(s), [race.Contender("adam", lr=0.02), race.Contender("sgd")], 80)
    for lane, changes in zip(lanes, [{"optimizer": "adam", "lr": 0.02}, {"optimizer": "sgd"}]):
        solo = fork_session(s)
        solo.set_hyper(changes)
        solo.model.reset_optimizer()  # from rest, as a contender starts (sgd after momentum: a new optimizer anyway)
        solo.advance(80)
        assert_params_equal(lane.session.params, solo.params)


def test_the_contenders_differ_and_start_from_one_point(make_session: Callable[..., TrainingSession]) -> None:
    s = started(make_session)
    lanes = race.run(session_state(s), CONTENDERS[:3], 10)
    assert all(lane.path[0].tobytes() == flatten(s.params).tobytes() for lane in lanes)
    finals = {lane.path[-1].tobytes() for lane in lanes}
    assert len(finals) == 3


def test_paths_are_thinned_and_events_add_up_to_the_result(make_session: Callable[..., TrainingSession]) -> None:
    s = started(make_session)
    events: list[dict[str, Any]] = []
    lanes = race.run(session_state(s), CONTENDERS[:2], 250, report=events.append, interval=0.0)
    every = math.ceil(250 / race.PATH_POINTS)
    for i, lane in enumerate(lanes):
        mine = [e for e in events if e["contender"] == i]
        assert [v for e in mine for v in e["losses"]] == race.summary(lane)["losses"]
        assert [q for e in mine for q in e["path"]] == race.summary(lane)["path"]
        assert mine[-1]["done"] == 250
        assert len(lane.path) == 1 + math.ceil(250 / every) <= race.PATH_POINTS + 1


def test_a_contender_that_diverges_stops_and_says_so(make_session: Callable[..., TrainingSession]) -> None:
    s = make_session({"lr": 0.01}, dataset="plane", hidden=[4], activation="relu")
    s.advance(5)
    lanes = race.run(session_state(s), [race.Contender("sgd", lr=9.0), race.Contender("sgd", lr=0.01)], 300)
    wild, calm = (race.summary(lane) for lane in lanes)
    assert wild["diverged"] is True and wild["updates"] < 300 and wild["losses"][-1] is None
    assert wild["final_loss"] is None
    assert calm["diverged"] is False and calm["updates"] == 300 and calm["final_loss"] is not None


@pytest.mark.parametrize(("contenders", "updates", "words"), [
    ([race.Contender("sgd")], 10, "contenders: 2 to 5"),
    ([race.Contender("sgd")] * 6, 10, "contenders: 2 to 5"),
    ([race.Contender("sgd"), race.Contender("lbfgs")], 10, "contenders.1.optimizer"),
    ([race.Contender("sgd"), race.Contender("adam")], 0, "updates"),
    ([race.Contender("sgd"), race.Contender("adam")], 5001, "updates"),
    ([race.Contender("sgd"), race.Contender("momentum", momentum=1.0)], 10, "momentum"),
])
def test_bad_races_are_refused_naming_what_is_wrong(make_session: Callable[..., TrainingSession],
                                                   contenders: list[race.Contender], updates: int, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        race.run(session_state(make_session()), contenders, updates)
