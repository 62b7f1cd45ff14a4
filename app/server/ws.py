"""The websocket endpoint: receive, validate, call the session, send.

Each connection runs two tasks: this one reads and applies messages;
`_send_frames` sends the newest state when the client may take it. A frame
goes out only when (a) the session changed since the last one, (b) 1/fps has
passed, and (c) the client has acknowledged all but at most two earlier
frames (`MAX_UNACKED`). A client that stops reading therefore holds at most
three frames in flight and never makes the server queue or stall; a send
that still blocks for `send_timeout` seconds closes that client alone.

A connection watches one session at a time: its own, or (a student in a
room) the teacher's, read-only. Its `classroom.Seat` says which, and room
messages are handled in `classroom.py`; creating, finding, opening, saving,
stepping and controls in `service.py`, as over HTTP.

Every connection has a message budget (a token bucket): past it, messages
are dropped unread with one `rate_limited` error, and a client that keeps
sending regardless is closed with code 4429. Between two messages the
handler lets the event loop run, so a burst never holds up other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app import protocol as p
from app.server import classroom, messages, room_lessons
from app.server.cluster.feed import Feed
from app.server.lab import LabClient
from app.server.quotas import QuotaExceeded
from app.server.ratelimit import TokenBucket
from app.server.registry import Client, LiveSession
from app.server.service import Service, ServiceError, error
from app.server.storage import StoreUnavailable
from app.settings import Settings

if TYPE_CHECKING:
    from app.server.cluster.node import Node

# Frames a client may hold unacknowledged before the server waits for it. Acks are cumulative and
# the page acknowledges every second frame it draws (half the messages of an ack a frame), so it may
# hold one drawn frame unacknowledged: two more stay on their way, as with an ack a frame and two.
MAX_UNACKED = 3
# A frame due this soon goes at once. The training loop runs a session's turn just before its client's next
# frame is due (`scheduler.LEAD_SECONDS`, 2 ms), so the frame it makes is usually due a little later: sent then,
# it would cost a timer and one more wake of the sender for every frame. Pacing is unchanged: the next frame
# is due one interval after this one's due time, not after the moment it went.
SEND_EARLY_SECONDS = 0.003
# The close code for a client that kept sending past its message budget.
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_MANY_CONNECTIONS = 4430
# The session moved to another server process (several share Redis): the page reconnects and finds it there.
CLOSE_MOVED = 4012
# Handling queued messages lets the event loop run at least this often.
YIELD_SECONDS = 0.001


def hurry(client: Client, now: float) -> None:
    """Whoever moved a control sees its answer in the next frame, at once, without waiting out its frame
    interval (at 10 frames/s that wait alone is up to 100 ms). At most one frame an interval comes early
    this way, so a dragged slider (60 changes a second) cannot lift its frame rate past twice the rate
    asked for: the first change of a drag answers at once, the others with the frames of its pace."""
    if not client.hurried and now - client.last_hurry >= 1.0 / client.fps:
        client.hurried = True  # its next frame clears it
        client.last_hurry = now
        client.next_send = now
        if client.pausing is not None:
            _end_pause(client.pausing)  # its sender is waiting for the old time: it looks again


def _end_pause(waiting: asyncio.Future[None]) -> None:
    if not waiting.done():  # hurry may have ended it in the same turn of the loop
        waiting.set_result(None)


async def pause(client: Client, delay: float) -> None:
    """asyncio.sleep(delay), which `hurry` can end early (a future and a timer: as cheap as the sleep)."""
    loop = asyncio.get_running_loop()
    client.pausing = waiting = loop.create_future()
    timer = loop.call_later(delay, _end_pause, waiting)
    try:
        await waiting
    finally:
        timer.cancel()
        client.pausing = None


class Connection:
    """One browser tab's websocket and the session it watches."""

    def __init__(self, websocket: WebSocket, service: Service, address: str) -> None:
        self.ws = websocket
        self.service = service
        self.classroom = classroom.Classroom(service)
        self.room_lessons = room_lessons.RoomLessons(self.classroom, room_lessons.LessonSteps(lambda: websocket.app.state))
        self.settings: Settings = service.settings
        self.address = address
        self.budget = TokenBucket(self.settings.ws_messages_per_second, self.settings.ws_message_burst)
        self.refused_in_a_row = 0
        self.seat = classroom.Seat(address, self.send, self._stream)
        link = service.rooms.link
        self.node: Node | None = link.node if link is not None else None  # with Redis: this process among others
        self.streamed: LiveSession | Feed | None = None  # the session whose frames go out (`seat.shown`)
        self.client: Client | None = None         # its flow control
        self.sender: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()
        self.fps = 30
        self.frames = "json"                          # the frame format asked for in hello
        self.parts: frozenset[str] | None = None      # the optional parts asked for (None: every one)
        self.inspect: tuple[int, str, int, int] | None = None  # the parameter watched (`inspect`)
        self.jobs = LabClient(service.lab, address, self.settings.lab_jobs_per_client, self.send)
        self.measuring: set[asyncio.Task[None]] = set()  # `importance` answers on their way
        self.looking = 0  # `histograms` and `rewind` answers being computed (in threads)

    @property
    def live(self) -> LiveSession | None:
        """The session shown (None too while following a room trained by another process: `feed`)."""
        shown = self.seat.shown
        return shown if isinstance(shown, LiveSession) else None

    @property
    def feed(self) -> Feed | None:
        """The room followed, when another server process trains its session (Redis only)."""
        shown = self.seat.shown
        return shown if isinstance(shown, Feed) else None

    # ---------------------------------------------------------------- sending

    async def send(self, *messages: Mapping[str, Any] | bytes) -> None:
        """Send messages in order, with nothing of this connection's in between."""
        data = [(m if isinstance(m, bytes) else p.encode(m)).decode() for m in messages]
        async with self.send_lock:
            for text in data:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                # that arrives as the send completes, and a cancelled frame sender
                # would then live on; it also costs a task per send.
                async with asyncio.timeout(self.settings.send_timeout):
                    await self.ws.send_text(text)

    async def send_frame(self, data: bytes, binary: bool) -> None:
        """Send one frame as its client asked: a binary message, or JSON text."""
        async with self.send_lock:
            async with asyncio.timeout(self.settings.send_timeout):
                if binary:
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_text(data.decode())

    async def run(self) -> None:
        last_yield = time.perf_counter()
        if self.node is not None:
            self.node.watchers.add(self.send)  # told when the shared store goes and comes back
        try:
            while True:
                event = await self.ws.receive()
                if event["type"] == "websocket.disconnect":
                    break
                if not self.budget.take():
                    if await self.over_budget():
                        break
                    continue
                self.refused_in_a_row = 0
                text = event.get("text")
                # The size limit is in bytes: measure text as the UTF-8 it came as.
                raw = text.encode() if text is not None else event.get("bytes") or b""
                seq = p.ack_seq(raw)  # the message of every frame, taken without parsing when it can be
                if seq is None or not self.ack(seq):
                    await self.handle(raw)
                # Messages already queued are read without a pause: a burst must not hold up
                # everyone else, so let the loop run once handling has taken YIELD_SECONDS
                # (not after every message: an ack per frame would pay a loop turn each).
                if time.perf_counter() - last_yield >= YIELD_SECONDS:
                    await asyncio.sleep(0)
                    last_yield = time.perf_counter()
        except (WebSocketDisconnect, TimeoutError, RuntimeError):
            pass
        finally:
            if self.node is not None:
                self.node.watchers.discard(self.send)
            self.jobs.leave()  # a client that leaves cancels its background jobs
            self.seat.show(None)
            self.classroom.leave(self.seat)

    async def over_budget(self) -> bool:
        """A message past the budget: dropped unread. Says so once; closes the
        connection when the client keeps on. Returns True when closed."""
        self.refused_in_a_row += 1
        rate, burst = self.settings.ws_messages_per_second, self.settings.ws_message_burst
        if self.refused_in_a_row >= self.settings.ws_refused_before_close:
            await self.ws.close(code=CLOSE_RATE_LIMITED, reason="rate_limited: kept sending past the message budget")
            return True
        if self.refused_in_a_row == 1:
            await self.send(error("rate_limited", f"too many messages: at most {rate:g} a second (bursts of "
                                  f"{burst}); messages are dropped for {self.budget.wait_seconds():.2f} s",
                                  allowed=f"at most {rate:g} messages a second"))
        return False

    # --------------------------------------------------------------- receiving

    async def handle(self, raw: str | bytes) -> None:
        try:
            msg = p.parse_client_message(raw)
        except p.ProtocolError as exc:
            await self.send(exc.error.model_dump())
            return
        kind: str = getattr(msg, "type")  # noqa: B009 - every client message has one; the union is typed BaseModel
        try:
            await self.dispatch(kind, msg)
        except StoreUnavailable as exc:  # Redis down: this message cannot be served; the socket stays
            # Named as the answer to `kind`, so the page says it where that message was sent from (a save card...).
            await self.send(error("unavailable", f"the shared store cannot be reached ({exc}); what is open goes "
                                  "on; try again in a few seconds", kind, allowed="try again in a few seconds"))

    def ack(self, seq: int) -> bool:
        """Take the acknowledgement of frame `seq`: False, taking nothing, when no session is shown or
        `seq` was never sent (`dispatch` then says which)."""
        client = self.client
        if client is None or self.seat.shown is None or seq > client.seq:
            return False
        held = client.seq - client.acked >= MAX_UNACKED
        client.acked = max(client.acked, seq)
        if held:
            client.wake.set()  # its sender waits for this ack; any other ack changes nothing it waits on
        return True

    async def dispatch(self, kind: str, msg: Any) -> None:
        if isinstance(msg, p.Hello):
            await self.hello(msg)
            return
        if self.feed is not None and self.client is not None and not isinstance(msg, (p.Ack, p.SetFps, p.Views)):
            await self.followed_elsewhere(kind, msg)
            return
        if self.seat.shown is None or self.client is None:
            await self.send(error("no_session", f"'{kind}' needs a session: send a hello message first", kind,
                                  allowed="send hello first"))
            return
        if isinstance(msg, p.Ack):
            if not self.ack(msg.seq):
                await self.send(error("invalid", f"seq {msg.seq} was never sent; the last frame sent is "
                                      f"{self.client.seq}", "ack", field="seq", value=msg.seq,
                                      allowed=f"0 to {self.client.seq}"))
            return
        if isinstance(msg, p.SetFps):
            self.fps = self.client.fps = msg.fps
            return
        if isinstance(msg, p.Views):
            self.parts = self.client.parts = frozenset(msg.parts)
            self.client.sent_version = -1  # the newest state again, with what this client draws now
            self.client.wake.set()
            return
        if isinstance(msg, p.Inspect):
            await self.watch(msg)
            return
        if isinstance(msg, p.Importance):
            # Answered when measured, in a task: meanwhile this connection reads its acks and messages.
            task = asyncio.create_task(self.importance(msg))
            self.measuring.add(task)
            task.add_done_callback(self.measuring.discard)
            return
        if isinstance(msg, (p.Histograms, p.Rewind)):
            task = asyncio.create_task(self.look(msg))  # answered when computed, as `importance` is
            self.measuring.add(task)
            task.add_done_callback(self.measuring.discard)
            return
        if kind in p.CONTROL_MESSAGES:
            await self.control(kind, msg)
            return
        if kind in p.JOB_MESSAGES:
            await self.job(kind, msg)
            return
        if isinstance(msg, p.Save):
            await self.save(msg)
            return
        await self.handle_room(msg)

    async def handle_room(self, msg: Any) -> None:
        if isinstance(msg, (p.RoomLesson, p.LessonDone)):
            await self.room_lessons.handle(self.seat, msg)
            return
        await self.classroom.handle(self.seat, msg)

    async def control(self, kind: str, msg: Any) -> None:
        live = self.live
        assert live is not None
        if self.seat.mode == "follow":
            await self.send(error("forbidden", "you are following the teacher's session, which is read-only; "
                                  "fork it to experiment in a copy of your own", kind, allowed="fork"))
            return
        try:
            self.service.check_key(live, self.seat.teacher_key, kind)
            if self.client is not None:
                # Before the change wakes the session's clients (`LiveSession.notify`), so that this
                # one's frame goes first: a room's hundreds of followers do not hold up the teacher's.
                hurry(self.client, time.perf_counter())
            if isinstance(msg, p.Step):
                await self.service.step(live, msg.unit, msg.count)
            else:
                self.service.control(live, msg)
        except ServiceError as exc:
            await self.send(exc.error.model_dump())
            return

    async def job(self, kind: str, msg: Any) -> None:
        """Start or cancel a background job of the lab on the session shown (not a followed one)."""
        live = self.live
        assert live is not None
        if self.seat.mode == "follow":
            await self.send(error("forbidden", "you are following the teacher's session, which is read-only; "
                                  "fork it to run cross-validation or a search on a copy of your own", kind,
                                  allowed="fork"))
            return
        try:
            self.service.check_key(live, self.seat.teacher_key, kind)
            if isinstance(msg, p.CancelJob):
                if not self.jobs.cancel(msg.job_id):
                    await self.send(error("invalid", f"job_id: you have no background job {msg.job_id!r} running "
                                          "or waiting", kind, field="job_id", value=msg.job_id,
                                          allowed="the id of one of your jobs that has not finished"))
                return
            await self.jobs.start(live, msg)
        except ServiceError as exc:
            await self.send(exc.error.model_dump())

    async def importance(self, msg: p.Importance) -> None:
        """Answer `importance` for the session shown (a follower's too: it reads what its frames show)."""
        live = self.live
        assert live is not None
        try:
            if self.seat.mode != "follow":
                self.service.check_key(live, self.seat.teacher_key, "importance")
            answer = await self.jobs.importance(live, msg.repeats)
        except ServiceError as exc:
            answer = exc.error.model_dump()
        with contextlib.suppress(Exception):  # the client may have gone meanwhile
            await self.send(answer)

    async def look(self, msg: p.Histograms | p.Rewind) -> None:
        """Answer `histograms` or `rewind`: read-only looks at the session's record (a follower's too),
        rebuilt in a thread from a copy of the record taken now, at most `lab_jobs_per_client` at once."""
        live = self.live
        assert live is not None
        s = live.session
        most = self.settings.lab_jobs_per_client
        answer: Mapping[str, Any]
        try:
            if self.seat.mode != "follow":
                self.service.check_key(live, self.seat.teacher_key, msg.type)
            if self.looking >= most:
                raise ServiceError(429, p.ErrorMessage(
                    code="limit", request=msg.type, field="type", value=msg.type,
                    allowed=f"at most {most} histograms or rewind requests at once",
                    message=f"{self.looking} histograms or rewind answers are being computed for you, the most "
                            "allowed; wait for them"))
            record = s.record()
            self.looking += 1
            try:
                if isinstance(msg, p.Histograms):
                    answer = await asyncio.to_thread(messages.histograms_answer, record, s.histograms, msg.kind,
                                                     s.fast)
                else:
                    answer = await asyncio.to_thread(messages.rewound_answer, record, s.histograms, msg.step, s.fast)
            finally:
                self.looking -= 1
        except ServiceError as exc:
            answer = exc.error.model_dump()
        except ValueError as exc:  # rewind: nothing recorded at or before the step
            answer = error("invalid", f"step: {exc}; rewind to a step from the record's first on", msg.type,
                           field="step", value=getattr(msg, "step", None),
                           allowed="a step at or after the record's first (see the histograms' steps)")
        with contextlib.suppress(Exception):  # the client may have gone meanwhile
            await self.send(answer)

    async def watch(self, msg: p.Inspect) -> None:
        """Answer `inspect` with the parameter's exact numbers now, and carry them in every later frame."""
        assert self.live is not None and self.client is not None
        if msg.layer is None:
            self.inspect = self.client.inspect = None
            return
        answer = messages.inspected_message(self.live, msg.layer, msg.kind, msg.i, msg.j)
        if answer is None:
            await self.send(self._no_such_parameter(msg).model_dump())
            return
        self.inspect = self.client.inspect = (msg.layer, msg.kind, msg.i, msg.j)
        await self.send(answer)

    def _no_such_parameter(self, msg: p.Inspect) -> p.ErrorMessage:
        """The error for an `inspect` naming no weight or bias of this network: which index, and what is allowed."""
        arch = self.live.session.architecture() if self.live is not None else None
        counts = [arch["n_inputs"], *arch["hidden"], arch["n_outputs"]] if arch else [0]
        n_layers = len(counts) - 1
        if msg.layer is None or msg.layer >= n_layers:
            field, value, allowed = "layer", msg.layer, f"0 to {n_layers - 1}"
        elif msg.kind == "b" and msg.i != 0:
            field, value, allowed = "i", msg.i, "0 (a bias has no i)"
        elif msg.kind == "W" and msg.i >= counts[msg.layer]:
            field, value, allowed = "i", msg.i, f"0 to {counts[msg.layer] - 1}"
        else:
            field, value, allowed = "j", msg.j, f"0 to {counts[msg.layer + 1] - 1}"
        return p.ErrorMessage(code="invalid", request="inspect", field=field, value=value, allowed=allowed,
                              message=f"{field}: layer {msg.layer} has no {'weight' if msg.kind == 'W' else 'bias'} "
                                      f"there (got {value}); allowed: {allowed}")

    async def save(self, msg: p.Save) -> None:
        """Save the session shown (a follower saves the teacher's, as a copy of its own: see fork)."""
        assert self.live is not None
        try:
            saved = await self.service.save(self.address, self.live, msg.name, "save")
        except ServiceError as exc:
            await self.send(exc.error.model_dump())
            return
        await self.send(p.Saved(type="saved", run_id=saved["run_id"], name=saved["name"], link=saved["link"]))

    async def _follow_moved(self, live: LiveSession) -> None:
        """`live` moved to another process (a tab or device opened it there): follow it from there,
        read-only, rather than take it back (two tabs would pull it to and fro). Closed with
        CLOSE_MOVED, for the page to reconnect, when it cannot be followed."""
        shown: Feed | None = None
        if self.node is not None and self.seat.shown is live:
            with contextlib.suppress(StoreUnavailable):
                shown = await self.node.follow_moved(live.id)
        if self.seat.shown is not live:
            return  # the page moved on meanwhile
        if shown is None:
            with contextlib.suppress(Exception):
                await self.ws.close(code=CLOSE_MOVED, reason="moved: the session is in another server process")
            return
        if self.seat.own is live:
            self.seat.own = None  # not this page's to drive any more
        self.seat.show(shown)
        if self.seat.room is None:
            await self.send(p.Notice(type="notice", text="This session is now driven from another tab or device; "
                                     "this page follows it, read-only. Reload the page to drive it here."))

    async def followed_elsewhere(self, kind: str, msg: Any) -> None:
        """A message while following a session another process trains (a room's, or one another tab
        drives): room messages only, in a room (what reads or drives the session needs it here)."""
        reads_or_drives = kind in p.CONTROL_MESSAGES or kind in p.JOB_MESSAGES or isinstance(
            msg, (p.Inspect, p.Importance, p.Histograms, p.Rewind, p.Save))
        if self.seat.room is None or (reads_or_drives and self.seat.mode != "follow"):
            await self.send(error("forbidden", f"'{kind}': this session is driven from another tab or device; "
                                  "reload the page to drive it here", kind, allowed="reload the page"))
            return
        if reads_or_drives:
            await self.send(error("forbidden", f"'{kind}' is not available while following a room whose session "
                                  "another server process trains; fork it to work on a copy of your own", kind,
                                  allowed="fork"))
            return
        await self.handle_room(msg)

    async def hello(self, msg: p.Hello) -> None:
        try:
            if self.node is not None and msg.session_id:
                await self.claim(msg.session_id)
            live = await self.find_or_create(msg)
        except ServiceError as exc:
            await self.send(exc.error.model_dump())
            return
        except StoreUnavailable as exc:
            await self.send(error("unavailable", f"the shared store cannot be reached ({exc}); sessions "
                                  "already open go on; try again in a few seconds", "hello",
                                  allowed="try again in a few seconds"))
            return
        self.fps = msg.fps
        self.frames = msg.frames
        self.parts = None if msg.parts is None else frozenset(msg.parts)
        self.inspect = None
        self.classroom.leave(self.seat)
        self.seat.teacher_key = msg.teacher_key
        self.seat.own = live
        self.seat.show(live)
        if live.owned_by(self.seat.teacher_key):
            await self.classroom.resume_teacher(self.seat, live)

    async def claim(self, session_id: str) -> None:
        """Bring `session_id` to this process (several share Redis): the process training it hands it over."""
        from app.server.cluster.node import HeldElsewhere

        assert self.node is not None
        try:
            await self.node.claim(session_id)
        except HeldElsewhere as exc:
            raise ServiceError(503, p.ErrorMessage(code="unavailable", request="hello", field="session_id",
                                                   value=session_id, allowed="try again in a few seconds",
                                                   message=str(exc))) from None

    async def find_or_create(self, msg: p.Hello) -> LiveSession:
        """The session a hello names (resumed, or a saved run opened), or a new one."""
        # A room's session is its teacher's: students reach it by the room's code.
        live = await self.service.find(msg.session_id, msg.teacher_key, "hello") if msg.session_id else None
        if live is None and msg.run_id:
            return await self.service.open_run(self.address, msg.run_id, "hello")
        if live is not None:
            return live
        if msg.session_id and msg.config is None:
            raise ServiceError(404, p.ErrorMessage(
                code="no_session", request="hello", field="session_id", value=msg.session_id,
                allowed="a live session id, or a config to start a new session",
                message=f"session {msg.session_id!r} is not known to this server"))
        return self.service.create(self.address, msg.config, msg.hyper, "hello", playing=msg.playing,
                                   updates_per_second=msg.updates_per_second)

    # -------------------------------------------------------------- watching

    def _stream(self, live: LiveSession | Feed | None) -> None:
        """Stream the frames of `live` from now on, and no other's (None: none);
        called by `seat.show`, which has already made `live` the session shown."""
        if self.sender is not None:
            self.sender.cancel()
            self.sender = None
        if self.streamed is not None and self.client is not None:
            self.streamed.clients.discard(self.client)
            self.streamed.last_seen = time.monotonic()
        if live is not self.streamed:
            self.inspect = None  # a parameter watched in another session means nothing in this one
        previous, self.streamed, self.client = self.client, live, None
        if live is not None:
            self.client = Client(self.fps, self.frames, self.parts, self.inspect)
            if previous is not None:
                # One numbering per connection: acks of frames of the previous stream stay valid.
                self.client.seq = self.client.acked = previous.seq
            live.clients.add(self.client)
            if isinstance(live, Feed):
                assert self.node is not None
                self.node.watch(live)  # the process training it now publishes what this client draws
                self.sender = asyncio.create_task(self._relay_frames(live, self.client))
            else:
                self.sender = asyncio.create_task(self._send_frames(live, self.client))

    async def _announce(self, live: LiveSession, client: Client) -> None:
        """Send what a client needs to draw everything: session, dataset, history."""
        session = messages.session_message(live, client.fps)
        if self.seat.mode == "follow":
            session["session_id"] = None  # a follower never learns the id of the teacher's session
        await self.send(session, messages.dataset_message(live), messages.history_message(live, client))
        client.rebuilds = live.rebuilds
        client.sent_version = -1

    async def _send_frames(self, live: LiveSession, client: Client) -> None:
        try:
            await self._announce(live, client)
            while client is self.client:  # a _stream() of another session ends this one
                if live.moved:
                    # Another tab or device took it to another process: this one follows it from there
                    # (in a task of its own: showing another session ends this sender).
                    task = asyncio.create_task(self._follow_moved(live))
                    self.measuring.add(task)
                    task.add_done_callback(self.measuring.discard)
                    return
                if client.rebuilds != live.rebuilds:
                    await self._announce(live, client)
                if client.sent_version != live.session.version and client.seq - client.acked < MAX_UNACKED:
                    delay = client.next_send - time.perf_counter()
                    if delay > SEND_EARLY_SECONDS:
                        await pause(client, delay)
                        continue  # once more from the top: rebuilt meanwhile, or brought forward (hurry)
                    # Paced from the schedule, not from when this frame went out, so the
                    # lateness of a turn does not add up into a lower frame rate.
                    client.next_send = max(client.next_send + 1.0 / client.fps, time.perf_counter())
                    client.hurried = False
                    if client is not self.client:
                        return
                    await self.send_frame(messages.frame_bytes(live, client), client.frames == "binary")
                    continue
                await client.wake.wait()  # a change or an ack
                client.wake.clear()
        except (TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            await self._let_go()

    async def _relay_frames(self, feed: Feed, client: Client) -> None:
        """`_send_frames` for a room trained by another process: the frames its feed relays."""
        try:
            await feed.ready.wait()
            while client is self.client:
                if feed.moved:
                    await self.ws.close(code=CLOSE_MOVED, reason="moved: the room's session is elsewhere now")
                    return
                if client.rebuilds != feed.rebuilds:
                    # A student following a room never learns its session id; a page whose own session
                    # another tab drives keeps it (a reload drives it again).
                    mine = self.seat.mode != "follow"
                    await self.send(*feed.announce_messages(client, client.fps, feed.session_id if mine else None))
                    continue
                newest = feed.bodies.get((client.frames, client.parts))
                if newest is not None and client.sent_version != newest[0] and client.seq - client.acked < MAX_UNACKED:
                    delay = client.next_send - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        continue  # the newest again after the pause
                    client.next_send = max(client.next_send + 1.0 / client.fps, time.perf_counter())
                    data = feed.frame_bytes(client)
                    if data is not None and client is self.client:
                        await self.send_frame(data, client.frames == "binary")
                    continue
                await client.wake.wait()  # a frame relayed, or an ack
                client.wake.clear()
        except (TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            await self._let_go()

    async def _let_go(self) -> None:
        """The client stopped reading or went away: close it; the session lives on."""
        if self.ws.application_state == WebSocketState.CONNECTED:
            try:
                await self.ws.close(code=1008)
            except Exception:
                pass


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Host and Origin were checked by `guard.RequestGuard` before this runs."""
    service: Service = websocket.app.state.service
    address = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()
    try:
        service.quotas.connect(address)
    except QuotaExceeded as exc:
        await websocket.send_text(p.encode(error("limit", str(exc), allowed=exc.allowed)).decode())
        await websocket.close(code=CLOSE_TOO_MANY_CONNECTIONS, reason="limit: too many connections")
        return
    try:
        await Connection(websocket, service, address).run()
    finally:
        service.quotas.disconnect(address)
