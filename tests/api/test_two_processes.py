"""Two server processes sharing one SQLite store: a reconnect may reach either.

A session resumes on whichever process a reload reaches (through the
store), and the process that last resumed it owns it: the other one drops
its stale copy instead of serving or snapshotting it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.live import Peer, peer
from support.server import Server
from support.stored import stored_session

ENV = {"PARAMLAB_STORE": "sqlite", "PARAMLAB_SNAPSHOT_SECONDS": "0.2"}


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    # One data directory (the logs' folder): one SQLite store for both.
    a = Server(tmp_path / "a.log", ENV)
    b = Server(tmp_path / "b.log", ENV)
    try:
        yield a.start(), b.start()
    finally:
        a.stop()
        b.stop()


async def set_lr(server: Server, lr: float, **hello: Any) -> dict[str, Any]:
    """Open a page on `server`, set lr, wait until a frame shows it, leave; returns the session message."""
    async with peer(server) as ws:
        p = Peer(ws)
        session = await p.hello(**hello)
        await p.send({"type": "set_hyper", "lr": lr})
        await p.until(lambda m: m["type"] == "frame" and m["hyper"]["lr"] == lr)
        return session


def test_a_session_resumes_on_either_process(servers: tuple[Server, Server], tmp_path: Path) -> None:
    a, b = servers

    async def snapshot_with_lr(sid: str, lr: float) -> None:
        await asyncio.to_thread(stored_session, tmp_path, sid, lambda s: s.hyper.lr == lr)

    async def run() -> None:
        first = await set_lr(a, 0.05, playing=True)
        sid = first["session_id"]
        await snapshot_with_lr(sid, 0.05)  # a's snapshot is in the store
        on_b = await set_lr(b, 0.07, session_id=sid)
        assert on_b["session_id"] == sid and on_b["hyper"]["lr"] == 0.05  # resumed from a's snapshot
        await snapshot_with_lr(sid, 0.07)  # b's snapshot is in the store
        # Back on a, which still had its own copy at lr 0.05: it must show b's newer state.
        back = await set_lr(a, 0.09, session_id=sid)
        assert back["session_id"] == sid and back["hyper"]["lr"] == 0.07
        assert back["playing"] is True

    asyncio.run(run())
