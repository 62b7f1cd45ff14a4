"""Where sessions, saved runs and rooms outlive the process.

One small interface, `Store`: JSON documents by kind and key, each with the
time it was last written. `SQLiteStore` keeps them in one file under the data
directory (several server processes can share it; the file and its directory
are readable by their owner only); `MemoryStore` is for tests. Nothing is kept
forever: the snapshot loop calls `expire` (documents older than their kind's
age limit) and `trim` (the oldest first, kind by kind, past a size cap).
Another store (Redis, Postgres) only needs these methods.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import orjson

Clock = Callable[[], float]
# (kind, key, document); a document given as bytes is its JSON, already encoded.
Item = tuple[str, str, dict[str, Any] | bytes]


class StoreUnavailable(Exception):
    """The store cannot be reached for now (a shared store's server is down); the message says why."""


def encode_doc(doc: dict[str, Any] | bytes) -> bytes:
    return doc if isinstance(doc, bytes) else orjson.dumps(doc)


class Store(Protocol):
    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None: ...
    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...
    def delete(self, kind: str, key: str) -> None: ...
    def keys(self, kind: str) -> list[str]: ...

    def put_many(self, items: Iterable[Item]) -> None:
        """Write every (kind, key, doc) at once: all or nothing, one transaction.
        A doc may be given as its JSON bytes (encoded where it was built)."""
        ...

    def expire(self, now: float, max_age: dict[str, float]) -> int:
        """Delete the documents of each named kind last written more than its
        `max_age` seconds before `now`; kinds not named are kept. Returns how many."""
        ...

    def size(self) -> int:
        """Bytes of the documents stored (their JSON), all kinds together."""
        ...

    def trim(self, max_bytes: int, order: list[str]) -> int:
        """Past `max_bytes`, delete the oldest documents of `order[0]`, then of
        `order[1]`..., until the store is within the cap (kinds not named are
        never trimmed). Returns how many were deleted."""
        ...


class MemoryStore:
    """A Store in a dict: gone with the process. `clock` dates every write."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._docs: dict[tuple[str, str], tuple[bytes, float]] = {}  # -> (JSON, updated)
        self._lock = threading.Lock()  # writes come from threads (asyncio.to_thread)

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.put_many([(kind, key, doc)])

    def put_many(self, items: Iterable[Item]) -> None:
        rows = [((kind, key), encode_doc(doc)) for kind, key, doc in items]
        now = self._clock()
        with self._lock:
            for k, raw in rows:
                self._docs[k] = (raw, now)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self._docs.get((kind, key))
        return None if found is None else orjson.loads(found[0])

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._docs.pop((kind, key), None)

    def keys(self, kind: str) -> list[str]:
        return [k for (c, k) in list(self._docs) if c == kind]

    def expire(self, now: float, max_age: dict[str, float]) -> int:
        with self._lock:
            old = [k for k, (_, updated) in self._docs.items()
                   if k[0] in max_age and updated < now - max_age[k[0]]]
            for k in old:
                del self._docs[k]
        return len(old)

    def size(self) -> int:
        return sum(len(raw) for raw, _ in list(self._docs.values()))

    def trim(self, max_bytes: int, order: list[str]) -> int:
        dropped = 0
        with self._lock:
            total = sum(len(raw) for raw, _ in self._docs.values())
            for kind in order:
                if total <= max_bytes:
                    break
                oldest = sorted((updated, k) for k, (_, updated) in self._docs.items() if k[0] == kind)
                for _, k in oldest:
                    if total <= max_bytes:
                        break
                    total -= len(self._docs.pop(k)[0])
                    dropped += 1
        return dropped


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# Rows written by one INSERT statement (5 parameters each, under SQLite's oldest
# limit of 999): a thread writing a round of snapshots takes the GIL back once per
# statement, and on a busy server each time costs up to a switch interval (5 ms).
INSERT_ROWS = 199
# Rows read at once while looking for the oldest documents to trim.
TRIM_BATCH = 500


def _make_private(path: Path, mode: int) -> None:
    """Take group and other permissions away from `path`, if it exists (ours to change)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & 0o077:
        path.chmod(mode)


class SQLiteStore:
    """A Store in one SQLite file (WAL mode: readers do not wait for the writer).

    The file, its `-wal` and `-shm` companions and the directory holding them are
    private to the user running the server (0600, 0700): sessions hold teacher
    keys, and uploads hold people's data. Each row keeps its size, so the store's
    size is one sum and trimming reads the oldest rows in order.
    """

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        _make_private(path.parent, PRIVATE_DIR)
        # Created private before SQLite opens it: SQLite gives the -wal, -shm and
        # -journal files it creates the mode of the database file.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
        _make_private(path, PRIVATE_FILE)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        with self._lock:
            # Only takes effect in a new file (before its first table): freed pages then go
            # back to the file system after a sweep, instead of staying in the file.
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, key TEXT NOT NULL, "
                             "doc BLOB NOT NULL, updated REAL NOT NULL, size INTEGER NOT NULL DEFAULT 0, "
                             "PRIMARY KEY (kind, key))")
            columns = [row[1] for row in self._db.execute("PRAGMA table_info(docs)")]
            if "size" not in columns:  # a file written before sizes were kept
                try:
                    self._db.execute("ALTER TABLE docs ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
                except sqlite3.OperationalError as exc:  # another process sharing the file just added it
                    if "duplicate column" not in str(exc):
                        raise
                self._db.execute("UPDATE docs SET size = length(doc) WHERE size = 0")
            self._db.execute("CREATE INDEX IF NOT EXISTS docs_by_age ON docs (kind, updated)")
            self._db.commit()
        for companion in ("-wal", "-shm"):  # left by an older server with a looser mode
            _make_private(path.with_name(path.name + companion), PRIVATE_FILE)

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.put_many([(kind, key, doc)])

    def put_many(self, items: Iterable[Item]) -> None:
        now = self._clock()
        values: list[Any] = []
        for kind, key, doc in items:
            raw = encode_doc(doc)
            values += (kind, key, raw, now, len(raw))
        with self._lock, self._db:  # one transaction: committed, or rolled back on an error
            for start in range(0, len(values), 5 * INSERT_ROWS):
                chunk = values[start:start + 5 * INSERT_ROWS]
                self._db.execute("INSERT OR REPLACE INTO docs (kind, key, doc, updated, size) VALUES "
                                 + ", ".join(["(?, ?, ?, ?, ?)"] * (len(chunk) // 5)), chunk)

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

    def expire(self, now: float, max_age: dict[str, float]) -> int:
        dropped = 0
        with self._lock:
            with self._db:
                for kind, age in max_age.items():
                    dropped += self._db.execute("DELETE FROM docs WHERE kind = ? AND updated < ?",
                                                (kind, now - age)).rowcount
            if dropped:
                self._db.execute("PRAGMA incremental_vacuum").fetchall()
        return dropped

    def size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM docs").fetchone()[0])

    def trim(self, max_bytes: int, order: list[str]) -> int:
        dropped = 0
        with self._lock:
            total = int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM docs").fetchone()[0])
            with self._db:
                for kind in order:
                    while total > max_bytes:
                        rows = self._db.execute("SELECT key, size FROM docs WHERE kind = ? "
                                                "ORDER BY updated, key LIMIT ?", (kind, TRIM_BATCH)).fetchall()
                        if not rows:
                            break
                        doomed = []
                        for key, size in rows:
                            if total <= max_bytes:
                                break
                            doomed.append((kind, key))
                            total -= size
                        self._db.executemany("DELETE FROM docs WHERE kind = ? AND key = ?", doomed)
                        dropped += len(doomed)
            if dropped:
                self._db.execute("PRAGMA incremental_vacuum").fetchall()
        return dropped

    def close(self) -> None:
        with self._lock:
            self._db.close()
