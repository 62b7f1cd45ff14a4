"""A websocket peer of an in-process app, through Starlette's TestClient."""

from __future__ import annotations

import json
from typing import Any


class Peer:
    """A websocket test client that reads messages by type."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def send(self, message: dict[str, Any] | str) -> None:
        self.ws.send_text(message if isinstance(message, str) else json.dumps(message))

    def recv(self) -> dict[str, Any]:
        return json.loads(self.ws.receive_text())

    def until(self, kind: str, limit: int = 50) -> dict[str, Any]:
        for _ in range(limit):
            msg = self.recv()
            if msg["type"] == "frame":
                self.send({"type": "ack", "seq": msg["seq"]})
            if msg["type"] == kind:
                return msg
        raise AssertionError(f"no {kind} message in {limit}")

    def hello(self, **fields: Any) -> dict[str, Any]:
        self.send({"type": "hello", **fields})
        session = self.until("session")
        assert self.recv()["type"] == "dataset"
        self.history = self.recv()
        assert self.history["type"] == "history"
        return session

    def frame(self) -> dict[str, Any]:
        return self.until("frame")

    def frame_where(self, match: Any, limit: int = 20) -> dict[str, Any]:
        """The first frame for which `match` holds: a frame may still show an earlier change."""
        for _ in range(limit):
            frame = self.frame()
            if match(frame):
                return frame
        raise AssertionError("no matching frame")
