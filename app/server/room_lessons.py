"""A room's lesson: the teacher's lesson step is every student's step.

The teacher's page sends `room_lesson {id, step}` whenever its lesson player
moves (steps counted from 0). The room keeps the lesson and step in its store
document, so a teacher's reload, or another process, sees them; every seat in
the room gets `room_lesson`, and a seat that joins later gets it on joining.
A forked student who did the step's action on their own session sends
`lesson_done`; the teacher's `room_status` then names who has done the step
and who has not yet (`progress`).

A seat's "done" is kept with the room's `lesson_round`, which every change of
step moves on: going to another step (or back to this one later) starts with
nobody done, without visiting every seat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from app import protocol as p
from app.lessons.loader import LessonError
from app.server import lessons_api
from app.server.rooms import Room
from app.server.service import error

if TYPE_CHECKING:
    from app.server.classroom import Classroom, Seat

LESSON_IDS = "a built-in lesson's id (GET /api/lessons) or an id POST /api/lessons gave"


class LessonSteps:
    """How many steps a lesson has (None: no such lesson), found as GET /api/lessons/{id} finds it."""

    def __init__(self, app_state: Callable[[], Any]) -> None:
        # The app's state, read when a lesson is first asked for (the lessons are made there on first use,
        # by either route); a connection made outside an app (a test's) never asks.
        self.app_state = app_state

    async def __call__(self, lesson_id: str) -> int | None:
        try:
            found = await lessons_api.find_lesson(await lessons_api.lessons_of(self.app_state()), lesson_id)
        except LessonError:  # stored by a server with other rules: not a lesson this one can run
            return None
        return None if found is None else len(found[0].steps)


def lesson_message(room: Room) -> p.RoomLessonMessage:
    return {"type": "room_lesson", "id": room.lesson_id, "step": room.lesson_step}


def on_joining(room: Room) -> list[p.RoomLessonMessage]:
    """What a seat entering `room` is sent about its lesson: the step the class is on, if any."""
    return [lesson_message(room)] if room.lesson_id is not None else []


def progress(room: Room, students: Iterable[Seat]) -> p.LessonProgress | None:
    """The room's lesson step and its students by name (sorted): done, and waiting. None: no lesson."""
    if room.lesson_id is None or room.lesson_step is None:
        return None
    now = (room.lesson_id, room.lesson_step, room.lesson_round)
    done: list[str] = []
    waiting: list[str] = []
    for seat in students:
        (done if seat.lesson_done == now else waiting).append(seat.name)
    return {"id": room.lesson_id, "step": room.lesson_step, "done": sorted(done, key=str.casefold),
            "waiting": sorted(waiting, key=str.casefold)}


class RoomLessons:
    """The `room_lesson` and `lesson_done` messages of the seats of one classroom."""

    def __init__(self, classroom: Classroom, lesson_steps: LessonSteps) -> None:
        self.classroom = classroom
        self.lesson_steps = lesson_steps

    async def handle(self, seat: Seat, msg: p.RoomLesson | p.LessonDone) -> None:
        if isinstance(msg, p.RoomLesson):
            await self.move(seat, msg)
        else:
            await self.done(seat, msg)

    @staticmethod
    def _taught_by(seat: Seat) -> Room | None:
        room = seat.room
        if room is None or seat.mode != "teach" or not room.is_teacher(seat.teacher_key):
            return None
        return room

    async def move(self, seat: Seat, msg: p.RoomLesson) -> None:
        """The teacher puts the class on a lesson's step, or ends the lesson (id null)."""
        room = self._taught_by(seat)
        if room is None:
            await seat.send(error("forbidden", "only the room's teacher moves the class's lesson; a student follows "
                                  "the teacher's step", "room_lesson", allowed="the teacher's key"))
            return
        if msg.id is not None and msg.step is not None:
            steps = await self.lesson_steps(msg.id)
            if steps is None:
                shown = msg.id[:p.MAX_ECHO_BYTES]
                await seat.send(error("invalid", f"id: no lesson {shown!r} on this server", "room_lesson",
                                      field="id", value=shown, allowed=LESSON_IDS))
                return
            if msg.step >= steps:
                await seat.send(error("invalid", f"step: lesson {msg.id!r} has {steps} step(s), counted from 0 "
                                      f"(got {msg.step})", "room_lesson", field="step", value=msg.step,
                                      allowed=f"0 to {steps - 1}"))
                return
            if seat.room is not room or self._taught_by(seat) is None:
                return  # the room closed (or changed hands) while the lesson was looked up
        if (room.lesson_id, room.lesson_step) == (msg.id, msg.step):
            await seat.send(lesson_message(room))  # already there: nobody's progress is lost
            return
        room.lesson_id, room.lesson_step = msg.id, msg.step
        room.lesson_round += 1
        self.classroom.rooms.save(room)
        for member in list(self.classroom.members(room)):
            await member.send(lesson_message(room))

    async def done(self, seat: Seat, msg: p.LessonDone) -> None:
        """A student did the action of the room's current step (on their own session)."""
        room = seat.room
        if room is None or seat.mode == "teach":
            await seat.send(error("invalid", "lesson_done is a student's, in a room whose teacher runs a lesson",
                                  "lesson_done", allowed="after room_join, on the room's lesson step"))
            return
        if seat.mode == "follow":
            await seat.send(error("forbidden", "you are following the teacher's session, which is read-only: fork "
                                  "it to do the step's action on a copy of your own", "lesson_done", allowed="fork"))
            return
        if room.lesson_id is None or room.lesson_step is None:
            await seat.send(error("invalid", "the room has no lesson on now", "lesson_done", field="id",
                                  value=msg.id[:p.MAX_ECHO_BYTES], allowed="while the teacher runs a lesson"))
            return
        if msg.id != room.lesson_id:
            await seat.send(error("invalid", f"id: the room's lesson is {room.lesson_id!r}", "lesson_done",
                                  field="id", value=msg.id[:p.MAX_ECHO_BYTES], allowed=room.lesson_id))
            return
        if msg.step != room.lesson_step:
            await seat.send(error("invalid", f"step: the room is on step {room.lesson_step} now (got {msg.step})",
                                  "lesson_done", field="step", value=msg.step, allowed=str(room.lesson_step)))
            return
        seat.lesson_done = (room.lesson_id, room.lesson_step, room.lesson_round)
