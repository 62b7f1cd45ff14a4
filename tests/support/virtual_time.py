"""An asyncio event loop on virtual time, for tests of code that paces itself.

The loop's clock stands still while code runs and jumps ahead whenever the loop
would wait for a timer: `await asyncio.sleep(1.5)` passes at once, and every
timer, `wait_for` and `asyncio.timeout` on the loop sees exactly 1.5 s go by.
Each turn of the loop costs `POLL_SECONDS` (as polling the sockets does), so
code that yields again and again until the clock has passed a point gets
there; other work costs time only when the test says so (`loop.advance`).
What a test counts (frames, turns, updates) is then the same on any machine,
busy or not.
Sockets, threads and subprocesses are not for this loop: nothing they do would
move its clock.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, TypeVar

T = TypeVar("T")

POLL_SECONDS = 1e-6


class _NoWaitSelector(selectors.DefaultSelector):
    """Polls, never blocks: the time the loop would have waited is added to its clock
    (at least POLL_SECONDS)."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self.loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if not events and timeout is None:
            raise RuntimeError("the virtual-time loop has nothing to do and no timer: it would wait forever")
        self.loop.now += POLL_SECONDS if events or not timeout else max(timeout, POLL_SECONDS)
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        super().__init__(_NoWaitSelector(self))

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass, as work that takes that long would."""
        self.now += seconds

    def as_time_module(self) -> Any:
        """A stand-in for the `time` module whose clocks are this loop's (monkeypatch it
        into a module that reads `time.perf_counter()` or `time.monotonic()`)."""
        return SimpleNamespace(perf_counter=self.time, monotonic=self.time, time=self.time)


def run(main: Callable[[VirtualTimeLoop], Awaitable[T]], loop: VirtualTimeLoop | None = None) -> T:
    """`main(loop)` to the end on a virtual-time loop (a new one unless given)."""
    loop = loop or VirtualTimeLoop()
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        return runner.run(main(loop))  # type: ignore[arg-type]
