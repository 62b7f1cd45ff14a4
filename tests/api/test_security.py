"""What a curious student may try, through TestClient: each test is a finding of
an attack on the classroom server, which the server now refuses."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.server.main import create_app
from app.settings import Settings


def make_client(**settings: Any) -> TestClient:
    return TestClient(create_app(Settings(store="memory", **settings)))


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with make_client() as c:
        yield c


class Peer:
    """A websocket client that reads past frames to the message it waits for,
    acknowledging each frame as the protocol asks (unless `ack` is False)."""

    def __init__(self, ws: Any, ack: bool = True) -> None:
        self.ws = ws
        self.ack = ack

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send_json(message)

    def receive(self) -> dict[str, Any]:
        msg: dict[str, Any] = self.ws.receive_json()
        if msg["type"] == "frame" and self.ack:
            self.send({"type": "ack", "seq": msg["seq"]})
        return msg

    def until(self, kind: str, limit: int = 200) -> dict[str, Any]:
        for _ in range(limit):
            msg = self.receive()
            if msg["type"] == kind:
                return msg
        raise AssertionError(f"no {kind} message in {limit}")

    def answer(self, limit: int = 200) -> dict[str, Any]:
        """The next message that is not part of the stream (frames, session, dataset, history)."""
        for _ in range(limit):
            msg = self.receive()
            if msg["type"] not in ("frame", "session", "dataset", "history", "room_status"):
                return msg
        raise AssertionError(f"no answer in {limit} messages")

    def hello(self, **fields: Any) -> dict[str, Any]:
        self.send({"type": "hello", **fields})
        return self.until("session")


def open_room(client: TestClient, ws: Any) -> tuple[Peer, str, dict[str, Any]]:
    teacher = Peer(ws)
    session_id = teacher.hello()["session_id"]
    teacher.send({"type": "room_create"})
    return teacher, session_id, teacher.until("room")


# ------------------------------------------------------------ the teacher key on HTTP


def test_http_routes_of_a_room_session_need_the_teacher_key(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        _, sid, room = open_room(client, ws)
        key = room["teacher_key"]
        base = f"/api/sessions/{sid}"
        attempts = [("patch", f"{base}/hyper", {"lr": 1.0}), ("patch", f"{base}/config", {"hidden": [1]}),
                    ("post", f"{base}/step", {"count": 5}), ("post", f"{base}/reset", None),
                    ("get", base, None), ("get", f"{base}/model", None), ("get", f"{base}/history.csv", None),
                    ("get", f"{base}/history", None), ("get", f"{base}/dataset", None),
                    ("post", f"{base}/predict", {"points": [[0.0, 0.0]]}), ("post", f"{base}/save", {"name": "x"})]
        for method, url, body in attempts:
            kwargs = {"json": body} if body is not None else {}
            for headers in ({}, {"X-Teacher-Key": "not-the-key"}):
                r = getattr(client, method)(url, headers=headers, **kwargs)
                assert r.status_code == 403, (method, url, r.text)
                assert r.json()["code"] == "forbidden"
        # Nothing changed.
        assert client.get(f"{base}/hyper", headers={"X-Teacher-Key": key}).json()["lr"] == 0.03
        # The key opens every route, as a header or as the page's cookie.
        assert client.post(f"{base}/step", json={"count": 5}, headers={"X-Teacher-Key": key}).status_code == 200
        client.cookies.set("paramlab_teacher", key)
        assert client.get(f"{base}/model").status_code == 200
        client.cookies.clear()


def test_a_room_session_cannot_be_resumed_over_the_websocket_without_the_key(client: TestClient) -> None:
    with client.websocket_connect("/ws") as t, client.websocket_connect("/ws") as s:
        _, sid, _ = open_room(client, t)
        student = Peer(s)
        student.send({"type": "hello", "session_id": sid})
        error = student.answer()
        assert error["code"] == "forbidden" and error["request"] == "hello"


def test_teacher_keys_are_stored_hashed(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        _, sid, room = open_room(client, ws)
        key = room["teacher_key"]
        store = client.app.state.registry.store  # type: ignore[attr-defined]
        room_doc = store.get("room", room["code"])
        assert key not in repr(room_doc) and room_doc["teacher_key_hash"]
        live = client.app.state.registry.sessions[sid]  # type: ignore[attr-defined]
        assert key not in repr(live.to_doc())
        # A teacher who reloads gets back in charge with the key.
    with client.websocket_connect("/ws") as ws:
        again = Peer(ws)
        again.send({"type": "hello", "session_id": sid, "teacher_key": key})
        assert again.until("room")["role"] == "teacher"


def test_rooms_stored_with_the_key_itself_still_open_with_it() -> None:
    from app.server.rooms import Room

    room = Room.from_doc({"code": "ABCDEF", "teacher_key": "k" * 32, "session_id": "s", "expires_at": 2e9,
                          "share_gallery": True})
    assert room.is_teacher("k" * 32) and not room.is_teacher("k" * 31) and not room.is_teacher(None)


# ------------------------------------------------------------ cross-site requests and the Host


def test_state_changing_requests_from_another_site_are_refused(client: TestClient) -> None:
    evil = {"Origin": "http://evil.example"}
    r = client.post("/api/sessions", json={}, headers=evil)
    assert r.status_code == 403 and r.json()["field"] == "origin"
    sid = client.post("/api/sessions", json={}).json()["session_id"]
    for method, url in (("post", f"/api/sessions/{sid}/step"), ("post", f"/api/sessions/{sid}/reset")):
        r = getattr(client, method)(url, headers=evil)
        assert r.status_code == 403, url
    r = client.post("/api/datasets", content=b"a,b\n1,x\n2,y\n", headers={**evil, "Content-Type": "text/csv"})
    assert r.status_code == 403
    # The server's own page may.
    assert client.post("/api/sessions", json={}, headers={"Origin": "http://testserver"}).status_code == 201
    # Reads are not state changes: an embedding page may still GET.
    assert client.get(f"/api/sessions/{sid}", headers=evil).status_code == 200


def test_bodies_of_the_wrong_content_type_are_refused(client: TestClient) -> None:
    # A form or a text/plain fetch needs no preflight: exactly what another site can send.
    r = client.post("/api/sessions", content=b'{"config": {}}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["field"] == "content-type"
    r = client.post("/api/sessions", data={"config": "x"})
    assert r.status_code == 415
    r = client.post("/api/datasets", content=b"a,b\n1,x\n2,y\n", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "text/csv" in r.json()["allowed"]
    assert client.post("/api/sessions", json={}).status_code == 201


def test_a_foreign_host_name_is_refused_on_http_and_the_websocket(client: TestClient) -> None:
    r = client.get("/", headers={"Host": "evil.example"})
    assert r.status_code == 400 and r.json()["field"] == "host"
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws", headers={"Host": "evil.example"}) as ws:
        ws.receive_text()
    assert client.get("/", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8000"}).status_code == 200


def test_a_server_listening_beyond_loopback_answers_to_the_machine_s_names() -> None:
    from app.server.guard import HostPolicy

    policy = HostPolicy(Settings(host="0.0.0.0"), interfaces=["192.0.2.7", "teacher-laptop"])
    assert policy.host_allowed("192.0.2.7:8000") and policy.host_allowed("teacher-laptop")
    assert policy.host_allowed("127.0.0.1:8000") and not policy.host_allowed("evil.example")
    assert not HostPolicy(Settings(host="127.0.0.1"), interfaces=["192.0.2.7"]).host_allowed("192.0.2.7")
    assert HostPolicy(Settings(allowed_hosts=["paramlab.school.example"])).host_allowed("paramlab.school.example")


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for url in ("/", "/healthz", "/static/js/main.js", "/api/sessions/nope"):
        headers = client.get(url).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'self'" in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    with make_client(frame_ancestors=["https://school.example"]) as other:
        assert "frame-ancestors 'self' https://school.example" in other.get("/").headers["content-security-policy"]


# ------------------------------------------------------------ message budget and room codes


def test_a_burst_of_messages_is_answered_rate_limited_then_closed() -> None:
    # A budget that never refills here: the count, not the clock, decides.
    with make_client(ws_messages_per_second=1e-9, ws_message_burst=30, ws_refused_before_close=20) as client, \
            client.websocket_connect("/ws") as ws:
        p = Peer(ws, ack=False)  # acks would spend the budget too
        p.hello()  # one message of the budget
        for _ in range(29):
            p.send({"type": "set_fps", "fps": 10})
        p.send({"type": "set_hyper", "lr": 0.5})  # past the budget: dropped unread
        error = p.answer()
        assert error["code"] == "rate_limited" and "200" not in error["allowed"]
        for _ in range(18):
            p.send({"type": "set_hyper", "lr": 0.5})
        with pytest.raises(WebSocketDisconnect) as closed:
            p.send({"type": "set_hyper", "lr": 0.5})
            for _ in range(100):
                ws.receive_json()
        assert closed.value.code == 4429
        live = next(iter(client.app.state.registry.sessions.values()))  # type: ignore[attr-defined]
        assert live.session.hyper.lr == 0.03  # nothing past the budget was applied


def test_wrong_room_codes_are_limited_per_socket_and_per_address() -> None:
    with make_client(join_attempts_per_socket=3, join_attempts_per_address=5) as client:
        with client.websocket_connect("/ws") as ws:
            p = Peer(ws)
            p.hello()
            for _ in range(3):
                p.send({"type": "room_join", "code": "ZZZZZZ"})
                assert p.answer()["code"] == "no_room"
            p.send({"type": "room_join", "code": "ZZZZZZ"})
            assert p.answer()["code"] == "rate_limited"
        with client.websocket_connect("/ws") as ws:
            p = Peer(ws)
            p.hello()
            codes = []
            for _ in range(3):
                p.send({"type": "room_join", "code": "ZZZZZZ"})
                codes.append(p.answer()["code"])
            assert codes == ["no_room", "no_room", "rate_limited"]  # 5 wrong codes from this address


def test_a_teacher_closes_a_room_and_its_code_stops_working(client: TestClient) -> None:
    with client.websocket_connect("/ws") as t, client.websocket_connect("/ws") as s:
        teacher, sid, room = open_room(client, t)
        student = Peer(s)
        student.hello()
        student.send({"type": "room_join", "code": room["code"]})
        assert student.until("room")["mode"] == "follow"
        teacher.send({"type": "room_close"})
        assert teacher.until("room_closed")["code"] == room["code"]
        assert student.until("room_closed")["code"] == room["code"]
        student.send({"type": "room_join", "code": room["code"]})
        assert student.answer()["code"] == "no_room"
        # The session is the teacher's own again: no key needed.
        assert client.get(f"/api/sessions/{sid}").status_code == 200


def test_a_new_code_revokes_the_old_one_and_members_stay(client: TestClient) -> None:
    with client.websocket_connect("/ws") as t, client.websocket_connect("/ws") as s, \
            client.websocket_connect("/ws") as late:
        teacher, _, room = open_room(client, t)
        student = Peer(s)
        student.hello()
        student.send({"type": "room_join", "code": room["code"]})
        student.until("room")
        teacher.send({"type": "room_new_code"})
        new = teacher.until("room")
        assert new["code"] != room["code"] and new["role"] == "teacher"
        assert student.until("room")["code"] == new["code"]
        newcomer = Peer(late)
        newcomer.hello()
        newcomer.send({"type": "room_join", "code": room["code"]})
        assert newcomer.answer()["code"] == "no_room"
        newcomer.send({"type": "room_join", "code": new["code"]})
        assert newcomer.until("room")["code"] == new["code"]


def test_only_the_teacher_may_close_or_renew_a_room(client: TestClient) -> None:
    with client.websocket_connect("/ws") as t, client.websocket_connect("/ws") as s:
        _, _, room = open_room(client, t)
        student = Peer(s)
        student.hello()
        student.send({"type": "room_join", "code": room["code"]})
        student.until("room")
        for kind in ("room_close", "room_new_code"):
            student.send({"type": kind})
            assert student.answer()["code"] == "forbidden"


# ------------------------------------------------------------ quotas per address


def test_one_address_holding_its_quota_stores_its_oldest_unwatched_session_first() -> None:
    with make_client(sessions_per_client=3) as client:
        ids = [client.post("/api/sessions", json={}).json()["session_id"] for _ in range(5)]
        registry = client.app.state.registry  # type: ignore[attr-defined]
        assert registry.held_by("testclient") == 3 and ids[0] not in registry.sessions
        # Every one is still there for its owner, from the store.
        assert client.get(f"/api/sessions/{ids[0]}").status_code == 200


def test_a_quota_of_sessions_all_in_use_is_refused_with_its_number() -> None:
    with make_client(sessions_per_client=2) as client, client.websocket_connect("/ws") as a, \
            client.websocket_connect("/ws") as b, client.websocket_connect("/ws") as c:
        Peer(a).hello()
        Peer(b).hello()
        p = Peer(c)
        p.send({"type": "hello"})
        error = p.answer()
        assert error["code"] == "limit" and "PARAMLAB_SESSIONS_PER_CLIENT" in error["allowed"]
        r = client.post("/api/sessions", json={})
        assert r.status_code == 429 and "2 sessions" in r.json()["allowed"]


def test_new_sessions_a_minute_are_limited() -> None:
    with make_client(new_sessions_per_minute=3) as client:
        for _ in range(3):
            assert client.post("/api/sessions", json={}).status_code == 201
        r = client.post("/api/sessions", json={})
        assert r.status_code == 429 and r.json()["code"] == "limit" and "a minute" in r.json()["allowed"]


def test_full_speed_sessions_per_address_are_limited() -> None:
    with make_client(full_speed_per_client=2) as client:
        ids = [client.post("/api/sessions", json={}).json()["session_id"] for _ in range(3)]
        with client.websocket_connect("/ws") as ws:
            p = Peer(ws)
            for sid in ids:
                p.hello(session_id=sid)
                p.send({"type": "set_speed", "updates_per_second": None})
                p.send({"type": "play"})
            p.send({"type": "set_fps", "fps": 30})
            error = p.answer()
            assert error["code"] == "limit" and error["request"] == "play" and "2 full-speed" in error["allowed"]
            registry = client.app.state.registry  # type: ignore[attr-defined]
            assert registry.full_speed_of("testclient") == 2
            # At a given speed, it plays.
            p.send({"type": "set_speed", "updates_per_second": 100})
            p.send({"type": "play"})
            p.until("frame")
            assert registry.sessions[ids[2]].playing


def test_open_rooms_per_address_are_limited() -> None:
    with make_client(rooms_per_client=2) as client:
        sockets = [client.websocket_connect("/ws") for _ in range(3)]
        try:
            peers = [Peer(ws.__enter__()) for ws in sockets]
            for p in peers[:2]:
                p.hello()
                p.send({"type": "room_create"})
                p.until("room")
            peers[2].hello()
            peers[2].send({"type": "room_create"})
            error = peers[2].answer()
            assert error["code"] == "limit" and "2 open rooms" in error["allowed"]
        finally:
            for ws in sockets:
                ws.__exit__(None, None, None)


def test_saves_and_uploads_a_day_are_limited() -> None:
    with make_client(saves_per_client_per_day=2, uploads_per_client_per_day=1) as client:
        sid = client.post("/api/sessions", json={}).json()["session_id"]
        for _ in range(2):
            assert client.post(f"/api/sessions/{sid}/save", json={"name": "a"}).status_code == 201
        r = client.post(f"/api/sessions/{sid}/save", json={"name": "a"})
        assert r.status_code == 429 and "2 saves a day" in r.json()["allowed"]
        csv = b"a,b,label\n" + b"".join(f"{i},{i % 3},{'xy'[i % 2]}\n".encode() for i in range(40))
        assert client.post("/api/datasets", content=csv, headers={"Content-Type": "text/csv"}).status_code == 201
        r = client.post("/api/datasets", content=csv, headers={"Content-Type": "text/csv"})
        assert r.status_code == 429 and "1 uploads a day" in r.json()["allowed"]


def test_bytes_stored_a_day_are_limited() -> None:
    with make_client(stored_bytes_per_client_per_day=20_000) as client:
        sid = client.post("/api/sessions", json={}).json()["session_id"]
        answers = [client.post(f"/api/sessions/{sid}/save", json={"name": "a"}).status_code for _ in range(10)]
        assert 201 in answers and answers[-1] == 429
        r = client.post(f"/api/sessions/{sid}/save", json={"name": "a"})
        assert "20,000 bytes" in r.json()["allowed"]


# ------------------------------------------------------------ big requests


def test_a_model_file_past_its_own_size_limit_is_refused_before_it_is_parsed(client: TestClient) -> None:
    sid = client.post("/api/sessions", json={}).json()["session_id"]
    body = io.BytesIO(b'{"version": 1, "weights": [[' + b"0.5," * 600_000 + b"0.5]]}")
    r = client.put(f"/api/sessions/{sid}/model", content=body.getvalue(),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert "2,097,152" in r.json()["allowed"]


def test_a_long_step_over_the_websocket_gives_the_same_weights_as_one_call() -> None:
    """Sliced steps train exactly what one uninterrupted call trains."""
    from app.training.config import HyperState, RunConfig
    from app.training.session import TrainingSession

    config = {"hidden": [8, 8], "n_points": 300}
    with make_client() as client, client.websocket_connect("/ws") as ws:
        p = Peer(ws)
        sid = p.hello(config=config)["session_id"]
        p.send({"type": "step", "unit": "epoch", "count": 3})
        p.send({"type": "step", "unit": "update", "count": 700})
        frame = p.until("frame")
        while frame["step"] < 3 * 15 + 700:
            frame = p.until("frame")
        live = client.app.state.registry.sessions[sid]  # type: ignore[attr-defined]
        reference = TrainingSession(RunConfig().with_changes(config), HyperState())
        for _ in range(3):
            reference.step_epoch()
        reference.advance(700)
        assert live.session.step == reference.step == 745
        for mine, theirs in zip(live.session.params, reference.params, strict=True):
            assert (mine["W"] == theirs["W"]).all() and (mine["b"] == theirs["b"]).all()


def test_an_aborted_upload_logs_one_line_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import logging

    from starlette.requests import ClientDisconnect

    from app.server import uploads

    class CutOff:
        client = None

        async def stream(self) -> Any:
            yield b"a,b\n1,"
            raise ClientDisconnect()

    caplog.set_level(logging.INFO, logger="paramlab.uploads")
    with pytest.raises(Exception) as refused:
        asyncio.run(uploads.read_body(CutOff(), 1000, uploads._refuse))  # type: ignore[arg-type]
    assert refused.value.status_code == 400  # type: ignore[attr-defined]
    records = [r for r in caplog.records if r.name == "paramlab.uploads"]
    assert len(records) == 1 and records[0].exc_info is None and "aborted after 6 bytes" in records[0].getMessage()
