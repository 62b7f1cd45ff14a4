"""The classroom drives seats, not connections: a room opened, joined, forked and
closed with nothing but seats (a send and a show each) and the service."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import numpy as np

from app import protocol as p
from app.server.classroom import Classroom, Seat
from app.server.quotas import Quotas
from app.server.registry import LiveSession, Registry
from app.server.rooms import Rooms
from app.server.service import Service
from app.server.storage import MemoryStore
from app.settings import Settings


def service() -> Service:
    settings = Settings(store="memory")
    store = MemoryStore()
    return Service(Registry(settings.max_sessions, store), Rooms(store, settings.room_hours), Quotas(settings),
                   settings)


class Tab:
    """What a seat reaches of its connection: the messages it was sent and the sessions it was shown."""

    def __init__(self, address: str = "10.0.0.1") -> None:
        self.sent: list[dict[str, Any]] = []
        self.shown: list[LiveSession | None] = []
        self.seat = Seat(address, self.send, self.shown.append)

    async def send(self, *messages: dict[str, Any]) -> None:
        self.sent.extend(messages)

    def last(self, kind: str) -> dict[str, Any]:
        return [m for m in self.sent if m["type"] == kind][-1]


def test_a_room_is_opened_joined_forked_and_closed_with_seats_alone() -> None:
    async def lesson() -> None:
        svc = service()
        classroom = Classroom(svc)
        teacher, student = Tab(), Tab("10.0.0.2")
        teachers = svc.create(teacher.seat.address, None, None)
        teacher.seat.own = teachers
        teacher.seat.show(teachers)
        mine = svc.create(student.seat.address, None, None)
        student.seat.own = mine
        student.seat.show(mine)

        await classroom.handle(teacher.seat, p.RoomCreate(type="room_create"))
        room = teacher.last("room")
        assert teacher.seat.mode == "teach" and room["role"] == "teacher" and teacher.seat.teacher_key
        assert teachers.owner_key_hash is not None and teachers.owned_by(teacher.seat.teacher_key)

        await classroom.handle(student.seat, p.RoomJoin(type="room_join", code=room["code"], name="Ada"))
        assert student.seat.mode == "follow" and student.shown[-1] is teachers
        assert student.last("room")["teacher_key"] is None

        await classroom.handle(student.seat, p.Fork(type="fork"))
        fork = student.seat.own
        assert fork is not None and fork is not teachers and fork is not mine and student.shown[-1] is fork
        assert fork.address == "10.0.0.2"
        assert all(np.array_equal(a["W"], b["W"]) and np.array_equal(a["b"], b["b"])
                   for a, b in zip(fork.session.params, teachers.session.params, strict=True))

        await classroom.handle(teacher.seat, p.RoomPush(type="room_push", hyper=p.HyperPatch(lr=0.5)))
        assert fork.session.hyper.lr == 0.5 and teachers.session.hyper.lr != 0.5
        assert student.last("notice")["text"] == "Your teacher set lr = 0.5."

        await classroom.handle(student.seat, p.Follow(type="follow"))
        await classroom.handle(teacher.seat, p.RoomClose(type="room_close"))
        # A follower goes back to their own session (here the fork), out of the room.
        assert student.shown[-1] is fork and student.seat.room is None and student.seat.mode == "own"
        assert student.last("room_closed")["code"] == room["code"]
        assert teachers.owner_key_hash is None and teacher.seat.status_task is None
        assert svc.rooms.get(room["code"]) is None

    asyncio.run(lesson())


def test_a_seat_that_leaves_is_out_of_the_room_and_its_status() -> None:
    async def lesson() -> None:
        svc = service()
        classroom = Classroom(svc)
        teacher, student = Tab(), Tab()
        teacher.seat.own = svc.create(teacher.seat.address, None, None)
        await classroom.handle(teacher.seat, p.RoomCreate(type="room_create"))
        code = teacher.last("room")["code"]
        student.seat.own = svc.create(student.seat.address, None, None)
        await classroom.handle(student.seat, p.RoomJoin(type="room_join", code=code, name="Ada"))
        room = svc.rooms.get(code)
        assert room is not None and classroom.members(room) == {teacher.seat, student.seat}
        classroom.leave(student.seat)
        assert classroom.members(room) == {teacher.seat} and student.seat.room is None
        await asyncio.sleep(0)  # the teacher's status loop takes its first turn
        assert teacher.last("room_status")["students"] == 0

    asyncio.run(lesson())


def test_the_classroom_does_not_import_the_websocket() -> None:
    # `ws` imports `classroom`, never the reverse (not even through another module).
    code = "import sys, app.server.classroom; print('app.server.ws' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    code = "import sys, app.server.ws; print('app.server.classroom' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"  # the check above can fail: the import is seen when it is there
