"""Every step of every built-in lesson, walked in real Chromium as a class would.

Each lesson opens by its deep link at step 1. For each step: the card shown is that step's; the asked action
is done through the page's own controls (lesson_actions.DRIVERS); the step notices it
(window.paramlab.lesson.noticed) and its `then` appears with the run's numbers; a screenshot is saved to
test-artifacts/lessons/<id>/<k>.png; ArrowRight moves on. A step the page cannot notice is checked for its
card only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lesson_actions import DRIVERS

from app.lessons.library import BUILTIN_DIR, load_builtin

pytestmark = pytest.mark.e2e

LESSONS = load_builtin(BUILTIN_DIR)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "lessons"
FAST = 1000  # updates per second while a step trains: four times the page's default, frames still fine-grained


def test_every_step_that_notices_its_action_has_a_driver() -> None:
    missing = [(lesson.id, k) for lesson in LESSONS.values() for k, step in enumerate(lesson.steps)
               if step.action is not None and step.action.notice is not None and (lesson.id, k) not in DRIVERS]
    assert not missing, f"add a driver to tests/e2e/lesson_actions.py for {missing}"
    stale = [key for key in DRIVERS if key[0] not in LESSONS or key[1] >= len(LESSONS[key[0]].steps)]
    assert not stale, f"drivers for steps that do not exist: {stale}"


def speed_up(app: Any) -> None:
    """The page's speed control to FAST, as a user drags it (unless the step locks it)."""
    app.page.eval_on_selector("#speed", """(el, ups) => {
        if (el.disabled) return;
        const stops = [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 100000, null];
        el.value = String(stops.indexOf(ups));
        el.dispatchEvent(new Event("input", {bubbles: true}));
    }""", FAST)


@pytest.mark.parametrize("lesson_id", sorted(LESSONS))
def test_walk_every_step_of_a_built_in_lesson(make_app: Any, lesson_id: str) -> None:
    lesson = LESSONS[lesson_id]
    app = make_app()
    app.open("", path=f"/?lesson={lesson_id}&step=1")
    app.wait(f"paramlab.lesson && paramlab.lesson.id === {lesson_id!r} && paramlab.lesson.step === 0")
    out = ARTIFACTS / lesson_id
    out.mkdir(parents=True, exist_ok=True)
    for k, step in enumerate(lesson.steps):
        app.wait(f"paramlab.lesson.step === {k}")
        assert app.js("document.querySelector('#lc-title').textContent") == step.title
        assert app.js("document.querySelector('.lc-count').textContent") == f"Step {k + 1} of {len(lesson.steps)}"
        noticed = step.action is not None and step.action.notice is not None
        if noticed:
            app.wait("paramlab.frame !== null && paramlab.frame !== undefined")
            if step.setup.playing is not None:   # the setup's play or pause has reached the page
                app.wait(f"paramlab.frame.playing === {str(step.setup.playing).lower()}")
            speed_up(app)
            DRIVERS[(lesson_id, k)](app)
            try:
                app.wait("paramlab.lesson.noticed === true", timeout=90000)
            except TimeoutError:
                state = app.js("""({step: paramlab.frame.step, epoch: paramlab.frame.epoch, phase: paramlab.frame.phase,
                    playing: paramlab.frame.playing, metrics: paramlab.frame.metrics, hyper: paramlab.frame.hyper,
                    trouble: paramlab.frame.trouble, errors: [...document.querySelectorAll('[role=alert]')]
                      .map((e) => e.textContent).filter(Boolean)})""")
                raise AssertionError(f"{lesson_id} step {k + 1} ({step.title}) not noticed; the page: {state}") from None
            if step.then:
                then = app.js("document.querySelector('.lc-then').textContent")
                assert re.search(r"\d", then) and "–" not in then and "{" not in then, (lesson_id, k, then)
        app.settle()
        app.page.screenshot(path=str(out / f"{k + 1}.png"), full_page=False)
        if k + 1 < len(lesson.steps):
            app.js("document.activeElement && document.activeElement.blur()")
            app.page.keyboard.press("ArrowRight")
