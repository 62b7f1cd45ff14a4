"""The training loop: runs every playing session at the speed it asked for.

All sessions train on the event loop's thread, in turns. In one round each
playing session runs the updates its clock owes it, but for at most its slice
of time; between two sessions the loop yields, so websocket reads and frame
sends are never held up for more than one slice. A session at full speed is
owed without bound and so takes its whole slice every round: when the machine
is saturated every session gets the same share of time, and none starves.
"""

from __future__ import annotations

import asyncio
import time

from app.server.registry import LiveSession, Registry

# Updates a paused clock may owe at most, in seconds of play: after a stall the
# session catches up a little, not by a burst.
MAX_BACKLOG_SECONDS = 0.25


def run_turn(live: LiveSession, slice_seconds: float) -> int:
    """Run what `live` is owed now, for at most `slice_seconds`. Returns updates run."""
    now = time.perf_counter()
    elapsed, live.last_tick = now - live.last_tick, now
    if live.updates_per_second is None:
        owed = 1 << 30
    else:
        ups = live.updates_per_second
        live.credit = min(live.credit + ups * elapsed, ups * MAX_BACKLOG_SECONDS + 1)
        owed = int(live.credit)
        if owed == 0:
            return 0
    done = live.session.advance(owed, deadline=now + slice_seconds)
    if live.updates_per_second is not None:
        live.credit -= done
    if live.session.diverged is not None:
        live.set_playing(False)
    if done or not live.playing:
        live.notify()
    return done


async def training_loop(registry: Registry, slice_seconds: float) -> None:
    """Forever: give every playing session its turn, then let I/O run."""
    while True:
        playing = registry.playing()
        if not playing:
            registry.work.clear()
            await registry.work.wait()
            continue
        # Many sessions share the round so that one round stays short.
        share = max(slice_seconds / 4, min(slice_seconds, 0.03 / len(playing)))
        any_full_speed = False
        for live in playing:
            if live.playing:
                run_turn(live, share)
                any_full_speed |= live.updates_per_second is None
            await asyncio.sleep(0)
        # Paced sessions need the clock to move on; full-speed ones only need I/O a turn.
        await asyncio.sleep(0 if any_full_speed else 0.002)
