"""Nothing stays in the store forever, and its file is its owner's alone:
documents expire by kind, the oldest are trimmed past a size cap, several are
written in one transaction, and the SQLite file and its directory are private.
Times come from an injected clock."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.server.storage import MemoryStore, SQLiteStore

DAY = 86400.0


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[Clock], Any]]:
    opened: list[SQLiteStore] = []

    def build(clock: Clock) -> Any:
        if request.param == "memory":
            return MemoryStore(clock=clock)
        store = SQLiteStore(tmp_path / "data" / "paramlab.sqlite", clock=clock)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


def doc(n: int) -> dict[str, Any]:
    """A document of about `n` bytes of JSON."""
    return {"pad": "x" * n}


def test_documents_older_than_their_kinds_age_are_deleted_and_other_kinds_kept(make_store) -> None:
    clock = Clock()
    store = make_store(clock)
    for kind in ("session", "run", "room", "dataset", "owner", "other"):
        store.put(kind, "old", doc(10))
    clock.now += 3 * DAY
    for kind in ("session", "run", "room", "dataset", "owner", "other"):
        store.put(kind, "new", doc(10))
    clock.now += 1 * DAY
    ages = {"session": 2 * DAY, "owner": 2 * DAY, "run": 365 * DAY, "dataset": 30 * DAY, "room": 0.5 * DAY}
    assert store.expire(clock.now, ages) == 4  # the old session, owner and room, and the new room
    assert sorted(store.keys("session")) == sorted(store.keys("owner")) == ["new"]
    assert store.keys("room") == []
    assert sorted(store.keys("run")) == sorted(store.keys("dataset")) == ["new", "old"]
    assert sorted(store.keys("other")) == ["new", "old"], "a kind with no age is kept"
    assert store.expire(clock.now, ages) == 0


def test_writing_a_document_again_restarts_its_age(make_store) -> None:
    clock = Clock()
    store = make_store(clock)
    store.put("session", "a", doc(10))
    clock.now += 6 * DAY
    store.put("session", "a", doc(11))
    clock.now += 6 * DAY
    assert store.expire(clock.now, {"session": 7 * DAY}) == 0
    assert store.get("session", "a") == doc(11)


def test_size_counts_the_bytes_of_every_document(make_store) -> None:
    store = make_store(Clock())
    assert store.size() == 0
    docs = {("session", "a"): doc(100), ("run", "b"): doc(250), ("room", "c"): {"code": "ABC"}}
    for (kind, key), d in docs.items():
        store.put(kind, key, d)
    store.put("session", "a", doc(50))  # replaced, not added
    docs[("session", "a")] = doc(50)
    assert store.size() == sum(len(orjson.dumps(d)) for d in docs.values())
    store.delete("run", "b")
    assert store.size() == len(orjson.dumps(doc(50))) + len(orjson.dumps({"code": "ABC"}))


def test_past_the_cap_the_oldest_go_first_kind_by_kind(make_store) -> None:
    clock = Clock()
    store = make_store(clock)
    one = len(orjson.dumps(doc(1000)))
    # Written oldest first: runs, then sessions interleaved with datasets.
    for i in range(3):
        store.put("run", f"r{i}", doc(1000))
        clock.now += 1
    for i in range(4):
        store.put("session", f"s{i}", doc(1000))
        clock.now += 1
        store.put("dataset", f"d{i}", doc(1000))
        clock.now += 1
    assert store.size() == 11 * one
    order = ["session", "owner", "dataset", "room", "run"]
    assert store.trim(11 * one, order) == 0, "at the cap: nothing to do"
    # Within the cap after dropping the 3 oldest sessions; saved runs untouched.
    assert store.trim(8 * one, order) == 3
    assert store.keys("session") == ["s3"] and len(store.keys("dataset")) == 4 and len(store.keys("run")) == 3
    # Past every session: then datasets, oldest first.
    assert store.trim(5 * one + one // 2, order) == 3
    assert store.keys("session") == [] and sorted(store.keys("dataset")) == ["d2", "d3"]
    assert store.size() == 5 * one
    # Kinds not in the order are never trimmed, even when the cap cannot be met.
    assert store.trim(0, ["session", "dataset"]) == 2
    assert sorted(store.keys("run")) == ["r0", "r1", "r2"] and store.size() == 3 * one


def test_put_many_writes_every_document_or_none(make_store) -> None:
    clock = Clock()
    store = make_store(clock)
    store.put_many([("session", "a", doc(1)), ("session", "b", doc(2)), ("owner", "a", {"owner": "me"})])
    assert store.get("session", "a") == doc(1) and store.get("session", "b") == doc(2)
    assert store.get("owner", "a") == {"owner": "me"}
    with pytest.raises(TypeError):
        store.put_many([("session", "a", doc(5)), ("session", "c", {"bad": object()})])
    assert store.get("session", "a") == doc(1) and store.get("session", "c") is None
    clock.now += 10 * DAY
    assert store.expire(clock.now, {"session": DAY}) == 2
    # Many at once, some already encoded (as snapshots are, on the event loop).
    store.put_many([("run", f"r{i}", orjson.dumps({"i": i}) if i % 2 else {"i": i}) for i in range(450)])
    assert len(store.keys("run")) == 450 and store.get("run", "r449") == {"i": 449}
    assert store.size() == len(orjson.dumps({"owner": "me"})) + sum(len(orjson.dumps({"i": i})) for i in range(450))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_file_and_its_directory_are_private(tmp_path: Path) -> None:
    before = os.umask(0o022)  # the usual umask, which would make them world-readable
    try:
        store = SQLiteStore(tmp_path / "data" / "paramlab.sqlite")
        store.put("session", "a", doc(10))
        wal, shm = (tmp_path / "data" / f"paramlab.sqlite{suffix}" for suffix in ("-wal", "-shm"))
        assert wal.exists() and shm.exists()
        assert mode(tmp_path / "data") == 0o700
        assert (mode(tmp_path / "data" / "paramlab.sqlite"), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
        store.close()
    finally:
        os.umask(before)


def test_a_store_left_readable_by_an_older_server_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    path = data / "paramlab.sqlite"
    old = SQLiteStore(path)
    old.put("run", "r", doc(10))
    old.close()
    for p in (data, path):
        p.chmod(0o755 if p.is_dir() else 0o644)
    store = SQLiteStore(path)
    assert (mode(data), mode(path)) == (0o700, 0o600)
    assert store.get("run", "r") == doc(10)
    store.close()


def test_a_file_written_before_sizes_were_kept_opens_and_is_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "paramlab.sqlite"
    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE docs (kind TEXT NOT NULL, key TEXT NOT NULL, doc BLOB NOT NULL, "
               "updated REAL NOT NULL, PRIMARY KEY (kind, key))")
    for i, kind in enumerate(("session", "session", "run")):
        db.execute("INSERT INTO docs VALUES (?, ?, ?, ?)", (kind, f"k{i}", orjson.dumps(doc(100)), 100.0 + i))
    db.commit()
    db.close()
    store = SQLiteStore(path, clock=Clock(200.0))
    one = len(orjson.dumps(doc(100)))
    assert store.get("run", "k2") == doc(100)
    assert store.size() == 3 * one
    assert store.trim(2 * one, ["session", "run"]) == 1 and store.keys("session") == ["k1"]
    assert store.expire(200.0, {"session": 50.0, "run": 200.0}) == 1 and store.keys("run") == ["k2"]
    store.close()
    again = SQLiteStore(path)  # opened once more: the migration is not repeated
    assert again.size() == one
    again.close()
