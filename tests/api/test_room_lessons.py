"""A room's lesson over the websocket: the teacher's step is every student's; who has done it, on the teacher's status."""

from __future__ import annotations

import contextlib
import json
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.inprocess import Peer

from app.lessons.library import load_builtin
from app.server.main import create_app
from app.server.rooms import Room
from app.settings import Settings

LESSON = "learning-rate"  # a built-in lesson
# The steps of the built-in lesson used here, read from its file (lessons are edited; the test is about bounds).
STEPS = len(load_builtin()[LESSON].steps)

MINE = textwrap.dedent("""\
    id: two-steps
    title: Two steps
    summary: A teacher's own lesson.
    ideas: [momentum]
    steps:
      - title: One
        card: The first.
      - title: Two
        card: The second.
    """)


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store="memory"))) as c:
        yield c


def open_room(client: TestClient, stack: contextlib.ExitStack) -> tuple[Peer, dict[str, Any]]:
    teacher = Peer(stack.enter_context(client.websocket_connect("/ws")))
    teacher.session = teacher.hello()
    teacher.send({"type": "room_create"})
    return teacher, teacher.until("room")


def join(client: TestClient, stack: contextlib.ExitStack, code: str, name: str) -> Peer:
    student = Peer(stack.enter_context(client.websocket_connect("/ws")))
    student.hello()
    student.send({"type": "room_join", "code": code, "name": name})
    assert student.until("room")["mode"] == "follow"
    return student


def status_where(teacher: Peer, match: Callable[[dict[str, Any]], bool], tries: int = 8) -> dict[str, Any]:
    """The first room_status for which `match` holds (a status goes out when the class changes, once a second)."""
    for _ in range(tries):
        status = teacher.until("room_status")
        if match(status):
            return status
    raise AssertionError(f"no matching room_status; the last: {status}")


def progress_is(done: list[str], waiting: list[str], step: int) -> Callable[[dict[str, Any]], bool]:
    def match(status: dict[str, Any]) -> bool:
        lesson = status["lesson"]
        return lesson is not None and lesson == {"id": LESSON, "step": step, "done": done, "waiting": waiting}
    return match


def test_the_teachers_step_reaches_every_student_and_a_late_joiner(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        teacher, room = open_room(client, stack)
        ada, bob = join(client, stack, room["code"], "Ada"), join(client, stack, room["code"], "Bob")
        teacher.send({"type": "room_lesson", "id": LESSON, "step": 0})
        for peer in (teacher, ada, bob):
            assert peer.until("room_lesson") == {"type": "room_lesson", "id": LESSON, "step": 0}
        teacher.send({"type": "room_lesson", "id": LESSON, "step": 2})
        for peer in (teacher, ada, bob):
            assert peer.until("room_lesson")["step"] == 2
        # A student joining now is put on the step the class is on, right after the room message.
        cy = Peer(stack.enter_context(client.websocket_connect("/ws")))
        cy.hello()
        cy.send({"type": "room_join", "code": room["code"], "name": "Cy"})
        assert cy.until("room")["mode"] == "follow"
        assert cy.recv() == {"type": "room_lesson", "id": LESSON, "step": 2}
        # The room's store document has it: a reload, or another process, sees the same step.
        doc = client.app.state.rooms.store.get("room", room["code"])  # type: ignore[attr-defined]
        assert (doc["lesson_id"], doc["lesson_step"]) == (LESSON, 2)
        assert (Room.from_doc(doc).lesson_id, Room.from_doc(doc).lesson_step) == (LESSON, 2)
        # Ending the lesson: every seat is told; the status has no lesson any more.
        teacher.send({"type": "room_lesson", "id": None})
        for peer in (teacher, ada, bob, cy):
            assert peer.until("room_lesson") == {"type": "room_lesson", "id": None, "step": None}
        assert status_where(teacher, lambda s: s["students"] == 3 and s["lesson"] is None)["lesson"] is None


def test_a_teachers_reload_comes_back_on_the_rooms_step(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        teacher, room = open_room(client, stack)
        session_id = teacher.session["session_id"]
        teacher.send({"type": "room_lesson", "id": LESSON, "step": 1})
        teacher.until("room_lesson")
    with contextlib.ExitStack() as stack:
        again = Peer(stack.enter_context(client.websocket_connect("/ws")))
        again.send({"type": "hello", "session_id": session_id, "teacher_key": room["teacher_key"]})
        assert again.until("room")["role"] == "teacher"
        assert again.until("room_lesson") == {"type": "room_lesson", "id": LESSON, "step": 1}


def test_a_forked_student_who_did_the_step_is_named_done_on_the_teachers_status(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        teacher, room = open_room(client, stack)
        ada, bob = join(client, stack, room["code"], "Ada"), join(client, stack, room["code"], "bob")
        teacher.send({"type": "room_lesson", "id": LESSON, "step": 2})
        status_where(teacher, progress_is([], ["Ada", "bob"], 2))
        ada.send({"type": "fork"})
        assert ada.until("room")["mode"] == "fork"
        ada.send({"type": "lesson_done", "id": LESSON, "step": 2})
        status_where(teacher, progress_is(["Ada"], ["bob"], 2))
        # Done stays done when Ada goes back to following the teacher.
        ada.send({"type": "follow"})
        assert ada.until("room")["mode"] == "follow"
        status_where(teacher, lambda s: s["following"] == 2 and progress_is(["Ada"], ["bob"], 2)(s))
        # A new step starts with nobody done, and so does coming back to this one.
        teacher.send({"type": "room_lesson", "id": LESSON, "step": 1})
        status_where(teacher, progress_is([], ["Ada", "bob"], 1))
        teacher.send({"type": "room_lesson", "id": LESSON, "step": 2})
        status_where(teacher, progress_is([], ["Ada", "bob"], 2))
        # The teacher sending the step the class is already on changes nothing: Bob's done stays.
        bob.send({"type": "fork"})
        assert bob.until("room")["mode"] == "fork"
        bob.send({"type": "lesson_done", "id": LESSON, "step": 2})
        status_where(teacher, progress_is(["bob"], ["Ada"], 2))
        teacher.send({"type": "room_lesson", "id": LESSON, "step": 2})
        assert teacher.until("room_lesson") == {"type": "room_lesson", "id": LESSON, "step": 2}
        join(client, stack, room["code"], "Cy")  # a change of the class, so a new status goes out
        status_where(teacher, progress_is(["bob"], ["Ada", "Cy"], 2))
        room_doc = client.app.state.rooms.store.get("room", room["code"])  # type: ignore[attr-defined]
        assert room_doc["lesson_round"] == 3  # 2, 1, 2: the repeated 2 was not a change


def test_only_the_teacher_moves_the_lesson_and_only_to_a_step_it_has(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        teacher, room = open_room(client, stack)
        ada = join(client, stack, room["code"], "Ada")
        ada.send({"type": "room_lesson", "id": LESSON, "step": 0})
        refused = ada.until("error")
        assert refused["code"] == "forbidden" and refused["request"] == "room_lesson"
        ada.send({"type": "fork"})
        assert ada.until("room")["mode"] == "fork"
        ada.send({"type": "room_lesson", "id": LESSON, "step": 0})
        assert ada.until("error")["code"] == "forbidden"  # a forked student does not drive the class either
        teacher.send({"type": "room_lesson", "id": "no-such-lesson", "step": 0})
        unknown = teacher.until("error")
        assert unknown["code"] == "invalid" and unknown["field"] == "id" and unknown["value"] == "no-such-lesson"
        assert "GET /api/lessons" in unknown["allowed"]
        teacher.send({"type": "room_lesson", "id": LESSON, "step": STEPS})
        beyond = teacher.until("error")
        assert beyond["field"] == "step" and beyond["value"] == STEPS and beyond["allowed"] == f"0 to {STEPS - 1}"
        for bad, field in (({"id": LESSON, "step": "1"}, "step"), ({"id": LESSON, "step": -1}, "step"),
                           ({"id": LESSON}, "step"), ({"id": None, "step": 1}, "step"), ({"id": 3, "step": 1}, "id"),
                           ({"id": LESSON, "step": 1, "by": "me"}, "by")):
            teacher.send({"type": "room_lesson", **bad})
            error = teacher.until("error")
            assert error["code"] == "invalid" and error["field"] == field, (bad, error)
        # None of it moved the room: it has no lesson yet.
        assert client.app.state.rooms.get(room["code"]).lesson_id is None  # type: ignore[attr-defined]
        # Outside a room there is nobody to teach.
        alone = Peer(stack.enter_context(client.websocket_connect("/ws")))
        alone.hello()
        alone.send({"type": "room_lesson", "id": LESSON, "step": 0})
        assert alone.until("error")["code"] == "forbidden"


def test_done_counts_only_for_the_rooms_lesson_step_from_a_student_on_their_own_copy(client: TestClient) -> None:
    with contextlib.ExitStack() as stack:
        teacher, room = open_room(client, stack)
        ada = join(client, stack, room["code"], "Ada")
        ada.send({"type": "fork"})
        assert ada.until("room")["mode"] == "fork"
        ada.send({"type": "lesson_done", "id": LESSON, "step": 0})
        assert "no lesson" in ada.until("error")["message"]  # the teacher has not started one
        teacher.send({"type": "room_lesson", "id": LESSON, "step": 1})
        ada.until("room_lesson")
        for sent, field in (({"id": LESSON, "step": 0}, "step"), ({"id": "momentum", "step": 1}, "id")):
            ada.send({"type": "lesson_done", **sent})
            error = ada.until("error")
            assert error["code"] == "invalid" and error["field"] == field, error
        teacher.send({"type": "lesson_done", "id": LESSON, "step": 1})
        assert teacher.until("error")["request"] == "lesson_done"  # the teacher is not a student
        ada.send({"type": "follow"})
        assert ada.until("room")["mode"] == "follow"
        ada.send({"type": "lesson_done", "id": LESSON, "step": 1})
        assert ada.until("error")["code"] == "forbidden"  # a follower did nothing on a session of their own
        status = status_where(teacher, lambda s: s["lesson"] is not None and s["following"] == 1)
        assert status["lesson"] == {"id": LESSON, "step": 1, "done": [], "waiting": ["Ada"]}


def test_an_uploaded_lesson_runs_in_a_room_by_its_id(client: TestClient) -> None:
    answer = client.post("/api/lessons", content=json.dumps({"text": MINE}),
                         headers={"content-type": "application/json"}).json()
    with contextlib.ExitStack() as stack:
        teacher, room = open_room(client, stack)
        ada = join(client, stack, room["code"], "Ada")
        teacher.send({"type": "room_lesson", "id": answer["id"], "step": 1})
        assert ada.until("room_lesson") == {"type": "room_lesson", "id": answer["id"], "step": 1}
        teacher.send({"type": "room_lesson", "id": answer["id"], "step": 2})
        assert teacher.until("error")["allowed"] == "0 to 1"
        teacher.send({"type": "room_lesson", "id": "lesson-000000000000", "step": 0})
        assert teacher.until("error")["field"] == "id"
