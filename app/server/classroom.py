"""Classroom rooms over the websocket: create, join, fork, follow, push, close, new code.

Every connection has a `Seat`: its room, its mode, its name in the room and
whether it shares its run in the gallery. A teacher's seat is in mode "teach"
on the room's session and holds the teacher key (the server keeps only its
hash). A student's seat is in mode "follow" (shown the teacher's session,
read-only) or "own" (their fork). Who sits in which room is kept in memory
(`Rooms.members`); the rooms themselves are in the store.

A seat reaches its connection through two callables only: `send` (messages
to that tab) and `show` (switch the session whose frames it gets). Sessions
are created, forked and changed through the service, as over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from app import protocol as p
from app.server import room_lessons
from app.server.cluster.feed import Feed
from app.server.quotas import QuotaExceeded
from app.server.ratelimit import Window
from app.server.registry import LiveSession
from app.server.rooms import Room
from app.server.service import Service, ServiceError, error

STATUS_SECONDS = 1.0

Mode = Literal["own", "teach", "follow"]
Send = Callable[..., Awaitable[None]]
Show = Callable[[LiveSession | Feed | None], None]


class Seat:
    """One connection's place in the classroom, and the sessions it holds and is shown."""

    def __init__(self, address: str, send: Send, show: Show) -> None:
        self.address = address
        self.send = send            # send(*messages): to this connection, in order
        self._show = show           # the connection's frame stream follows `shown`
        # The session whose frames this connection gets (a Feed: a room's session trained by another
        # process, with Redis: cluster/feed.py).
        self.shown: LiveSession | Feed | None = None
        self.own: LiveSession | None = None    # this tab's own session (a student's fork, too)
        self.teacher_key: str | None = None
        self.room: Room | None = None
        self.mode: Mode = "own"
        self.name = "student"
        self.share = False
        self.wrong_codes = Window(60.0)  # wrong room codes from this seat in the last minute
        self.status_task: asyncio.Task[None] | None = None  # a teacher's room status
        self.lesson_done: tuple[str, int, int] | None = None  # the room's lesson step done (room_lessons.py)

    def show(self, live: LiveSession | Feed | None) -> None:
        """Show `live` from now on (None: nothing)."""
        self.shown = live
        self._show(live)


def room_message(seat: Seat, room: Room) -> p.RoomMessage:
    teacher = seat.mode == "teach"
    return {"type": "room", "code": room.code, "role": "teacher" if teacher else "student",
            "mode": seat.mode if seat.mode != "own" else "fork", "link": f"/?room={room.code}",
            "expires_at": room.expires_at, "share_gallery": room.share_gallery,
            "teacher_key": seat.teacher_key if teacher else None}


def push_words(msg: p.RoomPush) -> str:
    """What a push sets, in words: "lr = 0.1, momentum = 0.5"."""
    return ", ".join(f"{k} = {v}" for part in (msg.hyper, msg.config) if part is not None
                     for k, v in part.model_dump(exclude_none=True).items())


def status(room: Room, seats: set[Seat]) -> p.RoomStatus:
    students = [seat for seat in seats if seat.mode != "teach"]
    gallery: list[p.GalleryEntry] | None = None
    if room.share_gallery:
        gallery = []
        for seat in students:
            if seat.share and seat.mode == "own" and isinstance(seat.shown, LiveSession):
                s = seat.shown.session
                m = s.metrics()
                gallery.append({"name": seat.name, "step": s.step, "train_loss": m["train_loss"],
                                "test_loss": m["test_loss"], "hyper": s.hyper.to_dict()})
        gallery.sort(key=lambda e: (e["test_loss"] is None, e["test_loss"] or 0.0))
    return {"type": "room_status", "code": room.code, "students": len(students),
            "following": sum(seat.mode == "follow" for seat in students),
            "forked": sum(seat.mode == "own" for seat in students), "gallery": gallery,
            "lesson": room_lessons.progress(room, students)}


class Classroom:
    """The room messages of the seats of one service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.rooms = service.rooms

    def members(self, room: Room) -> set[Seat]:
        seats: set[Seat] = self.rooms.members.setdefault(room.code, set())
        return seats

    async def handle(self, seat: Seat, msg: Any) -> None:
        if isinstance(msg, p.RoomCreate):
            await self.create(seat, msg)
        elif isinstance(msg, p.RoomJoin):
            await self.join(seat, msg)
        elif isinstance(msg, p.Fork):
            await self.fork(seat)
        elif isinstance(msg, p.Follow):
            await self.follow(seat)
        elif isinstance(msg, p.RoomPush):
            await self.push(seat, msg)
        elif isinstance(msg, p.RoomClose):
            await self.close(seat)
        elif isinstance(msg, p.RoomNewCode):
            await self.renew_code(seat)

    # ---------------------------------------------------------- membership

    def _enter(self, seat: Seat, room: Room, mode: Mode) -> None:
        seat.room, seat.mode = room, mode
        self.members(room).add(seat)
        if self.rooms.link is not None:
            self.rooms.link.entered(self, room)

    def leave(self, seat: Seat) -> None:
        """Take `seat` out of its room (it disconnected, or said hello again)."""
        if seat.status_task is not None:
            seat.status_task.cancel()
            seat.status_task = None
        if seat.room is not None:
            self.members(seat.room).discard(seat)
            seat.room = None
        seat.mode = "own"
        seat.lesson_done = None

    def _start_status(self, seat: Seat, room: Room) -> None:
        if seat.status_task is not None:
            seat.status_task.cancel()
        seat.status_task = asyncio.create_task(self._status_loop(seat, room))

    async def _status_loop(self, seat: Seat, room: Room) -> None:
        last: p.RoomStatus | None = None
        while True:
            current = status(room, self.members(room))
            if self.rooms.link is not None:  # students connected to other processes too
                current = await self.rooms.link.merged_status(room, current)
            if current != last:
                await seat.send(current)
                last = current
            await asyncio.sleep(STATUS_SECONDS)

    def _room_of(self, session_id: str) -> Room | None:
        for code in self.rooms.store.keys("room"):
            room = self.rooms.get(code)
            if room is not None and room.session_id == session_id:
                return room
        return None

    async def resume_teacher(self, seat: Seat, live: LiveSession) -> None:
        """The teacher reloaded: back in their room, in charge."""
        room = self._room_of(live.id)
        if room is None:
            return
        self._enter(seat, room, "teach")
        await seat.send(room_message(seat, room), *room_lessons.on_joining(room))
        self._start_status(seat, room)

    def _teacher_of(self, seat: Seat) -> Room | None:
        room = seat.room
        if room is None or seat.mode != "teach" or not room.is_teacher(seat.teacher_key):
            return None
        return room

    # ---------------------------------------------------------- messages

    async def create(self, seat: Seat, msg: p.RoomCreate) -> None:
        live = seat.own
        if live is None or seat.mode == "follow":
            await seat.send(error("forbidden", "a student following a room cannot open a room; fork first or "
                                   "open your own session", "room_create"))
            return
        if live.owner_key_hash is not None and not live.owned_by(seat.teacher_key):
            await seat.send(error("forbidden", "this session belongs to another room's teacher", "room_create"))
            return
        try:
            self.service.quotas.room(self.rooms.open_by(seat.address))
        except QuotaExceeded as exc:
            await seat.send(error("limit", str(exc), "room_create", allowed=exc.allowed))
            return
        self.leave(seat)
        room, seat.teacher_key = self.rooms.create(live.id, msg.share_gallery, seat.address)
        live.set_owner(room.teacher_key_hash)
        self._enter(seat, room, "teach")
        await seat.send(room_message(seat, room))
        self._start_status(seat, room)

    async def join(self, seat: Seat, msg: p.RoomJoin) -> None:
        most = self.service.settings.join_attempts_per_socket
        try:
            if seat.wrong_codes.sum() >= most:
                raise QuotaExceeded(f"too many wrong room codes; try again in {seat.wrong_codes.retry_after():.0f} s",
                                    f"at most {most} wrong codes a minute", code="rate_limited")
            self.service.quotas.join_attempt(seat.address)
        except QuotaExceeded as exc:
            await seat.send(error(exc.code, str(exc), "room_join", field="code", allowed=exc.allowed))
            return
        room = self.rooms.get(msg.code)
        if room is None:
            seat.wrong_codes.add()
            self.service.quotas.join_failed(seat.address)
            await seat.send(error("no_room", f"no open room has the code {msg.code!r}; check the code on the "
                                   "projector (rooms expire after a while)", "room_join", field="code",
                                   value=msg.code, allowed="the 6-character code of an open room"))
            return
        teacher = await self._room_session(room)
        if teacher is None:
            await seat.send(error("no_room", "the teacher's session of this room is gone", "room_join",
                                   field="code", value=msg.code))
            return
        self.leave(seat)
        seat.name, seat.share = msg.name, msg.share
        if msg.fork and seat.own is not None and seat.own is not teacher:
            self._enter(seat, room, "own")
            seat.show(seat.own)
        else:
            self._enter(seat, room, "follow")
            seat.show(teacher)
        await seat.send(room_message(seat, room), *room_lessons.on_joining(room))

    async def _room_session(self, room: Room) -> LiveSession | Feed | None:
        """The room's session, or (Redis) a feed of it from the process training it."""
        if self.rooms.link is not None:
            return await self.rooms.link.room_session(room)
        return await self.service.registry.load(room.session_id)

    async def fork(self, seat: Seat) -> None:
        if seat.room is None or seat.mode != "follow" or seat.shown is None:
            await seat.send(error("invalid", "fork copies the teacher's session: join a room and follow it first",
                                   "fork", allowed="while following a room"))
            return
        try:
            if isinstance(seat.shown, Feed):  # trained by another process: its state as it is now
                assert self.rooms.link is not None
                self.service.new_session_quota(seat.address, "fork")
                source = await self.rooms.link.fork_source(seat.shown)
                if source is None:
                    raise ServiceError(404, p.ErrorMessage(code="no_session", request="fork",
                                                           message="the teacher's session of this room is gone"))
                mine = self.service.registry.adopt(source, seat.address)
            else:
                mine = self.service.fork(seat.address, seat.shown, "fork")
        except ServiceError as exc:
            await seat.send(exc.error.model_dump())
            return
        seat.own, seat.mode = mine, "own"
        seat.show(mine)
        await seat.send(room_message(seat, seat.room))

    async def follow(self, seat: Seat) -> None:
        room = seat.room
        teacher = await self._room_session(room) if room is not None else None
        if room is None or teacher is None or seat.mode == "teach":
            await seat.send(error("invalid", "follow needs a room you joined as a student", "follow",
                                   allowed="after room_join"))
            return
        seat.mode = "follow"
        seat.show(teacher)
        await seat.send(room_message(seat, room))

    async def push(self, seat: Seat, msg: p.RoomPush) -> None:
        room = self._teacher_of(seat)
        if room is None:
            await seat.send(error("forbidden", "only the room's teacher can push to the class", "room_push",
                                   allowed="the teacher's key"))
            return
        changes: list[Any] = []
        if msg.hyper is not None:
            changes.append(p.SetHyper(type="set_hyper", **msg.hyper.model_dump(exclude_none=True)))
        if msg.config is not None:
            changes.append(p.Configure(type="configure", config=msg.config))
        reached = await self.push_to(room, msg)
        what = push_words(msg)
        if self.rooms.link is not None:  # and to the students connected to other processes
            await self.rooms.link.publish(room, {"kind": "push", "push": msg.model_dump(mode="json",
                                                                                        exclude_none=True)})
            await seat.send(p.Notice(type="notice", text=f"Set {what} in {reached} student session(s) on this "
                                                          "server, and sent it to those on the others."))
            return
        await seat.send(p.Notice(type="notice", text=f"Set {what} in {reached} student session(s)."))

    async def push_to(self, room: Room, msg: p.RoomPush) -> int:
        """Apply a teacher's push to the own sessions of the room's students here; returns how many took it."""
        changes: list[Any] = []
        if msg.hyper is not None:
            changes.append(p.SetHyper(type="set_hyper", **msg.hyper.model_dump(exclude_none=True)))
        if msg.config is not None:
            changes.append(p.Configure(type="configure", config=msg.config))
        what = push_words(msg)
        reached = 0
        for student in list(self.members(room)):
            if student.mode != "own" or not isinstance(student.shown, LiveSession):
                continue
            try:
                for change in changes:
                    self.service.control(student.shown, change)
            except ServiceError as exc:
                await student.send(error(exc.error.code, "your teacher's change does not fit your session: "
                                          f"{exc.error.message}", "room_push"))
                continue
            reached += 1
            await student.send(p.Notice(type="notice", text=f"Your teacher set {what}."))
        return reached

    async def close(self, seat: Seat) -> None:
        """The teacher ends the room: its code stops working, every student is told;
        a follower goes back to the session they had before joining."""
        room = self._teacher_of(seat)
        if room is None:
            await seat.send(error("forbidden", "only the room's teacher can close it", "room_close",
                                   allowed="the teacher's key"))
            return
        students = [s for s in self.members(room) if s is not seat]
        self.rooms.close(room)
        self.leave(seat)
        if isinstance(seat.shown, LiveSession):
            seat.shown.set_owner(None)  # the session is the teacher's own again
        await self.release_students(room, students, seat.shown)
        await seat.send(p.RoomClosed(type="room_closed", code=room.code, text=f"Room {room.code} is closed."))

    async def release_students(self, room: Room, students: list[Seat], teacher: LiveSession | Feed | None) -> None:
        """The room closed: each student is told; a follower goes back to their own session."""
        for student in students:
            student.room = None
            if student.mode == "follow":
                student.mode = "own"
                student.show(student.own if student.own is not teacher else None)
            await student.send(p.RoomClosed(type="room_closed", code=room.code,
                                            text="Your teacher closed the room. You can keep working on your own copy."))

    async def renew_code(self, seat: Seat) -> None:
        """The teacher gives the room a new code: the old one stops working; who is in stays in."""
        room = self._teacher_of(seat)
        if room is None:
            await seat.send(error("forbidden", "only the room's teacher can change its code", "room_new_code",
                                   allowed="the teacher's key"))
            return
        self.rooms.new_code(room)
        for member in list(self.members(room)):
            await member.send(room_message(member, room))
