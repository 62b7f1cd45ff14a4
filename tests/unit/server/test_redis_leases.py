"""Ownership leases on a real redis-server: one process holds a session at a time; only
the holder releases it; a lapsed lease goes to whoever takes it next; two registries
sharing one store never both bring a session into memory."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from support.redis_cluster import redis_server, requires_redis

from app.server.cluster.leases import Leases
from app.server.cluster.store import RedisStore, connect
from app.server.registry import Registry
from app.training.config import HyperState, RunConfig

pytestmark = requires_redis


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture()
def store(redis_url: str) -> Iterator[RedisStore]:
    s = RedisStore(connect(redis_url), prefix=f"test-{uuid.uuid4().hex}:")
    yield s
    s.close()


def test_one_process_holds_a_lease_and_only_it_releases_it(store: RedisStore) -> None:
    a, b = Leases(store, "a", 30.0), Leases(store, "b", 30.0)
    assert a.acquire("s1") is None
    assert a.acquire("s1") is None, "taking it again is keeping it"
    assert b.acquire("s1") == "a" and b.holder("s1") == "a"
    assert b.release(["s1"]) == 0 and a.holder("s1") == "a", "b cannot release a's lease"
    assert b.renew(["s1"]) == ["s1"], "renewing a lease another holds reports it lost"
    assert a.renew(["s1"]) == []
    assert a.release(["s1"]) == 1 and a.holder("s1") is None
    assert b.acquire("s1") is None and a.acquire("s1") == "b"


def test_a_lapsed_lease_goes_to_the_next_taker_and_renewal_takes_back_a_free_one(store: RedisStore) -> None:
    a, b = Leases(store, "a", 0.2), Leases(store, "b", 30.0)
    assert a.acquire("s1") is None
    deadline = time.monotonic() + 10
    while b.acquire("s1") is not None:  # a stopped renewing: its lease lapses
        assert time.monotonic() < deadline, "the lease never lapsed"
        time.sleep(0.05)
    assert b.holder("s1") == "b" and a.renew(["s1"]) == ["s1"]
    # A lease that lapsed with nobody taking it (a Redis restarted empty) is taken back by renewal.
    store.client.delete(a.key("s2"))
    assert a.renew(["s2"]) == [] and a.holder("s2") == "a"


def test_two_registries_on_one_store_never_hold_a_session_at_once(store: RedisStore) -> None:
    one, two = Registry(10, store), Registry(10, store)
    one.leases, two.leases = Leases(store, one.token, 30.0), Leases(store, two.token, 30.0)
    live = one.create(RunConfig(), HyperState())
    store.put("session", live.id, live.to_doc())
    assert asyncio.run(two.load(live.id)) is None, "held by the first: the second does not bring it in"
    assert live.id not in two.sessions
    one.drop(live.id)  # stored and let go (as a hand-over or an eviction does)
    assert live.id not in one.sessions
    taken = asyncio.run(two.load(live.id))
    assert taken is not None and taken.session.step == live.session.step
    assert asyncio.run(one.load(live.id)) is None, "now the second holds it"
