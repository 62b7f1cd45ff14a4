"""Sessions snapshotted to the store, so nothing is lost when the server stops;
and the store swept, so nothing stays in it forever.

Snapshots are background work, one round every `snapshot_seconds`: the round
waits once for the training loop to have time to spare (`Registry.spare`; at
most `BACKGROUND_WAIT` seconds when it never has), builds the document of
every session that changed (on the event loop, which owns the sessions,
letting I/O run between sessions once building has taken `YIELD_SECONDS`),
and writes them all in one transaction in a thread. A round begins early by
as long as the previous one took, so that snapshots land in the store every
`snapshot_seconds`: a killed server loses at most about that much of any
session. Idle sessions are written once more and then leave memory; they
come back from the store when their owner returns.

Every `SWEEP_SECONDS` (and once at start-up) a sweep deletes what outlived its
kind's age in the settings and, past `store_max_bytes`, the oldest documents,
in `TRIM_ORDER`: session snapshots first, saved runs last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from app.server.registry import LiveSession, Registry
from app.server.storage import Store, StoreUnavailable
from app.settings import Settings

log = logging.getLogger("paramlab.snapshots")

# How long a round of snapshots waits at most for the training loop to have time to spare.
BACKGROUND_WAIT = 0.1
# Building documents lets I/O run once it has taken this long (frames go out meanwhile).
YIELD_SECONDS = 0.005
# Rounds are this share of the interval apart at least, however long they take
# (a server too busy to write every session in time writes them less often).
MIN_PAUSE = 0.25
# How often the store is swept of what is too old, and trimmed to its size cap.
SWEEP_SECONDS = 300.0
# Past the size cap, the oldest documents go first in this order of kinds: a session
# snapshot is the easiest to lose (its owner may still have it in memory), saved runs
# were kept on purpose.
TRIM_ORDER = ["session", "owner", "dataset", "room", "run"]
DAY = 86400.0


async def save_one(registry: Registry, session_id: str) -> None:
    live = registry.sessions.get(session_id)
    if live is None:
        return
    doc = registry.snapshot(live)
    if doc is not None:
        await asyncio.to_thread(registry.store.put, "session", session_id, doc)


async def save_all(registry: Registry, background: bool = False) -> None:
    """Snapshot every changed session in one store write; `background`: first wait
    (once) for the training loop to have time to spare."""
    if background:
        await registry.spare(BACKGROUND_WAIT)
    items: list[tuple[str, str, dict[str, Any] | bytes]] = []
    saved: list[LiveSession] = []
    last_yield = time.perf_counter()
    for session_id, live in list(registry.sessions.items()):
        if registry.sessions.get(session_id) is not live:
            continue  # left memory while I/O ran
        doc = registry.snapshot(live)
        if doc is not None:
            # Encoded here, where the session lives (tens of microseconds): the thread
            # then only writes, and needs the GIL a few times, not twice per session.
            items.append(("session", session_id, orjson.dumps(doc)))
            saved.append(live)
        if background and time.perf_counter() - last_yield >= YIELD_SECONDS:
            await asyncio.sleep(0)
            last_yield = time.perf_counter()
    if not items:
        return
    try:
        await asyncio.to_thread(registry.store.put_many, items)
    except BaseException:
        for live in saved:
            live.saved_version = -1  # not written after all: the next round tries again
        raise


def max_ages(settings: Settings) -> dict[str, float]:
    """Seconds each kind of document is kept after it was last written."""
    return {"session": settings.session_days * DAY, "owner": settings.session_days * DAY,
            "dataset": settings.dataset_days * DAY, "run": settings.run_days * DAY,
            "room": settings.room_hours * 3600.0}


def sweep(store: Store, settings: Settings, now: float) -> tuple[int, int]:
    """Delete what is older than its kind may be, then trim to the size cap.
    Returns (expired, trimmed). Blocking: run it in a thread."""
    expired = store.expire(now, max_ages(settings))
    trimmed = store.trim(settings.store_max_bytes, TRIM_ORDER)
    return expired, trimmed


async def sweep_loop(store: Store, settings: Settings, clock: Callable[[], float] = time.time) -> None:
    """Forever: sweep the store now, then every `SWEEP_SECONDS`; ages are measured
    on `clock` (the store's clock of when documents were written)."""
    while True:
        try:
            expired, trimmed = await asyncio.to_thread(sweep, store, settings, clock())
            if expired or trimmed:
                log.info("store swept: %d documents past their age deleted, %d oldest trimmed "
                         "to stay under %d bytes", expired, trimmed, settings.store_max_bytes)
        except StoreUnavailable as exc:
            log.warning("store sweep skipped, the store is unavailable: %s", exc)
        except Exception:  # a failing store must not stop the server
            log.exception("store sweep failed; retrying in %s s", SWEEP_SECONDS)
        await asyncio.sleep(SWEEP_SECONDS)


async def snapshot_loop(registry: Registry, settings: Settings, clock: Callable[[], float] = time.time) -> None:
    """Forever: pause what nobody watches, snapshot what changed, then evict the idle;
    and sweep the store beside it (by `clock`, see `sweep_loop`)."""
    sweeper = asyncio.create_task(sweep_loop(registry.store, settings, clock))
    interval = settings.snapshot_seconds
    try:
        started, took = time.monotonic(), 0.0
        while True:
            # A round's snapshots are in the store `took` seconds after it began (most of
            # it the write): begin the next so that it ends one interval after this one
            # began, and a killed server has lost at most about `interval` of any session.
            await asyncio.sleep(max(MIN_PAUSE * interval, started + interval - took - time.monotonic()))
            started = time.monotonic()
            try:
                for live in registry.unwatched(settings.unwatched_seconds):
                    live.set_playing(False)  # nobody is looking: stop spending the class's CPU
                    live.session.mark_changed()
                await save_all(registry, background=True)
                for live in registry.idle(settings.idle_seconds):
                    await save_one(registry, live.id)
                    if not live.clients:
                        registry.drop(live.id)
            except StoreUnavailable as exc:  # Redis down: sessions train on in memory; said once a round
                log.warning("snapshot skipped, the store is unavailable: %s", exc)
            except Exception:  # a failing store must not stop training
                log.exception("snapshot failed; retrying in %s s", settings.snapshot_seconds)
            took = time.monotonic() - started
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
