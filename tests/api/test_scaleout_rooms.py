"""A classroom spread over two server processes sharing a real Redis: the teacher on
one, students on the other, in sync; room messages and the room status cross over;
the teacher's process killed, the room resumes on the other from its last snapshot."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.live import Peer as LivePeer
from support.live import peer
from support.redis_cluster import Cluster, cluster, requires_redis
from test_binary_frames import decode
from websockets.exceptions import ConnectionClosed

from app.server.cluster.store import RedisStore, connect
from app.server.ws import MAX_UNACKED
from app.training.persist import restore_session

pytestmark = requires_redis

CLOSE_MOVED = 4012
# Seconds a test waits for a message: the machine may be loaded (this is a limit, not a measurement).
PATIENCE = 30.0


@pytest.fixture()
def two(tmp_path: Path) -> Iterator[Cluster]:
    with cluster(tmp_path) as c:
        yield c


class Peer(LivePeer):
    """support.live's peer, patient (other processes share the machine's cores)."""

    async def recv(self, timeout: float = PATIENCE) -> tuple[dict[str, Any], int]:
        return await super().recv(timeout)

    async def until(self, match: Any, timeout: float = PATIENCE) -> dict[str, Any]:
        return await super().until(match, timeout)


class BinaryPeer(Peer):
    """A peer that asks for binary frames, as the page does, and decodes them."""

    async def recv(self, timeout: float = PATIENCE) -> tuple[dict[str, Any], int]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        msg = decode(raw) if isinstance(raw, bytes) else json.loads(raw)
        if msg["type"] == "frame":
            await self.send({"type": "ack", "seq": msg["seq"]})
        return msg, len(raw)


async def open_room(teacher: Peer) -> dict[str, Any]:
    await teacher.hello(playing=False)
    await teacher.send({"type": "room_create", "share_gallery": True})
    return await teacher.until(lambda m: m["type"] == "room")


async def join(student: Peer, code: str, name: str, **hello: Any) -> dict[str, Any]:
    """Join as a follower; returns the session message of the teacher's session."""
    await student.hello(**hello)
    await student.send({"type": "room_join", "code": code, "name": name})
    joined = await student.until(lambda m: m["type"] in ("room", "error"))
    assert joined["type"] == "room" and joined["mode"] == "follow", joined
    return await student.until(lambda m: m["type"] == "session")


async def rows_until(p: Peer, epoch: int) -> tuple[dict[str, Any], list[int]]:
    """Frames up to the first of `epoch`: that frame, and the update rows of every frame's history."""
    rows: list[int] = []
    while True:
        msg = await p.until(lambda m: m["type"] == "frame")
        rows += msg["history"]["steps"]
        if msg["epoch"] == epoch:
            return msg, rows


def frame_at(epoch: int) -> Any:
    return lambda m: m["type"] == "frame" and m["epoch"] == epoch


def test_students_on_another_process_follow_the_teacher_in_sync(two: Cluster) -> None:
    a, b = two.servers

    async def run() -> None:
        async with peer(a) as t_ws, peer(b) as s1_ws, peer(b) as s2_ws:
            teacher, first, second = Peer(t_ws), Peer(s1_ws), BinaryPeer(s2_ws)
            room = await open_room(teacher)
            await join(first, room["code"], "Ada")
            session = await join(second, room["code"], "Grace", frames="binary")
            assert session["session_id"] is None  # the teacher's session id stays secret on every process
            await teacher.send({"type": "set_hyper", "lr": 0.1})
            await teacher.send({"type": "step", "unit": "epoch", "count": 2})
            want, taught = await rows_until(teacher, 2)
            seen, followed = await rows_until(first, 2)
            assert seen["step"] == want["step"] and seen["layers"] == want["layers"]
            assert seen["hyper"]["lr"] == 0.1
            # The binary follower: the same numbers (paused: sent as float64, exact).
            binary = await second.until(frame_at(2))
            assert binary["step"] == want["step"]
            assert [layer["W"] for layer in binary["layers"]] == [layer["W"] for layer in want["layers"]]
            # The history rows of those updates reached the followers too (the charts draw them).
            assert followed == taught == list(range(1, want["step"] + 1))
            # Every seat is counted, wherever it is connected.
            status = await teacher.until(lambda m: m["type"] == "room_status" and m["students"] == 2)
            assert status["following"] == 2
            # A rebuild reaches the followers elsewhere as a new session message.
            await teacher.send({"type": "configure", "config": {"hidden": [3]}})
            for student in (first, second):
                again = await student.until(lambda m: m["type"] == "session")
                assert again["architecture"]["hidden"] == [3] and again["session_id"] is None

    asyncio.run(run())


def test_push_close_and_a_follower_elsewhere_forking_reach_across_processes(two: Cluster) -> None:
    a, b = two.servers

    async def run() -> None:
        async with peer(a) as t_ws, peer(b) as s_ws:
            teacher, student = Peer(t_ws), Peer(s_ws)
            room = await open_room(teacher)
            await join(student, room["code"], "Ada")
            await teacher.send({"type": "step", "unit": "update", "count": 7})
            await teacher.until(lambda m: m["type"] == "frame" and m["step"] == 7)
            await student.send({"type": "set_hyper", "lr": 0.5})  # a follower elsewhere cannot drive it
            refused = await student.until(lambda m: m["type"] == "error")
            assert refused["code"] == "forbidden" and "fork" in refused["message"]
            await student.send({"type": "fork"})
            assert (await student.until(lambda m: m["type"] == "room"))["mode"] == "fork"
            mine = await student.until(lambda m: m["type"] == "session")
            assert mine["session_id"] is not None
            forked = await student.until(lambda m: m["type"] == "frame")
            assert forked["step"] == 7  # the teacher's state as it was at the fork, not an older snapshot
            await teacher.send({"type": "room_push", "hyper": {"lr": 0.2}})
            told = await student.until(lambda m: m["type"] == "notice")
            assert "lr = 0.2" in told["text"]
            assert (await student.until(lambda m: m["type"] == "frame" and m["hyper"]["lr"] == 0.2))
            status = await teacher.until(lambda m: m["type"] == "room_status" and m["forked"] == 1)
            assert status["students"] == 1
            await teacher.send({"type": "room_close"})
            closed = await student.until(lambda m: m["type"] == "room_closed")
            assert closed["code"] == room["code"]

    asyncio.run(run())


def stored_step(c: Cluster, session_id: str) -> int | None:
    store = RedisStore(connect(c.redis_url))
    try:
        doc = store.get("session", session_id)
        return None if doc is None else restore_session(doc["state"]).step
    finally:
        store.close()


def test_killing_the_teachers_process_moves_the_room_to_the_other_with_its_last_snapshot(two: Cluster) -> None:
    a, b = two.servers

    async def run() -> None:
        async with peer(a) as t_ws, peer(b) as s_ws:
            teacher, student = Peer(t_ws), Peer(s_ws)
            session = (await teacher.hello(playing=False))
            await teacher.send({"type": "room_create", "share_gallery": True})
            room = await teacher.until(lambda m: m["type"] == "room")
            key = room["teacher_key"]
            await join(student, room["code"], "Ada")
            await teacher.send({"type": "step", "unit": "update", "count": 23})
            await teacher.until(lambda m: m["type"] == "frame" and m["step"] == 23)
            await student.until(lambda m: m["type"] == "frame" and m["step"] == 23)
            # Wait for the snapshot that holds step 23 (a round every 0.5 s).
            for _ in range(200):
                if await asyncio.to_thread(stored_step, two, session["session_id"]) == 23:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("no snapshot at step 23")
            a.kill()
            # Once the dead process's lease lapses the follower is let go, and reconnects (as the page does).
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await student.recv(timeout=PATIENCE)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_MOVED
        async with peer(b) as s_ws, peer(b) as t_ws:
            student = Peer(s_ws)
            resumed = await join(student, room["code"], "Ada")
            assert resumed["session_id"] is None
            frame = await student.until(lambda m: m["type"] == "frame")
            assert frame["step"] == 23  # nothing lost: the last snapshot had every step
            # The teacher comes back on the surviving process, still in charge of the room.
            teacher = Peer(t_ws)
            # (the room message and the session's may come in either order)
            await teacher.send({"type": "hello", "session_id": session["session_id"], "teacher_key": key})
            seen: dict[str, Any] = {}
            while len(seen) < 2:
                msg = await teacher.until(lambda m: m["type"] in ("session", "room", "error"))
                assert msg["type"] != "error", msg
                seen[msg["type"]] = msg
            again, back = seen["session"], seen["room"]
            assert again["session_id"] == session["session_id"]
            assert back["role"] == "teacher" and back["code"] == room["code"]
            await teacher.send({"type": "step", "unit": "update", "count": 2})
            assert (await student.until(lambda m: m["type"] == "frame" and m["step"] == 25))

    asyncio.run(run())


def test_the_teachers_lesson_step_reaches_students_elsewhere_and_their_progress_comes_back(two: Cluster) -> None:
    a, b = two.servers
    lesson = a.get_json("/api/lessons")["lessons"][0]

    async def run() -> None:
        async with peer(a) as t_ws, peer(b) as s_ws:
            teacher, student = Peer(t_ws), Peer(s_ws)
            room = await open_room(teacher)
            await join(student, room["code"], "Ada")
            await student.send({"type": "fork"})
            await student.until(lambda m: m["type"] == "room" and m["mode"] == "fork")
            await teacher.send({"type": "room_lesson", "id": lesson["id"], "step": 0})
            moved = await student.until(lambda m: m["type"] == "room_lesson")
            assert (moved["id"], moved["step"]) == (lesson["id"], 0)
            waiting = await teacher.until(lambda m: m["type"] == "room_status" and m["lesson"] is not None
                                          and m["lesson"]["waiting"] == ["Ada"])
            assert waiting["lesson"]["done"] == []
            await student.send({"type": "lesson_done", "id": lesson["id"], "step": 0})
            await teacher.until(lambda m: m["type"] == "room_status" and m["lesson"] is not None
                                and m["lesson"]["done"] == ["Ada"])
            # A new code reaches the seats elsewhere too.
            await teacher.send({"type": "room_new_code"})
            renewed = await teacher.until(lambda m: m["type"] == "room")
            assert renewed["code"] != room["code"]
            assert (await student.until(lambda m: m["type"] == "room"))["code"] == renewed["code"]

    asyncio.run(run())


def test_a_slow_follower_elsewhere_skips_frames_and_holds_up_nobody(two: Cluster) -> None:
    a, b = two.servers

    async def run() -> None:
        async with peer(a) as t_ws, peer(b) as fast_ws, peer(b) as slow_ws:
            teacher, fast, slow = Peer(t_ws), Peer(fast_ws), Peer(slow_ws)
            room = await open_room(teacher)
            await join(fast, room["code"], "Ada")
            await join(slow, room["code"], "Bob")  # from now on it reads nothing for a while
            for epoch in range(1, 7):
                await teacher.send({"type": "step", "unit": "epoch", "count": 1})
                await fast.until(frame_at(epoch))  # every state reaches the follower that reads
            epochs = []
            while not epochs or epochs[-1] != 6:
                msg = await slow.until(lambda m: m["type"] == "frame")
                epochs.append(msg["epoch"])
            # At most MAX_UNACKED frames were in flight while it did not read; then the newest state.
            assert len(epochs) <= MAX_UNACKED + 1 and epochs[-1] == 6, epochs

    asyncio.run(run())
