"""Types are strict: a string or a boolean is never a number, a number never a boolean or a string.

The fields are found by walking the models (`p.CLIENT_MESSAGES`, the HTTP request bodies,
`p.ModelDocument`), so a new field is covered without a change here. Each wrong value is
sent the way a client sends it: a websocket text frame (validated in python mode from the
decoded dict) or an HTTP body (validated by FastAPI in JSON mode).
"""

from __future__ import annotations

import copy
import json
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from app import protocol as p
from app.server.api import CreateSession, PredictRequest, SaveRequest, StepRequest
from app.server.main import create_app
from app.settings import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


@dataclass(frozen=True)
class Leaf:
    """One place in a message where a value of one kind belongs."""

    path: tuple[str | int, ...]
    kind: str  # number, integer, boolean, string, choice, list, object
    choices: tuple[Any, ...] = ()

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.path)


# What a client might send instead, for each kind; and what the error must then allow.
WRONG: dict[str, list[Any]] = {
    "number": ["0.5", True, False],
    "integer": ["1", True, 1.0],
    "boolean": [1, 0, "true"],
    "string": [1, True],
    "choice": [1, True],
    "list": ["x", {"a": 1}],
    "object": ["x", [1]],
}
ALLOWED = {"number": "a finite number", "integer": "an integer", "boolean": "true or false",
           "string": "a string", "list": "a list", "object": "an object"}


def leaves(model: type[BaseModel], prefix: tuple[str | int, ...] = ()) -> Iterator[Leaf]:
    for name, info in model.model_fields.items():
        if name != "type":
            yield from _walk(info.annotation, prefix + (name,))


def _walk(tp: Any, path: tuple[str | int, ...]) -> Iterator[Leaf]:
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        yield from _walk(args[0], path)
    elif origin in (Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                yield from _walk(arg, path)
    elif origin is Literal:
        yield Leaf(path, "integer" if all(type(a) is int for a in args) else "choice", args)
    elif origin is list:
        yield Leaf(path, "list")
        yield from _walk(args[0], path + (0,))
    elif origin is dict:  # keys named by a Literal are walked like fields
        yield Leaf(path, "object")
        for key in get_args(args[0]) if get_origin(args[0]) is Literal else ():
            yield from _walk(args[1], path + (key,))
    elif tp is Any:
        return
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        yield Leaf(path, "object")
        yield from leaves(tp, path)
    elif tp in (bool, int, float, str):
        yield Leaf(path, {bool: "boolean", int: "integer", float: "number", str: "string"}[tp])
    else:
        raise AssertionError(f"{'.'.join(map(str, path))}: no wrong values known for {tp!r}")


def cases(model: type[BaseModel], prefix: str = "") -> list[Any]:
    return [pytest.param(leaf, wrong, id=f"{prefix}{leaf.field}={json.dumps(wrong)}")
            for leaf in leaves(model) for wrong in WRONG[leaf.kind]]


def put(doc: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A copy of `doc` with `value` at `path`; missing objects and lists on the way are made."""
    out = copy.deepcopy(doc)
    here: Any = out
    for part, after in zip(path, path[1:]):
        if isinstance(part, int):
            if not here:
                here.append({} if isinstance(after, str) else [])
        elif not isinstance(here.get(part), (dict, list)):
            here[part] = {} if isinstance(after, str) else []
        here = here[part]
    if isinstance(path[-1], int):
        here[:1] = [value]
    else:
        here[path[-1]] = value
    return out


def assert_refused(error: dict[str, Any], leaf: Leaf, wrong: Any) -> None:
    assert set(error) == {"type", "code", "request", "field", "value", "allowed", "message"}, error
    assert error["type"] == "error" and error["code"] == "invalid", error
    assert error["field"] == leaf.field, error
    assert error["value"] == wrong and type(error["value"]) is type(wrong), error
    if leaf.kind == "choice":
        assert all(str(c) in error["allowed"] for c in leaf.choices), error
    elif leaf.choices:  # an integer that must be one of a few
        assert error["allowed"] == " or ".join(map(str, leaf.choices)), error
    else:
        assert error["allowed"] == ALLOWED[leaf.kind], error
    assert error["message"].startswith(f"{leaf.field}: ") and error["allowed"] in error["message"], error


def test_the_walk_finds_the_fields_of_every_kind() -> None:
    """A meta-test: the parametrization below is not empty or one-sided."""
    kinds = {leaf.kind for model in p.CLIENT_MESSAGES.values() for leaf in leaves(model)}
    assert kinds == set(WRONG)
    found = {(name, leaf.field) for name, model in p.CLIENT_MESSAGES.items() for leaf in leaves(model)}
    assert {("set_hyper", "lr"), ("step", "count"), ("reset", "same_weights"), ("save", "name"),
            ("hello", "config.hidden.0"), ("room_push", "hyper.rho"), ("hello", "version")} <= found


# --------------------------------------------------------------------------
# Websocket: every field of every client message


def examples() -> dict[str, dict[str, Any]]:
    """The first documented example of each message: valid, so only the field under test is wrong."""
    out = {}
    for block in re.split(r"^### ", DOC, flags=re.M)[1:]:
        name = block.split("\n", 1)[0].strip()
        found = re.findall(r"```json\n(.*?)```", block, flags=re.S)
        if name in p.CLIENT_MESSAGES and found:
            out[name] = json.loads(found[0])
    return out


EXAMPLES = examples()
WS_CASES = [pytest.param(kind, leaf, id=f"{kind}.{leaf.field}")
            for kind, model in p.CLIENT_MESSAGES.items() for leaf in leaves(model)]


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as c:
        yield c


class Socket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send_text(json.dumps(message))

    def until(self, match: Any, limit: int = 50) -> dict[str, Any]:
        """The first message `match` holds for; frames met on the way are acknowledged."""
        for _ in range(limit):
            msg = json.loads(self.ws.receive_text())
            if msg["type"] == "frame":
                self.send({"type": "ack", "seq": msg["seq"]})
            if match(msg):
                return msg
        raise AssertionError("no such message")

    def hello(self) -> None:
        self.send({"type": "hello"})
        assert self.until(lambda m: m["type"] in ("session", "error"))["type"] == "session"
        self.until(lambda m: m["type"] == "history")


@pytest.mark.parametrize(("kind", "leaf"), WS_CASES)
def test_a_wrong_type_in_a_message_is_refused_and_the_session_goes_on(client: TestClient, kind: str,
                                                                      leaf: Leaf) -> None:
    with client.websocket_connect("/ws") as ws:
        s = Socket(ws)
        if kind != "hello":
            s.hello()
        for wrong in WRONG[leaf.kind]:
            s.send(put(EXAMPLES[kind], leaf.path, wrong))
            s.send({"type": "no_such_type"})  # answered in any case: nothing waits forever if the first is taken
            error = s.until(lambda m: m["type"] in ("error", "session"))
            assert error["request"] == kind, error
            assert_refused(error, leaf, wrong)
            assert s.until(lambda m: m["type"] == "error")["code"] == "unknown_type"
        if kind == "hello":
            s.hello()
        s.send({"type": "step", "count": 3})
        assert s.until(lambda m: m["type"] == "frame" and m["step"] == 3)["step"] == 3


def test_an_integer_is_a_number_and_a_number_of_any_kind_is_taken_where_it_belongs() -> None:
    msg = p.parse_client_message(json.dumps({"type": "set_hyper", "lr": 1, "momentum": 0}))
    assert msg.lr == 1.0 and msg.momentum == 0.0  # type: ignore[attr-defined]
    assert p.parse_client_message(b'{"type": "set_speed", "updates_per_second": 5}').updates_per_second == 5  # type: ignore[attr-defined]
    assert p.HyperPatch.model_validate_json(b'{"lr": 1, "reg_rate": 0}').lr == 1.0


@pytest.mark.parametrize(("kind", "leaf"), WS_CASES)
def test_python_mode_and_json_mode_give_the_same_error(kind: str, leaf: Leaf) -> None:
    """The websocket validates the decoded dict (python mode), FastAPI the body's text (JSON mode)."""
    model = p.CLIENT_MESSAGES[kind]
    for wrong in WRONG[leaf.kind]:
        raw = json.dumps(put(EXAMPLES[kind], leaf.path, wrong))
        with pytest.raises(p.ProtocolError) as caught:
            p.parse_client_message(raw)
        with pytest.raises(ValidationError) as in_json:
            model.model_validate_json(raw)
        assert p.error_from_validation(in_json.value, kind, model) == caught.value.error


def test_the_message_says_what_was_sent_and_what_is_allowed() -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.parse_client_message(json.dumps({"type": "set_hyper", "lr": "0.1"}))
    assert caught.value.error.message == "lr: Input should be a valid number (got '0.1'); allowed: a finite number"


# --------------------------------------------------------------------------
# HTTP bodies (FastAPI validates them from JSON)


def created(client: TestClient, **body: Any) -> str:
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["session_id"])


def refused(r: Any, leaf: Leaf, wrong: Any) -> None:
    assert r.status_code == 422, r.text
    assert_refused(r.json(), leaf, wrong)


@pytest.mark.parametrize(("leaf", "wrong"), cases(CreateSession))
def test_a_wrong_type_in_a_new_session_is_refused(client: TestClient, leaf: Leaf, wrong: Any) -> None:
    refused(client.post("/api/sessions", json=put({}, leaf.path, wrong)), leaf, wrong)
    created(client)


@pytest.mark.parametrize(("leaf", "wrong"), cases(p.HyperPatch))
def test_a_wrong_type_in_a_hyperparameter_patch_is_refused(client: TestClient, leaf: Leaf, wrong: Any) -> None:
    sid = created(client)
    refused(client.patch(f"/api/sessions/{sid}/hyper", json=put({}, leaf.path, wrong)), leaf, wrong)
    assert client.patch(f"/api/sessions/{sid}/hyper", json={"lr": 1}).json()["lr"] == 1.0


@pytest.mark.parametrize(("leaf", "wrong"), cases(p.ConfigPatch))
def test_a_wrong_type_in_a_configuration_patch_is_refused(client: TestClient, leaf: Leaf, wrong: Any) -> None:
    sid = created(client)
    refused(client.patch(f"/api/sessions/{sid}/config", json=put({}, leaf.path, wrong)), leaf, wrong)
    assert client.patch(f"/api/sessions/{sid}/config", json={"hidden": [3]}).json()["config"]["hidden"] == [3]


@pytest.mark.parametrize(("route", "leaf", "wrong"), [
    pytest.param(route, *case.values, id=f"{route}:{case.id}")
    for route, model in (("step", StepRequest), ("save", SaveRequest), ("predict", PredictRequest))
    for case in cases(model)])
def test_a_wrong_type_in_a_request_body_is_refused(client: TestClient, route: str, leaf: Leaf, wrong: Any) -> None:
    sid = created(client)
    refused(client.post(f"/api/sessions/{sid}/{route}", json=put({}, leaf.path, wrong)), leaf, wrong)
    assert client.post(f"/api/sessions/{sid}/step", json={"count": 2}).json()["step"] == 2


@pytest.fixture()
def exported(client: TestClient) -> tuple[str, dict[str, Any]]:
    """A session a few updates in, and its model: every optimizer slot and the trainable masks."""
    sid = created(client, hyper={"optimizer": "adam"})
    client.post(f"/api/sessions/{sid}/step", json={"count": 3})
    model = client.get(f"/api/sessions/{sid}/model").json()
    assert set(model["optimizer"]["state"]) == {"velocity", "m", "v", "t", "s"} and model["trainable"]
    return sid, model


@pytest.mark.parametrize(("leaf", "wrong"), cases(p.ModelDocument))
def test_a_wrong_type_in_an_imported_model_is_refused(client: TestClient, exported: tuple[str, dict[str, Any]],
                                                      leaf: Leaf, wrong: Any) -> None:
    sid, model = exported
    refused(client.put(f"/api/sessions/{sid}/model", json=put(model, leaf.path, wrong)), leaf, wrong)
    assert client.put(f"/api/sessions/{sid}/model", json=model).status_code == 200
    assert client.get(f"/api/sessions/{sid}/model").json() == model


def test_the_model_walk_reaches_the_optimizer_state_and_the_trainable_masks() -> None:
    kinds = {leaf.field: leaf.kind for leaf in leaves(p.ModelDocument)}
    assert kinds["optimizer.state.velocity.0.W.0.0"] == "number"
    assert kinds["optimizer.state.t.0.b.0"] == "integer"
    assert kinds["trainable.0.W.0.0"] == "boolean" and kinds["trainable.0.b.0"] == "boolean"
