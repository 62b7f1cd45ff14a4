"""Sessions across two server processes sharing a real Redis: a reconnect to the other
process is handed the session without losing a step; a killed process's sessions
resume on the other from their last snapshot; SIGTERM leaves snapshots and no
leases; a Redis restart is survived with a clear degraded state."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.live import Peer as LivePeer
from support.live import peer
from support.redis_cluster import Cluster, cluster, requires_redis
from support.server import Server
from websockets.exceptions import ConnectionClosed

from app.server.cluster.store import RedisStore, connect
from app.training.persist import restore_session
from app.training.session import TrainingSession

pytestmark = requires_redis

CLOSE_MOVED = 4012
PATIENCE = 30.0  # seconds to wait for a message or a state (a limit on a loaded machine, not a measurement)


class Peer(LivePeer):
    async def recv(self, timeout: float = PATIENCE) -> tuple[dict[str, Any], int]:
        return await super().recv(timeout)

    async def until(self, match: Any, timeout: float = PATIENCE) -> dict[str, Any]:
        return await super().until(match, timeout)


@pytest.fixture()
def two(tmp_path: Path) -> Iterator[Cluster]:
    # Snapshots rarely (60 s): a state the other process resumes came from the hand-over, not from a round.
    with cluster(tmp_path, env={"PARAMLAB_SNAPSHOT_SECONDS": "60"}) as c:
        yield c


def read(c: Cluster, what: Callable[[RedisStore], Any]) -> Any:
    store = RedisStore(connect(c.redis_url))
    try:
        return what(store)
    finally:
        store.close()


def lease_of(c: Cluster, session_id: str) -> bytes | None:
    return read(c, lambda s: s.client.get(f"paramlab:lease:{session_id}"))  # type: ignore[no-any-return]


def stored(c: Cluster, session_id: str) -> TrainingSession | None:
    doc = read(c, lambda s: s.get("session", session_id))
    return None if doc is None else restore_session(doc["state"])


def eventually(check: Callable[[], Any], what: str) -> Any:
    """Poll `check` until it gives something true (at most PATIENCE seconds)."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def closed_code(p: Peer) -> int | None:
    """Read until the server closes the connection; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await p.recv()
    return None if closed.value.rcvd is None else closed.value.rcvd.code


def test_a_reconnect_to_the_other_process_is_handed_the_session_without_losing_a_step(two: Cluster) -> None:
    a, b = two.servers

    async def run() -> None:
        async with peer(a) as a_ws:
            on_a = Peer(a_ws)
            sid = (await on_a.hello(playing=False))["session_id"]
            await on_a.send({"type": "step", "unit": "update", "count": 37})
            await on_a.until(lambda m: m["type"] == "frame" and m["step"] == 37)
            holder_a = await asyncio.to_thread(lease_of, two, sid)
            assert holder_a is not None
            async with peer(b) as b_ws:
                on_b = Peer(b_ws)
                assert (await on_b.hello(session_id=sid))["session_id"] == sid
                first = await on_b.until(lambda m: m["type"] == "frame")
                assert first["step"] == 37  # the state at the hand-over, every step of it
                holder_b = await asyncio.to_thread(lease_of, two, sid)
                assert holder_b is not None and holder_b != holder_a
                # The page left on A is not closed (two tabs would pull the session to and fro): it
                # follows the session from B, read-only, and says so; it keeps its session id.
                told = await on_a.until(lambda m: m["type"] == "notice")
                assert "another tab or device" in told["text"]
                again = await on_a.until(lambda m: m["type"] == "session")
                assert again["session_id"] == sid
                await on_a.send({"type": "set_hyper", "lr": 0.5})
                refused = await on_a.until(lambda m: m["type"] == "error")
                assert refused["code"] == "forbidden" and "reload" in refused["message"]
                await on_b.send({"type": "step", "unit": "update", "count": 5})
                assert (await on_a.until(lambda m: m["type"] == "frame" and m["step"] == 42))
                # Playing, handed back: every step the page on B was shown is in the state A resumes.
                await on_b.send({"type": "play"})
                shown_on_b = (await on_b.until(lambda m: m["type"] == "frame" and m["step"] > 100))["step"]
                async with peer(a) as a_ws2:
                    back = Peer(a_ws2)
                    await back.hello(session_id=sid)
                    resumed = await back.until(lambda m: m["type"] == "frame")
                    assert resumed["step"] >= shown_on_b > 100
                    # And the page on B now follows it from A.
                    assert "another tab" in (await on_b.until(lambda m: m["type"] == "notice"))["text"]
                    later = (await back.until(lambda m: m["type"] == "frame" and m["step"] > resumed["step"]))
                    assert (await on_b.until(lambda m: m["type"] == "frame" and m["step"] >= later["step"]))

    asyncio.run(run())


def test_a_killed_process_s_sessions_resume_on_the_other_from_their_last_snapshot(tmp_path: Path) -> None:
    with cluster(tmp_path, env={"PARAMLAB_SNAPSHOT_SECONDS": "0.5"}) as c:
        a, b = c.servers

        async def run() -> None:
            async with peer(a) as a_ws:
                on_a = Peer(a_ws)
                sid = (await on_a.hello(playing=False))["session_id"]
                await on_a.send({"type": "step", "unit": "update", "count": 41})
                await on_a.until(lambda m: m["type"] == "frame" and m["step"] == 41)
                await asyncio.to_thread(eventually, lambda: (s := stored(c, sid)) and s.step == 41,
                                        "a snapshot at step 41")
                a.kill()
            # An HTTP request about it reaching B: the holder is gone, B takes it over and answers.
            model = await asyncio.to_thread(b.get_json, f"/api/sessions/{sid}/model", PATIENCE)
            assert model["step"] == 41
            async with peer(b) as b_ws:
                on_b = Peer(b_ws)
                assert (await on_b.hello(session_id=sid))["session_id"] == sid
                assert (await on_b.until(lambda m: m["type"] == "frame"))["step"] == 41

        asyncio.run(run())


def test_sigterm_snapshots_every_session_releases_its_leases_and_exits_with_sockets_open(tmp_path: Path) -> None:
    with cluster(tmp_path, processes=1, env={"PARAMLAB_SNAPSHOT_SECONDS": "60"}, main=True) as c:
        (server,) = c.servers

        async def run() -> tuple[str, int]:
            ws = await peer(server).__aenter__()  # left open on purpose: the server must not wait for it
            p = Peer(ws)
            sid = (await p.hello(playing=True))["session_id"]
            seen = await p.until(lambda m: m["type"] == "frame" and m["step"] > 50)
            assert await asyncio.to_thread(lease_of, c, sid) is not None
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(server.proc.wait, PATIENCE)
            except subprocess.TimeoutExpired:
                raise AssertionError("the server did not exit after SIGTERM") from None
            return sid, seen["step"]

        sid, step = asyncio.run(run())
        # uvicorn shuts down, then raises the signal it caught again (the exit status says SIGTERM).
        assert server.proc is not None and server.proc.returncode in (0, -signal.SIGTERM)
        assert "Traceback" not in server.log.read_text()
        snapshot = stored(c, sid)
        assert snapshot is not None and snapshot.step >= step  # written on the way out (the rounds are 60 s apart)
        assert lease_of(c, sid) is None


def health(server: Server) -> dict[str, Any]:
    answer: dict[str, Any] = server.get_json("/healthz")
    return answer


def test_a_redis_restart_is_survived_with_a_clear_degraded_state(tmp_path: Path) -> None:
    with cluster(tmp_path, processes=1, env={"PARAMLAB_SNAPSHOT_SECONDS": "0.5",
                                             "PARAMLAB_LEASE_SECONDS": "3"}) as c:
        (server,) = c.servers
        assert health(server) == {"status": "ok", "store": "ok"}

        async def run() -> None:
            async with peer(server) as ws:
                p = Peer(ws)
                sid = (await p.hello(playing=True))["session_id"]
                await p.until(lambda m: m["type"] == "frame" and m["step"] > 20)
                await asyncio.to_thread(c.redis.stop)
                notice = await p.until(lambda m: m["type"] == "notice")
                assert "store" in notice["text"]
                down = await asyncio.to_thread(eventually, lambda: (h := health(server))["store"] == "degraded" and h,
                                               "health says degraded")
                assert down["status"] == "ok" and "Redis" in down["reason"]
                # What needs the store meanwhile is refused with a clear error, not a crash.
                with pytest.raises(urllib.error.HTTPError) as refused:
                    await asyncio.to_thread(server.get_json, "/api/runs/no-such-run")
                body = json.loads(refused.value.read())
                assert refused.value.code == 503 and body["code"] == "unavailable" and "shared store" in body["message"]
                # On the websocket: 'unavailable' (try again later), not 'limit' (a quota), and the socket stays.
                await p.send({"type": "save", "name": "while Redis is down"})
                refusal = await p.until(lambda m: m["type"] == "error")
                assert refusal["code"] == "unavailable" and "shared store" in refusal["message"], refusal
                assert refusal["allowed"] == "try again in a few seconds"
                assert refusal["request"] == "save", "the page says it on the card the save came from"
                async with peer(server) as other_ws:
                    other = Peer(other_ws)
                    await other.send({"type": "hello", "session_id": "not-in-memory-here"})
                    refused_hello = await other.until(lambda m: m["type"] in ("session", "error"))
                    assert refused_hello["code"] == "unavailable" and refused_hello["request"] == "hello", refused_hello
                # Training goes on in memory meanwhile.
                during = (await p.until(lambda m: m["type"] == "frame"))["step"]
                await p.until(lambda m: m["type"] == "frame" and m["step"] > during + 50)
                await asyncio.to_thread(c.redis.start)
                back = await p.until(lambda m: m["type"] == "notice")
                assert "back" in back["text"]
                await asyncio.to_thread(eventually, lambda: health(server)["store"] == "ok", "health back to ok")
                # Snapshots and the lease are written again.
                await asyncio.to_thread(eventually, lambda: (s := stored(c, sid)) and s.step > during + 50,
                                        "a snapshot taken after Redis came back")
                assert await asyncio.to_thread(lease_of, c, sid) is not None

        asyncio.run(run())


def test_a_session_held_by_a_process_that_never_hands_it_over_is_unavailable_not_over_a_limit(tmp_path: Path) -> None:
    """A lease kept by a process that does not answer (its lease outlives the wait): a hello and an HTTP
    request for that session are answered 'unavailable', try again later, and the lease is left alone."""
    with cluster(tmp_path, processes=1, env={"PARAMLAB_LEASE_SECONDS": "1"}) as c:
        (server,) = c.servers
        sid = "held-by-a-silent-process"
        read(c, lambda s: s.client.set(f"paramlab:lease:{sid}", "silent-process", px=120_000))

        async def run() -> None:
            async with peer(server) as ws:
                p = Peer(ws)
                await p.send({"type": "hello", "session_id": sid})
                refusal = await p.until(lambda m: m["type"] in ("session", "error"))
                assert refusal["type"] == "error" and refusal["code"] == "unavailable", refusal
                assert (refusal["request"], refusal["field"], refusal["value"]) == ("hello", "session_id", sid)
                assert refusal["allowed"] == "try again in a few seconds" and "busy" in refusal["message"]
                # The socket stays open and serves a session of its own meanwhile.
                assert (await p.hello(playing=False))["session_id"] != sid

        asyncio.run(run())
        with pytest.raises(urllib.error.HTTPError) as refused:
            server.get_json(f"/api/sessions/{sid}/model", timeout=PATIENCE)
        body = json.loads(refused.value.read())
        assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "5"
        assert body["code"] == "unavailable" and body["value"] == sid and "busy" in body["message"], body
        assert lease_of(c, sid) == b"silent-process"


def test_an_http_request_reaching_the_other_process_is_answered_by_the_one_training_the_session(
        two: Cluster) -> None:
    a, b = two.servers

    async def run() -> None:
        async with peer(a) as a_ws:
            on_a = Peer(a_ws)
            sid = (await on_a.hello(playing=False))["session_id"]
            await on_a.send({"type": "step", "unit": "update", "count": 12})
            frame = await on_a.until(lambda m: m["type"] == "frame" and m["step"] == 12)
            holder = await asyncio.to_thread(lease_of, two, sid)
            # Through B: the model as A has it now, and a step that A trains.
            model = await asyncio.to_thread(b.get_json, f"/api/sessions/{sid}/model")
            assert model["step"] == 12 and model["weights"][0] == frame["layers"][0]["W"]
            stepped = await asyncio.to_thread(b.post_json, f"/api/sessions/{sid}/step", {"unit": "update",
                                                                                         "count": 3})
            assert stepped["step"] == 15
            assert (await on_a.until(lambda m: m["type"] == "frame" and m["step"] == 15))
            # The session stayed where it was: the page's websocket was not moved for a download.
            assert await asyncio.to_thread(lease_of, two, sid) == holder
            # An unknown session is still a clear 404 wherever it is asked.
            with pytest.raises(urllib.error.HTTPError) as unknown:
                await asyncio.to_thread(b.get_json, "/api/sessions/no-such-session/model")
            assert unknown.value.code == 404

    asyncio.run(run())
