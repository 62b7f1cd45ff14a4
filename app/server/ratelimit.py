"""Budgets for what one client may ask of the server, with an injectable clock."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `take()` spends one."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = float(burst)
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def wait_seconds(self) -> float:
        """How long until one token is there again."""
        return max(0.0, (1 - self.tokens) / self.rate)


class Window:
    """Events in the last `seconds`, each with an amount (1, or bytes)."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self.events: deque[tuple[float, int]] = deque()
        self.total = 0

    def _expire(self, now: float) -> None:
        while self.events and self.events[0][0] <= now - self.seconds:
            self.total -= self.events.popleft()[1]

    def sum(self) -> int:
        self._expire(self.clock())
        return self.total

    def add(self, amount: int = 1) -> None:
        now = self.clock()
        self._expire(now)
        self.events.append((now, amount))
        self.total += amount

    def retry_after(self) -> float:
        """Seconds until the oldest event leaves the window."""
        if not self.events:
            return 0.0
        return max(0.0, self.events[0][0] + self.seconds - self.clock())
