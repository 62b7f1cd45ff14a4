"""A session's state passing between processes (Redis): hand-over, claim, snapshot on request.

A process that wants a session another one trains `claim`s it: it asks the holder, on the
holder's control channel (`node.py`), to `hand_over` the session (out of the training loop,
stored as it is, lease given up, clients there let go), then takes the lease. A page still
connected to the old process follows the session from the new one (`follow_moved`). A fork of
a room's session trained elsewhere asks its holder to store it now (`save_now`) and reads it
back (`fork_source`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from app.server.cluster import feed
from app.server.storage import StoreUnavailable
from app.training.persist import restore_session

if TYPE_CHECKING:
    from app.server.cluster.node import Node

log = logging.getLogger("paramlab.cluster")

# How long a process waits for another to answer a request (a hand-over: one snapshot write).
ANSWER_SECONDS = 3.0


class HeldElsewhere(Exception):
    """Another process trains the session and did not hand it over in time."""


class Handover:
    """The sessions of one process as they come in from, and go out to, the other processes."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def save_now(self, session_id: str) -> bool:
        live = self.node.registry.sessions.get(session_id)
        if live is None:
            return False
        try:
            await asyncio.to_thread(self.node.store.put, "session", session_id, live.to_doc())
        except StoreUnavailable:
            return False
        return True

    async def hand_over(self, session_id: str) -> bool:
        """Another process asks for a session held here: out of the training loop at once (no
        update after the snapshot), stored as it is, lease given up, clients here let go."""
        registry = self.node.registry
        live = registry.sessions.pop(session_id, None)
        if live is not None:
            doc = live.to_doc()
            playing = live.playing
            # A round of the training loop under way still holds it: not playing, it gets no turn
            # while the snapshot is written (the document keeps `playing` for the asker).
            live.playing = False
            try:
                await asyncio.to_thread(self.node.store.put, "session", session_id, doc)
            except StoreUnavailable:
                live.playing = playing
                registry.sessions[session_id] = live  # kept here: the asker gives up
                return False
            live.saved_version = live.session.version
            live.move_away()
            log.info("session %s handed over", session_id)
        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(self.node.leases.release, [session_id])
        return True

    async def claim(self, session_id: str) -> None:
        """Make this process the one training `session_id` (before bringing it in from the store):
        a live holder is asked to hand it over; a dead one's lease lapses within its TTL.
        Raises HeldElsewhere when neither happened in time."""
        leases = self.node.leases
        deadline = time.monotonic() + self.node.lease_seconds + ANSWER_SECONDS
        holder = await asyncio.to_thread(leases.acquire, session_id)
        asked = False
        while holder is not None:
            if not asked:
                asked = True
                await self.node.request(holder, "handover", session_id=session_id)
            else:
                await asyncio.sleep(0.2)
            if time.monotonic() > deadline:
                raise HeldElsewhere(f"session {session_id!r} is busy in another server process; try again")
            holder = await asyncio.to_thread(leases.acquire, session_id)

    async def follow_moved(self, session_id: str) -> feed.Feed | None:
        """A feed of a session that just left this process (handed over), once another process holds
        it; None when none does within ANSWER_SECONDS. Never takes the session back itself."""
        deadline = time.monotonic() + ANSWER_SECONDS
        while await asyncio.to_thread(self.node.leases.holder, session_id) in (None, self.node.name):
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.1)
        return self.node.room_channels.feed_of(session_id)

    async def fork_source(self, session_id: str) -> Any:
        """The newest state of a room's session trained elsewhere, rebuilt here (for a fork): its
        holder stores it now, and it is read back from the store."""
        holder = await asyncio.to_thread(self.node.leases.holder, session_id)
        if holder is not None and holder != self.node.name:
            await self.node.request(holder, "snapshot", session_id=session_id)
        doc = await asyncio.to_thread(self.node.store.get, "session", session_id)
        if doc is None:
            return None
        return await asyncio.to_thread(restore_session, doc["state"])
