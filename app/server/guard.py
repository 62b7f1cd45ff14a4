"""Who may talk to the server at all: the Host it was reached by, the page a
request comes from, and the content type of what changes state.

- Host: a request must name this server by one of its names (DNS rebinding:
  a page on `evil.example` that resolves to 127.0.0.1 still says
  `Host: evil.example`). Loopback names always; the machine's own names and
  addresses when it listens beyond loopback; `allowed_hosts` for a proxy.
- Origin: a browser names the page a request comes from. A request that
  changes state (POST, PUT, PATCH, DELETE) or opens the websocket from another
  site's page is refused (cross-site request forgery), unless `allowed_origins`
  names it. Scripts and tests send no Origin and are let through.
- Content type: a body that changes state must be JSON (the CSV upload:
  CSV or multipart). A form or a `text/plain` fetch from another site never
  reaches a route, even where a browser sends no Origin.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app import protocol as p
from app.server.reach import ListAddresses, address_lister, listens_beyond_loopback
from app.settings import Settings

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
JSON_TYPES = {"application/json"}
# Routes whose body is not JSON, and what they take instead.
OTHER_TYPES = {"/api/datasets": {"text/csv", "multipart/form-data", "application/json"}}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def machine_names(addresses: Iterable[str]) -> set[str]:
    """This machine's host names, and `addresses` (its network interfaces' addresses, from reach.py)."""
    names = {socket.gethostname(), socket.getfqdn()}
    names |= {f"{n}.local" for n in list(names) if n and "." not in n}
    names |= set(addresses)
    return {n.lower() for n in names if n}


def host_name(header: str) -> str:
    """The name in a Host header, without its port ('[::1]:8000' -> '::1')."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        return header.split(":", 1)[0]
    return header


class HostPolicy:
    """The names this server answers to."""

    def __init__(self, settings: Settings, interfaces: Iterable[str] | None = None,
                 list_addresses: ListAddresses | None = None) -> None:
        """interfaces: the machine's names and addresses (else its host names and what
        `list_addresses`, or the settings, list)."""
        self.any = "*" in settings.allowed_hosts
        names = set(LOOPBACK_NAMES) | {host_name(h) for h in settings.allowed_hosts if h != "*"}
        if settings.public_url:  # the proxy's name, as if in allowed_hosts
            names.add(str(urlsplit(settings.public_url).hostname))
        if listens_beyond_loopback(settings.host):
            if interfaces is None:
                interfaces = machine_names((list_addresses or address_lister(settings))())
            names |= set(interfaces)
            if settings.host not in ("0.0.0.0", "::", ""):
                names.add(host_name(settings.host))
        self.names = names
        self.origins = set(settings.allowed_origins)

    def host_allowed(self, host_header: str | None) -> bool:
        if self.any:
            return True
        return host_header is not None and host_name(host_header) in self.names

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """No Origin (not a browser) or this server's own page, or an allowed one."""
        if origin is None:
            return True
        host = (host_header or "").strip().lower()
        return origin.lower() in {f"http://{host}", f"https://{host}"} or origin in self.origins


def _refusal(status: int, error: p.ErrorMessage) -> JSONResponse:
    return JSONResponse(error.model_dump(), status_code=status)


class RequestGuard:
    """ASGI middleware: Host on every request, Origin and content type on state changes.

    The websocket's handshake is refused here too (HTTP 403) for a wrong Host
    or a foreign Origin.
    """

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        refusal = None
        if not self.policy.host_allowed(host):
            shown = (host or "")[:p.MAX_ECHO_BYTES]
            refusal = _refusal(400, p.ErrorMessage(
                code="invalid", field="host", value=shown,
                allowed="this server's own names (set PARAMLAB_ALLOWED_HOSTS for a proxy's)",
                message=f"this server does not answer to the name {shown!r}"))
        elif scope["type"] == "websocket" or scope["method"] in STATE_CHANGING:
            origin = headers.get("origin")
            if not self.policy.origin_allowed(origin, host):
                refusal = _refusal(403, p.ErrorMessage(
                    code="forbidden", field="origin", value=(origin or "")[:p.MAX_ECHO_BYTES],
                    allowed="this server's own pages (set PARAMLAB_ALLOWED_ORIGINS for others)",
                    message="requests that change state are taken only from this server's own pages"))
            elif scope["type"] == "http":
                refusal = self._content_type(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: the handshake gets 403
        else:
            await refusal(scope, receive, send)

    def _content_type(self, scope: Scope, headers: Headers) -> JSONResponse | None:
        kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        length = headers.get("content-length")
        has_body = bool(kind) or (length not in (None, "0")) or "transfer-encoding" in headers
        if not has_body:
            return None
        allowed = OTHER_TYPES.get(scope["path"], JSON_TYPES)
        if kind in allowed:
            return None
        names = ", ".join(sorted(allowed))
        return _refusal(415, p.ErrorMessage(
            code="invalid", field="content-type", value=kind[:p.MAX_ECHO_BYTES], allowed=names,
            message=f"{scope['method']} {scope['path']}: a body of type {kind or 'none'!r} is not taken; "
                    f"send {names}"))
