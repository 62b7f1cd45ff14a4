"""A lesson in a room, in a real Chromium: a teacher (projector) and two students (phones), each their own context.

The teacher opens a room and the learning-rate lesson; two students join and show
the teacher's card and step, which they cannot move themselves. The teacher moves to
step 3; both follow. One student forks and drags the learning rate up on their own
network; their page notices it, and the teacher's panel (and the strip under the
lesson card) names them as done and the other as waiting. Leaving the room frees
the other student's steps.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e

PROJECTOR = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LESSON = "learning-rate"
HOSTILE = "<i>Bob</i>"  # a student's name is text, never markup


def open_room(teacher: Any) -> str:
    page = teacher.page
    page.get_by_role("button", name="Classroom", exact=True).click()
    page.get_by_role("button", name="Open a room", exact=True).click()
    teacher.wait("paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    return teacher.js("paramlab.classroom.room.code")


def join(student: Any, code: str, name: str) -> None:
    page = student.page
    student.open("playing=false", path=f"/?room={code}")
    student.wait("document.activeElement && document.activeElement.id === 'join-name'")
    page.keyboard.type(name)
    page.get_by_role("button", name="Join", exact=True).click()
    student.wait("paramlab.classroom.mode === 'follow' && paramlab.session && paramlab.session.session_id === null")


def lesson_at(app: Any, step: int, follower: bool | None = None) -> None:
    """Wait until the page's player shows LESSON at `step` (from 0), its card drawn."""
    app.wait(f"paramlab.lesson && paramlab.lesson.id === '{LESSON}' && paramlab.lesson.step === {step}"
             " && !document.getElementById('lesson-card').hidden")
    title = app.js(f"paramlab.lesson.lesson.steps[{step}].title")
    assert app.page.locator("#lesson-card .lc-title").inner_text() == title
    steps = app.js("paramlab.lesson.lesson.steps.length")
    assert app.page.locator("#lesson-card .lc-count").inner_text() == f"Step {step + 1} of {steps}"


def top_shot(app: Any, name: str) -> None:
    """What a phone shows first: the banner and the lesson card."""
    app.js("window.scrollTo(0, 0)")
    app.settle()
    app.shot(name, full_page=False)


def names(app: Any, where: str, kind: str) -> list[str]:
    return app.js(f"[...document.querySelectorAll('{where} .lp-names.{kind} li')].map(li => li.textContent)")


def test_students_follow_the_teachers_lesson_and_the_teacher_sees_who_did_it(make_app: Any) -> None:
    teacher = make_app(PROJECTOR).open("playing=false")
    tpage = teacher.page
    code = open_room(teacher)
    # The teacher opens a lesson from the list: the room is put on its first step.
    tpage.get_by_role("button", name="Lessons", exact=True).click()
    tpage.locator(f"button.ll-open[data-lesson='{LESSON}']").click()
    lesson_at(teacher, 0)
    teacher.wait(f"paramlab.room.lesson && paramlab.room.lesson.id === '{LESSON}' && paramlab.room.lesson.step === 0")

    ada, bob = make_app(PHONE), make_app(PHONE)
    join(ada, code, "Ada")
    join(bob, code, HOSTILE)
    for student in (ada, bob):
        lesson_at(student, 0)
        # The teacher drives: no Back or Next, the step keys do nothing, the action is not watched here.
        assert student.page.locator("#lesson-card .lc-nav").is_hidden()
        student.page.locator("#lesson-card .lc-title").click()
        student.page.keyboard.press("ArrowRight")
        student.settle()
        assert student.js("paramlab.lesson.step") == 0
    assert "Lesson step 1" in bob.page.locator("#banner-room").inner_text()

    # Both students are waiting; the panel and the card's strip say so, by name (as text).
    teacher.wait("paramlab.room.status && paramlab.room.status.lesson && paramlab.room.status.lesson.waiting.length === 2")
    teacher.settle()
    assert names(teacher, ".cl-lesson", "waiting") == [HOSTILE, "Ada"]  # sorted by name, as the server sends them
    assert tpage.locator(".cl-lesson i").count() == 0
    assert "0 of 2 students have done it" in tpage.locator(".cl-lesson .lp-head").inner_text()

    # The teacher moves to step 3 with the keyboard, as a presenter's clicker would; both students follow.
    tpage.locator("#lesson-card .lc-title").click()
    tpage.keyboard.press("ArrowRight")
    lesson_at(teacher, 1)
    tpage.keyboard.press("PageDown")
    lesson_at(teacher, 2)
    for student in (ada, bob):
        lesson_at(student, 2)
    # The step's setup went to the teacher's session (lr 0.3), which the followers show.
    teacher.wait("paramlab.frame.hyper.lr === 0.3")
    bob.wait("paramlab.frame.hyper.lr === 0.3")
    teacher.wait("paramlab.room.status.lesson.step === 2")
    top_shot(bob, "room-lesson-student-following")

    # Ada forks: she keeps the step, now on her own copy (the card watches her own frames).
    apage = ada.page
    apage.get_by_role("button", name="Fork: experiment on my own copy", exact=True).click()
    ada.wait("paramlab.classroom.mode === 'fork' && paramlab.session.session_id !== null")
    lesson_at(ada, 2)
    assert apage.locator("#lesson-card .lc-nav").is_hidden(), "a forked student still follows the teacher's steps"
    # Her copy runs as the teacher's did at this step (a fork starts paused): the loss she is asked to watch moves.
    ada.wait("paramlab.frame.playing === true && paramlab.session.session_id !== null")
    assert not ada.js("paramlab.lesson.noticed")
    # She drags the learning rate up to 3 on her own network.
    slider = apage.get_by_role("slider", name="Learning rate", exact=True)
    slider.focus()
    for _ in range(100):  # log10 steps of 0.01: 0.3 -> 3
        apage.keyboard.press("ArrowRight")
    for _ in range(10):  # the slider's rounding may leave it a step short
        if float(apage.locator("#lr-out").get_attribute("title")) >= 3:
            break
        apage.keyboard.press("ArrowRight")
    lr = float(apage.locator("#lr-out").get_attribute("title"))
    assert lr >= 3
    ada.wait(f"paramlab.frame.hyper.lr === {lr}")
    ada.wait("paramlab.lesson.noticed === true")
    assert apage.locator("#lesson-card .lc-done").is_visible()

    # The teacher's panel names Ada as done and Bob as waiting; the teacher's own network is untouched.
    teacher.wait("paramlab.room.status.lesson.done.length === 1")
    teacher.settle()
    assert names(teacher, ".cl-lesson", "done") == ["Ada"]
    assert names(teacher, ".cl-lesson", "waiting") == [HOSTILE]
    assert names(teacher, "#lesson-card .lc-class", "done") == ["Ada"]
    assert names(teacher, "#lesson-card .lc-class", "waiting") == [HOSTILE]
    steps = teacher.js("paramlab.lesson.lesson.steps.length")
    assert f"Step 3 of {steps}: 1 of 2 students have done it" in tpage.locator(".cl-lesson .lp-head").inner_text()
    assert tpage.locator("#room-chip").inner_text().endswith("· step 3: 1 of 2 done")
    assert tpage.locator(".cl-lesson i, .lc-class i").count() == 0
    assert teacher.js("paramlab.frame.hyper.lr") == 0.3
    assert not bob.js("paramlab.lesson.noticed")
    top_shot(teacher, "room-lesson-teacher")
    top_shot(ada, "room-lesson-student-done")
    top_shot(bob, "room-lesson-student-waiting")

    # Back to step 2: nobody has done it yet. Ada, forked, gets the step's setup on her own copy (which plays
    # it), her page notices its action there (test accuracy 95 %), and the teacher sees her done again.
    tpage.locator("#lesson-card .lc-title").click()
    tpage.keyboard.press("ArrowLeft")
    for app in (teacher, ada, bob):
        lesson_at(app, 1)
    teacher.wait("paramlab.room.status.lesson.step === 1")
    assert teacher.js("paramlab.room.status.lesson.waiting").count(HOSTILE) == 1
    ada.wait("paramlab.lesson.noticed === true && paramlab.frame.playing === true", timeout=30000)
    assert "%" in ada.page.locator("#lesson-card .lc-then").inner_text()  # the then: the accuracy it reached
    teacher.wait("paramlab.room.status.lesson.step === 1 && paramlab.room.status.lesson.done.length === 1")
    assert teacher.js("paramlab.room.status.lesson") == {"id": LESSON, "step": 1, "done": ["Ada"], "waiting": [HOSTILE]}

    # Reloads: the teacher comes back on the room's step, in charge of it, with the class's progress; Bob comes
    # back following it, still unable to move it.
    tpage.reload()
    teacher.wait("window.paramlab && paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    lesson_at(teacher, 1)
    teacher.wait("paramlab.room.status && paramlab.room.status.lesson && paramlab.room.status.lesson.done.length === 1")
    teacher.wait("!document.querySelector('.cl-lesson').hidden")
    assert names(teacher, ".cl-lesson", "done") == ["Ada"]
    assert tpage.locator("#lesson-card .lc-nav").is_visible()
    bob.page.reload()
    bob.wait("window.paramlab && paramlab.classroom.mode === 'follow' && paramlab.session && paramlab.session.session_id === null")
    lesson_at(bob, 1)
    assert bob.page.locator("#lesson-card .lc-nav").is_hidden()
    assert teacher.js("paramlab.room.lesson") == {"id": LESSON, "step": 1}

    # Bob leaves the room: the lesson stays on his screen and its steps are his again.
    bpage = bob.page
    bpage.get_by_role("button", name="Classroom", exact=True).click()
    bpage.get_by_role("button", name="Leave the room", exact=True).click()
    bob.wait("paramlab.classroom.room === null && paramlab.session.session_id !== null")
    lesson_at(bob, 1)
    bob.wait("!document.querySelector('#lesson-card .lc-nav').hidden")
    # The teacher ends the lesson: Ada's card closes; the teacher's panel has no lesson any more.
    tpage.locator("#lesson-card .lc-close").click()
    ada.wait("paramlab.lesson === null && document.getElementById('lesson-card').hidden")
    teacher.wait("paramlab.room.lesson === null && paramlab.room.status.lesson === null")
    assert tpage.locator(".cl-lesson").is_hidden()
