"""A classroom room whose seats are spread over several processes (Redis).

The room's session trains in one process (its lease holder); students may be
connected to any. Here:

- a follower in a process that does not train the session follows a `Feed`
  of it (`node.room_session`);
- what the teacher does to the room (push, close, a new code, a lesson step:
  anything `Rooms.save` or `Rooms.close` stores) is published on the room's
  channel, and every other process applies it to its own seats, as
  `classroom.py` does for the seats of the teacher's process;
- each process writes a summary of its seats in the room (counts, gallery,
  lesson progress) every `STATUS_SECONDS`, and the teacher's room status adds
  up those of the other processes (`merged_status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import TYPE_CHECKING, Any

import orjson

from app import protocol as p
from app.server import room_lessons
from app.server.cluster.feed import Feed
from app.server.cluster.node import Node
from app.server.registry import LiveSession
from app.server.rooms import Room, Rooms

if TYPE_CHECKING:
    from app.server.classroom import Classroom, Seat

log = logging.getLogger("paramlab.cluster")

STATUS_SECONDS = 1.0


class RoomLink:
    """The rooms of one process, linked through `node` to the same rooms' seats elsewhere."""

    def __init__(self, node: Node, rooms: Rooms) -> None:
        self.node = node
        self.rooms = rooms
        self.classroom: Classroom | None = None  # any one: a classroom keeps no state of its own
        self.writers: dict[str, asyncio.Task[None]] = {}  # session id -> its seats' summary writer

    # ---------------------------------------------------------------- seats here

    def _members(self, session_id: str) -> tuple[Room | None, set[Seat]]:
        for code, seats in list(self.rooms.members.items()):
            room = self.rooms.rooms.get(code)
            if room is not None and room.session_id == session_id and seats:
                return room, seats
        return None, set()

    def entered(self, classroom: Classroom, room: Room) -> None:
        """A seat here entered `room`: hear its messages, write its seats' summary."""
        self.classroom = classroom
        self.node.join_room(room.session_id, functools.partial(self.on_message, room.session_id))
        task = self.writers.get(room.session_id)
        if task is None or task.done():
            self.writers[room.session_id] = self.node.spawn(self._write_seats(room.session_id))

    async def _write_seats(self, session_id: str) -> None:
        from app.server.classroom import status

        try:
            while True:
                room, seats = self._members(session_id)
                if room is None:
                    return
                mine = status(room, {s for s in seats if s.mode != "teach"})
                await self.node.write_seats(session_id, {
                    "students": mine["students"], "following": mine["following"], "forked": mine["forked"],
                    "gallery": mine["gallery"], "lesson": mine.get("lesson")})
                await asyncio.sleep(STATUS_SECONDS)
        finally:
            self.writers.pop(session_id, None)
            if self._members(session_id)[0] is None:
                self.node.leave_room(session_id)

    async def merged_status(self, room: Room, here: p.RoomStatus) -> p.RoomStatus:
        """The room status of the seats here, with the other processes' seats added."""
        merged: Any = dict(here)
        for other in await self.node.other_seats(room.session_id):
            for count in ("students", "following", "forked"):
                merged[count] += int(other[count])
            if merged["gallery"] is not None and other.get("gallery"):
                merged["gallery"] = sorted([*merged["gallery"], *other["gallery"]],
                                           key=lambda e: (e["test_loss"] is None, e["test_loss"] or 0.0))
            lesson, theirs = merged.get("lesson"), other.get("lesson")
            if lesson is not None and theirs is not None and (theirs["id"], theirs["step"]) == (lesson["id"],
                                                                                                lesson["step"]):
                merged["lesson"] = {**lesson, "done": sorted([*lesson["done"], *theirs["done"]], key=str.casefold),
                                    "waiting": sorted([*lesson["waiting"], *theirs["waiting"]], key=str.casefold)}
        result: p.RoomStatus = merged
        return result

    # ---------------------------------------------------------------- the room's session

    async def room_session(self, room: Room) -> LiveSession | Feed | None:
        return await self.node.room_session(room.session_id)

    async def fork_source(self, feed: Feed) -> Any:
        """The state of a room's session trained elsewhere, as it is now, for a fork here."""
        return await self.node.fork_source(feed.session_id)

    # ---------------------------------------------------------------- messages between processes

    def saved(self, room: Room) -> None:
        """`room` changed (a new code, a lesson step...): the other processes reload it."""
        self.node.spawn(self.publish(room, {"kind": "changed", "code": room.code}))

    def closed(self, room: Room) -> None:
        self.node.spawn(self.publish(room, {"kind": "close", "code": room.code}))

    async def publish(self, room: Room, message: dict[str, Any]) -> None:
        await self.node.publish_room(room.session_id, message)

    async def on_message(self, session_id: str, message: dict[str, Any]) -> None:
        """A room message from another process, applied to the seats here."""
        classroom = self.classroom
        room, seats = self._members(session_id)
        if classroom is None or room is None:
            return
        try:
            if message["kind"] == "push":
                msg = p.parse_client_message(orjson.dumps(message["push"]))
                assert isinstance(msg, p.RoomPush)
                await classroom.push_to(room, msg)
            elif message["kind"] == "close":
                self.rooms.forget(room)
                await classroom.release_students(room, list(seats), None)
            elif message["kind"] == "changed":
                await self._reload(room, str(message["code"]), seats)
        except (p.ProtocolError, AssertionError, KeyError, ValueError):
            log.exception("a room message from another process was dropped")

    async def _reload(self, room: Room, code: str, seats: set[Seat]) -> None:
        from app.server.classroom import room_message

        doc = await asyncio.to_thread(self.rooms.store.get, "room", code)
        if doc is None:
            return
        fresh = Room.from_doc(doc)
        lesson_moved = (fresh.lesson_id, fresh.lesson_step, fresh.lesson_round) != (
            room.lesson_id, room.lesson_step, room.lesson_round)
        code_moved = fresh.code != room.code
        self.rooms.adopt(room, fresh)
        for seat in list(seats):
            with contextlib.suppress(Exception):  # a seat whose connection is going away
                if code_moved:
                    await seat.send(room_message(seat, room))
                if lesson_moved:
                    await seat.send(room_lessons.lesson_message(room))
