"""This process as one of several sharing Redis: leases, hand-overs, room channels, health.

Channels (under the store's prefix):

    <prefix>ctl:<process>    requests to one process, and its answers: `handover` (snapshot a
                             session as it is now, give up its lease, let its clients go),
                             `snapshot` (store it now: another process forks it), `watch`
                             (followers elsewhere want a room's frames: `feed.Publisher`),
                             `http` (a request about a session held here: `http_proxy.py`)
    <prefix>room:<session>   a room's frames, announces and messages (`feed.py`, `classroom.py`)
    <prefix>seats:<session>  (a hash, not a channel) each process's seats in a room, for the
                             teacher's room status; entries lapse when not renewed

Every `lease_seconds / 3` the leases of the sessions held here are renewed in
one script; a session whose lease another process holds now is let go here.
While Redis is down the sessions held here train on in memory; the health
route says `"store": "degraded"` with the reason, pages get a notice, and
Redis is tried again with a back-off. When it is back, leases are taken again
(the renewal does), channels subscribed again, and every session is
snapshotted anew (a Redis restarted without its data has none).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis
import redis.asyncio
from starlette.types import ASGIApp

from app import protocol as p
from app.server.cluster import feed, http_proxy
from app.server.cluster.leases import Leases
from app.server.cluster.store import FIRST_BACKOFF, MAX_BACKOFF, SOCKET_TIMEOUT, RedisStore
from app.server.registry import LiveSession, Registry
from app.server.storage import StoreUnavailable
from app.training.persist import restore_session

log = logging.getLogger("paramlab.cluster")

# How long a process waits for another to answer a request (a hand-over: one snapshot write).
ANSWER_SECONDS = 3.0
# How long the listener waits for a message before it looks at its channels anyway. A change of the channels
# wakes it at once (`_channels_changed` publishes a word on this process's control channel), so an idle
# process does not wake 20 times a second to look; this is only a safety net.
LISTEN_POLL = 5.0
# A process's seats in a room lapse after this long without being written again.
SEATS_SECONDS = 5.0
# The close code of a client whose session moved to another process: the page reconnects.
CLOSE_MOVED = 4012

Notify = Callable[[dict[str, Any]], Awaitable[None]]


class HeldElsewhere(Exception):
    """Another process trains the session and did not hand it over in time."""


class Node:
    def __init__(self, store: RedisStore, url: str, registry: Registry, lease_seconds: float) -> None:
        self.store = store
        self.registry = registry
        self.name = registry.token
        self.prefix = store.prefix
        self.leases = Leases(store, self.name, lease_seconds)
        registry.leases = self.leases
        self.lease_seconds = lease_seconds
        self.aredis = redis.asyncio.Redis.from_url(url, socket_connect_timeout=SOCKET_TIMEOUT)
        self.control = f"{self.prefix}ctl:{self.name}"
        self.answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.feeds: dict[str, feed.Feed] = {}             # rooms trained elsewhere, with followers here
        self.publishers: dict[str, feed.Publisher] = {}    # rooms trained here, with followers elsewhere
        self.room_handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {}  # session -> classroom
        self.channels: set[str] = {self.control}           # wanted; the listener subscribes to them
        self.listening = False
        self.reason: str | None = None                     # why the cluster is degraded, if it is
        self.watchers: set[Notify] = set()                 # connections told when Redis goes and comes back
        self.tasks: set[asyncio.Task[Any]] = set()
        self.http_app: ASGIApp | None = None  # the app, for HTTP requests other processes forward here

    # ---------------------------------------------------------------- health

    def health(self) -> dict[str, Any]:
        reason = self.store.down_reason or self.reason
        if reason is None and not self.listening:
            reason = "not subscribed to Redis pub/sub yet"
        return {"store": "degraded", "reason": reason} if reason else {"store": "ok"}

    async def _tell(self, text: str) -> None:
        notice: dict[str, Any] = p.Notice(type="notice", text=text)  # type: ignore[assignment]
        for watcher in list(self.watchers):
            with contextlib.suppress(Exception):
                await watcher(notice)

    async def _went_down(self, reason: str) -> None:
        was = self.reason
        self.reason = reason
        if was is None:
            log.warning("Redis unavailable, training on in memory: %s", reason)
            self.spawn(self._tell("The server lost its shared store for a moment: your session trains on; "
                                  "it is saved again as soon as the store is back."))

    async def _came_back(self) -> None:
        if self.reason is None:
            return
        self.reason = None
        log.warning("Redis is back: leases renewed, channels subscribed, sessions snapshotted again")
        for live in list(self.registry.sessions.values()):
            live.saved_version = -1  # a Redis restarted without its data lost every snapshot
        self.spawn(self._tell("The shared store is back: your session is saved again."))

    # ---------------------------------------------------------------- running

    async def run(self) -> None:
        """The listener, the lease renewal and the seats writer, until cancelled."""
        self.spawn(self._listen())
        self.spawn(self._renew_loop())
        self.spawn(self._feeds_loop())
        try:
            await asyncio.Event().wait()
        finally:
            for task in list(self.tasks):
                task.cancel()
            for task in list(self.tasks):
                with contextlib.suppress(BaseException):
                    await task

    def _want(self, channel: str) -> None:
        if channel not in self.channels:
            self.channels.add(channel)
            self._channels_changed()

    def _unwant(self, channel: str) -> None:
        if channel in self.channels:
            self.channels.discard(channel)
            self._channels_changed()

    def _channels_changed(self) -> None:
        """Wake the listener, which waits for a message, to (un)subscribe now: a word to itself."""
        self.spawn(self._publish(self.control, orjson.dumps({"kind": "channels", "from": self.name})))

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close(self) -> None:
        """Shutting down (after the last snapshots): give up every lease held here."""
        with contextlib.suppress(StoreUnavailable):
            released = await asyncio.to_thread(self.leases.release, list(self.registry.sessions))
            log.info("%d leases released on the way out", released)
        with contextlib.suppress(Exception):
            await self.aredis.aclose()

    async def _listen(self) -> None:
        backoff = FIRST_BACKOFF
        while True:
            pubsub = self.aredis.pubsub()
            subscribed: set[str] = set()
            try:
                await pubsub.subscribe(*self.channels)
                subscribed = set(self.channels)
                self.listening = True
                backoff = FIRST_BACKOFF
                while True:
                    if self.channels != subscribed:
                        if self.channels - subscribed:
                            await pubsub.subscribe(*(self.channels - subscribed))
                        if subscribed - self.channels:
                            await pubsub.unsubscribe(*(subscribed - self.channels))
                        subscribed = set(self.channels)
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=LISTEN_POLL)
                    if message is not None and message["type"] == "message":
                        self._dispatch(message["channel"].decode(), message["data"])
            except (redis.RedisError, OSError) as exc:
                self.listening = False
                await self._went_down(f"Redis pub/sub: {exc}")
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, channel: str, data: bytes) -> None:
        try:
            if channel == self.control:
                self._on_control(orjson.loads(data))
                return
            session_id = channel.removeprefix(f"{self.prefix}room:")
            kind, header, body = feed.unpack(data)
            if kind == b"M":
                handler = self.room_handlers.get(session_id)
                if handler is not None and header.get("from") != self.name:
                    self.spawn(handler(header))
                return
            found = self.feeds.get(session_id)
            if found is not None:
                found.receive(kind, header, body)
        except (ValueError, KeyError, TypeError):
            log.exception("a malformed message on %s was dropped", channel)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                lost = await asyncio.to_thread(self.leases.renew, list(self.registry.sessions))
                self.store.mark_up()
            except StoreUnavailable as exc:
                await asyncio.to_thread(self.store.ping)  # tries Redis again, whatever else calls
                await self._went_down(str(exc))
                continue
            if self.listening:
                await self._came_back()
            for session_id in lost:
                live = self.registry.sessions.pop(session_id, None)
                if live is not None:
                    log.warning("session %s is held by another process now: let go here", session_id)
                    live.move_away()

    # ---------------------------------------------------------------- requests between processes

    async def request(self, process: str, kind: str, timeout: float = ANSWER_SECONDS,
                      **fields: Any) -> dict[str, Any] | None:
        """Ask `process` and wait `timeout` seconds at most for its answer; None when it did not
        answer in time (or is gone)."""
        ask_id = secrets.token_hex(8)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.answers[ask_id] = answer
        try:
            message = orjson.dumps({"kind": kind, "from": self.name, "id": ask_id, **fields})
            async with asyncio.timeout(timeout):
                listeners = await self.aredis.publish(f"{self.prefix}ctl:{process}", message)
                if not listeners:
                    return None  # nobody listens there: that process is gone
                return await answer
        except (TimeoutError, redis.RedisError, OSError):
            return None
        finally:
            self.answers.pop(ask_id, None)

    async def tell(self, process: str, kind: str, **fields: Any) -> None:
        """A message to `process` that needs no answer (dropped while Redis is down)."""
        await self._publish(f"{self.prefix}ctl:{process}", orjson.dumps({"kind": kind, "from": self.name, **fields}))

    def _on_control(self, msg: dict[str, Any]) -> None:
        kind = msg.get("kind")
        if kind == "answer":
            waiting = self.answers.get(str(msg.get("id")))
            if waiting is not None and not waiting.done():
                waiting.set_result(msg)
        elif kind == "handover":
            self.spawn(self._answer(msg, self.hand_over(str(msg["session_id"]))))
        elif kind == "snapshot":
            self.spawn(self._answer(msg, self.save_now(str(msg["session_id"]))))
        elif kind == "http" and self.http_app is not None:
            self.spawn(self._serve_http(msg, self.http_app))
        elif kind == "watch":
            self._watched(str(msg["session_id"]), str(msg["from"]),
                          [feed.content_from_wire(c) for c in msg["contents"]], int(msg["fps"]),
                          bool(msg.get("announce")))
        # "channels": only wakes the listener, which then looks at its channels.

    async def _serve_http(self, msg: dict[str, Any], app: ASGIApp) -> None:
        """An HTTP request about a session held here, sent by the process it reached (`http_proxy`)."""
        try:
            answer = await http_proxy.serve(app, msg["request"])
        except Exception:
            log.exception("a forwarded HTTP request failed")
            answer = {"ok": False}
        await self.tell(str(msg["from"]), "answer", id=msg["id"], **answer)

    async def holder(self, session_id: str) -> str | None:
        """The process holding `session_id`'s lease (None: nobody)."""
        return await asyncio.to_thread(self.leases.holder, session_id)

    async def _answer(self, msg: dict[str, Any], work: Awaitable[bool]) -> None:
        ok = await work
        await self.tell(str(msg["from"]), "answer", id=msg["id"], ok=ok)

    async def save_now(self, session_id: str) -> bool:
        live = self.registry.sessions.get(session_id)
        if live is None:
            return False
        try:
            await asyncio.to_thread(self.store.put, "session", session_id, live.to_doc())
        except StoreUnavailable:
            return False
        return True

    async def hand_over(self, session_id: str) -> bool:
        """Another process asks for a session held here: out of the training loop at once (no
        update after the snapshot), stored as it is, lease given up, clients here let go."""
        live = self.registry.sessions.pop(session_id, None)
        if live is not None:
            doc = live.to_doc()
            playing = live.playing
            # A round of the training loop under way still holds it: not playing, it gets no turn
            # while the snapshot is written (the document keeps `playing` for the asker).
            live.playing = False
            try:
                await asyncio.to_thread(self.store.put, "session", session_id, doc)
            except StoreUnavailable:
                live.playing = playing
                self.registry.sessions[session_id] = live  # kept here: the asker gives up
                return False
            live.saved_version = live.session.version
            live.move_away()
            log.info("session %s handed over", session_id)
        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(self.leases.release, [session_id])
        return True

    async def claim(self, session_id: str) -> None:
        """Make this process the one training `session_id` (before bringing it in from the store):
        a live holder is asked to hand it over; a dead one's lease lapses within its TTL.
        Raises HeldElsewhere when neither happened in time."""
        deadline = time.monotonic() + self.lease_seconds + ANSWER_SECONDS
        holder = await asyncio.to_thread(self.leases.acquire, session_id)
        asked = False
        while holder is not None:
            if not asked:
                asked = True
                await self.request(holder, "handover", session_id=session_id)
            else:
                await asyncio.sleep(0.2)
            if time.monotonic() > deadline:
                raise HeldElsewhere(f"session {session_id!r} is busy in another server process; try again")
            holder = await asyncio.to_thread(self.leases.acquire, session_id)

    # ---------------------------------------------------------------- rooms

    def room_channel(self, session_id: str) -> str:
        return f"{self.prefix}room:{session_id}"

    async def room_session(self, session_id: str) -> LiveSession | feed.Feed | None:
        """A room's session for a follower here: the session itself when this process trains it (or
        takes it now: nobody does), else a feed of it from the process that does; None when gone."""
        live = await self.registry.load(session_id)
        if live is not None:
            return live
        holder = await asyncio.to_thread(self.leases.holder, session_id)
        if holder is None:
            return None
        return self._feed(session_id)

    def _feed(self, session_id: str) -> feed.Feed:
        found = self.feeds.get(session_id)
        if found is None or found.moved:
            found = self.feeds[session_id] = feed.Feed(session_id)
            self._want(self.room_channel(session_id))
        return found

    async def follow_moved(self, session_id: str) -> feed.Feed | None:
        """A feed of a session that just left this process (handed over), once another process holds
        it; None when none does within ANSWER_SECONDS. Never takes the session back itself."""
        deadline = time.monotonic() + ANSWER_SECONDS
        while await asyncio.to_thread(self.leases.holder, session_id) in (None, self.name):
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.1)
        return self._feed(session_id)

    def watch(self, found: feed.Feed) -> None:
        """A follower here started following `found`: its holder hears what it wants now."""
        self.spawn(self._send_watch(found))

    async def _send_watch(self, found: feed.Feed) -> None:
        try:
            holder = await asyncio.to_thread(self.leases.holder, found.session_id)
        except StoreUnavailable:
            return  # followers keep the last frame; the feed resumes when Redis is back
        if holder is None or holder == self.name:
            found.end()  # trained nowhere, or here now: followers reconnect and find it
            return
        if not found.clients:
            return  # nothing wanted yet: the follower's own watch follows (`watch`)
        await self.tell(holder, "watch", session_id=found.session_id, fps=found.fps(),
                        contents=[feed.content_to_wire(c) for c in found.contents()],
                        announce=not found.ready.is_set())

    def _watched(self, session_id: str, process: str, contents: list[feed.Content], fps: int,
                 announce: bool) -> None:
        live = self.registry.sessions.get(session_id)
        if live is None:
            return  # not here (any more): the watcher finds the holder again
        publisher = self.publishers.get(session_id)
        if publisher is None or publisher.live is not live:
            publisher = self.publishers[session_id] = feed.Publisher(
                live, functools.partial(self._publish, self.room_channel(session_id)))
            task = self.spawn(publisher.run())
            task.add_done_callback(functools.partial(self._publisher_ended, session_id, publisher))
        if announce:
            publisher.announce = True
        publisher.want(process, contents, fps)

    async def _publish(self, channel: str, data: bytes) -> None:
        """Publish, or drop the message while Redis is down (followers elsewhere keep the last frame)."""
        with contextlib.suppress(redis.RedisError, OSError, TimeoutError):
            async with asyncio.timeout(SOCKET_TIMEOUT):  # a Redis that hangs holds up no publisher
                await self.aredis.publish(channel, data)

    def _publisher_ended(self, session_id: str, publisher: feed.Publisher, _: object) -> None:
        if self.publishers.get(session_id) is publisher:
            del self.publishers[session_id]

    async def _feeds_loop(self) -> None:
        """Every WATCH_SECONDS: tell each holder what the followers here want; drop unwatched feeds."""
        while True:
            await asyncio.sleep(feed.WATCH_SECONDS)
            for session_id, found in list(self.feeds.items()):
                if not found.clients:
                    del self.feeds[session_id]
                    if session_id not in self.room_handlers:
                        self._unwant(self.room_channel(session_id))
                    continue
                await self._send_watch(found)

    def join_room(self, session_id: str, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Room messages of `session_id`'s room go to `handler` while this process has seats in it."""
        self.room_handlers[session_id] = handler
        self._want(self.room_channel(session_id))

    def leave_room(self, session_id: str) -> None:
        self.room_handlers.pop(session_id, None)
        if session_id not in self.feeds:
            self._unwant(self.room_channel(session_id))

    async def publish_room(self, session_id: str, message: dict[str, Any]) -> None:
        """A room message (push, close, new code...) to the seats of the other processes."""
        await self._publish(self.room_channel(session_id), feed.pack(b"M", {**message, "from": self.name}))

    async def write_seats(self, code: str, summary: dict[str, Any]) -> None:
        """This process's seats in room `code` (counts and gallery entries), for the teacher's status."""
        key = f"{self.prefix}seats:{code}"
        value = orjson.dumps({**summary, "at": time.time()})

        def write() -> None:
            with self.store.client.pipeline() as pipe:
                pipe.hset(key, self.name, value)
                pipe.pexpire(key, int(SEATS_SECONDS * 1000))
                pipe.execute()

        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(self.store.call, write)

    async def other_seats(self, code: str) -> list[dict[str, Any]]:
        """The seat summaries the other processes wrote for room `code` in the last SEATS_SECONDS."""
        try:
            raw = await asyncio.to_thread(self.store.call,
                                          lambda: self.store.client.hgetall(f"{self.prefix}seats:{code}"))
        except StoreUnavailable:
            return []
        now = time.time()
        out = []
        for name, value in raw.items():
            summary = orjson.loads(value)
            if (name.decode() if isinstance(name, bytes) else name) != self.name and now - float(summary.get("at", 0)) < SEATS_SECONDS:
                out.append(summary)
        return out

    async def fork_source(self, session_id: str) -> Any:
        """The newest state of a room's session trained elsewhere, rebuilt here (for a fork): its
        holder stores it now, and it is read back from the store."""
        holder = await asyncio.to_thread(self.leases.holder, session_id)
        if holder is not None and holder != self.name:
            await self.request(holder, "snapshot", session_id=session_id)
        doc = await asyncio.to_thread(self.store.get, "session", session_id)
        if doc is None:
            return None
        return await asyncio.to_thread(restore_session, doc["state"])
