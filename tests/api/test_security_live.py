"""Attacks that need a real server: a big step must not freeze another client's
frames, and a client that trickles its headers is timed out. Frames and
answers are counted; no duration is asserted."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.live import Peer, peer
from support.server import Server

BIGGEST = {"hidden": [32] * 8, "n_points": 2000, "train_ratio": 90,
           "features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2", "cos_x1", "cos_x2"]}


@pytest.fixture()
def slow_server(tmp_path: Path) -> Iterator[Server]:
    # The numpy reference path: a step of thousands of updates of the biggest network
    # takes long enough here for another client to expect many frames meanwhile.
    srv = Server(tmp_path / "server.log", env={"PARAMLAB_FAST_PATH": "0"}).start()
    try:
        yield srv
    finally:
        srv.stop()


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=300) as r:
        answer: dict[str, object] = json.loads(r.read())
        return answer


def test_a_big_step_does_not_stop_another_client_s_frames(slow_server: Server) -> None:
    """While one client's big step runs, another's frames keep coming: three times
    over, a frame arrives and, after it, the big session is seen part way through
    its step, further each time. (Before steps ran in slices, the step held the
    event loop from start to end: the answer to "how far is it" was "done".)
    How many frames the victim gets meanwhile: benchmarks/abuse.py, `big_step`."""
    count = 5000

    async def scenario() -> tuple[list[int], int]:
        async with peer(slow_server) as ws:
            victim = Peer(ws)
            await victim.hello(fps=30, playing=True)
            big = _post(f"{slow_server.url}/api/sessions", {"config": BIGGEST, "hyper": {"batch_size": 40}})
            url = f"{slow_server.url}/api/sessions/{big['session_id']}/step"
            step = asyncio.get_running_loop().run_in_executor(None, _post, url, {"count": count})
            seen: list[int] = []
            while len(seen) < 3:
                await victim.until(lambda m: m["type"] == "frame")
                now = (await asyncio.to_thread(slow_server.get_json, f"/api/sessions/{big['session_id']}"))["step"]
                assert now < count, f"the big step ended after only {len(seen)} frames seen during it"
                if now > (seen[-1] if seen else 0):
                    seen.append(now)
            answer = await step
            return seen, int(answer["step"])  # type: ignore[call-overload]

    seen, steps = asyncio.run(scenario())
    assert steps == count
    assert 0 < seen[0] < seen[1] < seen[2] < count, seen


@pytest.fixture()
def main_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "server.log", env={"PARAMLAB_HTTP_TIMEOUT_SECONDS": "0.5"}, main=True).start()
    try:
        yield srv
    finally:
        srv.stop()


def _drip(port: int, data: bytes) -> bytes:
    """Send `data` a byte at a time, more slowly than the server's header timeout
    allows in all; return what the server answered (empty if nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        answer = b""
        for byte in data:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # the server closed the connection
            sock.settimeout(0.2)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            answer += chunk
            if not chunk or answer:
                break
        sock.settimeout(5)
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except OSError:
            pass
        return answer


def test_headers_trickled_in_are_timed_out(main_server: Server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    answer = _drip(main_server.port, request)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    # Everyone else is still served.
    assert main_server.get_json("/healthz")["status"] == "ok"


def test_a_body_trickled_in_is_timed_out(main_server: Server) -> None:
    body = b'{"config": {}, "hyper": {}}' + b" " * 400
    head = (f"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", main_server.port), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sock.settimeout(0.2)
            try:
                answer += sock.recv(4096)
            except TimeoutError:
                continue
            if answer:
                break
        # The answer may come in more than one piece: read on to the end of its body.
        sock.settimeout(5)
        while b"\r\n\r\n" in answer:
            head_end = answer.index(b"\r\n\r\n") + 4
            length = next((int(line.split(b":", 1)[1]) for line in answer[:head_end].split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            if len(answer) - head_end >= length:
                break
            try:
                more = sock.recv(4096)
            except (TimeoutError, OSError):
                break
            if not more:
                break
            answer += more
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"code":"invalid"' in answer
