"""Abuse: what a curious student can do to a live server, as another student's page sees it.

For each attack the script starts its own server (``python -m app`` on a
free loopback port, a SQLite store in a temporary data directory, every
limit at its default), and a victim: a page of its own in a separate
process (``hello`` at 30 frames a second, playing, the default network),
which acknowledges every frame and stamps its arrival. The victim is
measured first with nothing else going on (the reference), then while the
attack runs (at least ``--window`` seconds from the attack's start), then
for a short while after it.

The attacker connects from 127.0.0.2 (the victim from 127.0.0.1): per-address
quotas see two students, and the server's proxy-header trust of 127.0.0.1
is not involved. The fresh student of ``session_flood`` tries from the
attacker's address and from a third one, 127.0.0.3.

One JSON line per attack: ``fps`` and ``gap_ms_max`` (the longest time
without a frame, window edges included) during the attack, against
``reference_fps``; ``ok`` is the target (at least 80 % of the reference
frames and no gap over 250 ms); ``after_fps`` the frame rate in the seconds
after the attack; ``details`` what the attack did and how the server
answered (error codes as histograms, HTTP statuses, close codes). Refusals
(``rate_limited``, 429, 403, closes 4429 or 1008) are counted, not raised.
A miss never changes the exit status: it is a measurement, not a test.
``warm`` says the victim reached a steady 90 % of its frame rate before the
reference (false: the figures are suspect); ``load1`` is the machine's load
average then: other work on the machine lowers every figure.

    python benchmarks/abuse.py                      # every attack, about 5 minutes
    python benchmarks/abuse.py --attack burst --attack join_guess
    python benchmarks/abuse.py --quick              # shorter windows and counts: a smoke run
    git archive HEAD~5 | tar -x -C /tmp/before && python benchmarks/abuse.py --server-root /tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import itertools
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the one server helper, shared with the tests
from support.server import Server as ServerProcess

ROOT = Path(__file__).resolve().parents[1]
VICTIM_HOST = "127.0.0.1"
ATTACKER_HOST = "127.0.0.2"
OTHER_HOST = "127.0.0.3"
VICTIM_FPS = 30
DEFAULT_CONFIG: dict[str, Any] = {
    "dataset": "circle", "noise": 0, "train_ratio": 50, "n_points": 500, "features": ["x1", "x2"],
    "hidden": [4, 2], "activation": "tanh", "task": "playground", "init": "uniform", "seed": 1}
# The largest network and data set a hello may ask for (app/protocol/limits.py MAX_*; 9 feature names exist).
MAX_CONFIG: dict[str, Any] = {
    "dataset": "circle", "n_points": 2000, "train_ratio": 90, "hidden": [32] * 8,
    "features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2", "cos_x1", "cos_x2"]}
TARGET_FPS_SHARE = 0.8
TARGET_GAP_MS = 250.0
ATTACK_LIMIT_SECONDS = 120.0   # an attack that has not finished by then is cut off
RECOVERY_SECONDS = 1.0         # between setting an attack up (or the reference) and running it
AFTER_SECONDS = 2.0
VICTIM_LIFETIME_SECONDS = 300.0
# An error the server always answers, at once, when it reads it: the attacker's way to know
# every message sent before it has been handled.
MARKER = '{"type":"set_fps","fps":0}'


# ------------------------------------------------------------------ the server


class Server(ServerProcess):
    """`python -m app` with a SQLite store in `data_dir`; every PARAMLAB_ limit at its default."""

    start_timeout = 30.0

    def __init__(self, data_dir: Path, log: Path, root: Path = ROOT) -> None:
        super().__init__(log, main=True, data_dir=data_dir, root=root)
        self.data_dir = data_dir
        self.env = {k: v for k, v in self.env.items() if not k.startswith("PARAMLAB_")}
        self.env.update({"PARAMLAB_DATA_DIR": str(data_dir), "PARAMLAB_STORE": "sqlite"})

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_mb(self) -> float | None:
        try:
            with open(f"/proc/{self.proc.pid if self.proc else 0}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return None

    def cpu_seconds(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid if self.proc else 0}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return float("nan")

    def store_bytes(self) -> int:
        """Bytes of the SQLite store: the database file and its journal (-wal, -shm)."""
        return sum(p.stat().st_size for p in self.data_dir.glob("paramlab.sqlite*") if p.is_file())


def start_server(data_dir: Path, log: Path, root: Path, tries: int = 3) -> Server:
    """Start a server; others may be editing the code, so a failed start is retried a minute later."""
    for attempt in range(tries):
        try:
            return Server(data_dir, log, root).start()
        except RuntimeError as exc:
            if attempt == tries - 1:
                raise
            print(f"# server did not start ({str(exc)[-300:]!r}); retrying in 60 s", file=sys.stderr, flush=True)
            time.sleep(60)
    raise AssertionError("unreachable")


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 content_type: str = "application/json", host: str = ATTACKER_HOST,
                 timeout: float = 30.0) -> tuple[int, Any, float]:
    """(status, JSON body or None, seconds). Status 0: no answer (the text of the exception as body)."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(host, 0))
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data, time.monotonic() - t0
    except (OSError, http.client.HTTPException) as exc:
        return 0, f"{type(exc).__name__}: {exc}", time.monotonic() - t0
    finally:
        conn.close()


def answer_label(status: int, data: Any) -> str:
    """'201', '422 invalid', '0 ConnectionResetError'... for a histogram of HTTP answers."""
    if status == 0:
        return f"0 {str(data).split(':')[0]}"
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return f"{status} {data['code']}"
    return str(status)


def histogram(counter: Counter[Any]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(counter.items(), key=lambda kv: -kv[1])}


# ------------------------------------------------------------------ the victim (a process of its own)


async def victim_main(url: str, lifetime: float) -> None:
    """Play the default network at 30 fps, ack every frame, print 'f <monotonic time>' per frame.

    Also prints 'e <code>' per error received, 'c <code>' when the server closes the socket
    and 'x <exception>' when a (re)connection fails. Reconnects to its session (a few times).
    """
    deadline = time.monotonic() + lifetime
    session_id: str | None = None
    for _ in range(30):
        if time.monotonic() > deadline:
            return
        try:
            async with connect(url, proxy=None, max_size=2**25, compression=None, open_timeout=10,
                               close_timeout=1) as ws:
                hello: dict[str, Any] = {"type": "hello", "fps": VICTIM_FPS, "playing": True,
                                         "config": DEFAULT_CONFIG}
                if session_id:
                    hello["session_id"] = session_id
                await ws.send(json.dumps(hello))
                last_seq = 0  # one numbering per connection
                while time.monotonic() < deadline:
                    try:
                        async with asyncio.timeout(1.0):
                            raw = await ws.recv()
                    except TimeoutError:
                        continue
                    now = time.monotonic()
                    if isinstance(raw, bytes):  # a binary frame: its seq if it is readable, else the next one
                        seq = last_seq + 1
                        try:
                            head = json.loads(raw)
                            if isinstance(head, dict) and isinstance(head.get("seq"), int):
                                seq = head["seq"]
                        except ValueError:
                            pass
                    else:
                        msg = json.loads(raw)
                        kind = msg.get("type")
                        if kind == "session":
                            session_id = msg.get("session_id") or session_id
                        elif kind == "error":
                            print(f"e {msg.get('code')}", flush=True)
                        if kind != "frame":
                            continue
                        seq = int(msg.get("seq", last_seq + 1))
                    last_seq = seq
                    print(f"f {now:.6f}", flush=True)
                    await ws.send(f'{{"type":"ack","seq":{seq}}}')
                return
        except ConnectionClosed as exc:
            print(f"c {exc.rcvd.code if exc.rcvd else 'none'}", flush=True)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            print(f"x {type(exc).__name__}", flush=True)
        await asyncio.sleep(0.3)


class Victim:
    """The victim process, and the arrival times it reports (read by a thread)."""

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--victim", url, "--victim-lifetime", str(VICTIM_LIFETIME_SECONDS)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.arrivals: list[float] = []
        self.events: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            kind, _, value = line.strip().partition(" ")
            if kind == "f":
                self.arrivals.append(float(value))
            elif kind:
                self.events.append((time.monotonic(), f"{kind} {value}"))

    def wait_first_frame(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.arrivals:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return True

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        """Frames per second and the longest gap (window edges included) between t0 and t1."""
        times = [t for t in list(self.arrivals) if t0 <= t <= t1]
        edges = [t0, *times, t1]
        gap = max(b - a for a, b in itertools.pairwise(edges))
        events = Counter(e for t, e in list(self.events) if t0 <= t <= t1)
        return {"fps": round(len(times) / (t1 - t0), 1), "gap_ms_max": round(gap * 1000), "frames": len(times),
                "seconds": round(t1 - t0, 2), "events": histogram(events)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.thread.join(5)


# ------------------------------------------------------------------ the attacker's tools


@dataclass
class Ctx:
    """What an attack gets: the server, the run's sizes, and the start of its measured part."""

    server: Server
    quick: bool
    window: float
    t0: float | None = None

    def size(self, full: float, quick: float) -> Any:
        return quick if self.quick else full

    async def start(self) -> None:
        """Setup is done: after a short pause, the measured attack begins now."""
        await asyncio.sleep(RECOVERY_SECONDS)
        self.t0 = time.monotonic()

    def since_start(self, t: float | None = None) -> float:
        """Seconds from the start of the measured attack to `t` (default: now)."""
        assert self.t0 is not None, "start() first"
        return (time.monotonic() if t is None else t) - self.t0

    async def http(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                   host: str = ATTACKER_HOST, timeout: float = 30.0) -> tuple[int, Any, float]:
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        return await asyncio.to_thread(http_request, self.server.port, method, path, raw, content_type,
                                       host, timeout)


async def until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` every 10 ms for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class Probe:
    """An attacker's websocket: sends what it is told and reads everything in the background.

    It never acknowledges frames (the server then sends it at most two), so
    it costs the server little beyond what the attack itself asks.
    """

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.types: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.markers = 0           # answers to MARKER
        self.sizes: dict[str, int] = {}  # bytes of the last message of each type
        self.last: dict[str, dict[str, Any]] = {}  # the last message of each type but frames
        self.session_id: str | None = None
        self.session_ids: set[str] = set()  # every session announced on this socket
        self.closed = False
        self.close_code: int | None = None
        self.closed_at: float | None = None
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, ctx: Ctx, host: str = ATTACKER_HOST, timeout: float = 10.0) -> Probe:
        ws = await connect(ctx.server.ws, proxy=None, max_size=2**25, compression=None, open_timeout=timeout,
                           close_timeout=2, local_addr=(host, 0))
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    self.types["frame"] += 1
                    continue
                msg = json.loads(raw)
                kind = str(msg.get("type"))
                self.types[kind] += 1
                self.sizes[kind] = len(raw.encode())
                if kind == "frame":
                    continue
                if kind == "error" and msg.get("field") == "fps" and msg.get("value") == 0:
                    self.markers += 1
                    continue
                self.last[kind] = msg
                if kind == "session" and msg.get("session_id"):
                    self.session_id = msg["session_id"]
                    self.session_ids.add(self.session_id)
                elif kind == "error":
                    self.errors[str(msg.get("code"))] += 1
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self.closed_at = time.monotonic()
            self.close_code = self.ws.close_code

    @property
    def answered(self) -> int:
        """Messages other than frames received so far."""
        return sum(self.types.values()) - self.types["frame"]

    async def send(self, message: dict[str, Any] | str) -> bool:
        """False once the server has closed the socket."""
        if self.closed:
            return False
        try:
            await self.ws.send(message if isinstance(message, str) else json.dumps(message))
            return True
        except ConnectionClosed:
            return False

    async def hello(self, timeout: float = 20.0, **fields: Any) -> str | None:
        """Send hello; the new session's id, or None (an error, a close or no answer)."""
        sessions, errors = self.types["session"], sum(self.errors.values())
        await self.send({"type": "hello", "fps": VICTIM_FPS, **fields})
        await until(lambda: self.types["session"] > sessions or sum(self.errors.values()) > errors
                    or self.closed, timeout)
        return self.session_id if self.types["session"] > sessions else None

    async def sync(self, timeout: float = 30.0) -> bool:
        """Wait until the server has handled everything sent so far (False: closed or no answer).

        A marker past the message budget is dropped unread, so it is sent again every few seconds.
        """
        before = self.markers
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not await self.send(MARKER):
                return False
            if await until(lambda: self.markers > before or self.closed, min(3.0, deadline - time.monotonic())):
                return not self.closed
        return False

    def report(self) -> dict[str, Any]:
        return {"answers": histogram(self.types), "errors": histogram(self.errors),
                "closed_with": self.close_code if self.closed else None}

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except (TimeoutError, ConnectionClosed, OSError):
            pass
        self.reader.cancel()


def largest(allowed: Any) -> int | None:
    """The upper bound in an error's `allowed` ('1 to 1000' -> 1000)."""
    numbers = re.findall(r"\d[\d,]*", str(allowed or ""))
    return int(numbers[-1].replace(",", "")) if numbers else None


# ------------------------------------------------------------------ the attacks


async def big_step(ctx: Ctx) -> dict[str, Any]:
    """The largest network and data, batches of 1, and the largest steps allowed, over ws and HTTP."""
    a = await Probe.open(ctx)
    sid = await a.hello(config=MAX_CONFIG, hyper={"batch_size": 1})
    if sid is None:
        return {"setup": "no session", **a.report()}
    # Ask for far too much: the error says how much is allowed (the protocol's bound, then the session's).
    ws_max: dict[str, int] = {}
    for unit in ("update", "epoch"):
        count = 10**6
        for _ in range(3):
            errors = dict(a.errors)
            await a.send({"type": "step", "unit": unit, "count": count})
            await a.sync(60)
            if a.errors == errors:
                break
            count = largest(a.last["error"].get("allowed")) or 1
        ws_max[unit] = count
    status, data, _ = await ctx.http("POST", f"/api/sessions/{sid}/step", {"unit": "update", "count": 10**9})
    http_max = largest(data.get("allowed")) if isinstance(data, dict) else None
    if status == 422 and http_max:
        status, data, _ = await ctx.http("POST", f"/api/sessions/{sid}/step", {"unit": "update", "count": http_max})
        if status == 422 and isinstance(data, dict):
            http_max = largest(data.get("allowed")) or 1
    http_max = http_max or 1
    base_errors = Counter(a.errors)
    await ctx.start()
    duration = ctx.size(8.0, 3.0)
    end = time.monotonic() + duration
    ws_ms: list[float] = []
    http_ms: list[float] = []
    http_answers: Counter[str] = Counter()

    async def over_ws() -> None:
        for i in range(40):
            if time.monotonic() > end:
                return
            unit = ("update", "epoch")[i % 2]
            t0 = time.monotonic()
            if not await a.send({"type": "step", "unit": unit, "count": ws_max[unit]}) or not await a.sync(60):
                return
            ws_ms.append((time.monotonic() - t0) * 1000)

    async def over_http() -> None:
        for _ in range(20):
            if time.monotonic() > end:
                return
            status, data, seconds = await ctx.http("POST", f"/api/sessions/{sid}/step",
                                                   {"unit": "update", "count": http_max}, timeout=60)
            http_answers[answer_label(status, data)] += 1
            http_ms.append(seconds * 1000)

    await asyncio.gather(over_ws(), over_http())
    report = a.report()
    report["errors"] = histogram(a.errors - base_errors)
    await a.close()
    return {"ws_max_count": ws_max, "http_max_count": http_max, "ws_steps": len(ws_ms),
            "ws_step_ms_max": round(max(ws_ms, default=0)), "http_steps": len(http_ms),
            "http_step_ms_max": round(max(http_ms, default=0)), "http_answers": histogram(http_answers), **report}


async def big_import(ctx: Ctx) -> dict[str, Any]:
    """PUT a model with one row of 10^6 numbers, just under the 8 MiB body limit, a few times."""
    status, data, _ = await ctx.http("POST", "/api/sessions", {})
    if status != 201:
        return {"setup": answer_label(status, data)}
    sid = data["session_id"]
    row = b"[" + b",".join([b"0.12345"] * 10**6) + b"]"  # 8 bytes a number
    body = (b'{"version":1,"architecture":{"n_inputs":2,"hidden":[],"activations":[],"n_outputs":1,'
            b'"task":"playground"},"weights":[[' + row + b']],"biases":[[0.0]]}')
    await ctx.start()
    answers: Counter[str] = Counter()
    seconds: list[float] = []
    for _ in range(ctx.size(5, 2)):
        status, data, took = await ctx.http("PUT", f"/api/sessions/{sid}/model", body, timeout=60)
        answers[answer_label(status, data)] += 1
        seconds.append(took)
    return {"body_bytes": len(body), "requests": len(seconds), "answers": histogram(answers),
            "answer_ms_max": round(max(seconds) * 1000)}


async def burst(ctx: Ctx) -> dict[str, Any]:
    """20,000 small messages (set_fps and set_hyper) as fast as one socket can send them."""
    a = await Probe.open(ctx)
    if await a.hello(config=DEFAULT_CONFIG) is None:
        return {"setup": "no session", **a.report()}
    n = ctx.size(20_000, 5_000)
    messages = ['{"type":"set_fps","fps":30}', '{"type":"set_hyper","momentum":0.9}']
    await ctx.start()
    sent = 0
    deadline = time.monotonic() + 10
    while sent < n and time.monotonic() < deadline and await a.send(messages[sent % 2]):
        sent += 1
    send_seconds = ctx.since_start()
    await asyncio.sleep(1.5)  # a budget that refills does so meanwhile: the marker is then answered
    handled = await a.sync(30)
    await asyncio.sleep(0.2)
    report = a.report()
    closed_after = round(ctx.since_start(a.closed_at), 2) if a.closed_at else None
    await a.close()
    return {"sent": sent, "of": n, "send_seconds": round(send_seconds, 2), "all_handled": handled,
            "closed_after_s": closed_after, **report}


async def join_guess(ctx: Ctx) -> dict[str, Any]:
    """room_join with random codes as fast as possible: on one socket, then on eight at once."""
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    rng = random.Random(0)
    seconds = ctx.size(3.0, 1.5)
    cap = ctx.size(10_000, 3_000)

    async def guesser(probe: Probe, until_t: float) -> int:
        sent = 0
        while sent < cap and time.monotonic() < until_t:
            code = "".join(rng.choice(alphabet) for _ in range(6))
            if not await probe.send({"type": "room_join", "code": code, "name": "x", "share": False}):
                break
            sent += 1
            if sent % 50 == 0:
                await asyncio.sleep(0)  # let the readers read
        return sent

    async def phase(n_sockets: int) -> dict[str, Any]:
        probes = []
        for _ in range(n_sockets):
            p = await Probe.open(ctx)
            await p.hello(config=DEFAULT_CONFIG)
            probes.append(p)
        t_end = time.monotonic() + seconds
        sent = sum(await asyncio.gather(*(guesser(p, t_end) for p in probes)))
        await asyncio.sleep(1.5)  # a budget that refills does so meanwhile: the markers are then answered
        await asyncio.gather(*(p.sync(10) for p in probes))
        errors = sum((p.errors for p in probes), Counter())
        closes = Counter(str(p.close_code) for p in probes if p.closed)
        joined = sum(p.types["room"] for p in probes)
        for p in probes:
            await p.close()
        return {"sockets": n_sockets, "sent": sent, "answered": sum(errors.values()) + joined,
                "errors": histogram(errors), "joined": joined, "closed_with": histogram(closes)}

    await ctx.start()
    return {"one_socket": await phase(1), "eight_sockets": await phase(8)}


async def session_flood(ctx: Ctx) -> dict[str, Any]:
    """New sessions (the largest network) as fast as possible: hellos on new sockets and POST /api/sessions."""
    attempts = ctx.size(600, 150)
    rss_before = ctx.server.rss_mb()
    held: list[Probe] = []
    ws_answers: Counter[str] = Counter()
    http_answers: Counter[str] = Counter()
    queue = list(range(attempts))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            if i % 2 == 0:
                try:
                    p = await Probe.open(ctx)
                except InvalidStatus as exc:
                    ws_answers[f"handshake {exc.response.status_code}"] += 1
                    continue
                except InvalidHandshake as exc:
                    ws_answers[f"handshake {type(exc).__name__}"] += 1
                    continue
                except (OSError, TimeoutError) as exc:
                    ws_answers[f"connect {type(exc).__name__}"] += 1
                    continue
                held.append(p)
                sid = await p.hello(config={**MAX_CONFIG, "seed": i})
                if sid is not None:
                    ws_answers["session"] += 1
                elif p.errors:
                    ws_answers.update(f"error {code}" for code in p.errors)
                else:
                    ws_answers[f"closed {p.close_code}" if p.closed else "no answer"] += 1
            else:
                status, data, _ = await ctx.http("POST", "/api/sessions", {"config": {**MAX_CONFIG, "seed": i}})
                http_answers[answer_label(status, data)] += 1

    await ctx.start()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(8))), 90)
    flood_seconds = ctx.since_start()

    async def fresh_student(host: str) -> bool:
        try:
            p = await Probe.open(ctx, host=host)
        except (InvalidHandshake, OSError, TimeoutError):
            return False
        ok = await p.hello(config=DEFAULT_CONFIG, timeout=10) is not None
        await p.close()
        return ok

    other, same = await fresh_student(OTHER_HOST), await fresh_student(ATTACKER_HOST)
    closed = Counter(str(p.close_code) for p in held if p.closed)
    await asyncio.gather(*(p.close() for p in held))
    created = ws_answers["session"] + http_answers["201"]
    return {"attempts": attempts, "created": created, "flood_seconds": round(flood_seconds, 2),
            "ws": histogram(ws_answers), "http": histogram(http_answers), "sockets_closed_by_server": histogram(closed),
            "fresh_student_other_address": other, "fresh_student_same_address": same,
            "server_rss_mb_before": rss_before, "server_rss_mb_after": ctx.server.rss_mb()}


async def full_speed_flood(ctx: Ctx) -> dict[str, Any]:
    """One socket: 100 hellos, each the largest network playing at full speed; then it leaves them."""
    n = ctx.size(100, 30)
    a = await Probe.open(ctx)
    await ctx.start()
    cpu0 = ctx.server.cpu_seconds()
    for i in range(n):
        # One at a time: a hello sent before the previous session was announced would cancel
        # that announcement, and the sessions made could not be counted.
        sid = await a.hello(playing=True, config={**MAX_CONFIG, "seed": i}, timeout=10)
        if sid is not None:
            # Hello's updates_per_second null keeps the default pace: full speed is set_speed null.
            await a.send({"type": "set_speed", "updates_per_second": None})
        if a.closed:
            break
    handled = await a.sync(30)
    report = a.report()
    await a.close()
    left_at = time.monotonic()
    await asyncio.sleep(ctx.window)  # the sessions go on without their page: that is the attack
    cpu = (ctx.server.cpu_seconds() - cpu0) / ctx.since_start()
    return {"hellos": n, "sessions": len(a.session_ids), "all_handled": handled,
            "setup_seconds": round(ctx.since_start(left_at), 2),
            "measured_after_leaving_s": ctx.window, "server_cpu": round(cpu, 2), **report}


async def save_flood(ctx: Ctx) -> dict[str, Any]:
    """200 saves of a large session (largest network, Adam, a long history): half over ws, half over HTTP."""
    a = await Probe.open(ctx)
    sid = await a.hello(config=MAX_CONFIG, hyper={"optimizer": "adam", "batch_size": 1})
    if sid is None:
        return {"setup": "no session", **a.report()}
    trained: Counter[str] = Counter()
    setup_end = time.monotonic() + ctx.size(20, 6)
    for _ in range(ctx.size(8, 2)):  # a history of tens of thousands of updates
        if time.monotonic() > setup_end:
            break
        status, data, _ = await ctx.http("POST", f"/api/sessions/{sid}/step", {"unit": "update", "count": 5000},
                                         timeout=60)
        trained[answer_label(status, data)] += 1
    n = ctx.size(200, 40)
    base_errors = Counter(a.errors)
    await ctx.start()
    store_before = ctx.server.store_bytes()
    http_answers: Counter[str] = Counter()

    async def over_ws() -> None:
        for i in range(n // 2):
            if not await a.send({"type": "save", "name": f"x{i}"}):
                return

    async def over_http() -> None:
        for i in range(n - n // 2):
            status, data, _ = await ctx.http("POST", f"/api/sessions/{sid}/save", {"name": f"y{i}"}, timeout=60)
            http_answers[answer_label(status, data)] += 1

    await asyncio.gather(over_ws(), over_http())
    await until(lambda: a.types["saved"] + sum((a.errors - base_errors).values()) >= n // 2 or a.closed, 60)
    await asyncio.sleep(0.5)
    store_after = ctx.server.store_bytes()
    report = a.report()
    report["errors"] = histogram(a.errors - base_errors)
    await a.close()
    saved = a.types["saved"] + http_answers["201"]
    return {"setup_steps": histogram(trained), "saves": n, "saved": saved, "saved_ws": a.types["saved"],
            "http": histogram(http_answers), "store_bytes_before": store_before, "store_bytes_after": store_after,
            "store_grew_bytes": store_after - store_before,
            "bytes_per_save": (store_after - store_before) // saved if saved else None, **report}


def big_csv(seed: int, limit: int = 999_000) -> bytes:
    """A CSV file of 16 long-digit features and a label, as many rows as fit in `limit` bytes (at most 2000)."""
    rng = random.Random(seed)
    lines = [",".join([f"f{i}" for i in range(16)] + ["label"])]
    size = len(lines[0]) + 1
    for _ in range(2000):
        line = ",".join([f"{rng.uniform(-1, 1):.27f}" for _ in range(16)] + [rng.choice("ab")])
        if size + len(line) + 1 > limit:
            break
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


async def upload_flood(ctx: Ctx) -> dict[str, Any]:
    """20 distinct CSV files just under the 1,000,000-byte limit, four at a time."""
    files = [big_csv(seed) for seed in range(ctx.size(20, 5))]
    await ctx.start()
    store_before = ctx.server.store_bytes()
    answers: Counter[str] = Counter()
    seconds: list[float] = []
    pending = list(files)

    async def worker() -> None:
        while pending:
            body = pending.pop()
            status, data, took = await ctx.http("POST", "/api/datasets", body, content_type="text/csv", timeout=60)
            answers[answer_label(status, data)] += 1
            seconds.append(took)

    await asyncio.gather(*(worker() for _ in range(4)))
    await asyncio.sleep(0.5)
    store_after = ctx.server.store_bytes()
    return {"uploads": len(files), "file_bytes": len(files[0]), "rows": files[0].count(b"\n") - 1,
            "answers": histogram(answers), "answer_ms_max": round(max(seconds) * 1000),
            "store_grew_bytes": store_after - store_before}


async def hyper_log(ctx: Ctx) -> dict[str, Any]:
    """30,000 set_hyper with a new lr (and momentum) each, on a playing session; then a reconnect:
    how big is the history sent back?

    A determined student: each connection sends a little less than a burst of messages, then
    the next one resumes the session (a closed socket is replaced the same way). Each message
    changes two fields, so that consecutive changes are not one slider gesture.
    """
    a = await Probe.open(ctx)
    sid = await a.hello(config=DEFAULT_CONFIG, playing=True)
    if sid is None:
        return {"setup": "no session", **a.report()}
    await a.send({"type": "set_speed", "updates_per_second": None})
    n = ctx.size(30_000, 5_000)
    per_connection = 350
    await ctx.start()
    sent = connections = 0
    errors: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    deadline = time.monotonic() + ctx.size(20.0, 6.0)
    while sent < n and time.monotonic() < deadline and connections < 200:
        if connections:
            a = await Probe.open(ctx)
            if await a.hello(session_id=sid, timeout=10) is None:
                errors.update(a.errors)
                await a.close()
                break
        connections += 1
        for _ in range(per_connection):
            if sent >= n or not await a.send(
                    f'{{"type":"set_hyper","lr":{0.01 + 1e-6 * (sent + 1):.6f},"momentum":{0.5 + 1e-5 * (sent % 40000):.5f}}}'):
                break
            sent += 1
        await a.sync(10)
        errors.update(a.errors)
        if a.closed:
            closes[str(a.close_code)] += 1
        await a.close()
    send_seconds = ctx.since_start()
    b = await Probe.open(ctx)
    t0 = time.monotonic()
    resumed = await b.hello(session_id=sid, timeout=30)
    await until(lambda: "history" in b.last or b.closed, 30)
    history_ms = round((time.monotonic() - t0) * 1000)
    history = b.last.get("history", {})
    await b.send({"type": "pause"})
    await b.close()
    return {"sent": sent, "of": n, "connections": connections, "send_seconds": round(send_seconds, 2),
            "errors": histogram(errors), "closed_by_server": histogram(closes), "resumed": resumed == sid,
            "history_bytes": b.sizes.get("history"), "history_changes": len(history.get("changes", [])),
            "history_ms": history_ms}


async def slow_http(ctx: Ctx) -> dict[str, Any]:
    """Raw sockets that send a request's headers (or, after whole headers, its body) one byte a second."""
    seconds = ctx.size(20.0, 8.0)
    n = ctx.size(4, 2)
    port = ctx.server.port
    body = b'{"config": {}}' + b" " * 50
    head = (f"POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()

    async def drip(slow_part: str) -> dict[str, Any]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER_HOST, 0))
        t0 = time.monotonic()
        got = b""

        async def read() -> None:
            nonlocal got
            while len(got) < 65536:
                chunk = await reader.read(4096)
                if not chunk:
                    return
                got += chunk

        reading = asyncio.create_task(read())
        data = head + body if slow_part == "body" else head
        fast = len(head) if slow_part == "body" else 0
        try:
            writer.write(data[:fast])
            for i in range(fast, len(data)):
                if reading.done() or time.monotonic() - t0 > seconds:
                    break
                writer.write(data[i:i + 1])
                await writer.drain()
                await asyncio.wait([reading], timeout=1.0)
        except OSError:
            pass
        if not reading.done():
            await asyncio.wait([reading], timeout=max(0.0, seconds - (time.monotonic() - t0)))
        closed = reading.done()
        reading.cancel()
        writer.close()
        status = got.split(b"\r\n", 1)[0].decode(errors="replace") if got else None
        return {"slow": slow_part, "closed_after_s": round(time.monotonic() - t0, 1) if closed else None,
                "answer": status}

    await ctx.start()
    results = await asyncio.gather(*(drip(part) for part in ["headers"] * n + ["body"] * n))
    return {"sockets": len(results), "bounded_s": seconds,
            "closed": sum(r["closed_after_s"] is not None for r in results),
            "answers": histogram(Counter(str(r["answer"]) for r in results)), "per_socket": results}


def stalled_socket(port: int, *messages: dict[str, Any]) -> socket.socket:
    """A websocket from the attacker's address with a 4 kB receive buffer, which sends
    `messages` and never reads again (nor acks a frame)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((ATTACKER_HOST, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    for message in messages:
        payload, mask = json.dumps(message).encode(), os.urandom(4)
        n = len(payload)
        length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
        sock.sendall(b"\x81" + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


async def stalled_readers(ctx: Ctx) -> dict[str, Any]:
    """Sockets that say hello (the default network, playing, 60 frames a second), then never
    read again: the server must neither wait for them nor queue their frames. (Their
    training is light: what is measured is the stalled sockets, not a CPU flood.)"""
    n = ctx.size(8, 4)
    hello = {"type": "hello", "config": DEFAULT_CONFIG, "playing": True, "fps": 60}
    await ctx.start()
    socks = []
    for _ in range(n):
        try:
            socks.append(await asyncio.to_thread(stalled_socket, ctx.server.port, hello))
        except OSError:
            break
    await asyncio.sleep(ctx.window)
    for sock in socks:
        sock.close()
    return {"sockets": len(socks), "of": n, "stalled_s": ctx.window}


ATTACKS: dict[str, Callable[[Ctx], Awaitable[dict[str, Any]]]] = {
    "big_step": big_step, "big_import": big_import, "burst": burst, "join_guess": join_guess,
    "session_flood": session_flood, "full_speed_flood": full_speed_flood, "save_flood": save_flood,
    "upload_flood": upload_flood, "hyper_log": hyper_log, "slow_http": slow_http,
    "stalled_readers": stalled_readers}


# ------------------------------------------------------------------ one attack, measured


def warm_up(victim: Victim, timeout: float = 30.0) -> bool:
    """Wait until the victim gets a steady stream (the fast path compiles in the background at
    first): one second at 90 % of its frame rate without a gap over 100 ms. False: never was."""
    time.sleep(1.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = time.monotonic()
        time.sleep(1.0)
        second = victim.window(t, time.monotonic())
        if second["fps"] >= 0.9 * VICTIM_FPS and second["gap_ms_max"] <= 100:
            return True
    return False


def run_attack(name: str, window: float, quick: bool, root: Path) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"paramlab-abuse-{name}-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    server = victim = None
    try:
        server = start_server(data_dir, tmp / "server.log", root)
        victim = Victim(server.ws)
        if not victim.wait_first_frame(30):
            return {"bench": "abuse", "attack": name, "ok": None, "failed": "the victim got no frame",
                    "victim_events": [e for _, e in victim.events]}
        warm = warm_up(victim)
        load = round(os.getloadavg()[0], 2)
        t = time.monotonic()
        time.sleep(window)
        reference = victim.window(t, time.monotonic())
        ctx = Ctx(server, quick, window)
        details: dict[str, Any]
        try:
            details = asyncio.run(asyncio.wait_for(ATTACKS[name](ctx), ATTACK_LIMIT_SECONDS))
        except TimeoutError:
            details = {"cut_off_after_s": ATTACK_LIMIT_SECONDS}
        except Exception as exc:
            details = {"failed": f"{type(exc).__name__}: {exc}", "where": traceback.format_exc(limit=-2)[-600:]}
        t0 = ctx.t0 or t + window
        t1 = time.monotonic()
        if t1 < t0 + window:
            time.sleep(t0 + window - t1)
            t1 = t0 + window
        during = victim.window(t0, t1)
        time.sleep(AFTER_SECONDS)
        after = victim.window(t1, t1 + AFTER_SECONDS)
        share = during["fps"] / reference["fps"] if reference["fps"] else 0.0
        return {"bench": "abuse", "attack": name,
                "ok": share >= TARGET_FPS_SHARE and during["gap_ms_max"] <= TARGET_GAP_MS,
                "fps": during["fps"], "reference_fps": reference["fps"], "fps_share": round(share, 2),
                "gap_ms_max": during["gap_ms_max"], "reference_gap_ms_max": reference["gap_ms_max"],
                "attack_seconds": during["seconds"], "after_fps": after["fps"],
                "victim_events": during["events"], "warm": warm, "load1": load, "server_alive": server.alive(),
                "server_rss_mb": server.rss_mb(), "details": details}
    except RuntimeError as exc:
        return {"bench": "abuse", "attack": name, "ok": None, "failed": str(exc)[-1000:]}
    finally:
        if victim is not None:
            victim.stop()
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attack", action="append", choices=list(ATTACKS),
                        help="an attack to run (repeat for several; default: all)")
    parser.add_argument("--window", type=float, default=None,
                        help="seconds of the reference window and the least measured per attack (default 5, quick 2)")
    parser.add_argument("--quick", action="store_true", help="shorter windows and smaller counts: a smoke run")
    parser.add_argument("--server-root", type=Path, default=ROOT,
                        help="the source tree whose app is served (default: this one; for example an export "
                             "of an earlier commit, to compare before and after)")
    parser.add_argument("--victim", help=argparse.SUPPRESS)
    parser.add_argument("--victim-lifetime", type=float, default=VICTIM_LIFETIME_SECONDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.victim:
        asyncio.run(victim_main(args.victim, args.victim_lifetime))
        return
    window = args.window or (2.0 if args.quick else 5.0)
    for name in args.attack or list(ATTACKS):
        print(json.dumps(run_attack(name, window, args.quick, args.server_root.resolve())), flush=True)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
