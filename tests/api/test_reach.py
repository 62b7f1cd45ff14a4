"""GET /api/reach through TestClient: the app is built in the test with a made-up
list of the machine's addresses (nothing is sent anywhere)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app
from app.settings import Settings

ADDRESSES = ["127.0.0.1", "fe80::1", "203.0.113.9", "192.168.77.10", "fd00::77"]
BASE = "http://127.0.0.1:8000"   # how TestClient names the server


def client_of(host: str, **settings: Any) -> TestClient:
    app = create_app(Settings(store="memory", host=host, **settings), list_addresses=lambda: list(ADDRESSES))
    return TestClient(app, base_url=BASE)


@pytest.fixture()
def classroom() -> Iterator[TestClient]:
    with client_of("::") as c:
        yield c


def test_a_classroom_server_lists_the_addresses_students_can_open(classroom: TestClient) -> None:
    r = classroom.get("/api/reach")
    assert r.status_code == 200
    assert r.json() == {"public_url": None, "reachable": True, "advice": None,
                        "urls": ["http://192.168.77.10:8000", "http://203.0.113.9:8000", "http://[fd00::77]:8000"]}


def test_the_address_the_page_was_opened_on_comes_first(classroom: TestClient) -> None:
    urls = classroom.get("/api/reach", headers={"Host": "[fd00::77]:8000"}).json()["urls"]
    assert urls == ["http://[fd00::77]:8000", "http://192.168.77.10:8000", "http://203.0.113.9:8000"]
    hostname = classroom.get("/api/reach", headers={"Host": "203.0.113.9:8000"})
    assert hostname.json()["urls"][0] == "http://203.0.113.9:8000"
    # A loopback name is not one students can open: the listed order stays.
    assert classroom.get("/api/reach", headers={"Host": "localhost:8000"}).json()["urls"][0] == "http://192.168.77.10:8000"
    # A name the server does not answer to never gets that far.
    assert classroom.get("/api/reach", headers={"Host": "evil.example"}).status_code == 400


def test_a_loopback_server_has_no_url_and_says_what_to_run() -> None:
    with client_of("127.0.0.1") as c:
        body = c.get("/api/reach").json()
        # The machine's addresses are not this server's names: it listens on loopback only.
        assert c.get("/api/reach", headers={"Host": "192.168.77.10:8000"}).status_code == 400
    assert body["urls"] == [] and body["reachable"] is False and body["public_url"] is None
    assert "paramlab --classroom" in body["advice"] and "PARAMLAB_PUBLIC_URL" in body["advice"]


def test_a_public_url_is_the_one_base_and_its_host_is_answered() -> None:
    with client_of("127.0.0.1", public_url="https://paramlab.school.example") as c:
        body = c.get("/api/reach", headers={"Host": "paramlab.school.example"}).json()
    assert body == {"public_url": "https://paramlab.school.example", "urls": ["https://paramlab.school.example"],
                    "reachable": True, "advice": None}


def test_reach_takes_no_query_and_is_in_the_openapi_schema(classroom: TestClient) -> None:
    r = classroom.get("/api/reach?urls=1")
    assert r.status_code == 422 and r.json()["field"] == "urls"
    schema = classroom.get("/openapi.json").json()
    route = schema["paths"]["/api/reach"]["get"]
    assert route["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Reach"}
    assert set(schema["components"]["schemas"]["Reach"]["properties"]) == {"public_url", "urls", "reachable", "advice"}
