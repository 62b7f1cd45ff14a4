"""The classroom in a real Chromium: a teacher (projector) and students (phones) in their own browser contexts.

A teacher opens a room: a code, a link and a QR code that decodes to the link. A
student joins with the code and follows the teacher's network live, read-only;
forks it, experiments, gets the teacher's push, shows up in the gallery, and
follows again. Reloads resume every role. A saved run opens by its link.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

JSQR = Path(__file__).parent / "vendor" / "jsQR-1.4.0.js"   # an independent QR decoder (Apache-2.0), for tests only
PROJECTOR = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
WHY = "Following the teacher — read-only. Fork to experiment on your own copy."


def open_room(teacher: Any, gallery: bool = True) -> str:
    page = teacher.page
    page.get_by_role("button", name="Classroom", exact=True).click()
    if not gallery:
        page.get_by_label("Show a gallery of the students' losses").uncheck()
    page.get_by_role("button", name="Open a room", exact=True).click()
    teacher.wait("paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    return teacher.js("paramlab.classroom.room.code")


def join(student: Any, code: str, name: str, share: bool = True) -> None:
    """On a /?room=CODE page: the code is filled in, the name field has the focus."""
    page = student.page
    assert page.get_by_label("Room code", exact=True).input_value() == code
    student.wait("document.activeElement && document.activeElement.id === 'join-name'")
    page.keyboard.type(name)
    if share:
        page.get_by_label("Share my loss with the class", exact=True).check()
    page.get_by_role("button", name="Join", exact=True).click()
    student.wait("paramlab.classroom.mode === 'follow' && paramlab.session && paramlab.session.session_id === null")


def weights(app: Any) -> list[Any]:
    return app.js("paramlab.frame.layers.map(L => [L.W, L.b])")


def hyper_of_room(teacher: Any, sid: str) -> Any:
    """The room session's hyperparameters over HTTP, asked by the teacher's page (its key cookie goes along)."""
    return teacher.js(f"fetch('/api/sessions/{sid}/hyper').then(r => r.ok ? r.json() : r.status)")


def record_errors(app: Any) -> None:
    app.js("window.__errors = []; paramlab.socket.addEventListener('error', e => __errors.push(e.detail))")


# Controls that would change the session, by role and accessible name.
SESSION_CONTROLS = [("button", "Play"), ("button", "Step"), ("button", "Reset"), ("button", "New weights"),
                    ("button", "Add layer"), ("button", "Remove layer"), ("button", "Next phase"), ("button", "XOR"),
                    ("button", "Regenerate"), ("slider", "Learning rate"), ("slider", "Momentum"),
                    ("slider", "Batch size"), ("slider", "Speed"), ("slider", "Noise"), ("combobox", "Optimizer"),
                    ("combobox", "Activation"), ("combobox", "Regularization"), ("spinbutton", "Seed"),
                    ("combobox", "Size")]


def assert_read_only(student: Any, on: bool) -> None:
    page = student.page
    for role, name in SESSION_CONTROLS:
        el = page.get_by_role(role, name=name, exact=True)
        assert el.count() == 1, name
        if on:
            assert el.is_disabled(), f"{name} is enabled while following"
            assert el.get_attribute("aria-disabled") == "true" and el.get_attribute("title") == WHY, name
        else:
            assert el.is_enabled() and el.get_attribute("aria-disabled") is None, f"{name} still disabled"
    assert page.get_by_role("button", name="+ neuron", exact=True).first.is_disabled() is on
    assert page.get_by_role("textbox", name="Neurons in layer 1 (1 to", exact=False).is_disabled() is on
    # View-only controls stay live.
    for role, name in (("radio", "Gradients dL/dw"), ("button", "Presenter"), ("checkbox", "Show test data"),
                       ("combobox", "Step unit"), ("button", "PNG"), ("button", "Classroom")):
        assert page.get_by_role(role, name=name, exact=True).is_enabled(), name


def test_a_room_shows_its_code_link_and_a_qr_code_that_decodes(make_app):
    teacher = make_app(PROJECTOR).open("playing=false")
    code = open_room(teacher)
    page, url = teacher.page, teacher.server.url
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{6}", code), code
    assert page.locator("#room-code").inner_text().replace(" ", "").replace("\n", "") == code
    link = f"{url}/?room={code}"
    assert page.get_by_role("link", name=link, exact=True).get_attribute("href") == link
    # Legible from the back of the room.
    assert teacher.js("parseFloat(getComputedStyle(document.querySelector('#room-code')).fontSize)") >= 48
    # The teacher key stays in this browser, keyed by the session id.
    sid = teacher.session_id()
    key = teacher.js(f"localStorage.getItem('paramlab.teacher_key.{sid}')")
    assert key and len(key) >= 24
    # The QR canvas: every module where the vendored encoder puts it, on a white quiet zone...
    qr = teacher.js("""async (link) => {
        const { default: qrcode } = await import('/static/vendor/qrcode-generator-2.0.4.esm.js');
        const q = qrcode(0, 'M'); q.addData(link); q.make();
        const n = q.getModuleCount(), info = paramlab.classroom.qr, cv = document.querySelector('#room-qr');
        const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        const dark = (x, y) => d[4 * (y * cv.width + x)] < 128;
        let wrong = 0, darkModules = 0, quietDark = 0;
        for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
          const on = dark(Math.floor((c + info.quiet + .5) * info.cell), Math.floor((r + info.quiet + .5) * info.cell));
          if (on !== q.isDark(r, c)) wrong++;
          if (on) darkModules++;
        }
        for (let i = 0; i < cv.width; i++) for (const j of [0, info.quiet * info.cell - 1]) {
          if (dark(i, j) || dark(j, i)) quietDark++;
        }
        return { n, drawn: info.moduleCount, text: info.text, wrong, darkModules, quietDark, width: cv.width };
    }""", link)
    assert qr["text"] == link and qr["drawn"] == qr["n"] >= 21
    assert qr["wrong"] == 0, qr
    assert qr["quietDark"] == 0 and qr["n"] ** 2 * 0.3 < qr["darkModules"] < qr["n"] ** 2 * 0.7, qr
    # ...and an independent decoder reads the join link back from the pixels.
    # Evaluated, not added as a <script> tag: the page's CSP refuses inline scripts.
    page.evaluate(JSQR.read_text())
    decoded = teacher.js("""(() => { const cv = document.querySelector('#room-qr');
        const img = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height);
        const r = jsQR(img.data, img.width, img.height); return r && r.data; })()""")
    assert decoded == link
    # A reload puts the teacher back in their room (hello carries the key) and in charge.
    page.reload()
    teacher.wait("paramlab.classroom.room && paramlab.classroom.room.code === " + repr(code))
    assert teacher.session_id() == sid and teacher.js("paramlab.classroom.room.role") == "teacher"
    page.get_by_role("button", name="Step", exact=True).click()
    teacher.wait("paramlab.frame.step === 1")


def test_a_student_follows_forks_gets_a_push_and_follows_again(make_app):
    teacher = make_app(PROJECTOR).open("playing=false")
    code = open_room(teacher)
    tsid = teacher.session_id()
    tpage = teacher.page

    student = make_app(PHONE).open(path=f"/?room={code}")
    spage = student.page
    assert spage.get_by_role("region", name="Classroom").is_visible()
    join(student, code, "Ada")
    banner = spage.locator("#banner-room")
    assert banner.is_visible() and "Following the teacher — read-only" in banner.inner_text()
    assert not spage.get_by_role("region", name="Classroom").is_visible(), "the banner takes over once joined"
    assert student.js("document.documentElement.scrollWidth") <= PHONE["width"]
    teacher.wait("document.querySelector('#count-following').textContent === '1'")

    # The teacher steps; the student's page shows the same weights at every step.
    assert weights(student) == weights(teacher)
    for k in (1, 2, 3):
        tpage.get_by_role("button", name="Step", exact=True).click()
        teacher.wait(f"paramlab.frame.step === {k}")
        student.wait(f"paramlab.frame.step === {k}")
        assert weights(student) == weights(teacher), f"step {k}"
    # And the step-by-step phase.
    tpage.get_by_role("button", name="Next phase", exact=True).click()
    student.wait("paramlab.frame.phase === 'forward'")
    assert spage.locator(".phase-list li[data-phase=forward]").get_attribute("aria-current") == "step"
    assert "z (pre-activation)" in spage.locator(".phase-body").inner_text()
    tpage.get_by_role("button", name="Next phase", exact=True).click()
    student.wait("paramlab.frame.phase === 'loss'")
    student.settle()
    student.shot("classroom-student-phone-390x844-following", full_page=False)

    # Read-only: the controls say so, the editor does not open, the keyboard does nothing...
    assert_read_only(student, True)
    spage.locator(".bias").first.hover()
    spage.locator("#tooltip").wait_for(state="visible")     # hover still shows the numbers
    spage.locator(".bias").first.click()
    assert spage.get_by_role("dialog").count() == 0
    record_errors(student)
    spage.locator("#banner-room .msg").click()
    spage.keyboard.press("Space")
    spage.keyboard.press("ArrowRight")
    # ...and the server refuses a control forced past the page. It answers in order: had
    # the keys sent anything, its refusal would have come first.
    student.js("paramlab.socket.send({type: 'set_hyper', lr: 5})")
    student.wait("__errors.length > 0")
    err = student.js("__errors[0]")
    assert err["code"] == "forbidden" and err["request"] == "set_hyper", "the keys sent nothing"
    assert teacher.frame()["playing"] is False and teacher.frame()["phase"] == "loss"
    shown = spage.locator("#banner-err").inner_text()
    assert "read-only" in shown and "Fork: experiment on my own copy" in shown
    assert hyper_of_room(teacher, tsid)["lr"] == 0.03
    # View-only controls work.
    spage.get_by_role("radio", name="Gradients dL/dw", exact=True).check()
    student.wait("paramlab.state.edges === 'gradients'")
    spage.get_by_role("radio", name="Weights", exact=True).check()

    # Fork: the student's own copy of the teacher's state, controls enabled.
    tpage.get_by_role("button", name="Next phase", exact=True).click()
    tpage.get_by_role("button", name="Next phase", exact=True).click()
    teacher.wait("paramlab.frame.phase === 'update'")
    student.wait("paramlab.frame.phase === 'update'")
    spage.get_by_role("button", name="Fork: experiment on my own copy", exact=True).click()
    student.wait("paramlab.classroom.mode === 'fork' && paramlab.session.session_id !== null")
    fork_sid = student.session_id()
    assert fork_sid != tsid
    student.wait("paramlab.frame && paramlab.frame.step === 4")
    assert weights(student) == weights(teacher), "the fork starts where the teacher is"
    assert "Your own copy" in banner.inner_text()
    assert spage.get_by_role("button", name="Back to the teacher", exact=True).is_visible()
    assert_read_only(student, False)
    slider = spage.get_by_role("slider", name="Learning rate", exact=True)
    slider.focus()
    for _ in range(30):
        spage.keyboard.press("ArrowRight")
    lr = float(spage.locator("#lr-out").get_attribute("title"))
    assert 0.05 < lr < 0.07
    student.wait(f"paramlab.frame.hyper.lr === {lr}")
    assert student.server.get_json(f"/api/sessions/{fork_sid}/hyper")["lr"] == lr
    assert hyper_of_room(teacher, tsid)["lr"] == 0.03, "the teacher's lr is untouched"
    spage.get_by_role("button", name="Step", exact=True).click()
    student.wait("paramlab.frame.step === 5")
    assert teacher.frame()["step"] == 4

    # A reload keeps the fork: same session, same lr, still forked.
    spage.reload()
    student.wait("window.paramlab && paramlab.classroom.mode === 'fork' && paramlab.frame && paramlab.frame.step === 5")
    assert student.session_id() == fork_sid and student.frame()["hyper"]["lr"] == lr

    # The teacher pushes momentum to everyone's own session.
    tpage.get_by_label("Hyperparameter", exact=True).select_option("momentum")
    tpage.get_by_role("textbox", name="Value", exact=True).fill("0.99")
    tpage.get_by_role("button", name="Push to everyone", exact=True).click()
    student.wait("paramlab.frame.hyper.momentum === 0.99")
    toast = spage.locator("#toast")
    toast.wait_for(state="visible")
    assert toast.inner_text() == "Your teacher set momentum = 0.99."
    spage.evaluate("scrollTo(0, 0)")
    # A dropped connection (Wi-Fi, a closed lid) comes back to the same fork, with its history.
    markers = student.js("paramlab.markerCount()")
    assert markers >= 2, "the lr changes and the push are in the fork's history"
    student.js("window.__ws = paramlab.socket.ws; __ws.close()")
    student.wait("paramlab.socket.connected === false")
    student.wait(f"paramlab.socket.ws !== __ws && paramlab.socket.connected && paramlab.classroom.mode === 'fork'"
                 f" && paramlab.markerCount() === {markers} && paramlab.frame?.hyper.momentum === 0.99")
    # Reconnected, the page may clear its last frame to rebuild from the session message: wait through that.
    student.wait(f"paramlab.session?.session_id === '{fork_sid}' && paramlab.frame?.step === 5")
    teacher.wait("document.querySelector('#toast').textContent.includes('1 student')")
    assert hyper_of_room(teacher, tsid)["momentum"] == 0.9
    student.shot("classroom-student-phone-390x844-forked", full_page=False)

    # The teacher's class: counts and the gallery with the student's loss.
    # (room_status comes about once a second: wait for the one that has the student's step 5 and push.)
    teacher.wait("document.querySelector('#count-forked').textContent === '1'"
                 " && document.querySelector('.cl-gallery tbody tr td:nth-child(7)')?.textContent === '5'"
                 " && document.querySelector('.cl-gallery tbody tr td:nth-child(6) .num')?.title === '0.99'")
    assert tpage.locator("#count-students").inner_text() == "1"
    assert tpage.locator("#count-following").inner_text() == "0"
    row = tpage.locator(".cl-gallery tbody tr").first
    cells = row.locator("td")
    assert cells.nth(1).inner_text() == "Ada"
    assert float(cells.nth(2).locator(".num").get_attribute("title")) == student.frame()["metrics"]["test_loss"]
    assert float(cells.nth(4).locator(".num").get_attribute("title")) == lr
    assert cells.nth(6).inner_text() == "5"
    tpage.get_by_role("button", name="Hide", exact=True).click()
    tpage.get_by_role("button", name="Classroom", exact=True).click()
    teacher.settle()
    teacher.shot("classroom-teacher-projector-1920x1080", full_page=False)
    assert teacher.js("document.documentElement.scrollWidth") <= PROJECTOR["width"]

    # Back to the teacher: read-only again, the teacher's state again.
    spage.get_by_role("button", name="Back to the teacher", exact=True).click()
    student.wait("paramlab.classroom.mode === 'follow' && paramlab.frame && paramlab.frame.step === 4"
                 " && paramlab.frame.hyper.momentum === 0.9")
    assert weights(student) == weights(teacher)
    assert_read_only(student, True)
    # A reload while following rejoins the room, following.
    spage.reload()
    student.wait("window.paramlab && paramlab.classroom.mode === 'follow' && paramlab.frame && paramlab.frame.step === 4")
    assert_read_only(student, True)
    assert "Following the teacher — read-only" in banner.inner_text()
    tpage.get_by_role("button", name="Step", exact=True).click()
    student.wait("paramlab.frame.step === 5")
    teacher.wait("paramlab.frame.step === 5")
    assert weights(student) == weights(teacher)
    # The teacher rebuilds the network: the student sees the new one, and its new controls are locked too.
    tpage.get_by_role("button", name="Add layer", exact=True).click()
    student.wait("paramlab.session.config.hidden.length === 3 && paramlab.frame && paramlab.frame.step === 0")
    teacher.wait("paramlab.session.config.hidden.length === 3 && paramlab.frame && paramlab.frame.step === 0")
    assert weights(student) == weights(teacher)
    plus = spage.get_by_role("button", name="+ neuron", exact=True)
    assert plus.count() == 3 and all(plus.nth(i).is_disabled() for i in range(3))
    assert_read_only(student, True)
    # Leaving the room: the student's own session, nothing read-only.
    spage.get_by_role("button", name="Classroom", exact=True).click()
    spage.get_by_role("button", name="Leave the room", exact=True).click()
    student.wait("paramlab.session && paramlab.session.session_id === " + repr(fork_sid))
    assert_read_only(student, False)
    assert banner.is_hidden()


def test_a_saved_run_opens_from_its_link(make_app):
    teacher = make_app(PROJECTOR).open("dataset=xor&hidden=5&playing=false")
    page = teacher.page
    for _ in range(3):
        page.get_by_role("button", name="Step", exact=True).click()
    teacher.wait("paramlab.frame.step === 3")
    page.get_by_role("button", name="Classroom", exact=True).click()
    page.get_by_label("Run name", exact=True).fill("xor, five neurons")
    page.get_by_role("button", name="Save run", exact=True).click()
    link_box = page.get_by_label("Link to this run", exact=True)
    link_box.wait_for(state="visible")
    link = link_box.input_value()
    assert re.fullmatch(re.escape(teacher.server.url) + r"/\?run=[\w-]+", link), link
    assert "Saved “xor, five neurons”" in page.locator(".cl-copied").inner_text()
    page.get_by_role("button", name="Copy link", exact=True).click()
    teacher.wait("document.querySelector('.cl-copied').textContent.includes('copied') || "
                 "document.querySelector('.cl-copied').textContent.includes('Ctrl+C')")
    saved = teacher.frame()

    other = make_app().open(path=link[len(teacher.server.url):])
    sid = other.session_id()
    assert sid and sid != teacher.session_id()
    assert other.frame()["step"] == 3 and weights(other) == [[L["W"], L["b"]] for L in saved["layers"]]
    assert other.js("paramlab.session.config.hidden") == [5] and other.js("paramlab.session.config.dataset") == "xor"
    # A reload resumes this tab's copy; it does not open the run again.
    other.page.get_by_role("button", name="Step", exact=True).click()
    other.wait("paramlab.frame.step === 4")
    other.page.reload()
    other.wait("window.paramlab && paramlab.frame && paramlab.frame.step === 4")
    assert other.session_id() == sid


def test_wrong_codes_and_dead_links_are_said_in_plain_words(make_app):
    student = make_app(PHONE).open(path="/?room=ZZZZZZ")
    # Opened from a join link, the student's own session waits paused (it is not what they will watch).
    assert student.server.get_json(f"/api/sessions/{student.session_id()}")["playing"] is False
    join_err = student.page.locator(".cl-join .cl-err")
    student.page.get_by_label("Your name", exact=True).fill("Bo")
    student.page.get_by_role("button", name="Join", exact=True).click()
    join_err.wait_for(state="visible")
    assert join_err.inner_text().startswith("No open room has the code “ZZZZZZ”. Check the code on the projector")
    assert student.js("paramlab.classroom.readOnly") is False and student.page.locator("#banner-room").is_hidden()
    assert student.js("sessionStorage.getItem('paramlab.room')") is None
    # A follower's control forced through the page is refused in plain words too (the teacher's push).
    teacher = make_app().open("playing=false")
    code = open_room(teacher, gallery=False)
    student.page.get_by_label("Room code", exact=True).fill(code.lower())
    student.page.get_by_role("button", name="Join", exact=True).click()
    student.wait("paramlab.classroom.mode === 'follow'")
    record_errors(student)
    student.js("paramlab.socket.send({type: 'room_push', hyper: {lr: 1}})")
    student.wait("__errors.length > 0")
    assert student.js("__errors[0].code") == "forbidden"
    assert student.page.locator("#banner-err").inner_text() == "Only the room's teacher can push to the class."
    teacher.wait("document.querySelector('.cl-gallery-note').textContent === 'The gallery is off for this room.'")
    # A student who was training on their own and joins from the panel: their own session pauses.
    busy = make_app().open(frames=2)
    own = busy.session_id()
    assert busy.server.get_json(f"/api/sessions/{own}")["playing"] is True
    busy.page.get_by_role("button", name="Classroom", exact=True).click()
    busy.page.get_by_label("Room code", exact=True).fill(code)
    busy.page.get_by_label("Your name", exact=True).fill("Cy")
    busy.page.get_by_role("button", name="Join", exact=True).click()
    busy.wait("paramlab.classroom.mode === 'follow'")
    assert busy.server.get_json(f"/api/sessions/{own}")["playing"] is False
    assert busy.js("paramlab.socket.sessionId") == own, "the page keeps its own session id while following"
    # A run link that opens nothing: said so, and the page goes on with a session of its own.
    lost = make_app().open(path="/?run=nope", frames=1)
    assert lost.session_id()
    assert "no saved run 'nope'" in lost.page.locator("#banner-err").inner_text()
    assert "run=" not in lost.js("location.search")


def test_classroom_controls_are_labelled_and_reachable_by_keyboard(make_app):
    app = make_app(PHONE).open("playing=false")
    page = app.page
    toggle = page.get_by_role("button", name="Classroom", exact=True)
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    page.locator("#classroom").scroll_into_view_if_needed()
    app.shot("classroom-phone-390x844-panel", full_page=False)
    for role, name in (("button", "Open a room"), ("button", "Join"), ("button", "Save run"), ("button", "Hide"),
                       ("textbox", "Room code"), ("textbox", "Your name"), ("textbox", "Run name"),
                       ("checkbox", "Share my loss with the class"),
                       ("checkbox", "Show a gallery of the students' losses")):
        assert page.get_by_role(role, name=name, exact=True).count() == 1, name
    seen = []
    for _ in range(24):
        page.keyboard.press("Tab")
        seen.append(app.js("document.activeElement.id || document.activeElement.textContent.trim()"))
    for must in ("room-gallery", "room-open", "join-code", "join-name", "join-share", "Join", "save-name", "Save run"):
        assert must in seen, f"{must} not reached by Tab: {seen}"
    assert app.js("document.documentElement.scrollWidth") <= PHONE["width"]
