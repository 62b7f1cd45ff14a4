"""Live sessions held by the server, and the clients watching each one."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession


class Client:
    """One websocket watching a session: its frame rate and flow-control state."""

    def __init__(self, fps: int) -> None:
        self.fps = fps
        self.wake = asyncio.Event()   # set when the session changed or an ack arrived
        self.seq = 0                  # last frame sent
        self.acked = 0                # last frame acknowledged
        self.sent_version = -1        # session.version shown by the last frame
        self.history_step = -1        # last step whose history this client has
        self.change_index = 0         # changes already sent
        self.next_send = 0.0          # perf_counter time before which no frame goes out


class LiveSession:
    """A training session in memory, with its playing state and its clients."""

    def __init__(self, session_id: str, session: TrainingSession) -> None:
        self.id = session_id
        self.session = session
        self.playing = False
        self.updates_per_second: float | None = 250.0
        self.credit = 0.0          # updates owed by the clock, not yet run
        self.last_tick = time.perf_counter()
        self.clients: set[Client] = set()
        self.last_seen = time.monotonic()

    def notify(self) -> None:
        """Wake every client: there is something new to show."""
        for client in self.clients:
            client.wake.set()

    def set_playing(self, playing: bool) -> None:
        self.playing = playing
        self.credit = 0.0
        self.last_tick = time.perf_counter()

    def info(self) -> dict[str, Any]:
        return {"playing": self.playing, "updates_per_second": self.updates_per_second}


class RegistryFull(Exception):
    pass


class Registry:
    """All live sessions by id."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.sessions: dict[str, LiveSession] = {}
        self.work = asyncio.Event()  # set when some session starts playing

    def create(self, config: RunConfig, hyper: HyperState) -> LiveSession:
        """Build a new session; raises RegistryFull past the limit, ValueError on a bad config."""
        if len(self.sessions) >= self.max_sessions:
            raise RegistryFull(f"the server holds at most {self.max_sessions} sessions; try again later")
        live = LiveSession(secrets.token_urlsafe(9), TrainingSession(config, hyper))
        self.sessions[live.id] = live
        return live

    def get(self, session_id: str) -> LiveSession | None:
        live = self.sessions.get(session_id)
        if live is not None:
            live.last_seen = time.monotonic()
        return live

    def playing(self) -> list[LiveSession]:
        return [s for s in self.sessions.values() if s.playing]

    def evict_idle(self, idle_seconds: float) -> int:
        """Drop sessions nobody has watched for `idle_seconds`."""
        now = time.monotonic()
        stale = [k for k, s in self.sessions.items() if not s.clients and now - s.last_seen > idle_seconds]
        for key in stale:
            del self.sessions[key]
        return len(stale)
