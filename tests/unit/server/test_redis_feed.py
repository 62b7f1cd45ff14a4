"""A room's frame relayed through a channel (cluster/feed.py) is, byte for byte, the frame a
client of the session's own process gets: the same body (encoded once, shared with the local
clients) and the same history rows, also for a follower that skipped frames. The oracle is
`messages.frame_bytes` for a local client that asked for the same content."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from app.server import messages
from app.server.cluster.feed import Feed, Publisher, unpack
from app.server.registry import Client, LiveSession, Registry
from app.server.storage import MemoryStore
from app.training.config import HyperState, RunConfig

CONTENTS: list[tuple[str, frozenset[str] | None]] = [("json", None), ("binary", frozenset({"gradient"})),
                                                      ("binary", None)]


def relay(feed: Feed, data: list[bytes]) -> None:
    for message in data:
        feed.receive(*unpack(message))


def session() -> LiveSession:
    registry = Registry(4, MemoryStore())
    return registry.create(RunConfig(), HyperState(lr=0.1))


@pytest.mark.parametrize("content", CONTENTS)
def test_a_relayed_frame_is_the_frame_a_local_client_of_the_same_content_gets(content: Any) -> None:
    live = session()
    publisher = Publisher(live, lambda data: asyncio.sleep(0))
    publisher.want("b", CONTENTS, 30)
    feed = Feed(live.id)
    relay(feed, [publisher.announcement()])
    local, follower = Client(30, *content), Client(30, *content)
    joined = messages.history_message(live, local)  # what each was sent on joining
    session_msg, dataset_msg, history_msg = feed.announce_messages(follower, 30)
    assert orjson.loads(history_msg) == orjson.loads(orjson.dumps(joined))
    assert orjson.loads(dataset_msg) == orjson.loads(orjson.dumps(messages.dataset_message(live),
                                                                  option=orjson.OPT_SERIALIZE_NUMPY))
    assert orjson.loads(session_msg)["session_id"] is None
    for updates in (7, 30):
        live.session.advance(updates)
        live.set_playing(updates == 30)  # a playing frame (float32 blocks) and a paused one (float64)
        relay(feed, publisher.frames(CONTENTS))
        assert feed.frame_bytes(follower) == messages.frame_bytes(live, local)
    # A follower that skipped two states gets every history row it missed, as a local client does.
    for updates in (5, 11):
        live.session.advance(updates)
        live.session.mark_changed()
        relay(feed, publisher.frames(CONTENTS))
    relayed, direct = feed.frame_bytes(follower), messages.frame_bytes(live, local)
    assert relayed == direct
    if content[0] == "json":
        assert len(orjson.loads(relayed)["history"]["steps"]) == 16


def test_each_state_is_published_once_per_content_with_its_rows_once() -> None:
    live = session()
    sent: list[bytes] = []
    publisher = Publisher(live, lambda data: asyncio.sleep(0))
    publisher.want("b", CONTENTS[:2], 20)
    publisher.want("c", CONTENTS[1:], 30)  # two processes want one content in common
    assert publisher.client.fps == 30
    live.session.advance(9)
    sent = publisher.frames(publisher.contents())
    assert len(sent) == 3, "one message per content, whatever the number of processes or followers"
    headers = [unpack(m)[1] for m in sent]
    assert [h["history"] is not None for h in headers] == [True, False, False], "the rows go once"
    assert headers[0]["history"]["steps"] == list(range(1, 10))
    # The body published is the one the session's own clients share (encoded once).
    for message, header in zip(sent, headers, strict=True):
        fmt, parts = header["content"]
        cached = live.body_cache[(fmt, None if parts is None else frozenset(parts))][1]
        body = unpack(message)[2]
        assert body.endswith(cached.data if fmt == "binary" else cached)


def test_a_content_asked_for_later_gets_the_state_now_without_a_new_step() -> None:
    live = session()
    publisher = Publisher(live, lambda data: asyncio.sleep(0))
    publisher.want("b", CONTENTS[:1], 20)
    publisher.frames(publisher.contents())
    publisher.client.sent_version = live.session.version  # as `run` leaves it: nothing new to send
    publisher.want("b", CONTENTS[:2], 20)
    assert publisher.client.sent_version != live.session.version
