"""Browser tests against a real uvicorn on a free port and a real Chromium.

Every page a test opens records console errors and uncaught exceptions; a test
fails if any appeared. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import CHROMIUM, CHROMIUM_ARGS, SHOTS, page_server
from support.server import Server

pytestmark = pytest.mark.e2e

# Resolves true once PREDICATE holds, false when the time (ms, the argument) is up.
WAIT_JS = """(ms) => new Promise((resolve, reject) => {
  const end = performance.now() + ms;
  const tick = () => {
    let ok;
    try { ok = (PREDICATE); if (typeof ok === "function") ok = ok(); } catch (e) {
      // Before the page has set up its debug handle (just after a load or reload) a
      // predicate about it is "not yet"; so is one that reads the frame in the moment
      // a rebuild has cleared it and the next has not come. Otherwise an error is the test's answer.
      if (window.paramlab === undefined || (e instanceof TypeError && window.paramlab.frame == null)) ok = false;
      else { reject(e); return; }
    }
    if (ok) resolve(true);
    else if (performance.now() > end) resolve(false);
    else requestAnimationFrame(tick);
  };
  tick();
})"""

@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    srv = page_server().start()
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

    def open(self, hash_: str = "", frames: int = 1, path: str = "/") -> App:
        # The page opens paused; most tests watch it train, so their link says play unless
        # it says otherwise (test_page.py checks the paused default with a bare URL).
        if path == "/" and "playing=" not in hash_:
            hash_ = f"{hash_}&playing=true" if hash_ else "playing=true"
        self.page.goto(f"{self.server.url}{path}{'#' + hash_ if hash_ else ''}")
        # A fresh page: count from zero (a paused session sends a single frame).
        self.wait(f"window.paramlab && paramlab.stats.framesDrawn >= {frames}")
        return self

    def js(self, expr: str, arg: Any = None) -> Any:
        return self.page.evaluate(expr, arg)

    def wait_frames(self, n: int = 1, timeout: float = 15000) -> None:
        """Wait until n more frames have been drawn."""
        start = self.js("window.paramlab ? paramlab.stats.framesDrawn : 0")
        self.wait(f"window.paramlab && paramlab.stats.framesDrawn >= {start + n}", timeout=timeout)

    def wait(self, predicate: str, timeout: float = 15000) -> None:
        """Wait until the JS expression `predicate` is truthy, checked once per animation frame.

        Not page.wait_for_function: it evaluates its string with the page's own
        eval, which the page's Content-Security-Policy (script-src 'self') refuses.
        Here the predicate is compiled as part of one evaluate call (DevTools
        code, outside the policy). A navigation meanwhile (a reload) starts the
        wait again in the new document, as wait_for_function does.
        """
        deadline = time.monotonic() + timeout / 1000
        while True:
            left = max(1.0, (deadline - time.monotonic()) * 1000)
            try:
                if self.page.evaluate(WAIT_JS.replace("PREDICATE", predicate), left):
                    return
            except Exception as exc:
                if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} ms waiting for: {predicate}")

    def settle(self) -> None:
        """Wait for two more animation frames: what the page scheduled to draw is drawn
        (before a screenshot)."""
        self.js("new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)))")

    def sent(self) -> list[str]:
        """The types of the messages this page sent since `spy_sends`, acks aside."""
        return self.js("window.__sent")

    def spy_sends(self) -> None:
        """Record the type of every message the page sends from now on (until a reload)."""
        self.js("""(() => {
          window.__sent = [];
          const socket = paramlab.socket, rawSend = socket.rawSend.bind(socket);
          socket.rawSend = (msg) => { if (msg.type !== "ack") __sent.push(msg.type); return rawSend(msg); };
        })()""")

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
