"""Classroom rooms: a teacher's session that every student follows, read-only.

A room has a short join code for the projector and a secret teacher key kept
in the teacher's browser. Students follow the teacher's session (its frames
are encoded once and fanned out), fork it into a session of their own, and
come back to following at any time. The teacher can push a configuration or
a hyperparameter to every student's own session.

Codes use 31 unambiguous characters (no 0/O, 1/I/L): six of them give about
a billion codes, a room expires after `room_hours`, and wrong codes are
limited per connection and per address, so guessing one is impractical. The
teacher can close a room, or give it a new code (the old one stops working).
The teacher key is stored hashed (`keys.py`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from app.server.keys import hash_key, key_matches, new_key
from app.server.storage import Store

if TYPE_CHECKING:
    from app.server.cluster.room_link import RoomLink

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


@dataclass
class Room:
    code: str
    teacher_key_hash: str
    session_id: str
    expires_at: float
    share_gallery: bool = True
    address: str | None = None  # who opened it (quotas)
    # The lesson the teacher has the class on (room_lessons.py): its id and step, and how many times the
    # step has changed, so a student's "done" counts for the step it was sent for and no later one.
    lesson_id: str | None = None
    lesson_step: int | None = None
    lesson_round: int = 0

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) >= self.expires_at

    def is_teacher(self, key: str | None) -> bool:
        return key_matches(key, self.teacher_key_hash)

    def to_doc(self) -> dict[str, Any]:
        return {"code": self.code, "teacher_key_hash": self.teacher_key_hash, "session_id": self.session_id,
                "expires_at": self.expires_at, "share_gallery": self.share_gallery, "address": self.address,
                "lesson_id": self.lesson_id, "lesson_step": self.lesson_step, "lesson_round": self.lesson_round}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Room:
        hashed = doc.get("teacher_key_hash") or hash_key(doc["teacher_key"])  # older rooms kept the key itself
        return cls(code=doc["code"], teacher_key_hash=hashed, session_id=doc["session_id"],
                   expires_at=float(doc["expires_at"]), share_gallery=bool(doc["share_gallery"]),
                   address=doc.get("address"), lesson_id=doc.get("lesson_id"), lesson_step=doc.get("lesson_step"),
                   lesson_round=int(doc.get("lesson_round", 0)))


class Rooms:
    """Every open room by code, backed by the store so rooms survive a restart."""

    def __init__(self, store: Store, room_hours: float) -> None:
        self.store = store
        self.room_seconds = room_hours * 3600
        self.rooms: dict[str, Room] = {}
        self.members: dict[str, set[Any]] = {}  # code -> the seats in the room (memory only; classroom.Seat)
        # With Redis: the same rooms' seats in the other processes, told of every change stored here.
        self.link: RoomLink | None = None

    def _free_code(self) -> str:
        code = new_code()
        while self.get(code) is not None:
            code = new_code()
        return code

    def create(self, session_id: str, share_gallery: bool, address: str | None = None) -> tuple[Room, str]:
        """A new room and its teacher key (given out once: only its hash is kept)."""
        key = new_key()
        room = Room(code=self._free_code(), teacher_key_hash=hash_key(key), session_id=session_id,
                    expires_at=time.time() + self.room_seconds, share_gallery=share_gallery, address=address)
        self.rooms[room.code] = room
        self.save(room)
        return room, key

    def open_by(self, address: str | None) -> int:
        """Rooms open in this process that `address` opened."""
        return sum(1 for code in list(self.rooms) if (room := self.get(code)) is not None and room.address == address)

    def close(self, room: Room) -> None:
        """The room ends: its code stops working at once."""
        self.forget(room)
        self.store.delete("room", room.code)
        if self.link is not None:
            self.link.closed(room)

    def forget(self, room: Room) -> None:
        """This process lets go of `room` and its seats (closed here, or by another process)."""
        self.rooms.pop(room.code, None)
        self.members.pop(room.code, None)

    def adopt(self, room: Room, fresh: Room) -> None:
        """Another process changed `room` (its code, its lesson step): `fresh` is its stored document.
        `room` takes its values (seats keep the object they hold), its seats under its new code."""
        old = room.code
        for field in fields(Room):
            setattr(room, field.name, getattr(fresh, field.name))
        if room.code != old:
            self.rooms.pop(old, None)
            self.members[room.code] = self.members.pop(old, set())
        self.rooms[room.code] = room

    def new_code(self, room: Room) -> Room:
        """Give the room a new code; the old one stops working. Members stay."""
        old = room.code
        room.code = self._free_code()
        self.rooms.pop(old, None)
        self.store.delete("room", old)
        self.rooms[room.code] = room
        self.members[room.code] = self.members.pop(old, set())
        self.save(room)
        return room

    def get(self, code: str) -> Room | None:
        code = normalise_code(code)
        room = self.rooms.get(code)
        if room is None or self.link is not None:  # other processes may have closed or changed it
            doc = self.store.get("room", code)
            if doc is None:
                self.rooms.pop(code, None)
                return None
            if room is None:
                room = self.rooms[code] = Room.from_doc(doc)
            else:
                self.adopt(room, Room.from_doc(doc))
        if room.expired():
            self.rooms.pop(code, None)
            self.store.delete("room", code)
            return None
        return room

    def save(self, room: Room) -> None:
        self.store.put("room", room.code, room.to_doc())
        if self.link is not None:
            self.link.saved(room)
