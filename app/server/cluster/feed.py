"""A room's frames across processes: published once where the session trains,
relayed to the followers connected elsewhere.

The process holding the lease of a room's session runs a `Publisher` while
another process has followers of it (they say so with a `watch` message every
`WATCH_SECONDS`; see `room_channels.py`). Each new state goes out once on the room's
channel, for each content (frame format and parts) some follower asked for:
the frame body is the one `messages.frame_bytes` encodes for the session's
own clients (the same cache entry), with the rows of history recorded since
the previous frame. An `announce` (the session, dataset and whole history
messages) goes out when a process starts watching and when the network or data
are rebuilt.

A process with followers keeps a `Feed`: the newest body of each content and
a `Mirror` of the history (the last announce's, with every frame's rows added).
Each follower is an ordinary `registry.Client`, with its own sequence numbers,
acks and pace (`ws.Connection` sends; a slow follower skips frames as it does
for a local session); its frame is its own head (seq, the history rows it has
not seen) spliced in front of the shared body, as `messages.frame_bytes` does.

Wire format of a channel message: one byte of kind (b"F" frame, b"A" announce,
b"M" room message), the header's length (4 bytes, little-endian), the header
(JSON), then the body: a JSON frame body, or a binary one as the length of its
header tail (4 bytes), the tail and the data.
"""

from __future__ import annotations

import asyncio
import struct
import time
from bisect import bisect_right
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from app import protocol as p
from app.protocol import binary_frame
from app.protocol.binary_frame import EncodedBody
from app.server import messages
from app.server.registry import Client, LiveSession
from app.server.shared_rows import SharedRows, frame_head

# A watching process repeats `watch` this often; a publisher stops when none came for 3 times as long.
WATCH_SECONDS = 1.0
LENGTH = struct.Struct("<I")
# The history a feed keeps, as a session's `History` does (its capacities).
STEP_ROWS, EPOCH_ROWS, CHANGE_ROWS = 3000, 800, 1000

Content = tuple[str, frozenset[str] | None]  # (frame format, parts), as `LiveSession.body_cache` keys it


def content_to_wire(content: Content) -> list[Any]:
    return [content[0], None if content[1] is None else sorted(content[1])]


def content_from_wire(raw: Any) -> Content:
    fmt, parts = raw
    if fmt not in ("json", "binary") or not (parts is None or isinstance(parts, list)):
        raise ValueError(f"not a frame content: {raw!r}")
    return str(fmt), None if parts is None else frozenset(str(x) for x in parts)


def pack(kind: bytes, header: Any, body: bytes | EncodedBody = b"") -> bytes:
    head = p.encode(header)
    if isinstance(body, EncodedBody):
        body = LENGTH.pack(len(body.header_tail)) + body.header_tail + body.data
    return kind + LENGTH.pack(len(head)) + head + body


def unpack(data: bytes) -> tuple[bytes, Any, bytes]:
    """(kind, header, body) of a channel message; ValueError when it is not one."""
    if len(data) < 5:
        raise ValueError("a channel message too short")
    (n,) = LENGTH.unpack_from(data, 1)
    return data[:1], orjson.loads(data[5:5 + n]), data[5 + n:]


def binary_body(raw: bytes) -> EncodedBody:
    (n,) = LENGTH.unpack_from(raw, 0)
    return EncodedBody(raw[4:4 + n], raw[4 + n:])


class Publisher:
    """Publishes the frames of `live` (trained here) for the followers of other processes."""

    def __init__(self, live: LiveSession, publish: Callable[[bytes], Awaitable[Any]]) -> None:
        self.live = live
        self.publish = publish
        # In the session's clients, so the training loop paces turns for these frames too; it never
        # waits for acks (a publish does not block: a slow follower skips frames where it is).
        self.client = Client(fps=1)
        self.wanted: dict[tuple[str, Content], float] = {}  # (process, content) -> monotonic time it lapses
        self.fps: dict[str, int] = {}  # process -> the highest frame rate its followers asked for
        self.announce = True
        self.wake = self.client.wake

    def want(self, process: str, contents: list[Content], fps: int) -> None:
        """`process` has followers wanting `contents` (renewed every WATCH_SECONDS)."""
        lapse = time.monotonic() + 3 * WATCH_SECONDS
        if not any(k[0] == process for k in self.wanted):
            self.announce = True  # its feed needs the session, dataset and history first
        for content in contents:
            if (process, content) not in self.wanted:
                self.client.sent_version = -1  # a new content: the state now goes out in it too
            self.wanted[(process, content)] = lapse
        self.fps[process] = fps
        self.client.fps = max(self.fps.values())
        self.wake.set()

    def contents(self) -> list[Content]:
        now = time.monotonic()
        for key in [k for k, lapse in self.wanted.items() if lapse < now]:
            del self.wanted[key]
        self.fps = {k: v for k, v in self.fps.items() if any(w[0] == k for w in self.wanted)}
        return sorted({content for _, content in self.wanted}, key=lambda c: (c[0], sorted(c[1] or ())))

    async def run(self) -> None:
        live, client = self.live, self.client
        live.clients.add(client)
        try:
            while not live.moved:
                contents = self.contents()
                if not contents:
                    return  # nobody elsewhere follows any more
                if self.announce or client.rebuilds != live.rebuilds:
                    await self.publish(self.announcement())
                    self.announce = False
                if client.sent_version != live.session.version:
                    delay = client.next_send - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        continue  # look again: rebuilt, moved or no longer wanted meanwhile
                    client.next_send = max(client.next_send + 1.0 / client.fps, time.perf_counter())
                    for message in self.frames(contents):
                        await self.publish(message)
                    continue
                self.wake.clear()
                try:
                    async with asyncio.timeout(WATCH_SECONDS):
                        await self.wake.wait()
                except TimeoutError:
                    pass
        finally:
            live.clients.discard(client)

    def announcement(self) -> bytes:
        live = self.live
        session = messages.session_message(live, self.client.fps)
        session["session_id"] = None  # a follower never learns the id of the teacher's session
        history = messages.history_message(live, self.client)  # the rows from here on go with frames
        self.client.rebuilds = live.rebuilds
        self.client.sent_version = -1
        return pack(b"A", {"rebuilds": live.rebuilds, "changes": live.session.history.change_count,
                           "session": session, "dataset": messages.dataset_message(live), "history": history})

    def frames(self, contents: list[Content]) -> list[bytes]:
        """One message per content: the body encoded once (shared with this process's own clients)."""
        live, client = self.live, self.client
        s = live.session
        history: Any = s.history.since(client.history_step, client.change_index)
        client.history_step, client.change_index = s.step, s.history.change_count
        client.sent_version = s.version
        client.seq += 1
        client.acked = client.seq
        out = []
        for content in contents:
            # A client that has seen all history: frame_bytes adds no rows, and leaves the body in the cache.
            probe = Client(client.fps, content[0], content[1])
            probe.history_step, probe.change_index = s.step, s.history.change_count
            messages.frame_bytes(live, probe)
            body = live.body_cache[content][1]
            out.append(pack(b"F", {"content": content_to_wire(content), "rebuilds": live.rebuilds,
                                   "drawn": live.playing and s.phase is None, "history": history,
                                   "changes": s.history.change_count}, body))
            history = None  # the rows go once, with the first content
        return out


class Mirror:
    """A followed session's history, as its frames brought it (capped as `History` is)."""

    def __init__(self, history: dict[str, Any], changes_total: int) -> None:
        self.steps: list[int] = list(history["steps"])
        self.batch_loss: list[Any] = list(history["batch_loss"])
        self.epochs: dict[str, list[Any]] = {k: list(v) for k, v in history["epochs"].items()}
        self.changes: list[Any] = list(history["changes"])
        self.changes_total = changes_total

    def add(self, rows: dict[str, Any], changes_total: int) -> None:
        """Rows recorded after those held (a frame's `history`)."""
        self.steps += rows["steps"]
        self.batch_loss += rows["batch_loss"]
        for k, v in rows["epochs"].items():
            self.epochs.setdefault(k, []).extend(v)
        self.changes += rows["changes"]
        self.changes_total = changes_total
        if len(self.steps) > STEP_ROWS:
            del self.steps[:-STEP_ROWS], self.batch_loss[:-STEP_ROWS]
        if len(self.epochs.get("step", ())) > EPOCH_ROWS:
            for column in self.epochs.values():
                del column[:-EPOCH_ROWS]
        del self.changes[:-CHANGE_ROWS]

    def since(self, step: int, changes_seen: int, epoch_limit: int | None) -> dict[str, Any]:
        """As `History.since`: rows after `step`, changes numbered `changes_seen` on."""
        start = bisect_right(self.steps, step)
        epoch_steps = self.epochs.get("step", [])
        first_epoch = bisect_right(epoch_steps, step)
        if epoch_limit is not None:
            first_epoch = max(first_epoch, len(epoch_steps) - epoch_limit)
        first_change = self.changes_total - len(self.changes)
        return {"steps": self.steps[start:], "batch_loss": self.batch_loss[start:],
                "epochs": {k: v[first_epoch:] for k, v in self.epochs.items()},
                "changes": self.changes[max(0, changes_seen - first_change):]}

    def last_step(self) -> int:
        return max(self.steps[-1] if self.steps else -1, (self.epochs.get("step") or [-1])[-1])


class Feed:
    """A room's session trained by another process, as this process's followers see it."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.clients: set[Client] = set()
        self.session: dict[str, Any] | None = None  # the announce's session message
        self.dataset = b""                           # the announce's dataset message, encoded once
        self.mirror: Mirror | None = None
        self.history_rows = SharedRows()  # the history rows of its followers' frame heads
        self.rebuilds = -1
        self.version = 0               # bumped by every frame received
        self.bodies: dict[Content, tuple[int, bool, bytes | EncodedBody]] = {}  # -> (version, drawn, body)
        self.ready = asyncio.Event()   # the first announce came
        self.moved = False             # the session came to this process, or is gone: followers reconnect
        self.last_heard = time.monotonic()
        self.last_seen = time.monotonic()  # as a LiveSession's: when a follower last left

    def contents(self) -> list[Content]:
        return sorted({(c.frames, c.parts) for c in self.clients}, key=lambda c: (c[0], sorted(c[1] or ())))

    def fps(self) -> int:
        return max((c.fps for c in self.clients), default=1)

    def notify(self) -> None:
        for client in self.clients:
            client.wake.set()

    def end(self) -> None:
        """Followers here are let go (the page reconnects and finds the session where it is now)."""
        self.moved = True
        self.notify()

    def receive(self, kind: bytes, header: dict[str, Any], body: bytes) -> None:
        self.last_heard = time.monotonic()
        if kind == b"A":
            doc = orjson.loads(body) if body else header
            self.session = doc["session"]
            self.dataset = p.encode(doc["dataset"])
            self.mirror = Mirror(doc["history"], int(doc["changes"]))
            self.rebuilds = int(doc["rebuilds"])
            self.ready.set()
            self.notify()
        elif kind == b"F" and self.mirror is not None:
            if header["history"] is not None:
                self.mirror.add(header["history"], int(header["changes"]))
            content = content_from_wire(header["content"])
            self.version += 1
            payload = binary_body(body) if content[0] == "binary" else body
            self.bodies[content] = (self.version, bool(header["drawn"]), payload)
            self.notify()

    def announce_messages(self, client: Client, fps: int, session_id: str | None = None) -> list[bytes]:
        """What a follower needs to draw everything: session, dataset, history; marks them sent.
        `session_id`: for a page whose own session it is (a student following a room never learns it)."""
        assert self.session is not None and self.mirror is not None
        session = {**self.session, "fps": fps, "session_id": session_id}
        history = self.mirror.since(-1, 0, None)
        client.history_step = self.mirror.last_step()
        client.change_index = self.mirror.changes_total
        client.rebuilds = self.rebuilds
        client.sent_version = -1
        return [p.encode(session), self.dataset, p.encode({"type": "history", **history})]

    def frame_bytes(self, client: Client) -> bytes | None:
        """The newest frame for `client` (None until a body of its content came)."""
        found = self.bodies.get((client.frames, client.parts))
        if found is None or self.mirror is None:
            return None
        version, drawn, body = found
        mirror = self.mirror
        drawn_only = client.parts is not None and "losses" not in client.parts and drawn
        seen, changes = client.history_step, client.change_index

        def rows() -> dict[str, Any]:
            history = mirror.since(seen, changes, messages.EPOCH_ROWS_PER_FRAME if drawn_only else None)
            if drawn_only:
                history["steps"], history["batch_loss"] = [], []
            return history

        last = mirror.last_step()
        history = self.history_rows.get((mirror, version, last, mirror.changes_total), (seen, changes, drawn_only), rows)
        client.history_step = last
        client.change_index = mirror.changes_total
        client.seq += 1
        client.sent_version = version
        head = frame_head(client.seq, history)
        if isinstance(body, EncodedBody):
            return binary_frame.frame_message(head, body)
        return head[:-1] + b"," + body[1:]
