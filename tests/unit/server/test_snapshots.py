"""Snapshots and the store sweep: one round waits once for time to spare and
writes every changed session in one transaction; the sweep drops what is past
its age and trims to the cap, saved runs last."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from app.server import snapshots
from app.server.registry import Registry
from app.server.storage import MemoryStore
from app.settings import Settings
from app.training.config import HyperState, RunConfig

DAY = 86400.0


class CountingStore(MemoryStore):
    """A MemoryStore that counts its writes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.puts: list[tuple[str, str]] = []
        self.batches: list[list[tuple[str, str]]] = []

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self.puts.append((kind, key))
        super().put(kind, key, doc)

    def put_many(self, items: Any) -> None:
        items = list(items)
        self.batches.append([(kind, key) for kind, key, _ in items])
        super().put_many(items)


def test_a_round_waits_once_and_writes_every_changed_session_in_one_put_many() -> None:
    store = CountingStore()
    registry = Registry(10, store)
    lives = [registry.create(RunConfig(), HyperState()) for _ in range(4)]
    for live in lives:
        live.set_playing(True)
    lives[2].saved_version = lives[2].session.version  # unchanged since its last snapshot
    waits: list[float] = []

    async def spare(timeout: float) -> None:
        waits.append(timeout)

    registry.spare = spare  # type: ignore[method-assign]
    asyncio.run(snapshots.save_all(registry, background=True))
    assert waits == [snapshots.BACKGROUND_WAIT], "one wait for the round, not one per session"
    assert store.puts == []
    assert store.batches == [[("session", live.id) for i, live in enumerate(lives) if i != 2]]
    assert all(store.get("session", live.id) is not None for i, live in enumerate(lives) if i != 2)
    # Nothing changed since: the next round writes nothing.
    asyncio.run(snapshots.save_all(registry, background=True))
    assert len(store.batches) == 1 and store.puts == []


def fill(store: MemoryStore, clock: list[float]) -> None:
    """Documents of every kind, written 400 days, 40 days, 10 days, 1 day and 1 hour ago."""
    now = clock[0]
    for age in (400 * DAY, 40 * DAY, 10 * DAY, DAY, 3600.0):
        clock[0] = now - age
        for kind in ("session", "owner", "dataset", "room", "run"):
            store.put(kind, f"{age:.0f}", {"pad": "x" * 100})
    clock[0] = now


def test_the_sweep_drops_each_kind_past_its_age_from_the_settings() -> None:
    clock = [1e9]
    store = MemoryStore(clock=lambda: clock[0])
    fill(store, clock)
    settings = Settings(session_days=7, dataset_days=30, run_days=365, room_hours=12)
    expired, trimmed = snapshots.sweep(store, settings, clock[0])
    kept = {kind: sorted(store.keys(kind), key=float) for kind in ("session", "owner", "dataset", "room", "run")}
    assert kept == {"session": ["3600", "86400"], "owner": ["3600", "86400"],
                    "dataset": ["3600", "86400", "864000"], "room": ["3600"],
                    "run": ["3600", "86400", "864000", "3456000"]}
    assert (expired, trimmed) == (3 + 3 + 2 + 4 + 1, 0)


def test_past_the_cap_the_sweep_trims_sessions_first_and_saved_runs_last() -> None:
    clock = [1e9]
    store = MemoryStore(clock=lambda: clock[0])
    fill(store, clock)
    settings = Settings(session_days=1000, dataset_days=1000, run_days=1000, room_hours=1e6,
                        store_max_bytes=store.size() // 25 * 6)  # room for 6 of the 25 documents
    assert snapshots.sweep(store, settings, clock[0]) == (0, 19)
    assert store.keys("session") == store.keys("owner") == store.keys("dataset") == []
    assert store.keys("room") == ["3600"] and len(store.keys("run")) == 5


def test_the_store_is_swept_when_the_server_starts() -> None:
    clock = [1e9]
    store = CountingStore(clock=lambda: clock[0])
    fill(store, clock)
    swept = threading.Event()
    expire = store.expire

    def expire_and_tell(now: float, max_age: dict[str, float]) -> int:
        try:
            return expire(now, max_age)
        finally:
            swept.set()

    store.expire = expire_and_tell  # type: ignore[method-assign]
    registry = Registry(10, store)

    async def run() -> None:
        task = asyncio.create_task(snapshots.snapshot_loop(registry, Settings(snapshot_seconds=3600),
                                                           clock=lambda: clock[0]))
        assert await asyncio.to_thread(swept.wait, 30)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert sorted(store.keys("session"), key=float) == ["3600", "86400"]
