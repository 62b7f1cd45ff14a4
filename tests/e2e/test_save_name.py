"""The name the Save run card proposes follows the run: its dataset and learning rate as they are now, after a
lesson step, a slider drag or a new dataset, until the user types a name of their own, which is never
overwritten. The proposal is the field's placeholder: text, never markup."""

from __future__ import annotations

from typing import Any

import pytest
from lesson_actions import set_slider

pytestmark = pytest.mark.e2e

PLACEHOLDER = "document.querySelector('#save-name').placeholder"


def open_panel(app: Any) -> None:
    app.page.get_by_role("button", name="Classroom", exact=True).click()
    app.page.get_by_label("Run name", exact=True).wait_for(state="visible")


def proposed(app: Any, name: str) -> None:
    """Wait until the card proposes `name`; say what it proposes instead when it does not."""
    try:
        app.wait(f"{PLACEHOLDER} === {name!r}", timeout=5000)
    except TimeoutError:
        pytest.fail(f"the card proposes {app.js(PLACEHOLDER)!r}, not {name!r}")


def set_lr(app: Any, log10: int) -> None:
    """Drag the learning-rate slider (log10 scale) to a stop, and wait for the session to run at it."""
    set_slider(app, "#lr", log10)
    app.wait(f"paramlab.frame && paramlab.frame.hyper.lr === {10.0 ** log10!r}")


def test_the_proposed_name_follows_the_slider_and_the_dataset(make_app):
    app = make_app().open("dataset=circle&lr=0.001&playing=false")
    open_panel(app)
    proposed(app, "circle, lr 0.001")
    set_lr(app, 0)
    proposed(app, "circle, lr 1")
    app.page.locator(".datasets button", has_text="XOR").click()
    app.wait("paramlab.session.config.dataset === 'xor'")
    proposed(app, "xor, lr 1")
    set_lr(app, -1)
    proposed(app, "xor, lr 0.1")
    app.shot("save-name-follows", full_page=False)
    # Saved without a name of one's own: under the name proposed now.
    app.page.get_by_role("button", name="Save run", exact=True).click()
    app.wait("document.querySelector('.cl-copied').textContent.includes('Saved')")
    assert "Saved “xor, lr 0.1”" in app.page.locator(".cl-copied").inner_text()


def test_a_typed_name_is_never_overwritten_and_an_emptied_field_proposes_the_run_as_it_is(make_app):
    app = make_app().open("dataset=circle&lr=0.001&playing=false")
    open_panel(app)
    field = app.page.get_by_label("Run name", exact=True)
    field.fill("<b>my</b> run")
    set_lr(app, 0)
    proposed(app, "circle, lr 1")
    assert field.input_value() == "<b>my</b> run"
    app.page.get_by_role("button", name="Save run", exact=True).click()
    app.wait("document.querySelector('.cl-copied').textContent.includes('Saved')")
    assert "Saved “<b>my</b> run”" in app.page.locator(".cl-copied").inner_text()
    assert app.js("document.querySelectorAll('.cl-save b').length") == 0, "the name is text"
    field.fill("")
    set_lr(app, -1)
    proposed(app, "circle, lr 0.1")
    assert field.input_value() == ""


def test_the_proposed_name_follows_the_lesson_steps_and_the_asked_drag(make_app):
    app = make_app()
    app.page.goto(f"{app.server.url}/?lesson=learning-rate&step=1#playing=false")
    app.wait("window.paramlab && paramlab.lesson && paramlab.lesson.step === 0 && paramlab.frame"
             " && paramlab.frame.hyper.lr === 0.001")
    open_panel(app)
    proposed(app, "circle, lr 0.001")
    for step, lr in ((1, "0.3"), (2, "0.3")):   # "About right", then "Too large" (which asks for a drag)
        app.page.locator("#lesson-card .lc-next").click()
        app.wait(f"paramlab.lesson.step === {step} && paramlab.frame?.hyper.lr === {lr}")
        proposed(app, f"circle, lr {lr}")
    set_lr(app, 1)   # the step's asked drag, up to 10
    proposed(app, "circle, lr 10")
    app.shot("save-name-lesson", full_page=False)
