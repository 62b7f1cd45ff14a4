"""HTTP requests about a session another process trains, answered by that process.

Behind a load balancer a page's HTTP requests (a model export, the take-home
script, an import, a fork) may reach another process than its websocket. A
request for `/api/sessions/{id}...` whose session another live process holds is
sent to that process on its control channel (`node.py`, kind `http`), run there
through its whole app (its own guards, limits and routes, with the original
client address), and the answer relayed back. Moving the session instead would
close the page's websocket for every download. When the holder does not answer
(it died), the session is claimed here, as a websocket hello would, and the
request served here; when it cannot be claimed (still held, or Redis down) the
answer is 503 `unavailable` with Retry-After.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import protocol as p
from app.server.storage import StoreUnavailable

if TYPE_CHECKING:
    from app.server.cluster.node import Node

SESSION_PATH = re.compile(r"/api/sessions/([A-Za-z0-9_-]{1,64})(?:/|$)")
# Marks a request run for another process: it is served here whatever the lease says (no second hop).
FORWARDED = b"x-paramlab-forwarded"
# How long a process waits for the holder's answer (a step request may train for a while).
ANSWER_SECONDS = 60.0


class SessionProxy:
    """ASGI middleware: requests about a session held elsewhere are served by its holder."""

    def __init__(self, app: ASGIApp, node: Node) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = SESSION_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or any(name == FORWARDED for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        from app.server.cluster.node import HeldElsewhere

        session_id = match.group(1)
        try:
            holder = None if session_id in self.node.registry.sessions else await self.node.holder(session_id)
        except StoreUnavailable:
            holder = None  # served here as it can be (the route says what is missing)
        if holder is None or holder == self.node.name:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
        except HTTPException as exc:  # the body was too large or stalled (api.BodyLimit)
            await JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)(scope, receive, send)
            return
        answer = await self.node.request(holder, "http", timeout=ANSWER_SECONDS, request=to_wire(scope, body))
        if answer is None or not answer.get("ok"):
            try:
                await self.node.claim(session_id)  # the holder is gone: the session comes here
            except HeldElsewhere as exc:
                await unavailable(session_id, str(exc))(scope, receive, send)
                return
            except StoreUnavailable as exc:  # Redis went down meanwhile (this middleware is outside the app's handlers)
                why = f"the shared store cannot be reached ({exc}); try again in a few seconds"
                await unavailable(session_id, why)(scope, receive, send)
                return
            await self.app(scope, replay(body), send)
            return
        await send({"type": "http.response.start", "status": int(answer["status"]),
                    "headers": [(base64.b64decode(k), base64.b64decode(v)) for k, v in answer["headers"]]})
        await send({"type": "http.response.body", "body": base64.b64decode(answer["body"])})


def unavailable(session_id: str, message: str) -> JSONResponse:
    """503 `unavailable`: the session cannot be served right now, and asking again in a few seconds may work."""
    error = p.ErrorMessage(code="unavailable", field="session_id", value=session_id,
                           allowed="try again in a few seconds", message=message)
    return JSONResponse(error.model_dump(), status_code=503, headers={"Retry-After": "5"})


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A `receive` that gives `body` once, then waits (as a client that sent it all does)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def to_wire(scope: Scope, body: bytes) -> dict[str, Any]:
    return {"method": scope["method"], "scheme": scope.get("scheme", "http"), "path": scope["path"],
            "query": base64.b64encode(scope.get("query_string", b"")).decode(),
            "headers": [[base64.b64encode(k).decode(), base64.b64encode(v).decode()] for k, v in scope["headers"]],
            "client": list(scope["client"]) if scope.get("client") else None,
            "server": list(scope["server"]) if scope.get("server") else None,
            "body": base64.b64encode(body).decode()}


async def serve(app: ASGIApp, request: dict[str, Any]) -> dict[str, Any]:
    """Run a request another process sent (`to_wire`) through `app`; the answer, ready to send back."""
    headers = [(base64.b64decode(k), base64.b64decode(v)) for k, v in request["headers"]]
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": str(request["method"]),
        "scheme": str(request["scheme"]), "path": str(request["path"]), "raw_path": str(request["path"]).encode(),
        "root_path": "", "query_string": base64.b64decode(request["query"]),
        "headers": [*headers, (FORWARDED, b"1")],
        "client": tuple(request["client"]) if request["client"] else None,
        "server": tuple(request["server"]) if request["server"] else None,
    }
    status, out_headers, chunks = 500, [], []

    async def send(message: Message) -> None:
        nonlocal status, out_headers
        if message["type"] == "http.response.start":
            status, out_headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, replay(base64.b64decode(request["body"])), send)
    return {"ok": True, "status": status, "body": base64.b64encode(b"".join(chunks)).decode(),
            "headers": [[base64.b64encode(bytes(k)).decode(), base64.b64encode(bytes(v)).decode()]
                        for k, v in out_headers]}
