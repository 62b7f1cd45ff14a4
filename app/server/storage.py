"""Where sessions, saved runs and rooms outlive the process.

One small interface, `Store`: JSON documents by kind and key. `SQLiteStore`
keeps them in one file under the data directory (several server processes
can share it); `MemoryStore` is for tests. Another store (Redis, Postgres)
only needs these four methods.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import orjson


class Store(Protocol):
    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None: ...
    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...
    def delete(self, kind: str, key: str) -> None: ...
    def keys(self, kind: str) -> list[str]: ...


class MemoryStore:
    """A Store in a dict: gone with the process."""

    def __init__(self) -> None:
        self._docs: dict[tuple[str, str], bytes] = {}

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self._docs[(kind, key)] = orjson.dumps(doc)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = self._docs.get((kind, key))
        return None if raw is None else orjson.loads(raw)

    def delete(self, kind: str, key: str) -> None:
        self._docs.pop((kind, key), None)

    def keys(self, kind: str) -> list[str]:
        return [k for (c, k) in self._docs if c == kind]


class SQLiteStore:
    """A Store in one SQLite file (WAL mode: readers do not wait for the writer)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, key TEXT NOT NULL, "
                             "doc BLOB NOT NULL, updated REAL NOT NULL, PRIMARY KEY (kind, key))")
            self._db.commit()

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        raw = orjson.dumps(doc)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO docs (kind, key, doc, updated) VALUES (?, ?, ?, ?)",
                             (kind, key, raw, time.time()))
            self._db.commit()

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM docs WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, key))
            self._db.commit()

    def keys(self, kind: str) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT key FROM docs WHERE kind = ?", (kind,))]

    def close(self) -> None:
        with self._lock:
            self._db.close()
