"""Two Paramlab processes sharing a real redis-server, behind Debian's nginx with the
configuration of docs/deploy.md, all on loopback: what a deployment of several
processes promises its pages, seen from the page's side of the proxy.

nginx balances by open connections (least_conn), so a second page opened while the
first is connected reaches the other process; each test checks, from the servers'
own sockets, that the pages are where it says. Nothing here is timed; every wait is
bounded only so that a failure ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.live import Peer
from support.nginx import Nginx, connections_to, nginx_path
from support.redis_cluster import Cluster, cluster, requires_redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

pytestmark = [requires_redis,
              pytest.mark.skipif(nginx_path() is None, reason="nginx is not installed (apt-get install nginx)")]


@pytest.fixture()
def hall(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Cluster, Nginx]]:
    """Two processes (as `python -m app`, so SIGTERM goes through its shutdown) and nginx."""
    env = getattr(request, "param", None) or {}
    with (cluster(tmp_path, processes=2, env=env, main=True) as c,
          Nginx([f"127.0.0.1:{s.port}" for s in c.servers], tmp_path / "nginx") as nginx):
        yield c, nginx


def page(nginx: Nginx) -> Any:
    """A websocket to nginx as the page opens it (its own Origin)."""
    return connect(nginx.ws, proxy=None, origin=Origin(nginx.url), max_size=2**24, open_timeout=10, close_timeout=2)


def held(c: Cluster) -> list[int]:
    """The websockets each process holds now (nginx keeps no idle connection to a process before
    its first plain HTTP request, so these are the pages' own)."""
    return [connections_to(s.port) for s in c.servers]


async def newest_frame(p: Peer, match: Any, timeout: float = 20) -> dict[str, Any]:
    return await p.until(lambda m: m["type"] == "frame" and match(m), timeout=timeout)


def test_a_teacher_and_a_student_on_two_processes_through_nginx_follow_in_sync(
        hall: tuple[Cluster, Nginx]) -> None:
    c, nginx = hall

    async def main() -> None:
        async with page(nginx) as teacher_ws:
            teacher = Peer(teacher_ws)
            await teacher.hello(playing=True, fps=30, updates_per_second=250)
            await teacher.send({"type": "room_create", "share_gallery": False})
            room = await teacher.until(lambda m: m["type"] == "room")
            async with page(nginx) as student_ws:
                student = Peer(student_ws)
                await student.hello(fps=30)
                assert sorted(held(c)) == [1, 1], f"the two pages are not on two processes: {held(c)}"
                await student.send({"type": "room_join", "code": room["code"], "name": "Ada", "share": False})
                joined = await student.until(lambda m: m["type"] == "room")
                assert joined["mode"] == "follow" and joined.get("teacher_key") is None, joined
                # The student sees the teacher's session train, through the other process.
                first = await newest_frame(student, lambda m: m["step"] > 0)
                await newest_frame(student, lambda m: m["step"] > first["step"])
                # A control of the teacher's reaches the student.
                await teacher.send({"type": "set_hyper", "lr": 0.1234})
                await newest_frame(student, lambda m: m["hyper"]["lr"] == 0.1234)
                # Paused, both end on the same state: the same step and the same weights, bit for bit.
                await teacher.send({"type": "pause"})
                last = await newest_frame(teacher, lambda m: not m["playing"])
                seen = await newest_frame(student, lambda m: not m["playing"] and m["step"] == last["step"])
                assert [layer["W"] for layer in seen["layers"]] == [layer["W"] for layer in last["layers"]]
                assert [layer["b"] for layer in seen["layers"]] == [layer["b"] for layer in last["layers"]]
                assert seen["hyper"] == last["hyper"]

    asyncio.run(main())


# A snapshot interval far longer than the test: the state can only reach the other process
# through the shutdown's own snapshot (or a hand-over), never through a periodic one.
@pytest.mark.parametrize("hall", [{"PARAMLAB_SNAPSHOT_SECONDS": "300"}], indirect=True)
def test_a_rolling_restart_behind_nginx_loses_no_step(hall: tuple[Cluster, Nginx]) -> None:
    """As docs/deploy.md restarts a process: SIGTERM; the page reconnects through nginx, reaches
    the other process and finds its session at the very step and weights it had."""
    c, nginx = hall

    async def main() -> None:
        async with page(nginx) as ws:
            p = Peer(ws)
            session = await p.hello(playing=True, fps=30, updates_per_second=250)
            await newest_frame(p, lambda m: m["step"] > 100)
            await p.send({"type": "pause"})
            before = await newest_frame(p, lambda m: not m["playing"])
            on = held(c)
            assert sorted(on) == [0, 1], on
            process = c.servers[on.index(1)]
            other = c.servers[on.index(0)]
            process.stop()  # SIGTERM, as systemctl restart sends it
            with pytest.raises(ConnectionClosed):
                while True:
                    await p.recv(timeout=20)
        async with page(nginx) as ws:
            p = Peer(ws)
            await p.hello(session_id=session["session_id"])
            assert connections_to(other.port) == 1 and connections_to(process.port) == 0
            after = await newest_frame(p, lambda m: True)
            assert after["step"] == before["step"] and not after["playing"]
            assert [layer["W"] for layer in after["layers"]] == [layer["W"] for layer in before["layers"]]
            assert [layer["vW"] for layer in after["layers"]] == [layer["vW"] for layer in before["layers"]]
            # It trains on there.
            await p.send({"type": "play"})
            await newest_frame(p, lambda m: m["step"] > before["step"])

    asyncio.run(main())
