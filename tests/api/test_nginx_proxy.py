"""Through Debian's nginx with the configuration docs/deploy.md gives (deploy/nginx/), in
front of a real server started as the README starts it (`python -m app`).

What is checked is what a school behind a proxy needs: the page and its scripts load,
the websocket upgrades from the page's own origin, a session trains and takes a
control, each student keeps an address of their own for the quotas, and the proxy
passes bodies as large as the server takes. The deploy files themselves must pass
`nginx -t`. Nothing here is timed; every wait is bounded only so that a failure ends.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.live import Peer
from support.nginx import DEPLOY, Nginx, nginx_path, tls_site_config
from support.server import Server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

pytestmark = pytest.mark.skipif(nginx_path() is None, reason="nginx is not installed (apt-get install nginx)")

# One connection per address at once: a server that saw nginx's address for every student
# would refuse the second student (close code 4430).
ONE_CONNECTION_EACH = {"PARAMLAB_CONNECTIONS_PER_CLIENT": "1"}


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Nginx]]:
    tmp = tmp_path_factory.mktemp("nginx-proxy")
    server = Server(tmp / "server.log", ONE_CONNECTION_EACH, main=True).start()
    try:
        with Nginx([f"127.0.0.1:{server.port}"], tmp / "nginx") as nginx:
            yield server, nginx
    finally:
        server.stop()


def fetch(url: str, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request (an HTTP error is an answer too)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def ws_to(nginx: Nginx, source: str, origin: str | None = None, headers: dict[str, str] | None = None) -> Any:
    """A websocket to nginx from the loopback address `source`, sent with the page's own Origin
    (as a browser sends it) unless another is given."""
    return connect(nginx.ws, proxy=None, origin=Origin(origin or nginx.url), additional_headers=headers,
                   local_addr=(source, 0), max_size=2**24, open_timeout=10, close_timeout=2)


def test_the_page_and_its_scripts_load_through_nginx(proxied: tuple[Server, Nginx]) -> None:
    _, nginx = proxied
    status, headers, body = fetch(nginx.url + "/")
    assert status == 200 and headers["Server"].startswith("nginx"), (status, headers)
    page = body.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert scripts, page[:500]
    for src in scripts:
        status, headers, script = fetch(nginx.url + src)
        assert status == 200 and "javascript" in headers["Content-Type"] and script, (src, status, headers)
    # The server's own headers pass through the proxy untouched.
    assert "script-src 'self'" in headers["content-security-policy"]


def test_the_websocket_upgrades_and_a_session_trains_and_takes_a_control(proxied: tuple[Server, Nginx]) -> None:
    _, nginx = proxied

    async def main() -> None:
        async with ws_to(nginx, "127.0.0.2") as ws:
            p = Peer(ws)
            await p.hello(playing=True, fps=30, updates_per_second=500)
            first = await p.until(lambda m: m["type"] == "frame" and m["step"] > 0, timeout=20)
            later = await p.until(lambda m: m["type"] == "frame" and m["step"] > first["step"], timeout=20)
            assert later["step"] > first["step"] > 0
            await p.send({"type": "set_hyper", "lr": 0.1234})
            shown = await p.until(lambda m: m["type"] == "frame" and m["hyper"]["lr"] == 0.1234, timeout=20)
            assert shown["step"] >= later["step"]

    asyncio.run(main())


def test_a_websocket_from_another_site_is_refused_through_nginx(proxied: tuple[Server, Nginx]) -> None:
    # The server compares Origin with the Host nginx passes: the page's own origin is taken (above),
    # another site's is not. (With `Host $host` nginx would drop the port, and both would be refused.)
    _, nginx = proxied

    async def main() -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with ws_to(nginx, "127.0.0.3", origin="http://evil.example"):
                pass
        assert refused.value.response.status_code == 403

    asyncio.run(main())


def test_each_student_keeps_their_own_address_behind_nginx(proxied: tuple[Server, Nginx]) -> None:
    """The quotas count the student's address (X-Forwarded-For from a proxy the server trusts),
    not nginx's: two students from two addresses each get their one connection, a second from
    the same address is refused, and a forged X-Forwarded-For does not make it another student."""
    _, nginx = proxied

    async def main() -> None:
        async with ws_to(nginx, "127.0.0.4") as first, ws_to(nginx, "127.0.0.5") as second:
            await Peer(first).hello()
            await Peer(second).hello()
            async with ws_to(nginx, "127.0.0.4", headers={"X-Forwarded-For": "192.0.2.77"}) as third:
                refusal = json.loads(await asyncio.wait_for(third.recv(), 10))
                assert refusal["type"] == "error" and refusal["code"] == "limit", refusal
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(third.recv(), 10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4430
            await Peer(first).send({"type": "pause"})  # the first student's socket is still open and served
            assert (await Peer(first).until(lambda m: m["type"] == "frame", timeout=10))["playing"] is False

    asyncio.run(main())


def test_nginx_passes_a_body_as_large_as_the_server_takes(proxied: tuple[Server, Nginx]) -> None:
    # A model file may be 2 MiB: nginx's own 1 MiB default would answer 413 (an HTML page) instead
    # of letting the server say what is wrong with it.
    _, nginx = proxied
    status, _, body = fetch(nginx.url + "/api/sessions", "POST", b"{}",
                            {"Content-Type": "application/json", "Origin": nginx.url})
    assert status == 201, body
    session_id = json.loads(body)["session_id"]
    model = json.dumps({"format": "not a model", "padding": "x" * 1_500_000}).encode()
    status, headers, body = fetch(f"{nginx.url}/api/sessions/{session_id}/model", "PUT", model,
                                  {"Content-Type": "application/json", "Origin": nginx.url})
    assert headers["Content-Type"] == "application/json", (status, body[:300])
    error = json.loads(body)
    assert status in (400, 422) and error["type"] == "error" and error["code"] == "invalid", (status, error)
    # Past the server's limit, the server itself says what the limit is.
    status, _, body = fetch(f"{nginx.url}/api/sessions/{session_id}/model", "PUT", b" " * (3 * 1024 * 1024),
                            {"Content-Type": "application/json", "Origin": nginx.url})
    assert status == 413 and json.loads(body)["code"] == "too_large", body[:300]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_the_tls_site_of_the_deploy_guide_passes_nginx_check(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=paramlab.test", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    site = tmp_path / "site.conf"
    site.write_text(tls_site_config(cert, key))
    Nginx([], tmp_path / "nginx").check(site)
    # The check can fail: a site whose snippet is missing is refused.
    site.write_text(site.read_text().replace(str(DEPLOY / "paramlab-proxy.conf"), str(tmp_path / "missing.conf")))
    with pytest.raises(RuntimeError, match=r"missing\.conf"):
        Nginx([], tmp_path / "nginx").check(site)
