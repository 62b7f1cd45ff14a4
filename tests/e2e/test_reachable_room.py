"""Room links students can open, in a real Chromium and a real `python -m app --classroom`.

The classroom server is given made-up network addresses (PARAMLAB_NETWORK_ADDRESSES):
it advertises them, but every request of the test, the page's included, goes to
127.0.0.1. The server listens on all addresses, loopback among them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from e2e_support import SHARED_SERVER_QUOTAS, page_server
from support.server import ROOT, Server

pytestmark = pytest.mark.e2e

JSQR = Path(__file__).parent / "vendor" / "jsQR-1.4.0.js"   # an independent QR decoder (Apache-2.0), for tests only
PROJECTOR = {"width": 1920, "height": 1080}
# Loopback, link-local, a public and a private IPv4 (listed in that order), an IPv6 unique-local.
MADE_UP = '["127.0.0.1", "fe80::1", "169.254.9.9", "203.0.113.9", "192.168.77.10", "fd00::77"]'
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Pixels of a QR code image (rows of booleans, true = dark) read by jsQR; its text or null.
DECODE_JS = """(rows) => {
  const cell = 6, h = rows.length, w = rows[0].length, data = new Uint8ClampedArray(w * h * cell * cell * 4);
  for (let y = 0; y < h * cell; y++) for (let x = 0; x < w * cell; x++) {
    const v = rows[Math.floor(y / cell)][Math.floor(x / cell)] ? 0 : 255, i = 4 * (y * w * cell + x);
    data[i] = data[i + 1] = data[i + 2] = v; data[i + 3] = 255;
  }
  const r = jsQR(data, w * cell, h * cell); return r && r.data;
}"""
CANVAS_JS = """(() => { const cv = document.querySelector('#room-qr');
  const img = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height);
  const r = jsQR(img.data, img.width, img.height); return r && r.data; })()"""


class ClassroomServer(Server):
    """`python -m app --classroom --port <free>`, as a teacher starts it; its stdout goes to the log."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "app", "--classroom", "--port", str(self.port)]


@pytest.fixture(scope="module")
def classroom_server() -> Iterator[Server]:
    srv = ClassroomServer(ROOT / "artifacts" / "classroom-server.log", defaults=SHARED_SERVER_QUOTAS,
                          env={"PARAMLAB_NETWORK_ADDRESSES": MADE_UP})
    srv.log = srv.log.with_name(f"classroom-server-{srv.port}.log")
    srv.start()
    yield srv
    srv.stop()


def loopback_only(app: Any) -> list[str]:
    """Record every request the page makes; the list to check that all went to loopback."""
    hosts: list[str] = []
    app.page.on("request", lambda r: hosts.append(urlsplit(r.url).hostname or r.url))
    return hosts


def open_room(app: Any) -> str:
    page = app.page
    page.get_by_role("button", name="Classroom", exact=True).click()
    page.get_by_role("button", name="Open a room", exact=True).click()
    app.wait("paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    return app.js("paramlab.classroom.room.code")


def shown_code(app: Any) -> str:
    return app.page.locator("#room-code").inner_text().replace(" ", "").replace("\n", "")


def terminal_qr(text: str) -> list[list[bool]]:
    """The QR code a terminal shows, as dark (True) and light pixels: each character two
    rows of one module (half blocks, light drawn), on the terminal's dark background."""
    lines = [line for line in text.splitlines() if line and set(line) <= set("█▀▄\xa0 ")]
    assert lines, f"no QR code in the output:\n{text}"
    light = {"█": (True, True), "▀": (True, False), "▄": (False, True), "\xa0": (False, False), " ": (False, False)}
    rows = []
    for line in lines:
        halves = [light[ch] for ch in line]
        rows += [[not top for top, _ in halves], [not bottom for _, bottom in halves]]
    width = max(len(r) for r in rows)
    dark_margin = [[True] * (width + 8)] * 4
    return dark_margin + [[True] * 4 + r + [True] * (width - len(r) + 4) for r in rows] + dark_margin


def test_the_terminal_prints_the_student_url_and_a_qr_code_of_it(classroom_server: Server, browser: Any) -> None:
    out = classroom_server.log.read_text(encoding="utf-8")
    url = f"http://192.168.77.10:{classroom_server.port}/"
    assert re.search(rf"^Students open: {re.escape(url)}$", out, re.M), out
    assert f"(or: http://203.0.113.9:{classroom_server.port}/, http://[fd00::77]:{classroom_server.port}/)" in out
    assert "127.0.0.1:" not in out.split("Students open:")[1] and "fe80" not in out and "169.254" not in out
    page = browser.new_page()
    try:
        page.evaluate(JSQR.read_text())
        assert page.evaluate(DECODE_JS, terminal_qr(out)) == url
    finally:
        page.close()


def test_a_classroom_room_links_to_the_machine_s_address_in_link_and_qr(classroom_server: Server, make_app: Any) -> None:
    port = classroom_server.port
    assert classroom_server.get_json("/api/reach") == {
        "public_url": None, "reachable": True, "advice": None,
        "urls": [f"http://192.168.77.10:{port}", f"http://203.0.113.9:{port}", f"http://[fd00::77]:{port}"]}
    teacher = make_app(PROJECTOR, srv=classroom_server)
    hosts = loopback_only(teacher)
    teacher.open("playing=false")
    code = open_room(teacher)
    page = teacher.page
    link = f"http://192.168.77.10:{port}/?room={code}"
    teacher.wait(f"paramlab.classroom.qr && paramlab.classroom.qr.text === {link!r}")
    assert shown_code(teacher) == code
    assert page.get_by_role("link", name=link, exact=True).get_attribute("href") == link
    assert page.locator(".room-advice").is_hidden() and page.locator("#room-qr").is_visible()
    page.evaluate(JSQR.read_text())   # evaluated, not a <script>: the page's CSP refuses inline scripts
    assert teacher.js(CANVAS_JS) == link
    teacher.shot("reachable-room-classroom-1920x1080", full_page=False)
    # The other addresses: the teacher picks one, link and QR follow.
    choice = page.get_by_label("Address for students", exact=True)
    assert choice.locator("option").all_inner_texts() == [
        f"http://192.168.77.10:{port}", f"http://203.0.113.9:{port}", f"http://[fd00::77]:{port}"]
    choice.select_option(f"http://[fd00::77]:{port}")
    ipv6 = f"http://[fd00::77]:{port}/?room={code}"
    assert page.get_by_role("link", name=ipv6, exact=True).get_attribute("href") == ipv6
    assert teacher.js("paramlab.classroom.qr.text") == ipv6 and teacher.js(CANVAS_JS) == ipv6
    # A new code keeps the chosen address.
    page.get_by_role("button", name="New code", exact=True).click()
    teacher.wait(f"paramlab.classroom.room.code !== {code!r}")
    new = teacher.js("paramlab.classroom.room.code")
    teacher.wait(f"paramlab.classroom.qr && paramlab.classroom.qr.text === 'http://[fd00::77]:{port}/?room={new}'")
    assert teacher.js(CANVAS_JS) == f"http://[fd00::77]:{port}/?room={new}"
    assert hosts and set(hosts) <= LOOPBACK, f"the page sent requests beyond loopback: {set(hosts) - LOOPBACK}"


@pytest.fixture
def loopback_server() -> Iterator[Server]:
    """A server as `python3 -m app` starts it: loopback only, no public URL (the shared
    server of the browser tests names its own URL as the students')."""
    srv = page_server()
    srv.env.pop("PARAMLAB_PUBLIC_URL")
    srv.start()
    yield srv
    srv.stop()


def test_a_loopback_only_server_explains_itself_and_draws_no_qr_code(make_app: Any, loopback_server: Server) -> None:
    assert loopback_server.get_json("/api/reach")["reachable"] is False
    teacher = make_app(PROJECTOR, srv=loopback_server).open("playing=false")
    code = open_room(teacher)
    page = teacher.page
    advice = page.locator(".room-advice")
    advice.wait_for(state="visible")
    assert advice.inner_text().startswith("Students' devices cannot reach this server: it listens only on this computer")
    assert "paramlab --classroom" in advice.inner_text() and "PARAMLAB_PUBLIC_URL" in advice.inner_text()
    # The code stays: students on this computer join with it.
    assert shown_code(teacher) == code
    # No link that cannot work, no QR code: the canvas is hidden and was never drawn on.
    assert page.locator("#room-link").is_hidden() and page.locator("#room-qr").is_hidden()
    assert page.get_by_label("Address for students", exact=True).is_hidden()
    assert teacher.js("paramlab.classroom.qr") is None
    assert teacher.js("(() => { const cv = document.querySelector('#room-qr'); "
                      "return cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data.some(v => v !== 0); })()") is False
    teacher.shot("reachable-room-loopback-1920x1080", full_page=False)
    # By the code, a student on this computer joins.
    student = make_app(srv=loopback_server).open("playing=false")
    student.page.get_by_role("button", name="Classroom", exact=True).click()
    student.page.get_by_label("Room code", exact=True).fill(code)
    student.page.get_by_label("Your name", exact=True).fill("Ada")
    student.page.get_by_role("button", name="Join", exact=True).click()
    student.wait("paramlab.classroom.mode === 'follow'")
    teacher.wait("document.querySelector('#count-following').textContent === '1'")
