"""Nothing lost: a server killed mid-training (SIGKILL, no goodbye) resumes every
session and room from the store when it starts again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from support.live import Peer, peer
from support.server import Server
from support.stored import stored_session


def start(tmp_path: Path) -> Server:
    """A server whose store is a SQLite file in `tmp_path/data`, snapshotting every half second."""
    env = {"PARAMLAB_STORE": "sqlite", "PARAMLAB_DATA_DIR": str(tmp_path / "data"),
           "PARAMLAB_SNAPSHOT_SECONDS": "0.5"}
    return Server(tmp_path / f"uvicorn-{len(list(tmp_path.glob('*.log')))}.log", env).start()


def test_a_killed_server_resumes_sessions_and_rooms(tmp_path: Path) -> None:
    first = start(tmp_path)
    state: dict[str, Any] = {}

    async def before_kill() -> None:
        async with peer(first) as ws:
            p = Peer(ws)
            session = await p.hello(config={"hidden": [6, 3]}, hyper={"lr": 0.1}, playing=True)
            await p.send({"type": "room_create"})
            room = await p.until(lambda m: m["type"] == "room")
            await p.send({"type": "set_hyper", "momentum": 0.5})
            frame = await p.until(lambda m: m["type"] == "frame" and m["step"] > 500, timeout=20)
            # Killed only once the store holds a snapshot from after this frame.
            await asyncio.to_thread(stored_session, tmp_path / "data", session["session_id"],
                                    lambda s: s.step >= frame["step"] and s.hyper.momentum == 0.5)
            state.update(session_id=session["session_id"], room=room, step=frame["step"])

    asyncio.run(before_kill())
    first.kill()

    second = start(tmp_path)
    try:
        async def after_restart() -> None:
            async with peer(second) as ws:
                p = Peer(ws)
                await p.send({"type": "hello", "session_id": state["session_id"],
                               "teacher_key": state["room"]["teacher_key"]})
                seen: dict[str, Any] = {}
                while "history" not in seen:
                    msg, _ = await p.recv(timeout=30)
                    seen[msg["type"]] = msg
                session, p.history = seen["session"], seen["history"]
                assert session["session_id"] == state["session_id"]
                assert session["architecture"]["hidden"] == [6, 3]
                assert session["hyper"]["momentum"] == 0.5 and session["hyper"]["lr"] == 0.1
                # The history came back with it, up to the last snapshot at least.
                assert p.history["steps"][-1] >= state["step"]
                assert [c["field"] for c in p.history["changes"]] == ["momentum"]
                # It was playing when killed: it plays on.
                frame = await p.until(lambda m: m["type"] == "frame" and m["step"] > state["step"] + 100,
                                      timeout=20)
                assert frame["playing"] is True
                # The teacher is back in charge of the room, and students can join it.
                room = seen["room"]
                assert room["code"] == state["room"]["code"] and room["role"] == "teacher"
                await p.send({"type": "set_hyper", "lr": 0.2})
                changed = await p.until(lambda m: m["type"] in ("frame", "error") and (
                    m["type"] == "error" or m["hyper"]["lr"] == 0.2))
                assert changed["type"] == "frame"
            async with peer(second) as ws:
                student = Peer(ws)
                await student.hello()
                await student.send({"type": "room_join", "code": state["room"]["code"], "name": "Ada"})
                joined = await student.until(lambda m: m["type"] in ("room", "error"))
                assert joined["type"] == "room" and joined["mode"] == "follow"
                follows = await student.until(lambda m: m["type"] == "frame")
                assert follows["step"] >= state["step"]

        asyncio.run(after_restart())
    finally:
        second.stop()
