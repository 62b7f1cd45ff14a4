"""Browser tests against a real uvicorn on a free port and a real Chromium.

Every page a test opens records console errors and uncaught exceptions; a test
fails if any appeared. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("PARAMLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn app.server.main:create_app --factory on 127.0.0.1:port, as a child process."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = ROOT / "artifacts" / f"uvicorn-{self.port}.log"

    def start(self) -> "Server":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.server.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("uvicorn did not start within 20 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def post_json(self, path: str, body: Any) -> Any:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    srv = Server().start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (set PARAMLAB_CHROMIUM)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class App:
    """One browser context (its own sessionStorage) on the Paramlab page, with console errors recorded."""

    def __init__(self, browser: Any, server: Server, viewport: dict[str, int] | None = None) -> None:
        self.server = server
        self.context = browser.new_context(viewport=viewport or {"width": 1440, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def open(self, hash_: str = "", frames: int = 1) -> "App":
        self.page.goto(f"{self.server.url}/{'#' + hash_ if hash_ else ''}")
        # A fresh page: count from zero (a paused session sends a single frame).
        self.wait(f"window.paramlab && paramlab.stats.framesDrawn >= {frames}")
        return self

    def js(self, expr: str, arg: Any = None) -> Any:
        return self.page.evaluate(expr, arg)

    def wait_frames(self, n: int = 1, timeout: float = 15000) -> None:
        """Wait until n more frames have been drawn."""
        start = self.js("window.paramlab ? paramlab.stats.framesDrawn : 0")
        self.page.wait_for_function(f"window.paramlab && paramlab.stats.framesDrawn >= {start + n}", timeout=timeout)

    def wait(self, predicate: str, timeout: float = 15000) -> None:
        self.page.wait_for_function(predicate, timeout=timeout)

    def frame(self) -> dict[str, Any]:
        return self.js("paramlab.frame")

    def session_id(self) -> str:
        return self.js("paramlab.session.session_id")

    def pause(self) -> None:
        self.js("paramlab.socket.send({type: 'pause'})")
        self.wait("paramlab.frame && paramlab.frame.playing === false")

    def shot(self, name: str, full_page: bool = True) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def make_app(browser: Any, server: Server) -> Iterator[Any]:
    apps: list[App] = []

    def make(viewport: dict[str, int] | None = None, srv: Server | None = None) -> App:
        app = App(browser, srv or server, viewport)
        apps.append(app)
        return app

    yield make
    errors = [e for app in apps for e in app.errors]
    for app in apps:
        app.close()
    assert not errors, f"console errors: {errors}"


@pytest.fixture
def app(make_app: Any) -> App:
    return make_app()
