"""The websocket endpoint: receive, validate, call the session, send.

Each connection runs two tasks: this one reads and applies control messages;
`_send_frames` sends the newest state when the client may take it. A frame
goes out only when (a) the session changed since the last one, (b) 1/fps has
passed, and (c) the client has acknowledged all but at most one earlier
frame. A client that stops reading therefore holds at most two frames in
flight and never makes the server queue or stall; a send that still blocks
for `send_timeout` seconds closes that client alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app import protocol as p
from app.server import controls, messages
from app.server.registry import Client, LiveSession, Registry, RegistryFull
from app.settings import Settings
from app.training.config import HyperState, RunConfig
from app.training.session import SessionError

log = logging.getLogger("paramlab.ws")

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


def error_dict(error: p.ErrorMessage) -> dict[str, Any]:
    return error.model_dump()


def session_error(exc: SessionError, request: str) -> dict[str, Any]:
    return error_dict(p.ErrorMessage(code=exc.code, request=request, field=exc.field, value=exc.value,
                                     allowed=exc.allowed, message=str(exc)))


class Connection:
    """One browser tab's websocket and the session it watches."""

    def __init__(self, websocket: WebSocket, registry: Registry, settings: Settings) -> None:
        self.ws = websocket
        self.registry = registry
        self.settings = settings
        self.live: LiveSession | None = None
        self.client: Client | None = None
        self.sender: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        data = p.encode(message).decode()
        async with self.send_lock:
            await asyncio.wait_for(self.ws.send_text(data), timeout=self.settings.send_timeout)

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
            self.detach()

    async def handle(self, raw: str | bytes) -> None:
        try:
            msg = p.parse_client_message(raw)
        except p.ProtocolError as exc:
            await self.send(error_dict(exc.error))
            return
        kind = getattr(msg, "type")
        if isinstance(msg, p.Hello):
            await self.hello(msg)
            return
        if self.live is None or self.client is None:
            await self.send(error_dict(p.ErrorMessage(
                code="no_session", request=kind, allowed="send hello first",
                message=f"'{kind}' needs a session: send a hello message first")))
            return
        if isinstance(msg, p.Ack):
            if msg.seq > self.client.seq:
                await self.send(error_dict(p.ErrorMessage(
                    code="invalid", request="ack", field="seq", value=msg.seq, allowed=f"0 to {self.client.seq}",
                    message=f"seq {msg.seq} was never sent; the last frame sent is {self.client.seq}")))
                return
            self.client.acked = max(self.client.acked, msg.seq)
            self.client.wake.set()
            return
        if isinstance(msg, p.SetFps):
            self.client.fps = msg.fps
            return
        try:
            rebuilt = controls.apply(self.live, msg)
        except SessionError as exc:
            await self.send(session_error(exc, kind))
            return
        if self.live.playing:
            self.registry.work.set()
        if rebuilt:
            await self.announce(self.live)

    async def hello(self, msg: p.Hello) -> None:
        live = self.registry.get(msg.session_id) if msg.session_id else None
        if msg.session_id and live is None and msg.config is None:
            await self.send(error_dict(p.ErrorMessage(
                code="no_session", request="hello", field="session_id", value=msg.session_id,
                allowed="a live session id, or a config to start a new session",
                message=f"session {msg.session_id!r} is not known to this server")))
            return
        if live is None:
            try:
                live = self.create(msg)
            except RegistryFull as exc:
                await self.send(error_dict(p.ErrorMessage(code="limit", request="hello", message=str(exc),
                                                          allowed=f"at most {self.registry.max_sessions} sessions")))
                return
            except (SessionError, ValueError) as exc:
                await self.send(error_dict(p.ErrorMessage(code="invalid", request="hello", field="config",
                                                          message=str(exc))))
                return
        self.detach()
        self.live = live
        self.client = Client(msg.fps)
        live.clients.add(self.client)
        await self.announce(live)
        self.sender = asyncio.create_task(self._send_frames(live, self.client))

    def create(self, msg: p.Hello) -> LiveSession:
        config = RunConfig().with_changes(msg.config.model_dump(exclude_unset=True)) if msg.config else RunConfig()
        hyper = HyperState(**(msg.hyper.model_dump(exclude_none=True) if msg.hyper else {}))
        live = self.registry.create(config, hyper)
        if hyper.batch_size > live.session.data.n("train"):
            live.session.hyper.batch_size = live.session.data.n("train")
        if msg.playing:
            live.set_playing(True)
            self.registry.work.set()
        return live

    async def announce(self, live: LiveSession) -> None:
        """Send what a client needs to draw everything: session, dataset, history."""
        client = self.client
        assert client is not None
        await self.send(messages.session_message(live, client.fps))
        await self.send(messages.dataset_message(live))
        await self.send(messages.history_message(live, client))
        client.sent_version = -1
        client.wake.set()

    async def _send_frames(self, live: LiveSession, client: Client) -> None:
        try:
            while True:
                await client.wake.wait()
                client.wake.clear()
                if client.sent_version == live.session.version:
                    continue
                if client.seq - client.acked >= MAX_UNACKED:
                    continue  # the next ack wakes us
                delay = client.next_send - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                client.next_send = time.perf_counter() + 1.0 / client.fps
                await self.send(messages.frame_message(live, client))
        except (asyncio.TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            # The client stopped reading or went away: close it; the session lives on.
            if self.ws.application_state == WebSocketState.CONNECTED:
                try:
                    await self.ws.close(code=1008)
                except Exception:  # noqa: BLE001 - already gone
                    pass

    def detach(self) -> None:
        if self.sender is not None:
            self.sender.cancel()
            self.sender = None
        if self.live is not None and self.client is not None:
            self.live.clients.discard(self.client)
            self.live.last_seen = time.monotonic()
        self.live = self.client = None


async def websocket_endpoint(websocket: WebSocket) -> None:
    app = websocket.app
    settings: Settings = app.state.settings
    if not origin_allowed(websocket, settings):
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    await websocket.accept()
    await Connection(websocket, app.state.registry, settings).run()
