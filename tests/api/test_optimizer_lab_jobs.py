"""The optimizer lab's background jobs over the websocket: landscape, race and learning-rate
sweep: strict validation, what only the session can judge, the jobs' events and results
(compared with the engine run in this process on the same state), the live session left
alone, and the per-client limit and cancel they share with the other lab jobs."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.inprocess import Peer

from app import protocol as p
from app.server.main import create_app
from app.settings import Settings
from app.training import landscape, lr_sweep, race
from app.training.config import HyperState, RunConfig
from app.training.persist import session_state
from app.training.session import TrainingSession

SMALL = {"n_points": 100}


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(max_sessions=10))) as c:
        yield c


@contextlib.contextmanager
def session_peer(client: TestClient, config: dict[str, Any], **hello: Any) -> Iterator[Peer]:
    """A websocket peer on a new paused session of `config`, its first frame read."""
    with client.websocket_connect("/ws") as ws:
        me = Peer(ws)
        me.hello(config=config, playing=False, **hello)
        me.frame()
        yield me


def job_messages(peer: Peer, until: tuple[str, ...] = ("done", "cancelled", "failed"), limit: int = 3000
                 ) -> list[dict[str, Any]]:
    """The `job` messages up to the first in a state of `until` (frames acked on the way)."""
    jobs = []
    for _ in range(limit):
        msg = peer.recv()
        if msg["type"] == "frame":
            peer.send({"type": "ack", "seq": msg["seq"]})
        if msg["type"] == "error":
            raise AssertionError(f"unexpected error: {msg}")
        if msg["type"] == "job":
            p.check_server_message(msg)
            jobs.append(msg)
            if msg["state"] in until:
                return jobs
    raise AssertionError(f"no job message in a state of {until} in {limit} messages")


def error_for(peer: Peer, message: dict[str, Any]) -> dict[str, Any]:
    peer.send(message)
    error = peer.until("error")
    p.check_server_message(error)
    return error


def flat(frame: dict[str, Any]) -> list[float]:
    """A frame's weights as the landscape lays them out: layer by layer, W row-major, then b."""
    return [v for layer in frame["layers"] for v in [*np.ravel(layer["W"]).tolist(), *layer["b"]]]


def stepped(me: Peer, updates: int) -> dict[str, Any]:
    me.send({"type": "step", "unit": "update", "count": updates})
    return me.frame_where(lambda f: f["step"] == updates)


def local(config: dict[str, Any], updates: int) -> TrainingSession:
    """The same session in this process: same configuration, same updates, same bits."""
    s = TrainingSession(RunConfig().with_changes(config), HyperState())
    s.advance(updates)
    return s


# --------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(("message", "field"), [
    ({"type": "landscape", "span": "1"}, "span"),
    ({"type": "landscape", "span": 0}, "span"),
    ({"type": "landscape", "span": 10.5}, "span"),
    ({"type": "landscape", "span": True}, "span"),
    ({"type": "landscape", "resolution": "41"}, "resolution"),
    ({"type": "landscape", "resolution": 4}, "resolution"),
    ({"type": "landscape", "resolution": 62}, "resolution"),
    ({"type": "landscape", "resolution": 41.5}, "resolution"),
    ({"type": "landscape", "mode": "diagonal"}, "mode"),
    ({"type": "landscape", "seed": -1}, "seed"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0]]}, "weights"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [0, 1, 0], [0, 0, 1]]}, "weights"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0], [0, 1, 0]]}, "weights.0"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, "0", 0], [0, 1, 0]]}, "weights.0"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [0, "c", 0]]}, "weights.1"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], ["b", 0, 0]]}, "weights.1"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [-1, 0, 0]]}, "weights.1"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [33, 0, 0]]}, "weights.1"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [0, 33, 0]]}, "weights.1"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [0, 0, True]]}, "weights.1"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [0, 0, 0.0]]}, "weights.1"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], {"layer": 0}]}, "weights.1"),
    ({"type": "landscape", "mode": "weights", "weights": "W0"}, "weights"),
    ({"type": "landscape", "zoom": 2}, "zoom"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}], "updates": 10}, "contenders"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}] * 6, "updates": 10}, "contenders"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "lbfgs"}], "updates": 10},
     "contenders.1.optimizer"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam", "lr": "0.1"}], "updates": 10},
     "contenders.1.lr"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam", "lr": 11}], "updates": 10},
     "contenders.1.lr"),
    ({"type": "race", "contenders": [{"optimizer": "sgd", "momentum": 1.0}, {"optimizer": "adam"}], "updates": 10},
     "contenders.0.momentum"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam", "beta2": 1}], "updates": 10},
     "contenders.1.beta2"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "rmsprop", "rho": -0.1}], "updates": 10},
     "contenders.1.rho"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam", "decay": 1}], "updates": 10},
     "contenders.1.decay"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam"}], "updates": 0}, "updates"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam"}], "updates": 5001}, "updates"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam"}], "updates": "10"}, "updates"),
    ({"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam"}]}, "updates"),
    ({"type": "lr_sweep", "low": "0.001", "high": 1}, "low"),
    ({"type": "lr_sweep", "low": 0.001, "high": "1"}, "high"),
    ({"type": "lr_sweep", "low": 1e-6, "high": 1}, "low"),
    ({"type": "lr_sweep", "low": 0.001, "high": 11}, "high"),
    ({"type": "lr_sweep", "low": 0.1, "high": 0.1}, "high"),
    ({"type": "lr_sweep", "low": 1, "high": 0.1}, "high"),
    ({"type": "lr_sweep", "low": 0.001, "high": 1, "points": 2}, "points"),
    ({"type": "lr_sweep", "low": 0.001, "high": 1, "points": 42}, "points"),
    ({"type": "lr_sweep", "low": 0.001, "high": 1, "updates": 0}, "updates"),
    ({"type": "lr_sweep", "low": 0.001, "high": 1, "updates": 501}, "updates"),
    ({"type": "lr_sweep", "high": 1}, "low"),
])
def test_every_optimizer_lab_message_is_validated_strictly(message: dict[str, Any], field: str) -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.parse_client_message(json.dumps(message))
    error = caught.value.error
    assert error.field == field, error
    assert error.request == message["type"] and error.allowed and field in error.message


def test_high_not_above_low_says_what_is_allowed() -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.parse_client_message(json.dumps({"type": "lr_sweep", "low": 0.5, "high": 0.2}))
    assert caught.value.error.allowed == "above low (0.5) and at most 10"


def test_valid_optimizer_lab_messages_parse() -> None:
    landscape_msg = p.parse_client_message(json.dumps(
        {"type": "landscape", "mode": "weights", "weights": [[0, 1, 0], [2, "b", 0]], "span": 2.5}))
    assert isinstance(landscape_msg, p.Landscape) and landscape_msg.weights == [(0, 1, 0), (2, "b", 0)]
    assert landscape_msg.resolution == 41 and landscape_msg.seed is None
    sweep = p.parse_client_message(json.dumps({"type": "lr_sweep", "low": 1e-5, "high": 10}))
    assert isinstance(sweep, p.LrSweep) and (sweep.points, sweep.updates) == (13, 20)
    race_msg = p.parse_client_message(json.dumps({"type": "race", "updates": 5, "contenders": [
        {"optimizer": "sgd", "lr": 1}, {"optimizer": "rmsprop", "rho": 0.9}]}))
    assert isinstance(race_msg, p.Race) and race_msg.contenders[0].lr == 1


@pytest.mark.parametrize(("message", "field", "words"), [
    ({"type": "landscape", "mode": "weights", "weights": [[2, 0, 0], [0, 0, 0]]}, "weights.0", "layer 2"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [0, 2, 0]]}, "weights.1", "i 2"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [1, 0, 3]]}, "weights.1", "j 3"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [9, 0, 0]]}, "weights.1", "layer 9"),
    ({"type": "landscape", "mode": "weights", "weights": [[0, 0, 0], [0, "b", 5]]}, "weights.1", "j 5"),
    ({"type": "landscape", "mode": "weights", "weights": [[1, 1, 0], [1, 1, 0]]}, "weights", "the same one"),
    ({"type": "landscape", "mode": "weights"}, "weights", "needs the two"),
    ({"type": "landscape", "weights": [[0, 0, 0], [0, 1, 0]]}, "weights", "takes no weights"),
])
def test_weights_the_network_does_not_have_are_refused_naming_the_entry(
        client: TestClient, message: dict[str, Any], field: str, words: str) -> None:
    with session_peer(client, {**SMALL, "hidden": [3]}) as me:  # layers: 2 -> 3 -> 1
        error = error_for(me, message)
        assert error["code"] == "invalid" and error["field"] == field and words in error["message"], error
        assert error["allowed"]


def test_a_diverged_run_is_refused_until_rolled_back(client: TestClient) -> None:
    with session_peer(client, {"dataset": "plane", "n_points": 100, "activation": "linear"},
                      hyper={"lr": 10, "optimizer": "sgd"}) as me:
        me.send({"type": "step", "unit": "epoch", "count": 20})  # a linear network at lr 10: to infinity
        me.frame_where(lambda f: f["diverged"] is not None, limit=2)
        for message in ({"type": "landscape"}, {"type": "lr_sweep", "low": 0.01, "high": 1},
                        {"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam"}], "updates": 5}):
            error = error_for(me, message)
            assert error["code"] == "invalid" and "roll back" in error["message"], error


# --------------------------------------------------------------------------
# the jobs


def test_a_landscape_job_reports_rows_and_its_centre_is_the_live_loss(client: TestClient) -> None:
    with session_peer(client, SMALL) as me:
        frame = stepped(me, 30)
        me.send({"type": "landscape", "span": 0.5, "resolution": 11, "seed": 3})
        jobs = job_messages(me)
    assert [j["state"] for j in jobs[:2]] == ["waiting", "running"] and jobs[-1]["state"] == "done", jobs[-1]
    assert {j["kind"] for j in jobs} == {"landscape"}
    rows = [j["event"]["rows_done"] for j in jobs if j["event"] and "rows_done" in j["event"]]
    assert rows == sorted(rows) and rows[-1] == 11
    result = jobs[-1]["result"]
    assert result["origin"] == flat(frame)
    assert abs(result["center_loss"] - frame["metrics"]["train_loss"]) <= 1e-12
    assert abs(result["loss"][5][5] - frame["metrics"]["train_loss"]) <= 1e-12
    assert len(result["loss"]) == 11 and all(len(row) == 11 for row in result["loss"])
    assert result["exact"] is False and result["mode"] == "random" and result["weights"] is None
    assert result["loss_penalized"] is None and result["seed"] == 3
    s = local(SMALL, 30)  # the engine here, on the same state: the same numbers
    here = landscape.compute(s.spec, s.params, s.data.X["train"], s.Y["train"], span=0.5, resolution=11, seed=3)
    assert result["loss"] == here.loss.tolist()
    assert result["directions"] == [d.tolist() for d in here.directions]
    assert result["alphas"] == here.alphas.tolist() and result["betas"] == here.betas.tolist()


def test_a_two_parameter_landscape_over_the_wire_says_exact(client: TestClient) -> None:
    config = {"dataset": "plane", "n_points": 100, "hidden": [], "features": ["x1"]}
    with session_peer(client, config) as me:
        frame = stepped(me, 5)
        me.send({"type": "landscape", "resolution": 5})  # random mode: along the network's two parameters
        result = job_messages(me)[-1]["result"]
        me.send({"type": "landscape", "mode": "weights", "weights": [[0, "b", 0], [0, 0, 0]], "resolution": 5})
        named = job_messages(me)[-1]["result"]
    assert named["exact"] is True and named["loss"] == result["loss"]
    assert result["exact"] is True
    assert result["weights"] == [[0, 0, 0], [0, "b", 0]]  # the network's own two, in its order
    assert result["directions"] == [[1.0, 0.0], [0.0, 1.0]] and result["origin"] == flat(frame)


def test_a_race_over_the_wire_is_the_engine_race_from_the_live_point(client: TestClient) -> None:
    contenders = [{"optimizer": "sgd", "lr": 0.1}, {"optimizer": "adam", "lr": 0.01}, {"optimizer": "nesterov"}]
    with session_peer(client, SMALL) as me:
        frame = stepped(me, 13)
        me.send({"type": "race", "contenders": contenders, "updates": 120})
        jobs = job_messages(me)
        me.send({"type": "step", "unit": "update", "count": 1})  # the live run goes on from where it was
        later = me.frame_where(lambda f: f["step"] == 14)
    assert jobs[-1]["state"] == "done", jobs[-1]
    result = jobs[-1]["result"]
    s = local(SMALL, 13)
    lanes = race.run(session_state(s), [race.Contender(**c) for c in contenders], 120)
    assert [c["optimizer"] for c in result["contenders"]] == ["sgd", "adam", "nesterov"]
    for got, lane in zip(result["contenders"], lanes):
        assert got == json.loads(json.dumps(race.summary(lane)))
        assert got["path"][0] == flat(frame) and len(got["losses"]) == 120
    assert result["contenders"][2]["lr"] == 0.03  # the session's, not given
    for i in range(3):
        events = [j["event"] for j in jobs if j["event"] and j["event"].get("contender") == i]
        assert [v for e in events for v in e["losses"]] == result["contenders"][i]["losses"]
    s.advance(1)
    assert flat(later) == landscape.flatten(s.params).tolist()


def test_a_sweep_leaves_the_live_weights_and_marks_divergence(client: TestClient) -> None:
    config = {"dataset": "plane", "n_points": 100, "activation": "linear"}
    with session_peer(client, config, hyper={"optimizer": "sgd", "lr": 0.01}) as me:
        frame = stepped(me, 7)
        me.send({"type": "lr_sweep", "low": 0.001, "high": 10, "points": 5, "updates": 100})
        jobs = job_messages(me)
        me.send({"type": "step", "unit": "update", "count": 1})
        later = me.frame_where(lambda f: f["step"] == 8)
    result = jobs[-1]["result"]
    assert result["current_lr"] == 0.01 and len(result["lrs"]) == 5
    assert result["diverged"][-1] is True and result["losses"][-1] is None
    assert result["diverged"][0] is False and result["best_lr"] in result["lrs"]
    assert result["start_loss"] == frame["metrics"]["train_loss"]
    done = [j["event"]["lr_done"] for j in jobs if j["event"] and "lr_done" in j["event"]]
    assert done == list(range(5))
    s = TrainingSession(RunConfig().with_changes(config), HyperState(optimizer="sgd", lr=0.01))
    s.advance(7)
    assert result["losses"] == lr_sweep.run(session_state(s), 0.001, 10, 5, 100).losses
    s.advance(1)
    assert flat(later) == landscape.flatten(s.params).tolist()  # the live run untouched by the sweep


def test_optimizer_lab_jobs_share_the_client_limit_and_cancel(client: TestClient) -> None:
    long_race = {"type": "race", "updates": 5000,
                 "contenders": [{"optimizer": o} for o in ("sgd", "momentum", "nesterov", "adam", "rmsprop")]}
    with session_peer(client, {"n_points": 1000, "hidden": [8, 8, 8]}) as me:
        me.send(long_race)
        running = job_messages(me, until=("running",))[-1]
        me.send({"type": "lr_sweep", "low": 0.001, "high": 1})
        waiting = job_messages(me, until=("waiting",))[-1]
        assert waiting["kind"] == "lr_sweep"
        error = error_for(me, {"type": "landscape"})
        assert error["code"] == "limit" and error["request"] == "landscape" and "at most 2" in error["allowed"]
        me.send({"type": "cancel_job", "job_id": running["job_id"]})
        cancelled = job_messages(me, until=("cancelled",))[-1]
        assert cancelled["job_id"] == running["job_id"] and cancelled["kind"] == "race"
        me.send({"type": "cancel_job", "job_id": waiting["job_id"]})
        later = job_messages(me, until=("cancelled", "done"))[-1]
        assert later["job_id"] == waiting["job_id"]


def test_a_follower_cannot_start_optimizer_lab_jobs(client: TestClient) -> None:
    with client.websocket_connect("/ws") as teacher_ws, client.websocket_connect("/ws") as student_ws:
        teacher = Peer(teacher_ws)
        teacher.hello(config=SMALL)
        teacher.send({"type": "room_create"})
        code = teacher.until("room")["code"]
        student = Peer(student_ws)
        student.hello()
        student.send({"type": "room_join", "code": code, "name": "Ada"})
        student.until("room")
        for message in ({"type": "landscape"}, {"type": "lr_sweep", "low": 0.01, "high": 1},
                        {"type": "race", "contenders": [{"optimizer": "sgd"}, {"optimizer": "adam"}], "updates": 5}):
            error = error_for(student, message)
            assert error["code"] == "forbidden" and error["request"] == message["type"]
