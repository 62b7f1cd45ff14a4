"""The Redis store passes the same contract tests as the memory and SQLite stores
(imported from test_store_limits and run here against a real redis-server), and
a Redis that goes away makes calls fail fast with a reason, then recover."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.redis_cluster import RedisServer, redis_server, requires_redis
from test_store_limits import (  # noqa: F401 - collected here, with this module's make_store
    Clock,
    doc,
    test_documents_older_than_their_kinds_age_are_deleted_and_other_kinds_kept,
    test_past_the_cap_the_oldest_go_first_kind_by_kind,
    test_put_many_writes_every_document_or_none,
    test_size_counts_the_bytes_of_every_document,
    test_writing_a_document_again_restarts_its_age,
)

from app.server.cluster.store import RedisStore, connect
from app.server.storage import StoreUnavailable

pytestmark = requires_redis


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture()
def make_store(redis_url: str) -> Iterator[Callable[[Clock], Any]]:
    """Each store under a prefix of its own: tests share one redis-server, never a key."""
    opened: list[RedisStore] = []

    def build(clock: Clock) -> Any:
        store = RedisStore(connect(redis_url), prefix=f"test-{uuid.uuid4().hex}:", clock=clock)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


def test_two_stores_on_one_redis_see_the_same_documents(make_store) -> None:
    a, b = make_store(Clock()), make_store(Clock())
    b.prefix = a.prefix  # the same prefix: two server processes of one deployment
    b._bytes_key = a._bytes_key
    a.put("session", "s", doc(5))
    assert b.get("session", "s") == doc(5) and b.size() == a.size() > 0


class Ticks:
    """A monotonic clock a test moves by hand (the store's back-off is measured on it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_redis_that_goes_away_fails_fast_with_a_reason_and_is_used_again_when_back(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    ticks = Ticks()
    store = RedisStore(connect(server.url), clock=Clock(), monotonic=ticks)
    try:
        store.put("session", "a", doc(3))
        server.stop()
        with pytest.raises(StoreUnavailable, match="does not answer"):
            store.get("session", "a")
        assert store.down_reason is not None and str(server.port) in store.down_reason
        # Within the back-off the store does not even try: the same reason, at once.
        server.start()
        with pytest.raises(StoreUnavailable):
            store.get("session", "a")
        ticks.now += 10.0  # past the back-off: the next call tries again, and Redis kept the document
        assert store.get("session", "a") == doc(3)
        assert store.down_reason is None
    finally:
        store.close()
        server.stop()
