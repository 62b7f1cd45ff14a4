"""Classroom rooms: a teacher's session that every student follows, read-only.

A room has a short join code for the projector and a secret teacher key kept
in the teacher's browser. Students follow the teacher's session (its frames
are encoded once and fanned out), fork it into a session of their own, and
come back to following at any time. The teacher can push a configuration or
a hyperparameter to every student's own session.

Codes use 31 unambiguous characters (no 0/O, 1/I/L): six of them give about
a billion codes, and a room expires after `room_hours`, so guessing one in a
class's lifetime is impractical.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from app.server.storage import Store

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


@dataclass
class Room:
    code: str
    teacher_key: str
    session_id: str
    expires_at: float
    share_gallery: bool = True

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) >= self.expires_at

    def is_teacher(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key, self.teacher_key)

    def to_doc(self) -> dict[str, Any]:
        return {"code": self.code, "teacher_key": self.teacher_key, "session_id": self.session_id,
                "expires_at": self.expires_at, "share_gallery": self.share_gallery}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Room:
        return cls(code=doc["code"], teacher_key=doc["teacher_key"], session_id=doc["session_id"],
                   expires_at=float(doc["expires_at"]), share_gallery=bool(doc["share_gallery"]))


class Rooms:
    """Every open room by code, backed by the store so rooms survive a restart."""

    def __init__(self, store: Store, room_hours: float) -> None:
        self.store = store
        self.room_seconds = room_hours * 3600
        self.rooms: dict[str, Room] = {}
        self.members: dict[str, set[Any]] = {}  # code -> connections in the room (memory only)

    def create(self, session_id: str, share_gallery: bool) -> Room:
        code = new_code()
        while self.get(code) is not None:
            code = new_code()
        room = Room(code=code, teacher_key=secrets.token_urlsafe(24), session_id=session_id,
                    expires_at=time.time() + self.room_seconds, share_gallery=share_gallery)
        self.rooms[code] = room
        self.save(room)
        return room

    def get(self, code: str) -> Room | None:
        code = normalise_code(code)
        room = self.rooms.get(code)
        if room is None:
            doc = self.store.get("room", code)
            if doc is None:
                return None
            room = self.rooms[code] = Room.from_doc(doc)
        if room.expired():
            self.rooms.pop(code, None)
            self.store.delete("room", code)
            return None
        return room

    def save(self, room: Room) -> None:
        self.store.put("room", room.code, room.to_doc())
