"""axe-core (vendored for the tests) on the page's main states: the default page, each
step-by-step phase, presenter mode, and the classroom panels of a teacher with an open
room and of a student who joined. No violation of serious or critical impact is allowed.

The page's Content-Security-Policy (script-src 'self') refuses an injected <script>; the
library's source is run through page.evaluate instead (DevTools code, outside the policy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"   # MPL-2.0, tests only
BLOCKING = ("serious", "critical")

RUN_AXE = """async () => {
  const r = await axe.run(document, { resultTypes: ["violations"] });
  return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 8), count: v.nodes.length }));
}"""


def violations(app: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the library injected once per document)."""
    if not app.js("typeof window.axe === 'object'"):
        app.js(AXE.read_text())
    app.settle()
    return app.js(RUN_AXE)


def assert_none_blocking(app: Any, state: str) -> None:
    found = violations(app)
    blocking = [v for v in found if v["impact"] in BLOCKING]
    assert not blocking, f"{state}: {blocking}"


def test_axe_finds_a_violation_it_is_shown(app):
    """The check can fail: an image without a text alternative is a critical violation to axe."""
    app.open("playing=false", frames=1)
    app.js("""(() => { const img = document.createElement('img'); img.src = '/static/favicon.svg';
        document.querySelector('main').append(img); })()""")
    assert any(v["id"] == "image-alt" and v["impact"] == "critical" for v in violations(app))


def test_the_default_page_and_each_phase_have_no_serious_violation(app):
    app.open("playing=false", frames=1)
    assert_none_blocking(app, "the default page")
    app.page.select_option("#step-unit", "phase")
    for phase in ("forward", "loss", "backward", "update"):
        app.page.get_by_role("button", name="Next phase", exact=True).click()
        app.wait(f"paramlab.frame.phase === '{phase}'")
        assert_none_blocking(app, f"phase {phase}")


def test_presenter_mode_has_no_serious_violation(make_app):
    app = make_app(viewport={"width": 1920, "height": 1080}).open("presenter=true&playing=false", frames=1)
    assert_none_blocking(app, "presenter mode")
    app.page.get_by_role("button", name="Next phase", exact=True).click()
    app.wait("paramlab.frame.phase === 'forward'")
    assert_none_blocking(app, "presenter mode, phase forward")


def test_the_classroom_panels_have_no_serious_violation(make_app):
    teacher = make_app(viewport={"width": 1440, "height": 900}).open("playing=false", frames=1)
    page = teacher.page
    page.get_by_role("button", name="Classroom", exact=True).click()
    teacher.wait("!document.querySelector('#classroom').hidden")
    assert_none_blocking(teacher, "the classroom panel, no room yet")
    page.get_by_role("button", name="Open a room", exact=True).click()
    teacher.wait("paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    code = teacher.js("paramlab.classroom.room.code")
    assert_none_blocking(teacher, "the teacher with an open room")

    student = make_app(viewport={"width": 390, "height": 844}).open(path=f"/?room={code}")
    student.wait("document.activeElement && document.activeElement.id === 'join-name'")
    assert_none_blocking(student, "the join form")
    student.page.keyboard.type("Ada")
    student.page.get_by_role("button", name="Join", exact=True).click()
    student.wait("paramlab.classroom.mode === 'follow' && paramlab.session && paramlab.session.session_id === null")
    assert_none_blocking(student, "a student who joined")
    teacher.wait("document.querySelector('#count-students').textContent === '1'")
    assert_none_blocking(teacher, "the teacher with a student in the room")


def test_the_lab_card_in_use_has_no_serious_violation(make_app):
    """The cross-validation and tuning card: with no validation split, after a cross-validation and a grid
    search (curves, fold table, heatmap), with a refused input, and in presenter mode."""
    app = make_app(viewport={"width": 1440, "height": 900}).open("playing=false", frames=1)
    app.wait("paramlab.jobsLab.nVal === 0")
    assert_none_blocking(app, "the lab card, no validation split")
    app.page.get_by_role("button", name="Give the validation split 20 % of the data").click()
    app.wait("paramlab.jobsLab.nVal > 0")
    app.page.fill("#lj-cv-k", "3")
    app.page.fill("#lj-cv-epochs", "2")
    app.page.get_by_role("button", name="Run cross-validation").click()
    app.page.fill("#lj-s-lr", "0.01, 0.1")
    app.page.fill("#lj-s-mom", "0, 0.9")
    app.page.fill("#lj-s-epochs", "2")
    app.page.get_by_role("button", name="Run search").click()
    app.wait("paramlab.jobsLab.cv.job?.state === 'done' && paramlab.jobsLab.search.job?.state === 'done'", timeout=60000)
    app.page.locator("#lab-jobs .hm-cell").first.focus()
    assert_none_blocking(app, "the lab card after a cross-validation and a grid search")
    app.page.fill("#lj-cv-k", "12")
    app.page.get_by_role("button", name="Run cross-validation").click()
    assert_none_blocking(app, "the lab card refusing k")
    app.page.get_by_role("button", name="Presenter", exact=True).click()
    app.wait("document.documentElement.classList.contains('presenter')")
    assert_none_blocking(app, "the lab card in presenter mode")
