"""The training loop in-process: turns aligned with frames, fair shares, background work yields.

Everything here runs on virtual time (`support.virtual_time`): the loop's clock
moves only when the loop would wait, or when an update runs, each update
costing `UPDATE_SECONDS`. The scheduler reads that clock (its `clock`
argument), and so do the registry and the websocket's frame sender (their
`time` module stands in for it). What is counted, frames, turns and updates,
is then the same on every machine, however busy.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from support import virtual_time
from support.virtual_time import VirtualTimeLoop

from app.server import registry as registry_module
from app.server import scheduler
from app.server import ws as ws_module
from app.server.quotas import Quotas
from app.server.registry import Client, LiveSession, Registry
from app.server.rooms import Rooms
from app.server.service import Service
from app.server.storage import MemoryStore
from app.settings import Settings
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

UPDATE_SECONDS = 50e-6  # what one update of the default network costs on virtual time


@pytest.fixture()
def loop(monkeypatch: pytest.MonkeyPatch) -> VirtualTimeLoop:
    """A virtual-time loop whose clock the registry and the frame sender read too."""
    loop = VirtualTimeLoop()
    monkeypatch.setattr(registry_module, "time", loop.as_time_module())
    monkeypatch.setattr(ws_module, "time", loop.as_time_module())
    return loop


def costed(live: LiveSession, loop: VirtualTimeLoop) -> list[int]:
    """Make each of `live`'s updates cost UPDATE_SECONDS of the loop's time, a call
    stopping at its deadline as `TrainingSession.advance` does (after one update at
    least); returns the list of updates each call ran (its turns)."""
    turns: list[int] = []
    advance: Callable[..., int] = live.session.advance

    def run(n: int, deadline: float | None = None) -> int:
        if deadline is not None:
            n = max(1, min(n, math.ceil((deadline - loop.time()) / UPDATE_SECONDS)))
        done = advance(n)
        loop.advance(done * UPDATE_SECONDS)
        if done:
            turns.append(done)
        return done

    live.session.advance = run  # type: ignore[method-assign]
    return turns


def run_loop(loop: VirtualTimeLoop, registry: Registry, seconds: float,
             during: Callable[[], Awaitable[None]] | None = None) -> None:
    """The training loop for `seconds` of the loop's time, with `during` beside it."""
    async def main(loop: VirtualTimeLoop) -> None:
        tasks = [asyncio.create_task(scheduler.training_loop(registry, 0.004, clock=loop.time))]
        if during is not None:
            tasks.append(asyncio.create_task(during()))
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    virtual_time.run(main, loop)


class Browser:
    """The websocket of a page that acks every frame as soon as it has it."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self.loop = loop
        self.connection: ws_module.Connection | None = None
        self.frames: list[tuple[float, int]] = []  # (time, step) of each frame
        self.rates: list[float] = []  # the learning rate each frame shows
        self.application_state = None

    async def send_text(self, text: str) -> None:
        msg = json.loads(text)
        if msg["type"] == "frame":
            self.frames.append((self.loop.time(), msg["step"]))
            self.rates.append(msg["hyper"]["lr"])
            assert self.connection is not None
            ack = json.dumps({"type": "ack", "seq": msg["seq"]}).encode()
            asyncio.get_running_loop().create_task(self.connection.handle(ack))


def test_a_paced_session_trains_once_per_frame(loop: VirtualTimeLoop) -> None:
    """20 frames a second at 500 updates a second: one turn of 25 updates per frame, not
    many small ones (a turn every few milliseconds would pay the per-call costs 10 times
    over). The frames are sent by the websocket's own frame sender, to a page that acks
    each at once."""
    settings = Settings()
    store = MemoryStore()
    registry = Registry(10, store)
    service = Service(registry, Rooms(store, settings.room_hours), Quotas(settings), settings)
    browser = Browser(loop)
    browser.connection = connection = ws_module.Connection(browser, service, "127.0.0.1")  # type: ignore[arg-type]
    counted: list[list[int]] = []

    async def main(loop: VirtualTimeLoop) -> None:
        hello = {"type": "hello", "fps": 20, "playing": True, "updates_per_second": 500}
        await connection.handle(json.dumps(hello).encode())
        assert connection.live is not None
        counted.append(costed(connection.live, loop))
        training = asyncio.create_task(scheduler.training_loop(registry, 0.004, clock=loop.time))
        await asyncio.sleep(1.52)  # the frame due at 1.5 s goes out
        training.cancel()

    virtual_time.run(main, loop)
    turns = counted[0]
    # The first frame shows the new session; the sender's schedule starts there, so the
    # second follows at once, after a turn of one update. From then on, 1/fps apart:
    (t0, first), (_, second), *steady = browser.frames
    assert (first, second) == (0, 1)
    assert [t for t, _ in steady] == pytest.approx([t0 + 0.05 * k for k in range(1, 31)])  # 1.5 s at 20 a second
    # Every frame shows a frame's worth of training, run in one turn before it.
    assert [step for _, step in steady] == [25 * k for k in range(1, 31)]
    assert len(turns) == len(browser.frames) - 1, turns
    assert turns[2:] == [25] * 29, turns


def test_a_control_brings_its_senders_next_frame_forward_once_an_interval(loop: VirtualTimeLoop) -> None:
    """At 10 frames a second a new learning rate would wait up to 100 ms for its frame: the frame after a
    control goes at once. A second control within the interval brings nothing forward (a dragged slider
    lifts the frame rate to twice the rate asked for at most); one an interval after the first does."""
    settings = Settings()
    store = MemoryStore()
    registry = Registry(10, store)
    service = Service(registry, Rooms(store, settings.room_hours), Quotas(settings), settings)
    browser = Browser(loop)
    browser.connection = connection = ws_module.Connection(browser, service, "127.0.0.1")  # type: ignore[arg-type]
    sent_at: list[float] = []

    async def main(loop: VirtualTimeLoop) -> None:
        hello = {"type": "hello", "fps": 10, "playing": True, "updates_per_second": 500}
        await connection.handle(json.dumps(hello).encode())
        assert connection.live is not None
        costed(connection.live, loop)
        training = asyncio.create_task(scheduler.training_loop(registry, 0.004, clock=loop.time))
        await asyncio.sleep(1.01)  # 10 ms after the frame due at 1 s
        for lr, pause in ((0.1, 0.01), (0.2, 0.12), (0.3, 0.5)):  # the second 10 ms after the first
            sent_at.append(loop.time())
            await connection.handle(json.dumps({"type": "set_hyper", "lr": lr}).encode())
            await asyncio.sleep(pause)
        training.cancel()

    virtual_time.run(main, loop)
    frames = [(t, lr) for (t, _), lr in zip(browser.frames, browser.rates, strict=True)]
    answer = [next(t for t, lr in frames if lr == want) for want in (0.1, 0.2, 0.3)]
    assert answer[0] - sent_at[0] < 0.005                               # at once, not 90 ms later
    assert answer[1] == pytest.approx(answer[0] + 0.1)                  # within the interval: at the pace
    assert answer[2] - sent_at[2] < 0.005                               # an interval on: at once again
    paced = [t for t, _ in frames if t > answer[2]]
    assert paced and all(b - a == pytest.approx(0.1) for a, b in itertools.pairwise([answer[2], *paced]))


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


def test_a_saturated_machine_slows_every_session_by_the_same_share(loop: VirtualTimeLoop) -> None:
    # Eight sessions asking for far more than the machine can do: equal shares, none starves.
    registry = Registry(10, MemoryStore())
    lives = [registry.create(RunConfig(seed=i + 1), HyperState()) for i in range(8)]
    for live in lives:
        costed(live, loop)
        live.updates_per_second = 1e5
        live.set_playing(True)

    run_loop(loop, registry, 1.0)
    steps = [live.session.step for live in lives]
    assert sum(steps) > 0.9 / UPDATE_SECONDS, steps  # the machine's time went to training
    assert min(steps) > 0.9 * max(steps), steps


def test_background_work_waits_for_time_to_spare(loop: VirtualTimeLoop) -> None:
    registry = Registry(10, MemoryStore())

    async def waited(mark_after: float | None) -> float:
        if mark_after is not None:
            asyncio.get_running_loop().call_later(mark_after, registry.mark_spare)
        t0 = loop.time()
        await registry.spare(0.3)
        return loop.time() - t0

    async def main(loop: VirtualTimeLoop) -> None:
        assert await waited(None) == pytest.approx(0.0, abs=1e-4)  # nothing plays: no wait
        live = registry.create(RunConfig(), HyperState())
        live.set_playing(True)
        assert await waited(None) == pytest.approx(0.3, abs=1e-4)  # never spare: waits its longest, then runs
        assert await waited(0.05) == pytest.approx(0.05, abs=1e-4)  # runs as soon as the loop has time

    virtual_time.run(main, loop)


def test_a_late_turn_runs_at_most_a_frame_and_a_half() -> None:
    # Owed 0.25 s of updates (a stall: 125 at 500/s): the turn runs at most 1.5 frames' worth
    # (37 updates), ending at the epoch's end (25); the rest stays owed, so that on a saturated
    # machine frames do not give way to ever larger turns.
    now = time.perf_counter()  # read once: the turn sees no time pass (its session's deadline is on this clock)
    slice_seconds = 3600.0     # the runs stop at the owed count, never at the deadline
    live = LiveSession("s", TrainingSession(RunConfig(), HyperState()))
    live.updates_per_second = 500.0
    live.clients.add(Client(20))
    live.set_playing(True)
    live.last_tick = now - 0.25  # a power of two: now - last_tick is exactly 0.25 (0.2 came back a hair short)
    assert scheduler.run_turn(live, slice_seconds, clock=lambda: now) == 25
    assert live.credit == 125 - 25
    live.clients.clear()  # nobody watching: all that is owed, to the last epoch end within it
    assert scheduler.run_turn(live, slice_seconds, clock=lambda: now) == 100


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


def test_io_runs_between_turns_at_least_every_yield_interval(loop: VirtualTimeLoop,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Turns share one loop iteration up to YIELD_SECONDS (a poll of every socket per
    turn cost more than a small network's turn), and I/O never waits longer than that
    and one more turn."""
    registry = Registry(50, MemoryStore())
    lives = [registry.create(RunConfig(seed=i + 1), HyperState()) for i in range(40)]
    for live in lives:
        costed(live, loop)
        live.updates_per_second = 1e5  # saturated: every session is due in every round
        live.set_playing(True)
    turns_between: list[int] = []
    gaps: list[float] = []
    turns = [0]
    real_turn = scheduler.run_turn

    def counted(live: LiveSession, share: float, clock: Any) -> int:
        turns[0] += 1
        return real_turn(live, share, clock)

    monkeypatch.setattr(scheduler, "run_turn", counted)
    # Each turn here takes its 1 ms share: an interval of 2.5 turns, within a round's 4 ms.
    monkeypatch.setattr(scheduler, "YIELD_SECONDS", 0.0025)

    async def io() -> None:  # stands for a socket's callback: runs whenever the loop polls
        last, seen = loop.time(), turns[0]
        while True:
            await asyncio.sleep(0)
            now = loop.time()
            gaps.append(now - last)
            turns_between.append(turns[0] - seen)
            last, seen = now, turns[0]

    run_loop(loop, registry, 1.0, io)
    ran = [n for n in turns_between if n]
    assert sum(ran) > 500
    assert sum(ran) / len(ran) > 1.5  # several turns per loop iteration, not one
    # At most YIELD_SECONDS of turns, then the one turn that crossed it (its share of a
    # round and the update that crossed that; the loop's own polls cost microseconds).
    one_turn = scheduler.turn_share(0.004, len(lives)) + UPDATE_SECONDS
    assert max(gaps) <= scheduler.YIELD_SECONDS + one_turn + 1e-4, max(gaps)


def test_each_address_gets_its_share_of_a_round_however_many_sessions_it_plays(monkeypatch) -> None:
    """One student playing thirty sessions at full speed gets the time of one: the
    classmate's session has its turn in every round. Time is a clock that each turn
    moves on by 5 ms."""
    registry = Registry(50, MemoryStore())
    flood = [registry.create(RunConfig(seed=i + 1), HyperState(), address="10.0.0.66") for i in range(30)]
    classmate = registry.create(RunConfig(), HyperState(), address="10.0.0.7")
    for live in [*flood, classmate]:
        live.updates_per_second = None  # full speed: due in every round
        live.set_playing(True)
    now = [0.0]
    turns: list[LiveSession] = []

    def turn(live: LiveSession, limit: float, clock: Any) -> int:
        turns.append(live)
        now[0] += 0.005
        return 1

    monkeypatch.setattr(scheduler, "run_turn", turn)

    async def main() -> None:
        loop = asyncio.create_task(scheduler.training_loop(registry, 0.004, clock=lambda: now[0]))
        while len(turns) < 200:
            await asyncio.sleep(0)
        loop.cancel()

    asyncio.run(main())
    mine = [i for i, live in enumerate(turns) if live is classmate]
    assert len(mine) >= 90  # about every other turn is the classmate's
    assert max(b - a for a, b in itertools.pairwise(mine)) <= 2
    # The flood's sessions take turns: every one of them trained.
    assert {live.id for live in turns if live is not classmate} == {live.id for live in flood}
