"""What a server's SQLite store holds, read through the store's own code: a test
waits for a snapshot to land instead of sleeping and hoping it did."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from app.server.storage import SQLiteStore
from app.training.persist import restore_session
from app.training.session import TrainingSession


def stored_session(data_dir: Path, session_id: str, match: Callable[[TrainingSession], bool],
                   timeout: float = 20.0) -> TrainingSession:
    """The session as a server's SQLite store in `data_dir` holds it, once a snapshot
    for which `match` holds has been written (read through the store's own code;
    polled, for at most `timeout` seconds)."""
    store = SQLiteStore(data_dir / "paramlab.sqlite")
    deadline = time.monotonic() + timeout
    try:
        while True:
            doc = store.get("session", session_id)
            if doc is not None and match(session := restore_session(doc["state"])):
                return session
            if time.monotonic() > deadline:
                raise AssertionError(f"no snapshot of {session_id} as expected within {timeout} s")
            time.sleep(0.05)
    finally:
        store.close()
