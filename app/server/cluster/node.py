"""This process as one of several sharing Redis: its control channel, leases, health.

Channels (under the store's prefix):

    <prefix>ctl:<process>    requests to one process, and its answers: `handover` (snapshot a
                             session as it is now, give up its lease, let its clients go),
                             `snapshot` (store it now: another process forks it): both in
                             `handover.py`; `watch` (followers elsewhere want a room's frames:
                             `room_channels.py`), `http` (a request about a session held here:
                             `http_proxy.py`)

The `Node` listens on this process's control channel and on the room channels that
`room_channels.py` wants, and hands each message to the module it is for. Every
`lease_seconds / 3` the leases of the sessions held here are renewed in
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
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis
import redis.asyncio
from starlette.types import ASGIApp

from app import protocol as p
from app.server.cluster import feed, http_proxy
from app.server.cluster.handover import ANSWER_SECONDS, Handover
from app.server.cluster.handover import HeldElsewhere as HeldElsewhere  # raised by `claim`; callers import it from here
from app.server.cluster.leases import Leases
from app.server.cluster.room_channels import RoomChannels
from app.server.cluster.store import FIRST_BACKOFF, MAX_BACKOFF, SOCKET_TIMEOUT, RedisStore
from app.server.registry import LiveSession, Registry
from app.server.storage import StoreUnavailable

log = logging.getLogger("paramlab.cluster")

# How long the listener waits for a message before it looks at its channels anyway. A change of the channels
# wakes it at once (`_channels_changed` publishes a word on this process's control channel), so an idle
# process does not wake 20 times a second to look; this is only a safety net.
LISTEN_POLL = 5.0

Notify = Callable[[dict[str, Any]], Awaitable[None]]


class Node:
    """This process in the cluster: what other code holds to reach the other processes."""

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
        self.channels: set[str] = {self.control}           # wanted; the listener subscribes to them
        self.listening = False
        self.reason: str | None = None                     # why the cluster is degraded, if it is
        self.watchers: set[Notify] = set()                 # connections told when Redis goes and comes back
        self.tasks: set[asyncio.Task[Any]] = set()
        self.http_app: ASGIApp | None = None  # the app, for HTTP requests other processes forward here
        self.handover = Handover(self)            # sessions coming in from, and going out to, other processes
        self.room_channels = RoomChannels(self)   # rooms' frames, messages and seats across processes

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
        """The listener, the lease renewal and the rooms' watch loop (`room_channels.py`), until cancelled."""
        self.spawn(self._listen())
        self.spawn(self._renew_loop())
        self.spawn(self.room_channels.run())
        try:
            await asyncio.Event().wait()
        finally:
            for task in list(self.tasks):
                task.cancel()
            for task in list(self.tasks):
                with contextlib.suppress(BaseException):
                    await task

    def subscribe(self, channel: str) -> None:
        """The listener subscribes to `channel` now (a room's channel: `room_channels.py`)."""
        if channel not in self.channels:
            self.channels.add(channel)
            self._channels_changed()

    def unsubscribe(self, channel: str) -> None:
        if channel in self.channels:
            self.channels.discard(channel)
            self._channels_changed()

    def _channels_changed(self) -> None:
        """Wake the listener, which waits for a message, to (un)subscribe now: a word to itself."""
        self.spawn(self.publish(self.control, orjson.dumps({"kind": "channels", "from": self.name})))

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
            self.room_channels.receive(channel.removeprefix(f"{self.prefix}room:"), data)
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
        await self.publish(f"{self.prefix}ctl:{process}", orjson.dumps({"kind": kind, "from": self.name, **fields}))

    def _on_control(self, msg: dict[str, Any]) -> None:
        kind = msg.get("kind")
        if kind == "answer":
            waiting = self.answers.get(str(msg.get("id")))
            if waiting is not None and not waiting.done():
                waiting.set_result(msg)
        elif kind == "handover":
            self.spawn(self._answer(msg, self.handover.hand_over(str(msg["session_id"]))))
        elif kind == "snapshot":
            self.spawn(self._answer(msg, self.handover.save_now(str(msg["session_id"]))))
        elif kind == "http" and self.http_app is not None:
            self.spawn(self._serve_http(msg, self.http_app))
        elif kind == "watch":
            self.room_channels.watched(msg)
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

    async def publish(self, channel: str, data: bytes) -> None:
        """Publish, or drop the message while Redis is down (followers elsewhere keep the last frame)."""
        with contextlib.suppress(redis.RedisError, OSError, TimeoutError):
            async with asyncio.timeout(SOCKET_TIMEOUT):  # a Redis that hangs holds up no publisher
                await self.aredis.publish(channel, data)

    # ---------------------------------------------------------------- hand-overs and rooms, through the node
    # The connections, the rooms' link and the HTTP proxy hold the node; the work is in `handover.py`
    # and `room_channels.py`.

    async def claim(self, session_id: str) -> None:
        await self.handover.claim(session_id)

    async def follow_moved(self, session_id: str) -> feed.Feed | None:
        return await self.handover.follow_moved(session_id)

    async def fork_source(self, session_id: str) -> Any:
        return await self.handover.fork_source(session_id)

    async def room_session(self, session_id: str) -> LiveSession | feed.Feed | None:
        return await self.room_channels.room_session(session_id)

    def watch(self, found: feed.Feed) -> None:
        self.room_channels.watch(found)

    def join_room(self, session_id: str, handler: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.room_channels.join_room(session_id, handler)

    def leave_room(self, session_id: str) -> None:
        self.room_channels.leave_room(session_id)

    async def publish_room(self, session_id: str, message: dict[str, Any]) -> None:
        await self.room_channels.publish_room(session_id, message)

    async def write_seats(self, code: str, summary: dict[str, Any]) -> None:
        await self.room_channels.write_seats(code, summary)

    async def other_seats(self, code: str) -> list[dict[str, Any]]:
        return await self.room_channels.other_seats(code)
