"""A websocket peer of a real server (see `support.server`) that acks every frame
as the protocol asks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from support.server import Server


class Peer:
    """A websocket client that acks every frame it reads, as the protocol asks."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.session: dict[str, Any] = {}
        self.history: dict[str, Any] = {}

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> tuple[dict[str, Any], int]:
        """The next message and its size in bytes; frames are acked at once."""
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        msg = json.loads(raw)
        if msg["type"] == "frame":
            await self.send({"type": "ack", "seq": msg["seq"]})
        return msg, len(raw.encode() if isinstance(raw, str) else raw)

    async def until(self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """The first message that matches; fails when none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg, _ = await self.recv(left)
            if match(msg):
                return msg
        raise AssertionError(f"no matching message within {timeout} s")

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "hello", **fields})
        self.session = await self.until(lambda m: m["type"] in ("session", "error"))
        assert self.session["type"] == "session", self.session
        assert (await self.recv())[0]["type"] == "dataset"
        self.history, _ = await self.recv()
        assert self.history["type"] == "history"
        return self.session


def peer(server: Server, **kwargs: Any) -> Any:
    """`async with peer(server) as ws`: a websocket to `server`."""
    return connect(server.ws, proxy=None, max_size=2**24, open_timeout=5, close_timeout=2, **kwargs)
