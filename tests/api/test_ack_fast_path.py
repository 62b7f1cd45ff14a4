"""Acks as pages write them are read without a parser; anything else goes through full validation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app import protocol
from app.protocol import ack_seq, parse_client_message
from app.protocol.client import Ack
from app.server.main import create_app
from app.settings import Settings


@pytest.mark.parametrize("seq", [0, 7, 42, 123456789])
def test_an_ack_as_a_page_writes_it_is_read_as_the_parser_reads_it(seq: int) -> None:
    raw = orjson.dumps({"type": "ack", "seq": seq})
    assert ack_seq(raw) == seq
    parsed = parse_client_message(raw)
    assert isinstance(parsed, Ack) and parsed.seq == seq


@pytest.mark.parametrize("raw", [
    b'{"type":"ack","seq":007}',        # JSON has no leading zeros
    b'{"type":"ack","seq":-1}',
    b'{"type":"ack","seq":1.5}',
    b'{"type":"ack","seq":"3"}',        # a string is not a number
    b'{"type":"ack","seq":}',
    b'{"type":"ack","seq":3,"x":1}',
    b'{"type":"ack","seq":3} ',
    b'{"type": "ack", "seq": 3}',       # valid, but not as pages write it: the full parser takes it
    b'{"seq":3,"type":"ack"}',
    b'{"type":"ack","seq":1234567890123456789}',
])
def test_anything_else_is_left_to_the_full_parser(raw: bytes) -> None:
    assert ack_seq(raw) is None


def test_an_ack_as_pages_write_it_is_taken_and_a_bad_one_is_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[bytes] = []

    def counted(raw: bytes) -> Any:
        parsed.append(raw)
        return parse_client_message(raw)

    monkeypatch.setattr(protocol, "parse_client_message", counted)
    app = create_app(Settings(store="memory"))
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:

        def reply_to(text: str) -> dict[str, Any]:
            ws.send_text(text)
            ws.send_text('{"type":"nope"}')  # answered after `text` was handled: nothing else is
            first = orjson.loads(ws.receive_text())
            return first if first["type"] == "error" and first["code"] != "unknown_type" else {}

        assert reply_to('{"type":"ack","seq":0}')["code"] == "no_session"  # the full path says what is missing
        assert orjson.loads(ws.receive_text())["code"] == "unknown_type"
        ws.send_text('{"type":"hello"}')
        kinds = [orjson.loads(ws.receive_text())["type"] for _ in range(4)]
        assert kinds == ["session", "dataset", "history", "frame"]
        (live,) = app.state.service.registry.sessions.values()
        (page,) = live.clients
        assert (page.seq, page.acked) == (1, 0)
        assert reply_to('{"type":"ack","seq":1}') == {}
        assert page.acked == 1 and parsed[-1] == b'{"type":"nope"}' and b'{"type":"ack","seq":1}' not in parsed, "not parsed"
        bad = reply_to('{"type":"ack","seq":999999}')
        assert bad["code"] == "invalid" and bad["field"] == "seq" and bad["value"] == 999999
        assert page.acked == 1
