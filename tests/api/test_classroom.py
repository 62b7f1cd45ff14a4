"""Rooms over the websocket: a teacher and many students; follow, fork, push, permissions, saved runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.inprocess import Peer

from app.server.main import create_app
from app.settings import Settings

N_STUDENTS = 6


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store="memory"))) as c:
        yield c


def open_room(client: TestClient, stack: contextlib.ExitStack) -> tuple[Peer, dict[str, Any], dict[str, Any]]:
    teacher = Peer(stack.enter_context(client.websocket_connect("/ws")))
    session = teacher.hello()
    teacher.send({"type": "room_create", "share_gallery": True})
    room = teacher.until("room")
    return teacher, session, room


def join(client: TestClient, stack: contextlib.ExitStack, code: str, name: str, share: bool = True) -> Peer:
    student = Peer(stack.enter_context(client.websocket_connect("/ws")))
    student.hello()
    student.send({"type": "room_join", "code": code, "name": name, "share": share})
    assert student.until("room")["mode"] == "follow"
    return student


def test_a_room_has_a_short_code_and_a_key_for_the_teacher_only(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        _, _, room = open_room(client, stack)
        assert room["role"] == "teacher" and room["mode"] == "teach"
        assert len(room["code"]) == 6 and room["code"].isalnum() and room["code"].isupper()
        assert room["link"] == f"/?room={room['code']}"
        assert len(room["teacher_key"]) >= 24
        student = Peer(stack.enter_context(client.websocket_connect("/ws")))
        student.hello()
        # Codes are read off a projector: lower case and spaces are forgiven.
        student.send({"type": "room_join", "code": " " + room["code"].lower(), "name": "Ada"})
        joined = student.until("room")
        assert joined["role"] == "student" and joined["teacher_key"] is None
        session = student.until("session")
        assert session["session_id"] is None  # the teacher's session id stays secret


def test_every_student_follows_the_teachers_training_live(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        teacher, _, room = open_room(client, stack)
        students = [join(client, stack, room["code"], f"s{i}") for i in range(N_STUDENTS)]
        teacher.send({"type": "set_hyper", "lr": 0.1})
        teacher.send({"type": "step", "unit": "epoch", "count": 2})
        want = teacher.frame_where(lambda f: f["epoch"] == 2)
        for student in students:
            seen = student.frame_where(lambda f: f["epoch"] == 2)
            assert seen["layers"] == want["layers"]
            assert seen["hyper"]["lr"] == 0.1
        # Step-by-step phases reach the students too.
        teacher.send({"type": "step", "unit": "phase"})
        for student in students:
            assert student.frame_where(lambda f: f["phase"] is not None)["phase"] == "forward"
        # A rebuild reaches every follower as a new session and dataset.
        teacher.send({"type": "configure", "config": {"hidden": [3]}})
        for student in students:
            assert student.until("session")["architecture"]["hidden"] == [3]


def test_a_follower_cannot_drive_the_teachers_session(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        teacher, session, room = open_room(client, stack)
        student = join(client, stack, room["code"], "Eve")
        for message in ({"type": "set_hyper", "lr": 5}, {"type": "play"}, {"type": "reset"},
                        {"type": "set_param", "layer": 0, "kind": "W", "i": 0, "j": 0, "value": 9},
                        {"type": "room_push", "hyper": {"lr": 5}}):
            student.send(message)
            error = student.until("error")
            assert error["code"] == "forbidden", error
        teacher.send({"type": "step", "unit": "update"})
        after = teacher.frame_where(lambda f: f["step"] == 1)
        assert after["hyper"] == session["hyper"]


def test_a_student_who_learns_the_session_id_still_cannot_drive_it(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        _, session, _ = open_room(client, stack)
        intruder = Peer(stack.enter_context(client.websocket_connect("/ws")))
        intruder.send({"type": "hello", "session_id": session["session_id"]})  # no key: not even to watch it
        assert intruder.until("error")["code"] == "forbidden"
        intruder.send({"type": "set_hyper", "lr": 5})
        assert intruder.until("error")["code"] == "no_session"


def test_fork_push_and_follow_again(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        teacher, _, room = open_room(client, stack)
        teacher.send({"type": "step", "unit": "update", "count": 30})
        teacher_frame = teacher.frame_where(lambda f: f["step"] == 30)
        a = join(client, stack, room["code"], "Ada", share=True)
        b = join(client, stack, room["code"], "Bob", share=False)
        a.send({"type": "fork"})
        assert a.until("room")["mode"] == "fork"
        mine = a.until("session")
        assert mine["session_id"] is not None
        forked = a.frame()
        # The fork starts exactly where the teacher is.
        assert forked["step"] == 30
        for mine_layer, theirs in zip(forked["layers"], teacher_frame["layers"]):
            for key in ("W", "b", "vW", "vb", "frozenW"):
                assert mine_layer[key] == theirs[key]
        a.send({"type": "set_hyper", "lr": 0.5})
        a.send({"type": "step", "unit": "update", "count": 5})
        assert a.frame_where(lambda f: f["step"] == 35)["hyper"]["lr"] == 0.5
        # The teacher's session did not move.
        teacher.send({"type": "step", "unit": "update"})
        assert teacher.frame_where(lambda f: f["step"] == 31)["hyper"]["lr"] == 0.03
        # Push reaches forked students only, with a notice.
        teacher.send({"type": "room_push", "hyper": {"momentum": 0.99}})
        assert "momentum = 0.99" in a.until("notice")["text"]
        assert a.frame_where(lambda f: f["hyper"]["momentum"] == 0.99)
        assert "1 student" in teacher.until("notice")["text"]
        # The teacher's status counts the class and shows the opted-in gallery.
        status = teacher.until("room_status")
        for _ in range(10):
            if status["forked"] == 1 and status["following"] == 1:
                break
            status = teacher.until("room_status")
        assert status["students"] == 2 and status["forked"] == 1 and status["following"] == 1
        assert [g["name"] for g in status["gallery"]] == ["Ada"]
        # Back to following: the teacher's state again, read-only.
        a.send({"type": "follow"})
        assert a.until("room")["mode"] == "follow"
        assert a.frame_where(lambda f: f["hyper"]["momentum"] == 0.9)["step"] == 31
        b.send({"type": "fork"})
        assert b.until("room")["mode"] == "fork"


def test_bad_room_messages(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        p = Peer(stack.enter_context(client.websocket_connect("/ws")))
        p.hello()
        p.send({"type": "room_join", "code": "ZZZZZZ"})
        error = p.until("error")
        assert error["code"] == "no_room" and error["field"] == "code"
        p.send({"type": "fork"})
        assert p.until("error")["code"] == "invalid"
        p.send({"type": "follow"})
        assert p.until("error")["code"] == "invalid"
        p.send({"type": "room_push", "hyper": {"lr": 1}})
        assert p.until("error")["code"] == "forbidden"
        p.send({"type": "room_join", "code": "AB"})
        assert p.until("error")["field"] == "code"
        p.send({"type": "save", "name": ""})
        assert p.until("error")["field"] == "name"


def test_teacher_reload_resumes_the_room(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        _, session, room = open_room(client, stack)
        student = join(client, stack, room["code"], "Ada")
    with contextlib.ExitStack() as stack:
        again = Peer(stack.enter_context(client.websocket_connect("/ws")))
        again.send({"type": "hello", "session_id": session["session_id"], "teacher_key": room["teacher_key"]})
        back = again.until("room")
        assert back["code"] == room["code"] and back["role"] == "teacher"
        again.send({"type": "set_hyper", "lr": 0.2})
        assert again.frame_where(lambda f: f["hyper"]["lr"] == 0.2)
    del student


def test_save_and_open_a_run(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        p = Peer(stack.enter_context(client.websocket_connect("/ws")))
        p.hello(config={"hidden": [5]})
        p.send({"type": "step", "unit": "update", "count": 40})
        original = p.frame_where(lambda f: f["step"] == 40)
        p.send({"type": "save", "name": "five neurons"})
        saved = p.until("saved")
        assert saved["name"] == "five neurons" and saved["link"] == f"/?run={saved['run_id']}"
        other = Peer(stack.enter_context(client.websocket_connect("/ws")))
        session = other.hello(run_id=saved["run_id"])
        assert session["architecture"]["hidden"] == [5]
        frame = other.frame()
        assert frame["step"] == 40 and frame["layers"][0]["W"] == original["layers"][0]["W"]
        assert len(other.history["steps"]) == 40
        other.send({"type": "hello", "run_id": "nope"})
        assert other.until("error")["field"] == "run_id"
    info = client.get(f"/api/runs/{saved['run_id']}").json()
    assert info["name"] == "five neurons" and info["step"] == 40
    opened = client.post(f"/api/runs/{saved['run_id']}/open").json()
    assert opened["step"] == 40 and opened["session_id"] != session["session_id"]
    assert client.get("/api/runs/nope").status_code == 404


def test_a_fork_at_a_full_server_is_refused_as_a_new_session_is() -> None:
    # A fork is a new session: it gets the same refusal as a hello or POST /api/sessions,
    # naming the limit in `allowed` (a fork's refusal used to leave `allowed` out).
    with TestClient(create_app(Settings(store="memory", max_sessions=2))) as client, \
            contextlib.ExitStack() as stack:
        _, _, room = open_room(client, stack)
        student = join(client, stack, room["code"], "Ada")  # its own session is unwatched from now on
        Peer(stack.enter_context(client.websocket_connect("/ws"))).hello()  # takes its place in memory
        late = Peer(stack.enter_context(client.websocket_connect("/ws")))
        late.send({"type": "hello"})
        refused_hello = late.until("error")
        student.send({"type": "fork"})
        refused_fork = student.until("error")
        assert refused_fork["code"] == refused_hello["code"] == "limit"
        assert refused_fork["allowed"] == refused_hello["allowed"] == "at most 2 sessions"
        assert refused_fork["message"] == refused_hello["message"] and refused_fork["request"] == "fork"
        refused_http = client.post("/api/sessions")
        assert refused_http.status_code == 503 and refused_http.json()["allowed"] == "at most 2 sessions"
        # The student still follows the teacher, untouched.
        student.send({"type": "follow"})
        assert student.until("room")["mode"] == "follow"


def test_a_follower_saves_the_teachers_session_as_a_run_anyone_may_open(client: TestClient) -> None:
    # Over HTTP a room's session needs the teacher key, to save it too; a follower reaches it by
    # the room's code instead, and a saved run, like a fork, is a copy outside the room.
    with contextlib.ExitStack() as stack:
        teacher, session, room = open_room(client, stack)
        teacher.send({"type": "step", "unit": "update", "count": 7})
        teacher.frame_where(lambda f: f["step"] == 7)
        student = join(client, stack, room["code"], "Ada")
        student.send({"type": "save", "name": "the teacher's run"})
        saved = student.until("saved")
    assert client.post(f"/api/sessions/{session['session_id']}/save", json={"name": "x"}).status_code == 403
    opened = client.post(f"/api/runs/{saved['run_id']}/open")
    assert opened.status_code == 201 and opened.json()["step"] == 7
    # The copy belongs to no room: no key needed to drive it.
    assert client.post(f"/api/sessions/{opened.json()['session_id']}/step", json={"count": 1}).json()["step"] == 8
