"""A teacher gives the room a new code and closes it, from the page; students see it.

New code: the panel's code, link and QR code change, whoever is in stays in
(a follower's banner names the new code), the old code finds no room and the
new one does. Close room (asked once more): every student's banner says the
server's words and the page goes on with the student's own session; the
teacher's panel offers to open a room again, and the teacher key of the closed
room is gone from this browser (storage and cookie). Quotas and rate limits are
said in plain words where they happen: too many wrong codes in the join form,
one room too many in the Teach card.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import SHOTS, page_server
from support.server import Server

pytestmark = pytest.mark.e2e

DESK = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
CLOSED = "Your teacher closed the room. You can keep working on your own copy."


def button(app: Any, name: str) -> Any:
    return app.page.get_by_role("button", name=name, exact=True)


def open_room(teacher: Any) -> str:
    button(teacher, "Classroom").click()
    button(teacher, "Open a room").click()
    teacher.wait("paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    return teacher.js("paramlab.classroom.room.code")


def join(student: Any, code: str, name: str) -> None:
    """From the panel: type the code and a name, press Join (the reply is the caller's to wait for)."""
    page = student.page
    if not page.get_by_label("Room code", exact=True).is_visible():
        button(student, "Classroom").click()
    page.get_by_label("Room code", exact=True).fill(code)
    page.get_by_label("Your name", exact=True).fill(name)
    button(student, "Join").click()


def shown_code(teacher: Any) -> str:
    return teacher.page.locator("#room-code").inner_text().replace(" ", "").replace("\n", "")


def teacher_cookies(app: Any, sid: str) -> list[Any]:
    return [c for c in app.context.cookies(f"{app.server.url}/api/sessions/{sid}/model")
            if c["name"] == "paramlab_teacher"]


def panel_shot(app: Any, name: str) -> None:
    """The classroom panel alone, scrolled into view; it must not be wider than the page."""
    panel = app.page.locator("#classroom")
    panel.scroll_into_view_if_needed()
    app.settle()
    SHOTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(SHOTS / f"{name}.png"))
    assert app.js("document.documentElement.scrollWidth") <= app.js("innerWidth")


def assert_buttons_fit(app: Any, *names: str) -> None:
    """Each button's label is on one line, inside its card."""
    for name in names:
        box = button(app, name).bounding_box()
        card = button(app, name).locator("xpath=ancestor::section[1]").bounding_box()
        assert box and card and box["height"] < 48, (name, box)
        assert card["x"] <= box["x"] and box["x"] + box["width"] <= card["x"] + card["width"], (name, box, card)


@pytest.fixture
def own_server() -> Iterator[Server]:
    """A server of its own: the shared one holds the rooms earlier tests left open, and one address may hold 5.
    (Asked for before make_app, so it stops after the pages close: a page left without its server logs errors.)"""
    srv = page_server().start()
    yield srv
    srv.stop()


def test_a_new_code_keeps_the_class_and_closing_sends_everyone_home(own_server, make_app):
    teacher = make_app(DESK, srv=own_server).open("playing=false")
    tsid = teacher.session_id()
    code = open_room(teacher)
    key = teacher.js(f"localStorage.getItem('paramlab.teacher_key.{tsid}')")
    assert key and [c["value"] for c in teacher_cookies(teacher, tsid)] == [key]

    student = make_app(PHONE, srv=own_server).open(path=f"/?room={code}")
    own = student.js("paramlab.socket.sessionId")
    join(student, code, "Ada")
    student.wait("paramlab.classroom.mode === 'follow' && paramlab.session && paramlab.session.session_id === null")
    banner = student.page.locator("#banner-room")
    assert code in banner.inner_text()
    teacher.wait("document.querySelector('#count-following').textContent === '1'")

    # The two buttons, on a desk and on a phone.
    assert_buttons_fit(teacher, "New code", "Close room")
    panel_shot(teacher, "room-close-teacher-panel-1440x900")
    teacher.page.set_viewport_size(PHONE)
    assert_buttons_fit(teacher, "New code", "Close room")
    panel_shot(teacher, "room-close-teacher-panel-390x844")
    teacher.page.set_viewport_size(DESK)

    # New code: code, link and QR change; the student stays in, following, and is told the new code.
    button(teacher, "New code").click()
    teacher.wait(f"paramlab.classroom.room.code !== {code!r}")
    new = teacher.js("paramlab.classroom.room.code")
    link = f"{teacher.server.url}/?room={new}"
    assert shown_code(teacher) == new and new != code
    assert teacher.page.locator("#room-link").inner_text() == link
    assert teacher.js("paramlab.classroom.qr.text") == link
    assert teacher.js("document.querySelector('#room-chip').textContent").startswith(f"Room {new}")
    student.wait(f"paramlab.classroom.room.code === {new!r}")
    assert student.js("paramlab.classroom.mode") == "follow" and student.js("paramlab.classroom.readOnly") is True
    assert new in banner.inner_text() and code not in banner.inner_text()
    assert student.js("location.search") == f"?room={new}", "a reload of the join link tries the new code"
    assert teacher.js(f"localStorage.getItem('paramlab.teacher_key.{tsid}')") == key, "the key is the room's, not the code's"
    # The teacher steps: the student, still following, sees it.
    button(teacher, "Step").click()
    student.wait("paramlab.frame && paramlab.frame.step === 1")

    # A third student with the old code: no room. With the new one: in.
    late = make_app(PHONE, srv=own_server).open(path=f"/?room={code}")
    join(late, code, "Bo")
    err = late.page.locator(".cl-join .cl-err")
    err.wait_for(state="visible")
    assert err.inner_text().startswith(f"No open room has the code “{code}”")
    join(late, new, "Bo")
    late.wait("paramlab.classroom.mode === 'follow' && paramlab.frame && paramlab.frame.step === 1")
    teacher.wait("document.querySelector('#count-following').textContent === '2'")
    # Bo forks: a copy of their own, which stays theirs when the room closes.
    button(late, "Fork: experiment on my own copy").click()
    late.wait("paramlab.classroom.mode === 'fork' && paramlab.session && paramlab.session.session_id !== null")
    fork = late.session_id()
    teacher.wait("document.querySelector('#count-forked').textContent === '1'")

    # Close room asks first; Cancel leaves everything as it was, and tells the server nothing.
    teacher.spy_sends()
    button(teacher, "Close room").click()
    confirm = teacher.page.get_by_role("group", name="Close the room?")
    assert confirm.is_visible()
    assert teacher.js("document.activeElement.textContent") == "Cancel"
    teacher.page.keyboard.press("Enter")
    assert confirm.is_hidden() and teacher.js("document.activeElement.id") == "room-close"
    assert teacher.sent() == []
    assert teacher.js("paramlab.classroom.room.code") == new and student.js("paramlab.classroom.mode") == "follow"
    button(teacher, "Close room").click()
    panel_shot(teacher, "room-close-teacher-confirm-1440x900")
    button(teacher, "Yes, close the room").click()

    # The teacher: back to "Open a room", told so, the key forgotten (storage and cookie).
    teacher.wait("paramlab.classroom.room === null")
    assert button(teacher, "Open a room").is_visible()
    assert teacher.page.locator("#room-code").is_hidden() and teacher.page.locator("#room-chip").is_hidden()
    assert teacher.page.locator(".cl-teach-status").inner_text().startswith(f"Room {new} is closed.")
    assert teacher.js("document.activeElement.id") == "room-open"
    panel_shot(teacher, "room-close-teacher-closed-1440x900")
    assert teacher.js(f"localStorage.getItem('paramlab.teacher_key.{tsid}')") is None
    assert teacher_cookies(teacher, tsid) == []
    # The session is the teacher's own again, and still theirs to drive, after a reload too.
    button(teacher, "Step").click()
    teacher.wait("paramlab.frame.step === 2")
    teacher.page.reload()
    # The answer to the page's hello names the room (if any) before the first frame.
    teacher.wait("window.paramlab && paramlab.frame && paramlab.frame.step === 2")
    assert teacher.session_id() == tsid and teacher.js("paramlab.classroom.room") is None

    # The students: the server's words in the banner, no follow/fork, their own session back, nothing read-only.
    for app, name in ((student, "Ada"), (late, "Bo")):
        app.wait("paramlab.classroom.room === null && paramlab.session && paramlab.session.session_id !== null")
        text = app.page.locator("#banner-room")
        assert text.is_visible() and CLOSED in text.inner_text(), name
        for gone in ("Fork: experiment on my own copy", "Back to the teacher"):
            assert button(app, gone).is_hidden(), (name, gone)
        assert app.js("paramlab.classroom.readOnly") is False
        assert app.js("sessionStorage.getItem('paramlab.room')") is None
        assert "room=" not in app.js("location.search")
    assert student.session_id() == own and late.session_id() == fork
    button(late, "Step").click()
    late.wait("paramlab.frame.step === 2")
    assert button(student, "Step").is_enabled()
    student.wait("paramlab.frame && paramlab.frame.step === 0")
    button(student, "Step").click()
    student.wait("paramlab.frame.step === 1")
    assert teacher.frame()["step"] == 2, "the student steps their own session, not the teacher's"
    student.page.evaluate("scrollTo(0, 0)")
    student.shot("room-close-student-phone-390x844-closed", full_page=False)
    button(student, "Dismiss").click()
    assert banner.is_hidden()
    # A reload does not try the closed room again.
    student.page.reload()
    student.wait("window.paramlab && paramlab.frame && paramlab.session.session_id !== null")
    # Nothing left to try it with: no room in the address or in this tab's storage.
    assert student.js("sessionStorage.getItem('paramlab.room')") is None and "room=" not in student.js("location.search")
    assert student.session_id() == own and student.js("paramlab.classroom.room") is None

    # The code of a closed room finds nothing.
    again = make_app(PHONE, srv=own_server).open()
    join(again, new, "Cy")
    err = again.page.locator(".cl-join .cl-err")
    err.wait_for(state="visible")
    assert err.inner_text().startswith(f"No open room has the code “{new}”")


@pytest.fixture
def strict_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A server of its own with small quotas: 2 wrong codes a minute per connection, 1 open room per address."""
    monkeypatch.setenv("PARAMLAB_JOIN_ATTEMPTS_PER_SOCKET", "2")
    monkeypatch.setenv("PARAMLAB_ROOMS_PER_CLIENT", "1")
    srv = page_server().start()
    yield srv
    srv.stop()


def test_too_many_wrong_codes_and_one_room_too_many_are_said_where_they_happen(strict_server, make_app):
    teacher = make_app(DESK, srv=strict_server).open("playing=false")
    code = open_room(teacher)

    # Wrong codes: "no open room" twice, then the server's rate limit, in the join form and the error banner.
    student = make_app(PHONE, srv=strict_server).open()
    err = student.page.locator(".cl-join .cl-err")
    for attempt in ("ZZZZZZ", "ZZZZZY"):
        join(student, attempt, "Ada")
        student.wait(f"document.querySelector('.cl-join .cl-err').textContent.includes('“{attempt}”')")
    join(student, "ZZZZZX", "Ada")
    student.wait("document.querySelector('.cl-join .cl-err').textContent.startsWith('Too many')")
    said = err.inner_text()
    assert said.startswith("Too many wrong room codes; try again in ") and said.endswith(
        " Limit: at most 2 wrong codes a minute."), said
    assert student.page.locator("#banner-err").inner_text() == said
    assert student.js("paramlab.classroom.room") is None and student.js("paramlab.classroom.readOnly") is False
    # Even the right code waits out the minute.
    join(student, code, "Ada")
    student.wait("document.querySelector('.cl-join .cl-err').textContent.startsWith('Too many') && "
                 "paramlab.classroom.pendingJoin === null")
    assert student.js("paramlab.classroom.room") is None

    # One room per address: a second teacher's room is refused, with the quota and the setting that raises it.
    other = make_app(DESK, srv=strict_server).open("playing=false")
    button(other, "Classroom").click()
    button(other, "Open a room").click()
    refused = other.page.locator(".cl-teach .cl-err")
    refused.wait_for(state="visible")
    assert refused.inner_text() == ("This address has 1 rooms open; close one first. "
                                    "Limit: at most 1 open rooms per address (PARAMLAB_ROOMS_PER_CLIENT).")
    assert other.page.locator("#banner-err").inner_text() == refused.inner_text()
    # Once the first room is closed, the second teacher may open one.
    button(teacher, "Close room").click()
    button(teacher, "Yes, close the room").click()
    teacher.wait("paramlab.classroom.room === null")
    button(other, "Open a room").click()
    other.wait("paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    assert refused.is_hidden()
