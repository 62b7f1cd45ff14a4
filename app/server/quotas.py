"""Quotas per client address, so that no one client fills the server.

Counts that are held (connections) are kept here; counts over time (new
sessions a minute, saves and uploads a day, wrong room codes a minute) are
sliding windows. Counts of things that live elsewhere (sessions in memory,
sessions at full speed, open rooms) are passed in by their owner. Every
refusal says what the limit is and which setting raises it.

Addresses are those the server sees: behind a reverse proxy, run uvicorn with
`--proxy-headers` (and `--forwarded-allow-ips`) so that they are the
students' own; a classroom behind one NAT shares one address, which is why
the defaults are large enough for a class.
"""

from __future__ import annotations

import time
from collections import Counter

from app.server.ratelimit import Clock, Window
from app.settings import Settings

DAY = 86400.0
MINUTE = 60.0
# Windows kept for this many addresses at most before empty ones are dropped.
MAX_TRACKED = 10000


class QuotaExceeded(Exception):
    """A quota is used up; `allowed` says what the limit is, `retry_after` when it frees."""

    def __init__(self, message: str, allowed: str, retry_after: float | None = None,
                 code: str = "limit") -> None:
        super().__init__(message)
        self.allowed = allowed
        self.retry_after = retry_after
        self.code = code


class Quotas:
    def __init__(self, settings: Settings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.connections: Counter[str] = Counter()
        self._windows: dict[tuple[str, str], Window] = {}

    def _window(self, address: str, kind: str, seconds: float) -> Window:
        key = (address, kind)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= MAX_TRACKED:
                self._windows = {k: w for k, w in self._windows.items() if w.sum() > 0}
            window = self._windows[key] = Window(seconds, self.clock)
        return window

    # ------------------------------------------------------------ connections

    def connect(self, address: str) -> None:
        most = self.settings.connections_per_client
        if self.connections[address] >= most:
            raise QuotaExceeded(f"this address already has {most} connections open; close a tab",
                                f"at most {most} connections per address (PARAMLAB_CONNECTIONS_PER_CLIENT)")
        self.connections[address] += 1

    def disconnect(self, address: str) -> None:
        self.connections[address] -= 1
        if self.connections[address] <= 0:
            del self.connections[address]

    # ------------------------------------------------------------ sessions

    def new_session(self, address: str, held: int) -> None:
        """Count one new session of `address`, which holds `held` now; raises past a quota."""
        most = self.settings.sessions_per_client
        if held >= most:
            raise QuotaExceeded(
                f"this address holds {held} sessions already; reopen one of yours instead of starting another",
                f"at most {most} sessions per address (PARAMLAB_SESSIONS_PER_CLIENT)")
        window = self._window(address, "session", MINUTE)
        per_minute = self.settings.new_sessions_per_minute
        if window.sum() >= per_minute:
            wait = window.retry_after()
            raise QuotaExceeded(f"this address started {per_minute} sessions in the last minute; "
                                f"try again in {wait:.0f} s",
                                f"at most {per_minute} new sessions a minute per address "
                                "(PARAMLAB_NEW_SESSIONS_PER_MINUTE)", retry_after=wait)
        window.add()

    def full_speed(self, playing_at_full_speed: int) -> None:
        """`playing_at_full_speed` sessions of this address would play as fast as possible."""
        most = self.settings.full_speed_per_client
        if playing_at_full_speed > most:
            raise QuotaExceeded(
                f"at most {most} of your sessions may play as fast as possible at once; "
                "pause one, or give this one a speed",
                f"at most {most} full-speed sessions per address (PARAMLAB_FULL_SPEED_PER_CLIENT)")

    def room(self, open_rooms: int) -> None:
        most = self.settings.rooms_per_client
        if open_rooms >= most:
            raise QuotaExceeded(f"this address has {open_rooms} rooms open; close one first",
                                f"at most {most} open rooms per address (PARAMLAB_ROOMS_PER_CLIENT)")

    # ------------------------------------------------------------ the store

    def store_write(self, address: str, kind: str, nbytes: int) -> None:
        """Count a save ("save") or an upload ("upload") of `nbytes`; raises past a day's quota."""
        count = self._window(address, kind, DAY)
        most = (self.settings.saves_per_client_per_day if kind == "save"
                else self.settings.uploads_per_client_per_day)
        setting = "PARAMLAB_SAVES_PER_CLIENT_PER_DAY" if kind == "save" else "PARAMLAB_UPLOADS_PER_CLIENT_PER_DAY"
        if count.sum() >= most:
            raise QuotaExceeded(f"this address made {most} {kind}s today; try again tomorrow",
                                f"at most {most} {kind}s a day per address ({setting})",
                                retry_after=count.retry_after())
        stored = self._window(address, "bytes", DAY)
        budget = self.settings.stored_bytes_per_client_per_day
        if stored.sum() + nbytes > budget:
            raise QuotaExceeded(
                f"this would store {nbytes:,} bytes more; this address has stored {stored.sum():,} of its "
                f"{budget:,} bytes today",
                f"at most {budget:,} bytes stored a day per address (PARAMLAB_STORED_BYTES_PER_CLIENT_PER_DAY)",
                retry_after=stored.retry_after())
        count.add()
        stored.add(nbytes)

    # ------------------------------------------------------------ room codes

    def join_attempt(self, address: str) -> None:
        """Before trying a room code: raises when this address guessed wrong too often."""
        window = self._window(address, "join", MINUTE)
        most = self.settings.join_attempts_per_address
        if window.sum() >= most:
            wait = window.retry_after()
            raise QuotaExceeded(f"too many wrong room codes from this address; try again in {wait:.0f} s",
                                f"at most {most} wrong codes a minute per address", retry_after=wait,
                                code="rate_limited")

    def join_failed(self, address: str) -> None:
        self._window(address, "join", MINUTE).add()
