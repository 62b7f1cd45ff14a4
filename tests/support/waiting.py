"""Waiting for something to become true, for at most a bounded time: the bound only
ends a failing test, it is never what a test asserts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], what: str, timeout: float = 10.0, poll: float = 0.05) -> T:
    """`check()` once it is truthy; AssertionError naming `what` if it is not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(poll)
    return result
