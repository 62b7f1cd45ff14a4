"""Sessions snapshotted to the store, so nothing is lost when the server stops.

Snapshots are background work: one session at a time, each when the training
loop has time to spare (`Registry.spare`; at most `BACKGROUND_WAIT` seconds
later when it never has), and the store write happens in a thread, so live
sessions keep their frame rate. Idle sessions are written once more and then
leave memory; they come back from the store when their owner returns.
"""

from __future__ import annotations

import asyncio
import logging

from app.server.registry import Registry
from app.settings import Settings

log = logging.getLogger("paramlab.snapshots")

# How long one snapshot waits at most for the training loop to have time to spare.
BACKGROUND_WAIT = 0.1


async def save_one(registry: Registry, session_id: str) -> None:
    live = registry.sessions.get(session_id)
    if live is None:
        return
    doc = registry.snapshot(live)
    if doc is not None:
        await asyncio.to_thread(registry.store.put, "session", session_id, doc)


async def save_all(registry: Registry, background: bool = False) -> None:
    """Snapshot every changed session; `background`: each waits for time to spare."""
    for session_id in list(registry.sessions):
        live = registry.sessions.get(session_id)
        if live is None or live.saved_version == live.session.version:
            continue
        if background:
            await registry.spare(BACKGROUND_WAIT)
        await save_one(registry, session_id)
        await asyncio.sleep(0)


async def snapshot_loop(registry: Registry, settings: Settings) -> None:
    """Forever: pause what nobody watches, snapshot what changed, then evict the idle."""
    while True:
        await asyncio.sleep(settings.snapshot_seconds)
        try:
            for live in registry.unwatched(settings.unwatched_seconds):
                live.set_playing(False)  # nobody is looking: stop spending the class's CPU
                live.session.version += 1
            await save_all(registry, background=True)
            for live in registry.idle(settings.idle_seconds):
                await save_one(registry, live.id)
                if not live.clients:
                    registry.sessions.pop(live.id, None)
        except Exception:  # noqa: BLE001 - a failing store must not stop training
            log.exception("snapshot failed; retrying in %s s", settings.snapshot_seconds)
