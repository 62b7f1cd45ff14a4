"""The training loop: runs every playing session at the speed it asked for.

All sessions train on the event loop's thread, in turns; between two turns
the loop yields, so websocket reads and frame sends are never held up for
more than one turn, and a turn is bounded by its slice of time.

A paced session's clock owes it `updates_per_second` updates a second. Its
turn comes when a frame needs it: just before the next frame one of its
clients may take is due (so every frame shows fresh state, and a frame's
worth of updates runs in one turn, not in many small ones), or, with nobody
waiting for a frame, once it is owed `BATCH_SECONDS` of updates. Fewer,
larger turns cost less: the fast path runs a turn's updates in one compiled
call, and the per-call costs are paid once per frame, not once per
millisecond.

When the machine is saturated every session is due in every round. A round
gives each client address its share of time, and the sessions of one address
take turns in rotation, each turn of at most `TURN_FRAMES` frames' worth of
updates and at most its slice of time: every session slows down by the same
share (frames and updates together, like a film in slow motion), one
student's sixty sessions get the time of one classmate's, and none starves.
Background work (snapshots) waits for a round with time to spare; see
`Registry.spare`.

Time is read from a `clock` (seconds, `time.perf_counter` by default, the
clock of `LiveSession.last_tick` and `Client.next_send`), so that a test can
run the loop on a clock of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from app.server.registry import LiveSession, Registry
from app.server.ws import MAX_UNACKED

# Updates a paused clock may owe at most, in seconds of play: after a stall the
# session catches up a little, not by a burst.
MAX_BACKLOG_SECONDS = 0.25
# A paced session that no client is waiting on trains once it owes this many
# seconds of its clock (frames pace everything else).
BATCH_SECONDS = 0.05
# A turn runs this long before a client's frame is due: the frame then shows it.
LEAD_SECONDS = 0.002
# A turn runs at most this many frames' worth of updates (of its fastest client):
# a late turn catches up a little, and on a saturated machine frames and
# updates slow down together instead of turns growing at the frames' expense.
TURN_FRAMES = 1.5
# The loop lets I/O run (frames go out, messages come in) once turns have
# taken this long since it last did: after every turn, a loop iteration (a poll
# of every socket) per turn costs more than the turns of small networks.
YIELD_SECONDS = 0.001
# The loop sleeps at most this long when no turn is due (a control message,
# an ack or a new session may make one due meanwhile).
MAX_NAP_SECONDS = 0.005

Clock = Callable[[], float]


def run_turn(live: LiveSession, slice_seconds: float, clock: Clock = time.perf_counter) -> int:
    """Run what `live` is owed now, for at most `slice_seconds`. Returns updates run."""
    now = clock()
    elapsed, live.last_tick = now - live.last_tick, now
    if live.updates_per_second is None:
        owed = 1 << 30
    else:
        ups = live.updates_per_second
        live.credit = min(live.credit + ups * elapsed, ups * MAX_BACKLOG_SECONDS + 1)
        owed = int(live.credit)
        if owed == 0:
            return 0
        fps = max((c.fps for c in live.clients), default=0)
        if fps:
            owed = min(owed, max(1, int(TURN_FRAMES * ups / fps)))
        owed = epoch_aligned(live, owed)
    done = live.session.advance(owed, deadline=now + slice_seconds)
    if live.updates_per_second is not None:
        live.credit -= done
    if live.session.diverged is not None or live.session.stopped_early:
        live.set_playing(False)  # a divergence or early stopping pauses the run: the frame says why
    if done or not live.playing:
        live.notify()
    return done


def epoch_aligned(live: LiveSession, owed: int) -> int:
    """`owed`, moved to the end of an epoch when one is near: the last epoch end
    within it, or one a quarter of it ahead (the clock catches up next turn).

    A turn that ends an epoch runs its updates in one compiled call, not two,
    and its frame shows the epoch's metrics as they were just computed.
    """
    session = live.session
    per_epoch = -(-session.data.n("train") // max(1, session.hyper.batch_size))
    left = len(session.queue) or per_epoch  # updates to the end of this epoch
    if owed >= left:
        return left + (owed - left) // per_epoch * per_epoch
    return left if left - owed <= owed // 4 else owed


def next_turn(live: LiveSession, now: float) -> float:
    """When `live` should next have its turn (a perf_counter time; <= now: due now)."""
    ups = live.updates_per_second
    if ups is None:
        return now  # full speed: every round
    credit = live.credit + ups * (now - live.last_tick)
    at_one = now + (1.0 - credit) / ups if credit < 1.0 else now  # when one whole update is owed
    # Clients waiting for news that may take a frame: train just before the first is due.
    version = live.session.version
    frame = min((c.next_send for c in live.clients
                 if c.sent_version == version and c.seq - c.acked < MAX_UNACKED), default=None)
    batch = now + (max(1.0, ups * BATCH_SECONDS) - credit) / ups
    due = batch if frame is None else min(batch, max(at_one, frame - LEAD_SECONDS))
    return due


def turn_share(slice_seconds: float, playing: int) -> float:
    """Each turn's time limit: many sessions share a round, so that one round stays short."""
    return max(slice_seconds / 4, min(slice_seconds, 0.03 / max(1, playing)))


def by_address(playing: list[LiveSession]) -> dict[str | None, list[LiveSession]]:
    """Playing sessions grouped by the client address that created them."""
    groups: dict[str | None, list[LiveSession]] = {}
    for live in playing:
        groups.setdefault(live.address, []).append(live)
    return groups


async def training_loop(registry: Registry, slice_seconds: float, clock: Clock = time.perf_counter) -> None:
    """Forever: give every playing session that is due its turn, then let I/O run."""
    cursors: dict[str | None, int] = {}  # per address: the session its next round starts with
    while True:
        playing = registry.playing()
        if not playing:
            registry.mark_spare()
            registry.work.clear()
            await registry.work.wait()
            continue
        groups = by_address(playing)
        cursors = {address: cursors.get(address, 0) for address in groups}
        share = turn_share(slice_seconds, len(groups))  # an address's time a round
        turn = turn_share(slice_seconds, len(playing))  # a session's time a turn
        ran = 0
        wake = clock() + MAX_NAP_SECONDS
        last_yield = clock()
        for address, group in groups.items():
            # Each address has `share` seconds a round, however many sessions it plays;
            # its sessions take turns from where its last round stopped.
            start = cursors[address] % len(group)
            until = clock() + share
            for k in range(len(group)):
                live = group[(start + k) % len(group)]
                if not live.playing:
                    continue
                now = clock()
                due = next_turn(live, now)
                if due > now:
                    wake = min(wake, due)
                    continue
                run_turn(live, turn, clock)
                ran += 1
                if clock() - last_yield >= YIELD_SECONDS:
                    await asyncio.sleep(0)  # frames and messages go out between turns
                    last_yield = clock()
                if clock() >= until:
                    cursors[address] = start + k + 1
                    break
        if ran:
            await asyncio.sleep(0)
            continue
        # Nothing was due: the loop has time to spare until the next turn.
        registry.mark_spare()
        registry.work.clear()
        nap = wake - clock()
        if nap > 0:
            try:
                await asyncio.wait_for(registry.work.wait(), nap)
            except TimeoutError:
                pass
