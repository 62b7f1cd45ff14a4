"""The training loop in-process: turns aligned with frames, fair shares, background work yields.

A fake sender stands in for the websocket: it follows `ws._send_frames`'s
rules (a frame when the session changed, 1/fps has passed and at most one
frame is unacknowledged) and acknowledges at once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.nn import fast
from app.server import messages, scheduler
from app.server.registry import Client, LiveSession, Registry
from app.server.storage import MemoryStore
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession


@pytest.fixture(autouse=True)
def compiled() -> None:
    """Load the fast path first: its first use would otherwise stall the first turn."""
    fast.available(wait=True)


async def fake_sender(live: LiveSession, client: Client, frames: list[int]) -> None:
    while True:
        if client.sent_version != live.session.version and client.seq - client.acked < 2:
            delay = client.next_send - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            client.next_send = max(client.next_send + 1.0 / client.fps, time.perf_counter())
            messages.frame_bytes(live, client)
            client.acked = client.seq
            frames.append(live.session.step)
            continue
        await client.wake.wait()
        client.wake.clear()


def count_turns(live: LiveSession) -> list[int]:
    """Wrap `live.session.advance` to record how many updates each call ran."""
    turns: list[int] = []
    advance: Callable[..., int] = live.session.advance

    def counted(n: int, deadline: float | None = None) -> int:
        done = advance(n, deadline)
        if done:
            turns.append(done)
        return done

    live.session.advance = counted  # type: ignore[method-assign]
    return turns


def run_loop(registry: Registry, seconds: float, setup: Callable[[], Any] | None = None) -> None:
    async def main() -> None:
        tasks = setup() if setup else []
        loop = asyncio.create_task(scheduler.training_loop(registry, 0.004))
        await asyncio.sleep(seconds)
        for task in [loop, *tasks]:
            task.cancel()

    asyncio.run(main())


def test_a_paced_session_trains_once_per_frame() -> None:
    # 20 frames/s at 500 updates/s: one turn of ~25 updates per frame, not many small ones
    # (a turn every few milliseconds would pay the per-call costs 10 times over).
    registry = Registry(10, MemoryStore())
    live = registry.create(RunConfig(), HyperState())
    live.updates_per_second = 500.0
    client = Client(20)
    live.clients.add(client)
    turns = count_turns(live)
    frames: list[int] = []

    def setup() -> list[asyncio.Task[None]]:
        live.set_playing(True)
        return [asyncio.create_task(fake_sender(live, client, frames))]

    run_loop(registry, 1.5, setup)
    assert 25 <= len(frames) <= 32, frames
    assert len(turns) <= len(frames) + 3, f"{len(turns)} turns for {len(frames)} frames"
    steps = [b - a for a, b in itertools.pairwise(frames)]
    assert sorted(steps)[len(steps) // 2] == 25  # every frame shows a frame's worth of training
    assert 0.85 * 750 <= live.session.step <= 1.1 * 750


def test_next_turn_waits_for_the_frame_or_a_batch() -> None:
    live = LiveSession("s", TrainingSession(RunConfig(), HyperState()))
    live.updates_per_second = 1000.0
    live.set_playing(True)
    now = live.last_tick
    # Nobody watching: once it owes BATCH_SECONDS of updates.
    assert scheduler.next_turn(live, now) == pytest.approx(now + scheduler.BATCH_SECONDS)
    # A client waiting for news, its frame due in 10 ms: just before that.
    client = Client(60)
    client.sent_version = live.session.version
    client.next_send = now + 0.010
    live.clients.add(client)
    assert scheduler.next_turn(live, now) == pytest.approx(now + 0.010 - scheduler.LEAD_SECONDS)
    # It already has news to show (its frame will show them): no turn for it.
    client.sent_version = -1
    assert scheduler.next_turn(live, now) == pytest.approx(now + scheduler.BATCH_SECONDS)
    # It holds two unacknowledged frames: the server waits for it, training does not.
    client.sent_version, client.seq, client.acked = live.session.version, 5, 3
    assert scheduler.next_turn(live, now) == pytest.approx(now + scheduler.BATCH_SECONDS)
    # Full speed: every round.
    live.updates_per_second = None
    assert scheduler.next_turn(live, now) == now


def test_a_saturated_machine_slows_every_session_by_the_same_share() -> None:
    # Eight sessions asking for far more than the machine can do: equal shares, none starves.
    registry = Registry(10, MemoryStore())
    lives = [registry.create(RunConfig(seed=i + 1), HyperState()) for i in range(8)]
    for live in lives:
        live.updates_per_second = 1e5
        live.set_playing(True)
    start: list[int] = []

    def setup() -> list[asyncio.Task[None]]:
        async def mark() -> None:  # measured after a warm-up
            await asyncio.sleep(0.5)
            start.extend(live.session.step for live in lives)
        return [asyncio.create_task(mark())]

    run_loop(registry, 2.0, setup)
    steps = [live.session.step - s for live, s in zip(lives, start)]
    assert min(steps) > 0.75 * max(steps), steps


def test_background_work_waits_for_time_to_spare() -> None:
    registry = Registry(10, MemoryStore())

    async def waited(mark_after: float | None) -> float:
        if mark_after is not None:
            asyncio.get_running_loop().call_later(mark_after, registry.mark_spare)
        t0 = time.perf_counter()
        await registry.spare(0.3)
        return time.perf_counter() - t0

    async def main() -> None:
        assert await waited(None) < 0.05  # nothing plays: no wait
        live = registry.create(RunConfig(), HyperState())
        live.set_playing(True)
        assert await waited(None) >= 0.29  # never spare: waits its longest, then runs
        assert 0.04 <= await waited(0.05) < 0.2  # runs as soon as the loop has time

    asyncio.run(main())


def test_a_late_turn_runs_at_most_a_frame_and_a_half() -> None:
    # Owed 0.2 s of updates (a stall): the turn runs at most 1.5 frames' worth (37 updates),
    # ending at the epoch's end (25); the rest stays owed, so that on a saturated machine
    # frames do not give way to ever larger turns.
    live = LiveSession("s", TrainingSession(RunConfig(), HyperState()))
    live.updates_per_second = 500.0
    live.clients.add(Client(20))
    live.set_playing(True)
    live.last_tick -= 0.2
    assert scheduler.run_turn(live, 1.0) == 25
    assert live.credit == pytest.approx(100 - 25, abs=3)
    live.clients.clear()  # nobody watching: all that is owed, to the last epoch end within it
    assert scheduler.run_turn(live, 1.0) == 75


def test_turns_end_at_the_end_of_an_epoch() -> None:
    live = LiveSession("s", TrainingSession(RunConfig(), HyperState()))  # 25 updates an epoch
    assert scheduler.epoch_aligned(live, 25) == 25
    assert scheduler.epoch_aligned(live, 37) == 25   # the last epoch end within what is owed
    assert scheduler.epoch_aligned(live, 60) == 50
    assert scheduler.epoch_aligned(live, 21) == 25   # a little ahead of the clock
    assert scheduler.epoch_aligned(live, 8) == 8     # far from an epoch end: what is owed
    live.session.advance(10)                         # 15 left in this epoch
    assert scheduler.epoch_aligned(live, 20) == 15
    assert scheduler.epoch_aligned(live, 45) == 40
    assert scheduler.epoch_aligned(live, 12) == 15
    assert scheduler.epoch_aligned(live, 5) == 5


def test_io_runs_between_turns_at_least_every_yield_interval(monkeypatch) -> None:
    """Turns share one loop iteration up to YIELD_SECONDS (a poll of every socket per
    turn cost more than a small network's turn), and I/O never waits much longer."""
    registry = Registry(50, MemoryStore())
    lives = [registry.create(RunConfig(seed=i + 1), HyperState()) for i in range(40)]
    for live in lives:
        live.updates_per_second = 1e5  # saturated: every session is due in every round
        live.set_playing(True)
    turns_between: list[int] = []
    gaps: list[float] = []
    turns = [0]
    real_turn = scheduler.run_turn

    def counted(live: LiveSession, share: float) -> int:
        turns[0] += 1
        return real_turn(live, share)

    monkeypatch.setattr(scheduler, "run_turn", counted)
    # Saturated turns take up to their 1 ms share here: a longer interval lets several share it.
    monkeypatch.setattr(scheduler, "YIELD_SECONDS", 0.01)

    def setup() -> list[asyncio.Task[None]]:
        async def io() -> None:  # stands for a socket's callback: runs whenever the loop polls
            await asyncio.sleep(0.3)  # after the warm-up
            last, seen = time.perf_counter(), turns[0]
            while True:
                await asyncio.sleep(0)
                now = time.perf_counter()
                gaps.append(now - last)
                turns_between.append(turns[0] - seen)
                last, seen = now, turns[0]
        return [asyncio.create_task(io())]

    run_loop(registry, 1.3, setup)
    assert sum(turns_between) > 50
    ran = [n for n in turns_between if n]
    assert sum(ran) / len(ran) > 1.5  # several turns per loop iteration, not one
    # At most YIELD_SECONDS of turns, then one more turn (~1 ms; more on a busy machine).
    assert sorted(gaps)[int(0.95 * len(gaps))] < scheduler.YIELD_SECONDS + 0.02


def test_each_address_gets_its_share_of_a_round_however_many_sessions_it_plays(monkeypatch) -> None:
    """One student playing thirty sessions at full speed gets the time of one: the
    classmate's session has its turn in every round. Time is a fake clock that each
    turn moves on by 5 ms, so what is counted does not depend on this machine."""
    registry = Registry(50, MemoryStore())
    flood = [registry.create(RunConfig(seed=i + 1), HyperState(), address="10.0.0.66") for i in range(30)]
    classmate = registry.create(RunConfig(), HyperState(), address="10.0.0.7")
    for live in [*flood, classmate]:
        live.updates_per_second = None  # full speed: due in every round
        live.set_playing(True)
    now = [0.0]
    turns: list[LiveSession] = []

    class FakeTime:
        @staticmethod
        def perf_counter() -> float:
            return now[0]

    def turn(live: LiveSession, limit: float) -> int:
        turns.append(live)
        now[0] += 0.005
        return 1

    monkeypatch.setattr(scheduler, "time", FakeTime)
    monkeypatch.setattr(scheduler, "run_turn", turn)

    async def main() -> None:
        loop = asyncio.create_task(scheduler.training_loop(registry, 0.004))
        while len(turns) < 200:
            await asyncio.sleep(0)
        loop.cancel()

    asyncio.run(main())
    mine = [i for i, live in enumerate(turns) if live is classmate]
    assert len(mine) >= 90  # about every other turn is the classmate's
    assert max(b - a for a, b in itertools.pairwise(mine)) <= 2
    # The flood's sessions take turns: every one of them trained.
    assert {live.id for live in turns if live is not classmate} == {live.id for live in flood}
