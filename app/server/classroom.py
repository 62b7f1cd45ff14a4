"""Room messages over the websocket: create, join, fork, follow, push, and saved runs.

A teacher's connection is in mode "teach" on the room's session and holds the
teacher key (the server keeps only its hash). A student's connection is in mode "follow" (watching the
teacher's session, read-only) or "own" (their fork). Who is in which room is
kept in memory (`Rooms.members`); the rooms themselves are in the store.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from app import protocol as p
from app.server import controls
from app.server.quotas import QuotaExceeded
from app.server.registry import LiveSession, RegistryFull
from app.server.rooms import Room
from app.server.service import ServiceError
from app.training.persist import fork_session
from app.training.session import SessionError

if TYPE_CHECKING:
    from app.server.ws import Connection

STATUS_SECONDS = 1.0


def room_message(conn: Connection, room: Room) -> dict[str, Any]:
    teacher = conn.mode == "teach"
    return {"type": "room", "code": room.code, "role": "teacher" if teacher else "student",
            "mode": conn.mode if conn.mode != "own" else "fork", "link": f"/?room={room.code}",
            "expires_at": room.expires_at, "share_gallery": room.share_gallery,
            "teacher_key": conn.teacher_key if teacher else None}


def members(conn: Connection, room: Room) -> set[Any]:
    return conn.rooms.members.setdefault(room.code, set())


def status(conn: Connection, room: Room) -> dict[str, Any]:
    students = [c for c in members(conn, room) if c.mode != "teach"]
    gallery = None
    if room.share_gallery:
        gallery = []
        for c in students:
            if c.share and c.mode == "own" and c.live is not None:
                s = c.live.session
                m = s.metrics()
                gallery.append({"name": c.name, "step": s.step, "train_loss": m["train_loss"],
                                "test_loss": m["test_loss"], "hyper": s.hyper.to_dict()})
        gallery.sort(key=lambda e: (e["test_loss"] is None, e["test_loss"] or 0.0))
    return {"type": "room_status", "code": room.code, "students": len(students),
            "following": sum(c.mode == "follow" for c in students),
            "forked": sum(c.mode == "own" for c in students), "gallery": gallery}


async def _status_loop(conn: Connection, room: Room) -> None:
    last: dict[str, Any] | None = None
    while True:
        current = status(conn, room)
        if current != last:
            await conn.send(current)
            last = current
        await asyncio.sleep(STATUS_SECONDS)


def _start_status(conn: Connection, room: Room) -> None:
    if conn.status_task is not None:
        conn.status_task.cancel()
    conn.status_task = asyncio.create_task(_status_loop(conn, room))


def leave(conn: Connection) -> None:
    """Take `conn` out of its room (it disconnected, or said hello again)."""
    if conn.status_task is not None:
        conn.status_task.cancel()
        conn.status_task = None
    if conn.room is not None:
        members(conn, conn.room).discard(conn)
        conn.room = None


def find_room_of(conn: Connection, session_id: str) -> Room | None:
    for code in conn.rooms.store.keys("room"):
        room = conn.rooms.get(code)
        if room is not None and room.session_id == session_id:
            return room
    return None


async def resume_teacher(conn: Connection, live: LiveSession) -> None:
    """The teacher reloaded: back in their room, in charge."""
    room = find_room_of(conn, live.id)
    if room is None:
        return
    conn.room, conn.mode = room, "teach"
    members(conn, room).add(conn)
    await conn.send(room_message(conn, room))
    _start_status(conn, room)


async def handle(conn: Connection, msg: Any) -> None:
    if isinstance(msg, p.Save):
        await save(conn, msg)
    elif isinstance(msg, p.RoomCreate):
        await create(conn, msg)
    elif isinstance(msg, p.RoomJoin):
        await join(conn, msg)
    elif isinstance(msg, p.Fork):
        await fork(conn)
    elif isinstance(msg, p.Follow):
        await follow(conn)
    elif isinstance(msg, p.RoomPush):
        await push(conn, msg)
    elif isinstance(msg, p.RoomClose):
        await close(conn)
    elif isinstance(msg, p.RoomNewCode):
        await renew_code(conn)


def _error(code: str, message: str, request: str, **fields: Any) -> dict[str, Any]:
    return p.ErrorMessage(code=code, request=request, message=message, **fields).model_dump()  # type: ignore[arg-type]


async def save(conn: Connection, msg: p.Save) -> None:
    assert conn.live is not None
    try:
        saved = await conn.service.save(conn.address, conn.live, msg.name, "save")
    except ServiceError as exc:
        await conn.send(exc.error.model_dump())
        return
    await conn.send({"type": "saved", **saved})


async def create(conn: Connection, msg: p.RoomCreate) -> None:
    live = conn.own
    if live is None or conn.mode == "follow":
        await conn.send(_error("forbidden", "a student following a room cannot open a room; fork first or "
                               "open your own session", "room_create"))
        return
    if live.owner_key_hash is not None and not live.owned_by(conn.teacher_key):
        await conn.send(_error("forbidden", "this session belongs to another room's teacher", "room_create"))
        return
    try:
        conn.quotas.room(conn.rooms.open_by(conn.address))
    except QuotaExceeded as exc:
        await conn.send(_error("limit", str(exc), "room_create", allowed=exc.allowed))
        return
    leave(conn)
    room, conn.teacher_key = conn.rooms.create(live.id, msg.share_gallery, conn.address)
    live.owner_key_hash = room.teacher_key_hash
    live.saved_version = -1  # the owner key must reach the store
    conn.room, conn.mode = room, "teach"
    members(conn, room).add(conn)
    await conn.send(room_message(conn, room))
    _start_status(conn, room)


async def join(conn: Connection, msg: p.RoomJoin) -> None:
    most = conn.settings.join_attempts_per_socket
    try:
        if conn.wrong_codes.sum() >= most:
            raise QuotaExceeded(f"too many wrong room codes; try again in {conn.wrong_codes.retry_after():.0f} s",
                                f"at most {most} wrong codes a minute", code="rate_limited")
        conn.quotas.join_attempt(conn.address)
    except QuotaExceeded as exc:
        await conn.send(_error(exc.code, str(exc), "room_join", field="code", allowed=exc.allowed))
        return
    room = conn.rooms.get(msg.code)
    if room is None:
        conn.wrong_codes.add()
        conn.quotas.join_failed(conn.address)
        await conn.send(_error("no_room", f"no open room has the code {msg.code!r}; check the code on the "
                               "projector (rooms expire after a while)", "room_join", field="code", value=msg.code,
                               allowed="the 6-character code of an open room"))
        return
    teacher = conn.registry.get(room.session_id)
    if teacher is None:
        await conn.send(_error("no_room", "the teacher's session of this room is gone", "room_join",
                               field="code", value=msg.code))
        return
    leave(conn)
    conn.room, conn.name, conn.share = room, msg.name, msg.share
    members(conn, room).add(conn)
    if msg.fork and conn.own is not None and conn.own is not teacher:
        conn.mode = "own"
        conn.watch(conn.own)
    else:
        conn.mode = "follow"
        conn.watch(teacher)
    await conn.send(room_message(conn, room))


async def fork(conn: Connection) -> None:
    if conn.room is None or conn.mode != "follow" or conn.live is None:
        await conn.send(_error("invalid", "fork copies the teacher's session: join a room and follow it first",
                               "fork", allowed="while following a room"))
        return
    try:
        conn.service.new_session_quota(conn.address, "fork")
        mine = conn.registry.adopt(fork_session(conn.live.session), conn.address)
    except ServiceError as exc:
        await conn.send(exc.error.model_dump())
        return
    except RegistryFull as exc:
        await conn.send(_error("limit", str(exc), "fork"))
        return
    conn.own, conn.mode = mine, "own"
    conn.watch(mine)
    await conn.send(room_message(conn, conn.room))


async def follow(conn: Connection) -> None:
    room = conn.room
    teacher = conn.registry.get(room.session_id) if room is not None else None
    if room is None or teacher is None or conn.mode == "teach":
        await conn.send(_error("invalid", "follow needs a room you joined as a student", "follow",
                               allowed="after room_join"))
        return
    conn.mode = "follow"
    conn.watch(teacher)
    await conn.send(room_message(conn, room))


async def push(conn: Connection, msg: p.RoomPush) -> None:
    room = conn.room
    if room is None or conn.mode != "teach" or not room.is_teacher(conn.teacher_key):
        await conn.send(_error("forbidden", "only the room's teacher can push to the class", "room_push",
                               allowed="the teacher's key"))
        return
    changes: list[Any] = []
    if msg.hyper is not None:
        changes.append(p.SetHyper(type="set_hyper", **msg.hyper.model_dump(exclude_none=True)))
    if msg.config is not None:
        changes.append(p.Configure(type="configure", config=msg.config))
    what = ", ".join(f"{k} = {v}" for part in (msg.hyper, msg.config) if part is not None
                     for k, v in part.model_dump(exclude_none=True).items())
    reached = 0
    for student in list(members(conn, room)):
        if student.mode != "own" or student.live is None:
            continue
        try:
            for change in changes:
                controls.apply(student.live, change)
        except SessionError as exc:
            await student.send(_error(exc.code, f"your teacher's change does not fit your session: {exc}",
                                      "room_push"))
            continue
        reached += 1
        if student.live.playing:
            conn.registry.work.set()
        await student.send({"type": "notice", "text": f"Your teacher set {what}."})
    await conn.send({"type": "notice", "text": f"Set {what} in {reached} student session(s)."})


def _teacher_of(conn: Connection, request: str) -> Room | None:
    room = conn.room
    if room is None or conn.mode != "teach" or not room.is_teacher(conn.teacher_key):
        return None
    return room


async def close(conn: Connection) -> None:
    """The teacher ends the room: its code stops working, every student is told;
    a follower goes back to the session they had before joining."""
    room = _teacher_of(conn, "room_close")
    if room is None:
        await conn.send(_error("forbidden", "only the room's teacher can close it", "room_close",
                               allowed="the teacher's key"))
        return
    students = [c for c in members(conn, room) if c is not conn]
    conn.rooms.close(room)
    leave(conn)
    if conn.live is not None:
        conn.live.owner_key_hash = None  # the session is the teacher's own again
        conn.live.saved_version = -1
    conn.mode = "own"
    for student in students:
        student.room = None
        if student.mode == "follow":
            student.mode = "own"
            student.watch(student.own if student.own is not conn.live else None)
        await student.send({"type": "room_closed", "code": room.code,
                            "text": "Your teacher closed the room. You can keep working on your own copy."})
    await conn.send({"type": "room_closed", "code": room.code, "text": f"Room {room.code} is closed."})


async def renew_code(conn: Connection) -> None:
    """The teacher gives the room a new code: the old one stops working; who is in stays in."""
    room = _teacher_of(conn, "room_new_code")
    if room is None:
        await conn.send(_error("forbidden", "only the room's teacher can change its code", "room_new_code",
                               allowed="the teacher's key"))
        return
    conn.rooms.new_code(room)
    for member in list(members(conn, room)):
        await member.send(room_message(member, room))
