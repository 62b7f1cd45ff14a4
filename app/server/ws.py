"""The websocket endpoint: receive, validate, call the session, send.

Each connection runs two tasks: this one reads and applies messages;
`_send_frames` sends the newest state when the client may take it. A frame
goes out only when (a) the session changed since the last one, (b) 1/fps has
passed, and (c) the client has acknowledged all but at most one earlier
frame. A client that stops reading therefore holds at most two frames in
flight and never makes the server queue or stall; a send that still blocks
for `send_timeout` seconds closes that client alone.

A connection watches one session at a time: its own, or (a student in a
room) the teacher's, read-only. Room messages are handled in `classroom.py`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app import protocol as p
from app.server import classroom, controls, messages
from app.server.registry import Client, LiveSession, Registry, RegistryFull
from app.server.rooms import Room, Rooms
from app.settings import Settings
from app.training.config import HyperState, RunConfig
from app.training.persist import restore_session
from app.training.session import SessionError

# Frames a client may hold unacknowledged before the server waits for it.
MAX_UNACKED = 2


def origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Browsers send Origin; only this server's own page (or a configured one) may connect."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: scripts and tests
    host = websocket.headers.get("host", "")
    own = {f"http://{host}", f"https://{host}"}
    return origin in own or origin in settings.allowed_origins


def error(code: str, message: str, request: str | None = None, **fields: Any) -> dict[str, Any]:
    return p.ErrorMessage(code=code, request=request, message=message, **fields).model_dump()  # type: ignore[arg-type]


class Connection:
    """One browser tab's websocket and the session it watches."""

    def __init__(self, websocket: WebSocket, registry: Registry, rooms: Rooms, settings: Settings) -> None:
        self.ws = websocket
        self.registry = registry
        self.rooms = rooms
        self.settings = settings
        self.live: LiveSession | None = None   # the session shown
        self.own: LiveSession | None = None    # this tab's own session (a student's fork, too)
        self.client: Client | None = None
        self.sender: asyncio.Task[None] | None = None
        self.status_task: asyncio.Task[None] | None = None  # a teacher's room status
        self.send_lock = asyncio.Lock()
        self.fps = 30
        self.teacher_key: str | None = None
        self.room: Room | None = None
        self.mode: str = "own"                 # "own", "teach" or "follow"
        self.name = "student"
        self.share = False

    # ---------------------------------------------------------------- sending

    async def send(self, *messages: dict[str, Any] | bytes) -> None:
        """Send messages in order, with nothing of this connection's in between."""
        data = [(m if isinstance(m, bytes) else p.encode(m)).decode() for m in messages]
        async with self.send_lock:
            for text in data:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                # that arrives as the send completes, and a cancelled frame sender
                # would then live on; it also costs a task per send.
                async with asyncio.timeout(self.settings.send_timeout):
                    await self.ws.send_text(text)

    async def run(self) -> None:
        try:
            while True:
                event = await self.ws.receive()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                # The size limit is in bytes: measure text as the UTF-8 it came as.
                raw = text.encode() if text is not None else event.get("bytes") or b""
                await self.handle(raw)
        except (WebSocketDisconnect, asyncio.TimeoutError, RuntimeError):
            pass
        finally:
            self.watch(None)
            classroom.leave(self)

    # --------------------------------------------------------------- receiving

    async def handle(self, raw: str | bytes) -> None:
        try:
            msg = p.parse_client_message(raw)
        except p.ProtocolError as exc:
            await self.send(exc.error.model_dump())
            return
        kind: str = getattr(msg, "type")
        if isinstance(msg, p.Hello):
            await self.hello(msg)
            return
        if self.live is None or self.client is None:
            await self.send(error("no_session", f"'{kind}' needs a session: send a hello message first", kind,
                                  allowed="send hello first"))
            return
        if isinstance(msg, p.Ack):
            if msg.seq > self.client.seq:
                await self.send(error("invalid", f"seq {msg.seq} was never sent; the last frame sent is "
                                      f"{self.client.seq}", "ack", field="seq", value=msg.seq,
                                      allowed=f"0 to {self.client.seq}"))
                return
            self.client.acked = max(self.client.acked, msg.seq)
            self.client.wake.set()
            return
        if isinstance(msg, p.SetFps):
            self.fps = self.client.fps = msg.fps
            return
        if kind in p.CONTROL_MESSAGES:
            await self.control(kind, msg)
            return
        await classroom.handle(self, msg)

    async def control(self, kind: str, msg: Any) -> None:
        live = self.live
        assert live is not None
        if self.mode == "follow":
            await self.send(error("forbidden", "you are following the teacher's session, which is read-only; "
                                  "fork it to experiment in a copy of your own", kind, allowed="fork"))
            return
        if live.owner_key is not None and self.teacher_key != live.owner_key:
            await self.send(error("forbidden", "only the room's teacher can change this session", kind,
                                  allowed="the teacher's key"))
            return
        try:
            controls.apply(live, msg)
        except SessionError as exc:
            await self.send(error(exc.code, str(exc), kind, field=exc.field, value=exc.value, allowed=exc.allowed))
            return
        if live.playing:
            self.registry.work.set()

    async def hello(self, msg: p.Hello) -> None:
        live = self.registry.get(msg.session_id) if msg.session_id else None
        if live is None and msg.run_id:
            live = await self.open_run(msg.run_id)
            if live is None:
                return
        if msg.session_id and live is None and msg.config is None:
            await self.send(error("no_session", f"session {msg.session_id!r} is not known to this server", "hello",
                                  field="session_id", value=msg.session_id,
                                  allowed="a live session id, or a config to start a new session"))
            return
        if live is None:
            try:
                live = self.create(msg)
            except RegistryFull as exc:
                await self.send(error("limit", str(exc), "hello", allowed=f"at most {self.registry.max_sessions} "
                                      "sessions"))
                return
            except ValueError as exc:
                await self.send(error("invalid", str(exc), "hello", field="config"))
                return
        self.fps = msg.fps
        self.teacher_key = msg.teacher_key
        self.own = live
        classroom.leave(self)
        self.mode = "own"
        self.watch(live)
        if live.owner_key is not None and self.teacher_key == live.owner_key:
            await classroom.resume_teacher(self, live)

    async def open_run(self, run_id: str) -> LiveSession | None:
        doc = await asyncio.to_thread(self.registry.store.get, "run", run_id)
        if doc is None:
            await self.send(error("no_session", f"no saved run {run_id!r}", "hello", field="run_id", value=run_id,
                                  allowed="the id of a saved run"))
            return None
        try:
            return self.registry.adopt(restore_session(doc["state"]))
        except RegistryFull as exc:
            await self.send(error("limit", str(exc), "hello"))
        except (ValueError, KeyError) as exc:
            await self.send(error("invalid", f"saved run {run_id!r} cannot be opened: {exc}", "hello",
                                  field="run_id", value=run_id))
        return None

    def create(self, msg: p.Hello) -> LiveSession:
        config = RunConfig().with_changes(msg.config.model_dump(exclude_unset=True)) if msg.config else RunConfig()
        hyper = HyperState(**(msg.hyper.model_dump(exclude_none=True) if msg.hyper else {}))
        live = self.registry.create(config, hyper)
        if hyper.batch_size > live.session.data.n("train"):
            live.session.hyper.batch_size = live.session.data.n("train")
        if msg.updates_per_second is not None:
            live.updates_per_second = msg.updates_per_second
        if msg.playing:
            live.set_playing(True)
            self.registry.work.set()
        return live

    # -------------------------------------------------------------- watching

    def watch(self, live: LiveSession | None) -> None:
        """Show `live` from now on (None: show nothing)."""
        if self.sender is not None:
            self.sender.cancel()
            self.sender = None
        if self.live is not None and self.client is not None:
            self.live.clients.discard(self.client)
            self.live.last_seen = time.monotonic()
        previous, self.live, self.client = self.client, live, None
        if live is not None:
            self.client = Client(self.fps)
            if previous is not None:
                # One numbering per connection: acks of frames of the previous stream stay valid.
                self.client.seq = self.client.acked = previous.seq
            live.clients.add(self.client)
            self.sender = asyncio.create_task(self._send_frames(live, self.client))

    async def _announce(self, live: LiveSession, client: Client) -> None:
        """Send what a client needs to draw everything: session, dataset, history."""
        session = messages.session_message(live, client.fps)
        if self.mode == "follow":
            session["session_id"] = None  # a follower never learns the id of the teacher's session
        await self.send(session, messages.dataset_message(live), messages.history_message(live, client))
        client.rebuilds = live.rebuilds
        client.sent_version = -1

    async def _send_frames(self, live: LiveSession, client: Client) -> None:
        try:
            await self._announce(live, client)
            while client is self.client:  # a watch() of another stream ends this one
                if client.rebuilds != live.rebuilds:
                    await self._announce(live, client)
                if client.sent_version != live.session.version and client.seq - client.acked < MAX_UNACKED:
                    delay = client.next_send - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    # Paced from the schedule, not from when this frame went out, so the
                    # lateness of a turn does not add up into a lower frame rate.
                    client.next_send = max(client.next_send + 1.0 / client.fps, time.perf_counter())
                    if client is not self.client:
                        return
                    await self.send(messages.frame_bytes(live, client))
                    continue
                await client.wake.wait()  # a change or an ack
                client.wake.clear()
        except (asyncio.TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            # The client stopped reading or went away: close it; the session lives on.
            if self.ws.application_state == WebSocketState.CONNECTED:
                try:
                    await self.ws.close(code=1008)
                except Exception:  # noqa: BLE001 - already gone
                    pass


async def websocket_endpoint(websocket: WebSocket) -> None:
    app = websocket.app
    settings: Settings = app.state.settings
    if not origin_allowed(websocket, settings):
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    await websocket.accept()
    await Connection(websocket, app.state.registry, app.state.rooms, settings).run()
