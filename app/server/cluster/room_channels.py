"""Rooms across processes (Redis): a room's channel, its feeds and publishers, its seats.

    <prefix>room:<session>   a room's frames, announces and messages (`feed.py`, `classroom.py`)
    <prefix>seats:<session>  (a hash, not a channel) each process's seats in a room, for the
                             teacher's room status; entries lapse when not renewed

A room's session trains in one process. Followers in another follow a `feed.Feed` of it, and
every `feed.WATCH_SECONDS` that process tells the holder, on its control channel (`node.py`,
kind `watch`), what they want; the holder runs a `feed.Publisher` that publishes each frame
once on the room's channel. Room messages (push, close, a new code...) go through the same
channel to the seats of every process (`room_link.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from app.server.cluster import feed
from app.server.registry import LiveSession
from app.server.storage import StoreUnavailable

if TYPE_CHECKING:
    from app.server.cluster.node import Node

# A process's seats in a room lapse after this long without being written again.
SEATS_SECONDS = 5.0


class RoomChannels:
    """The rooms of one process as seen by the other processes, and theirs as seen from here."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.feeds: dict[str, feed.Feed] = {}             # rooms trained elsewhere, with followers here
        self.publishers: dict[str, feed.Publisher] = {}    # rooms trained here, with followers elsewhere
        self.room_handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {}  # session -> classroom

    def room_channel(self, session_id: str) -> str:
        return f"{self.node.prefix}room:{session_id}"

    def receive(self, session_id: str, data: bytes) -> None:
        """A message on `session_id`'s room channel: a room message for the seats here, or a frame
        or announce for its feed."""
        kind, header, body = feed.unpack(data)
        if kind == b"M":
            handler = self.room_handlers.get(session_id)
            if handler is not None and header.get("from") != self.node.name:
                self.node.spawn(handler(header))
            return
        found = self.feeds.get(session_id)
        if found is not None:
            found.receive(kind, header, body)

    # ---------------------------------------------------------------- followers here

    async def room_session(self, session_id: str) -> LiveSession | feed.Feed | None:
        """A room's session for a follower here: the session itself when this process trains it (or
        takes it now: nobody does), else a feed of it from the process that does; None when gone."""
        live = await self.node.registry.load(session_id)
        if live is not None:
            return live
        holder = await asyncio.to_thread(self.node.leases.holder, session_id)
        if holder is None:
            return None
        return self.feed_of(session_id)

    def feed_of(self, session_id: str) -> feed.Feed:
        """The feed of `session_id` trained elsewhere, for followers here (a new one when the last moved)."""
        found = self.feeds.get(session_id)
        if found is None or found.moved:
            found = self.feeds[session_id] = feed.Feed(session_id)
            self.node.subscribe(self.room_channel(session_id))
        return found

    def watch(self, found: feed.Feed) -> None:
        """A follower here started following `found`: its holder hears what it wants now."""
        self.node.spawn(self._send_watch(found))

    async def _send_watch(self, found: feed.Feed) -> None:
        try:
            holder = await asyncio.to_thread(self.node.leases.holder, found.session_id)
        except StoreUnavailable:
            return  # followers keep the last frame; the feed resumes when Redis is back
        if holder is None or holder == self.node.name:
            found.end()  # trained nowhere, or here now: followers reconnect and find it
            return
        if not found.clients:
            return  # nothing wanted yet: the follower's own watch follows (`watch`)
        await self.node.tell(holder, "watch", session_id=found.session_id, fps=found.fps(),
                             contents=[feed.content_to_wire(c) for c in found.contents()],
                             announce=not found.ready.is_set())

    async def run(self) -> None:
        """Every WATCH_SECONDS: tell each holder what the followers here want; drop unwatched feeds."""
        while True:
            await asyncio.sleep(feed.WATCH_SECONDS)
            for session_id, found in list(self.feeds.items()):
                if not found.clients:
                    del self.feeds[session_id]
                    if session_id not in self.room_handlers:
                        self.node.unsubscribe(self.room_channel(session_id))
                    continue
                await self._send_watch(found)

    # ---------------------------------------------------------------- followers elsewhere

    def watched(self, msg: dict[str, Any]) -> None:
        """A `watch` message: followers in process `msg["from"]` want these contents of a room trained here."""
        self._watched(str(msg["session_id"]), str(msg["from"]),
                      [feed.content_from_wire(c) for c in msg["contents"]], int(msg["fps"]),
                      bool(msg.get("announce")))

    def _watched(self, session_id: str, process: str, contents: list[feed.Content], fps: int,
                 announce: bool) -> None:
        live = self.node.registry.sessions.get(session_id)
        if live is None:
            return  # not here (any more): the watcher finds the holder again
        publisher = self.publishers.get(session_id)
        if publisher is None or publisher.live is not live:
            publisher = self.publishers[session_id] = feed.Publisher(
                live, functools.partial(self.node.publish, self.room_channel(session_id)))
            task = self.node.spawn(publisher.run())
            task.add_done_callback(functools.partial(self._publisher_ended, session_id, publisher))
        if announce:
            publisher.announce = True
        publisher.want(process, contents, fps)

    def _publisher_ended(self, session_id: str, publisher: feed.Publisher, _: object) -> None:
        if self.publishers.get(session_id) is publisher:
            del self.publishers[session_id]

    # ---------------------------------------------------------------- room messages and seats

    def join_room(self, session_id: str, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Room messages of `session_id`'s room go to `handler` while this process has seats in it."""
        self.room_handlers[session_id] = handler
        self.node.subscribe(self.room_channel(session_id))

    def leave_room(self, session_id: str) -> None:
        self.room_handlers.pop(session_id, None)
        if session_id not in self.feeds:
            self.node.unsubscribe(self.room_channel(session_id))

    async def publish_room(self, session_id: str, message: dict[str, Any]) -> None:
        """A room message (push, close, new code...) to the seats of the other processes."""
        await self.node.publish(self.room_channel(session_id), feed.pack(b"M", {**message, "from": self.node.name}))

    async def write_seats(self, code: str, summary: dict[str, Any]) -> None:
        """This process's seats in room `code` (counts and gallery entries), for the teacher's status."""
        store = self.node.store
        key = f"{self.node.prefix}seats:{code}"
        value = orjson.dumps({**summary, "at": time.time()})
        name = self.node.name

        def write() -> None:
            with store.client.pipeline() as pipe:
                pipe.hset(key, name, value)
                pipe.pexpire(key, int(SEATS_SECONDS * 1000))
                pipe.execute()

        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(store.call, write)

    async def other_seats(self, code: str) -> list[dict[str, Any]]:
        """The seat summaries the other processes wrote for room `code` in the last SEATS_SECONDS."""
        store = self.node.store
        try:
            raw = await asyncio.to_thread(store.call, lambda: store.client.hgetall(f"{self.node.prefix}seats:{code}"))
        except StoreUnavailable:
            return []
        now = time.time()
        out = []
        for name, value in raw.items():
            summary = orjson.loads(value)
            if (name.decode() if isinstance(name, bytes) else name) != self.node.name and now - float(summary.get("at", 0)) < SEATS_SECONDS:
                out.append(summary)
        return out
