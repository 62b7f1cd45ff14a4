"""The generalization lab over the websocket and HTTP: early stopping in the live session,
restore_best, cross-validation and search jobs, cancel, limits, and the exports."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.inprocess import Peer

from app import protocol as p
from app.server.main import create_app
from app.settings import Settings
from app.training.build import Built
from app.training.config import HyperState, RunConfig
from app.training.cross_validation import cross_validate
from app.training.session import TrainingSession

SMALL = {"n_points": 100, "val_ratio": 20}


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(max_sessions=10))) as c:
        yield c


def peer(client: TestClient) -> Any:
    return client.websocket_connect("/ws")


@contextlib.contextmanager
def session_peer(client: TestClient, config: dict[str, Any]) -> Iterator[Peer]:
    """A websocket peer on a new session of `config`, its first frame read."""
    with peer(client) as ws:
        me = Peer(ws)
        me.hello(config=config)
        me.frame()
        yield me


def job_messages(peer: Peer, until: tuple[str, ...] = ("done", "cancelled", "failed"), limit: int = 2000
                 ) -> list[dict[str, Any]]:
    """The `job` messages up to the first in a state of `until` (frames are acked on the way)."""
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


def error_for(peer: Peer, message: dict[str, Any] | str) -> dict[str, Any]:
    peer.send(message)
    error = peer.until("error")
    p.check_server_message(error)
    return error


def wait_for(condition: Any, tries: int = 300) -> bool:
    """Poll `condition()` a bounded number of times (0.05 s apart)."""
    for _ in range(tries):
        if condition():
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(("message", "field"), [
    ({"type": "cross_validate", "k": "3", "epochs": 5}, "k"),
    ({"type": "cross_validate", "k": 3.0, "epochs": 5}, "k"),
    ({"type": "cross_validate", "k": True, "epochs": 5}, "k"),
    ({"type": "cross_validate", "k": 1, "epochs": 5}, "k"),
    ({"type": "cross_validate", "k": 11, "epochs": 5}, "k"),
    ({"type": "cross_validate", "k": 3, "epochs": 0}, "epochs"),
    ({"type": "cross_validate", "k": 3, "epochs": 2001}, "epochs"),
    ({"type": "cross_validate", "k": 3}, "epochs"),
    ({"type": "cross_validate", "k": 3, "epochs": 5, "folds": 3}, "folds"),
    ({"type": "search", "mode": "sideways", "space": {"lr": [0.1]}, "epochs": 5}, "mode"),
    ({"type": "search", "mode": "grid", "space": {"width": [1]}, "epochs": 5}, "space.width.[key]"),
    ({"type": "search", "mode": "grid", "space": {"lr": []}, "epochs": 5}, "space.lr"),
    ({"type": "search", "mode": "grid", "space": {"lr": list(range(1, 14))}, "epochs": 5}, "space.lr"),
    ({"type": "search", "mode": "grid", "space": {"lr": ["0.1"]}, "epochs": 5}, "space.lr.0"),
    ({"type": "search", "mode": "grid", "space": {}, "epochs": 5}, "space"),
    ({"type": "search", "mode": "random", "space": {"lr": [0.1, 1]}, "trials": 101, "epochs": 5}, "trials"),
    ({"type": "search", "mode": "random", "space": {"lr": [0.1, 1]}, "trials": 5, "epochs": 5, "seed": -1}, "seed"),
    ({"type": "cancel_job"}, "job_id"),
    ({"type": "cancel_job", "job_id": 3}, "job_id"),
    ({"type": "restore_best", "now": True}, "now"),
    ({"type": "early_stopping"}, "rule"),
    ({"type": "early_stopping", "rule": {"patience": 0}}, "rule.patience"),
    ({"type": "early_stopping", "rule": {"patience": 1001}}, "rule.patience"),
    ({"type": "early_stopping", "rule": {"patience": "5"}}, "rule.patience"),
    ({"type": "early_stopping", "rule": {"metric": "test_loss"}}, "rule.metric"),
    ({"type": "early_stopping", "rule": {"min_delta": -0.1}}, "rule.min_delta"),
    ({"type": "early_stopping", "rule": {"min_delta": "0"}}, "rule.min_delta"),
    ({"type": "early_stopping", "rule": {"max_epochs": 0}}, "rule.max_epochs"),
    ({"type": "early_stopping", "rule": {"max_epochs": 100001}}, "rule.max_epochs"),
    ({"type": "early_stopping", "rule": {"patience": 5, "when": "soon"}}, "rule.when"),
])
def test_every_lab_message_is_validated_strictly(message: dict[str, Any], field: str) -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.parse_client_message(json.dumps(message))
    error = caught.value.error
    assert error.code == "invalid" and error.request == message["type"]
    assert error.field == field, error
    assert error.allowed, error


def test_valid_lab_messages_parse() -> None:
    rule = p.parse_client_message(json.dumps({"type": "early_stopping", "rule": {"patience": 3, "max_epochs": 9}}))
    assert isinstance(rule, p.EarlyStopping) and rule.rule is not None
    assert (rule.rule.patience, rule.rule.metric, rule.rule.min_delta, rule.rule.max_epochs) == (3, "val_loss", 0, 9)
    search = p.parse_client_message(json.dumps({"type": "search", "mode": "grid", "epochs": 2,
                                                "space": {"batch_size": [5, 10], "lr": [0.1]}}))
    assert isinstance(search, p.Search) and search.space["batch_size"] == [5, 10]
    assert all(type(v) is int for v in search.space["batch_size"])  # a batch size stays an integer


def test_what_only_the_session_can_judge_is_refused_naming_the_field(client: TestClient) -> None:
    with peer(client) as ws:
        me = Peer(ws)
        me.hello(config={"n_points": 100})  # no validation split
        me.frame()
        error = error_for(me, {"type": "early_stopping", "rule": {"metric": "val_loss"}})
        assert error["field"] == "rule.metric" and "validation split a share first" in error["message"]
        error = error_for(me, {"type": "search", "mode": "grid", "space": {"lr": [0.1]}, "epochs": 2})
        assert error["code"] == "invalid" and "validation split" in error["message"]
        me.send({"type": "configure", "config": {"val_ratio": 20}})
        me.until("history")
        error = error_for(me, {"type": "search", "mode": "grid", "space": {"lr": [20.0]}, "epochs": 2})
        assert error["field"] == "space" and "lr" in error["message"] and "10" in error["message"]
        error = error_for(me, {"type": "search", "mode": "grid", "space": {"lr": [0.1] * 10, "momentum": [0.1] * 11},
                               "epochs": 2})
        assert error["field"] == "space" and "110 trials" in error["message"]
        error = error_for(me, {"type": "search", "mode": "grid", "space": {"lr": [0.1]}, "trials": 3, "epochs": 2})
        assert error["field"] == "trials"
        error = error_for(me, {"type": "search", "mode": "random", "space": {"lr": [0.1, 1.0]}, "epochs": 2})
        assert error["field"] == "trials"
        error = error_for(me, {"type": "search", "mode": "random", "space": {"lr": [1.0, 0.1]}, "trials": 2,
                               "epochs": 2})
        assert error["field"] == "space" and "low <= high" in error["message"]
        error = error_for(me, {"type": "cancel_job", "job_id": "job999"})
        assert error["field"] == "job_id"
        error = error_for(me, {"type": "restore_best"})
        assert error["code"] == "invalid" and "no best state" in error["message"]
        # The session and the socket go on.
        me.send({"type": "step", "unit": "update", "count": 2})
        assert me.frame_where(lambda f: f["step"] == 2)["step"] == 2


def test_a_tiny_pool_bounds_k() -> None:
    from app.training.cross_validation import check_k

    with pytest.raises(ValueError, match="from 2 to 4"):
        check_k(5, 4)


# --------------------------------------------------------------------------
# jobs


def test_a_cross_validation_job_reports_its_folds_and_the_in_process_result(client: TestClient) -> None:
    with peer(client) as ws:
        me = Peer(ws)
        session_id = me.hello(config=SMALL)["session_id"]
        me.frame()
        # The live run moves on first: the job starts from its initial weights all the same.
        me.send({"type": "step", "unit": "epoch", "count": 2})
        me.frame_where(lambda f: f["epoch"] == 2)
        assert client.get(f"/api/sessions/{session_id}/model").json()["lab"] == {"cross_validation": None,
                                                                                 "search": None}
        missing = client.get(f"/api/sessions/{session_id}/lab.csv", params={"kind": "cross_validation"})
        assert missing.status_code == 404 and "no cross-validation" in missing.json()["message"]
        me.send({"type": "cross_validate", "k": 3, "epochs": 4})
        jobs = job_messages(me)
    assert [j["state"] for j in jobs[:2]] == ["waiting", "running"]
    assert jobs[-1]["state"] == "done" and len({j["job_id"] for j in jobs}) == 1
    progress = [(j["event"]["fold"], j["event"]["epoch"]) for j in jobs if j["event"] and "fold" in j["event"]]
    assert progress == sorted(set(progress))  # in order, thinned: each fold's first and last epochs always there
    assert {(f, e) for f in range(3) for e in (1, 4)} <= set(progress)
    folds = [j["event"]["fold_done"] for j in jobs if j["event"] and "fold_done" in j["event"]]
    assert [f["fold"] for f in folds] == [0, 1, 2]
    announced = [j["event"]["folds"] for j in jobs if j["event"] and "folds" in j["event"]]
    assert announced == [[f["val_index"] for f in folds]]
    first_progress = next(i for i, j in enumerate(jobs) if j["event"] and "fold" in j["event"])
    assert jobs.index(next(j for j in jobs if j["event"] and "folds" in j["event"])) < first_progress
    s = TrainingSession(RunConfig().with_changes(SMALL), HyperState())
    pool = s.data.n("train") + s.data.n("val")
    assert sorted(i for f in folds for i in f["val_index"]) == list(range(pool))  # every point held out once
    cv = cross_validate(s.config, s.hyper, Built(s.data, s.spec, s.task, s.Y, s.initial_params), 3, 4)
    result = jobs[-1]["result"]
    assert result["scores"] == cv.scores and result["k"] == 3
    assert result["mean"] == cv.summary()["mean"] and result["std"] == cv.summary()["std"]
    assert [f["curve"]["val_loss"] for f in folds] == [f.trial.curve["val_loss"] for f in cv.folds]

    csv = client.get(f"/api/sessions/{session_id}/lab.csv", params={"kind": "cross_validation"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text == cv.to_csv()
    model = client.get(f"/api/sessions/{session_id}/model").json()
    assert model["lab"]["cross_validation"] == {"k": 3, "metric": "val_loss", "scores": cv.scores,
                                                "mean": cv.summary()["mean"], "std": cv.summary()["std"]}
    assert model["lab"]["search"] is None
    assert client.put(f"/api/sessions/{session_id}/model", json=model).status_code == 200  # an export imports
    bad = client.get(f"/api/sessions/{session_id}/lab.csv", params={"kind": "folds"})
    assert bad.status_code == 422 and bad.json()["field"] == "kind"


def test_a_grid_search_covers_its_grid(client: TestClient) -> None:
    lrs, momenta = [0.01, 0.3], [0.0, 0.9]
    with peer(client) as ws:
        me = Peer(ws)
        session_id = me.hello(config=SMALL)["session_id"]
        me.frame()
        me.send({"type": "search", "mode": "grid", "space": {"lr": lrs, "momentum": momenta}, "epochs": 2})
        jobs = job_messages(me)
    assert jobs[-1]["state"] == "done", jobs[-1]
    grid = [{"lr": a, "momentum": b} for a, b in itertools.product(lrs, momenta)]
    drawn = next(j["event"]["trials"] for j in jobs if j["event"] and "trials" in j["event"])
    assert drawn == grid
    done = [j["event"]["trial_done"] for j in jobs if j["event"] and "trial_done" in j["event"]]
    assert [d["values"] for d in done] == grid
    result = jobs[-1]["result"]
    assert [t["values"] for t in result["trials"]] == grid
    scores = [t["score"] for t in result["trials"]]
    assert scores == [d["score"] for d in done] and all(isinstance(x, float) for x in scores)
    assert result["best"] == scores.index(min(scores))
    csv = client.get(f"/api/sessions/{session_id}/lab.csv", params={"kind": "search"}).text
    assert csv.splitlines()[0] == "trial,lr,momentum,epochs,val_loss,diverged" and len(csv.splitlines()) == 5
    lab = client.get(f"/api/sessions/{session_id}/model").json()["lab"]
    assert lab["search"] == {"mode": "grid", "trials": result["trials"], "best": result["best"]}
    assert lab["cross_validation"] is None


def _running_job(client: TestClient, me: Peer) -> tuple[str, Any]:
    """Start a long cross-validation; its id and process once it runs."""
    me.send({"type": "cross_validate", "k": 10, "epochs": 2000})
    jobs = job_messages(me, until=("running",))
    job_id = jobs[-1]["job_id"]
    job = client.app.state.service.lab.jobs[job_id]  # type: ignore[attr-defined]
    assert wait_for(lambda: job.process is not None)
    assert job.process.is_alive()
    return job_id, job.process


def test_cancel_ends_the_job_and_its_process(client: TestClient) -> None:
    with session_peer(client, {"n_points": 1000, "val_ratio": 20}) as me:
        job_id, process = _running_job(client, me)
        me.send({"type": "cancel_job", "job_id": job_id})
        jobs = job_messages(me)
        assert jobs[-1] == {"type": "job", "job_id": job_id, "kind": "cross_validation", "state": "cancelled",
                            "event": None, "result": None, "message": None}
        assert wait_for(lambda: process.exitcode is not None)
        # The session goes on.
        me.send({"type": "step", "unit": "update", "count": 1})
        assert me.frame_where(lambda f: f["step"] == 1)["step"] == 1


def test_a_client_that_leaves_cancels_its_job(client: TestClient) -> None:
    with session_peer(client, {"n_points": 1000, "val_ratio": 20}) as me:
        job_id, process = _running_job(client, me)
    assert wait_for(lambda: process.exitcode is not None)
    assert wait_for(lambda: job_id not in client.app.state.service.lab.jobs)  # type: ignore[attr-defined]


def test_a_client_over_its_limit_is_told_so(client: TestClient) -> None:
    with session_peer(client, {"n_points": 1000, "val_ratio": 20}) as me:
        _, running = _running_job(client, me)
        me.send({"type": "cross_validate", "k": 2, "epochs": 2000})
        waiting = job_messages(me, until=("waiting",))[-1]
        assert waiting["state"] == "waiting"  # the one worker is busy
        error = error_for(me, {"type": "cross_validate", "k": 2, "epochs": 5})
        assert error["code"] == "limit" and error["field"] == "type"
        assert "at most 2 background jobs" in error["allowed"] and "cancel one" in error["message"]
        # Another tab of the same address shares the limit.
        with peer(client) as other_ws:
            other = Peer(other_ws)
            other.hello(config=SMALL)
            other.frame()
            assert error_for(other, {"type": "search", "mode": "grid", "space": {"lr": [0.1]},
                                     "epochs": 2})["code"] == "limit"
        # A waiting job cancelled leaves the line at once, while the other one runs on.
        me.send({"type": "cancel_job", "job_id": waiting["job_id"]})
        cancelled = job_messages(me, until=("cancelled",))[-1]
        assert cancelled["job_id"] == waiting["job_id"] and running.is_alive()


def test_a_follower_cannot_start_jobs_on_the_teachers_session(client: TestClient) -> None:
    with peer(client) as teacher_ws, peer(client) as student_ws:
        teacher = Peer(teacher_ws)
        teacher.hello(config=SMALL)
        teacher.send({"type": "room_create"})
        code = teacher.until("room")["code"]
        student = Peer(student_ws)
        student.hello()
        student.send({"type": "room_join", "code": code, "name": "Ada"})
        student.until("room")
        for message in ({"type": "cross_validate", "k": 2, "epochs": 1},
                        {"type": "search", "mode": "grid", "space": {"lr": [0.1]}, "epochs": 1},
                        {"type": "early_stopping", "rule": None}, {"type": "restore_best"}):
            error = error_for(student, message)
            assert error["code"] == "forbidden" and error["request"] == message["type"]


# --------------------------------------------------------------------------
# early stopping in the live session


def test_early_stopping_pauses_the_run_and_restore_best_is_exact(client: TestClient) -> None:
    config = {"n_points": 100, "val_ratio": 20}
    with peer(client) as ws:
        me = Peer(ws)
        session_id = me.hello(config=config)["session_id"]
        me.frame()
        # A min_delta no epoch can beat: the first epoch is the best, the second stops the run (patience 1).
        me.send({"type": "early_stopping", "rule": {"patience": 1, "metric": "val_loss", "min_delta": 1000,
                                                    "max_epochs": 50}})
        me.frame_where(lambda f: f["early_stopping"] is not None)
        me.send({"type": "set_speed", "updates_per_second": None})
        me.send({"type": "play"})
        stopped = me.frame_where(lambda f: f["early_stopping"]["stopped_epoch"] is not None and not f["playing"],
                                 limit=200)
        watch = stopped["early_stopping"]
        assert (watch["best_epoch"], watch["stopped_epoch"], watch["reason"]) == (1, 2, "patience")
        assert watch["epochs_saved"] == 48 and stopped["epoch"] == 2
        error = error_for(me, {"type": "play"})
        assert error["field"] == "type" and "restore_best" in error["message"]
        me.send({"type": "restore_best"})
        me.until("session")
        history = me.until("history")
        assert history["epochs"]["epoch"] == [1]  # the history after the best epoch is dropped
        restored = me.frame_where(lambda f: f["epoch"] == 1)
        assert restored["step"] == watch["best_step"] and restored["early_stopping"]["stopped_epoch"] is None
        model = client.get(f"/api/sessions/{session_id}/model").json()

    # A twin session trained to the best epoch has the very same weights.
    twin = client.post("/api/sessions", json={"config": config}).json()["session_id"]
    client.post(f"/api/sessions/{twin}/step", json={"unit": "epoch", "count": 1})
    expected = client.get(f"/api/sessions/{twin}/model").json()
    assert model["weights"] == expected["weights"] and model["biases"] == expected["biases"]
    assert model["optimizer"] == expected["optimizer"] and model["step"] == expected["step"]


def test_a_step_stops_at_the_stop_and_a_new_rule_lets_it_go_on(client: TestClient) -> None:
    with session_peer(client, {"n_points": 100, "val_ratio": 20}) as me:
        me.send({"type": "early_stopping", "rule": {"patience": 1, "metric": "train_loss", "min_delta": 1000}})
        me.send({"type": "step", "unit": "epoch", "count": 5})
        frame = me.frame_where(lambda f: f["early_stopping"] and f["early_stopping"]["stopped_epoch"] == 2)
        assert frame["epoch"] == 2 and frame["early_stopping"]["epochs_saved"] is None
        for unit in ("update", "phase"):  # no training past the stop, not even phase by phase
            error = error_for(me, {"type": "step", "unit": unit})
            assert error["request"] == "step" and "restore_best" in error["allowed"]
        me.send({"type": "early_stopping", "rule": None})
        me.frame_where(lambda f: f["early_stopping"] is None)
        me.send({"type": "step", "unit": "epoch", "count": 1})
        assert me.frame_where(lambda f: f["epoch"] == 3)["epoch"] == 3


def test_a_configure_that_empties_the_validation_split_turns_a_val_watch_off(client: TestClient) -> None:
    with session_peer(client, {"n_points": 100, "val_ratio": 20}) as me:
        me.send({"type": "early_stopping", "rule": {"patience": 3, "metric": "val_acc"}})
        me.frame_where(lambda f: f["early_stopping"] is not None)
        me.send({"type": "configure", "config": {"n_points": 120}})  # the split stays: so does the watch
        me.until("history")
        assert me.frame()["early_stopping"]["metric"] == "val_acc"
        me.send({"type": "configure", "config": {"val_ratio": 0}})
        me.until("history")
        assert me.frame()["early_stopping"] is None


# --------------------------------------------------------------------------
# the frame's new fields, JSON and binary


def _binary_header(message: bytes) -> dict[str, Any]:
    n = int.from_bytes(message[4:8], "little")
    assert message[:4] == b"PLF1"
    return json.loads(message[8:8 + n])


def test_the_frame_carries_dropped_and_early_stopping_in_json_and_binary(client: TestClient) -> None:
    hello = {"config": {"n_points": 100, "val_ratio": 20, "hidden": [4, 3]}, "hyper": {"dropout": 0.5}}
    with peer(client) as json_ws, peer(client) as binary_ws:
        plain = Peer(json_ws)
        plain.hello(**hello)
        assert plain.frame()["dropped"] is None  # no update yet: nothing was dropped
        plain.send({"type": "early_stopping", "rule": {"patience": 4, "metric": "val_acc"}})
        plain.send({"type": "step", "unit": "update", "count": 1})
        frame = plain.frame_where(lambda f: f["step"] == 1 and f["early_stopping"] is not None)
        p.check_server_message(frame)
        assert [len(d) for d in frame["dropped"]] == [4, 3]
        assert all(isinstance(x, bool) for d in frame["dropped"] for x in d)
        assert frame["early_stopping"]["patience"] == 4 and frame["early_stopping"]["metric"] == "val_acc"

        binary = Peer(binary_ws)
        binary_ws.send_text(json.dumps({"type": "hello", "frames": "binary", **hello}))
        binary.until("history")
        binary_ws.send_text(json.dumps({"type": "step", "unit": "update", "count": 1}))
        header: dict[str, Any] = {}
        for _ in range(20):
            message = binary_ws.receive()
            if message.get("bytes"):
                header = _binary_header(message["bytes"])
                binary_ws.send_text(json.dumps({"type": "ack", "seq": header["seq"]}))
                if header["step"] == 1:
                    break
        assert header["step"] == 1 and [len(d) for d in header["dropped"]] == [4, 3]
        assert header["early_stopping"] is None
        binary_ws.send_text(json.dumps({"type": "set_hyper", "dropout": 0.0}))
        for _ in range(20):
            message = binary_ws.receive()
            if message.get("bytes"):
                header = _binary_header(message["bytes"])
                binary_ws.send_text(json.dumps({"type": "ack", "seq": header["seq"]}))
                if header["hyper"]["dropout"] == 0.0:
                    break
        assert header["hyper"]["dropout"] == 0.0 and header["dropped"] is None
