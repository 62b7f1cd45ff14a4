"""The service layer on its own: what the websocket and the HTTP API both call."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from unittest import mock

import pytest

from app.server import service as service_module
from app.server.keys import hash_key
from app.server.quotas import Quotas
from app.server.registry import LiveSession, Registry
from app.server.rooms import Rooms
from app.server.service import Service, ServiceError
from app.server.storage import MemoryStore
from app.settings import Settings


def make_service(max_sessions: int = 10) -> Service:
    settings = Settings(store="memory")
    store = MemoryStore()
    return Service(Registry(max_sessions, store), Rooms(store, settings.room_hours), Quotas(settings), settings)


async def step_counting_turns(svc: Service, unit: str, count: int) -> int:
    """Run one step; returns how many times another task ran meanwhile."""
    live = svc.create("10.0.0.1", None, None)
    turns = 0
    stepping = asyncio.create_task(svc.step(live, unit, count))
    while not stepping.done():
        turns += 1
        await asyncio.sleep(0)
    await stepping
    return turns


def test_a_long_phase_step_lets_other_tasks_run_between_its_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    # A slice of no time at all: every phase its own slice.
    monkeypatch.setattr(service_module, "STEP_SLICE_SECONDS", 0.0)
    assert asyncio.run(step_counting_turns(make_service(), "phase", 12)) == 12


def test_a_phase_step_of_one_slice_gives_the_loop_no_turn_in_between(monkeypatch: pytest.MonkeyPatch) -> None:
    # The other side of the test above: with time to spare, the phases run in one go.
    monkeypatch.setattr(service_module, "STEP_SLICE_SECONDS", 3600.0)
    assert asyncio.run(step_counting_turns(make_service(), "phase", 12)) == 1


def test_phases_run_in_slices_end_where_phases_run_in_one_go(monkeypatch: pytest.MonkeyPatch) -> None:
    async def after(slice_seconds: float) -> tuple[int, str | None, list[float]]:
        monkeypatch.setattr(service_module, "STEP_SLICE_SECONDS", slice_seconds)
        svc = make_service()
        live = svc.create("10.0.0.1", None, None)
        await svc.step(live, "phase", 11)
        s = live.session
        return s.step, s.phase, s.params[0]["W"].ravel().tolist()

    assert asyncio.run(after(0.0)) == asyncio.run(after(3600.0))
    assert asyncio.run(after(0.0))[:2] == (2, "backward")  # 11 phases: two updates and three phases


def test_find_answers_a_room_session_to_its_teacher_key_only() -> None:
    async def run() -> None:
        svc = make_service()
        live = svc.create("10.0.0.1", None, None)
        assert await svc.find(live.id, None, "hello") is live
        assert await svc.find("no-such-id", None, "hello") is None
        live.set_owner(hash_key("the key"))
        assert await svc.find(live.id, "the key", "hello") is live
        for key in (None, "another key"):
            with pytest.raises(ServiceError) as refused:
                await svc.find(live.id, key, "hello")
            assert refused.value.status == 403 and refused.value.error.code == "forbidden"
            assert refused.value.error.request == "hello"

    asyncio.run(run())


def test_a_fork_is_refused_at_a_full_server_as_a_new_session_is() -> None:
    async def run() -> None:
        svc = make_service(max_sessions=1)
        live = svc.create("10.0.0.1", None, None)
        live.clients.add(object())  # type: ignore[arg-type]  # watched: it may not leave memory
        refusals = []
        for attempt in (lambda: svc.create("10.0.0.2", None, None), lambda: svc.fork("10.0.0.2", live, "fork")):
            with pytest.raises(ServiceError) as refused:
                attempt()
            refusals.append(refused.value)
        assert [r.status for r in refusals] == [503, 503]
        assert [r.error.code for r in refusals] == ["limit", "limit"]
        assert refusals[0].error.allowed == refusals[1].error.allowed == "at most 1 sessions"

    asyncio.run(run())


def test_a_phase_step_is_bounded_by_its_count_and_refused_whole() -> None:
    async def run() -> None:
        svc = make_service()
        live = svc.create("10.0.0.1", None, None)
        with pytest.raises(ServiceError) as refused:
            await svc.step(live, "phase", service_module.MAX_STEP_PHASES + 1)
        assert refused.value.status == 422 and refused.value.error.field == "count"
        assert refused.value.error.allowed == f"1 to {service_module.MAX_STEP_PHASES}"
        assert live.session.phase is None and live.session.step == 0  # nothing ran
        await svc.step(live, "phase", service_module.MAX_STEP_PHASES)
        assert live.session.step == service_module.MAX_STEP_PHASES // 4

    asyncio.run(run())


def test_a_stored_session_is_rebuilt_off_the_event_loop_and_two_loads_of_it_share_one() -> None:
    """Bringing a session back from the store rebuilds it (its data regenerated): that runs in a thread,
    and two hellos for it at once get the same session, not two copies."""
    async def run() -> None:
        svc = make_service()
        live = svc.create("10.0.0.1", None, None)
        svc.registry.store.put("session", live.id, live.to_doc())
        svc.registry.sessions.clear()  # evicted
        loop_thread = threading.get_ident()
        built_in: list[int] = []
        from_doc = LiveSession.from_doc

        def spy(session_id: str, doc: dict[str, Any]) -> LiveSession:
            built_in.append(threading.get_ident())
            return from_doc(session_id, doc)

        with mock.patch.object(LiveSession, "from_doc", spy):
            one, two = await asyncio.gather(svc.find(live.id, None, "hello"), svc.find(live.id, None, "hello"))
        assert one is not None and one is two and svc.registry.sessions[live.id] is one
        assert one.session.step == live.session.step
        assert len(built_in) == 1 and built_in[0] != loop_thread

    asyncio.run(run())
