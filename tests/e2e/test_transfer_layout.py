"""The transfer lab's layout in a real Chromium: on a phone nothing in it is wider than the screen, and on a
projector (presenter mode) its type is at least the page's floor of 16 px."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

# The elements of the section whose right edge passes the viewport's (none should).
OVERFLOW_JS = """(() => { const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('#lab-transfer *')].filter(e => e.getClientRects().length
    && e.getBoundingClientRect().right > w + 1).map(e => e.tagName + '#' + e.id + '.' + e.className); })()"""


def test_on_a_phone_the_transfer_lab_fits_the_screen(make_app):
    app = make_app(viewport={"width": 390, "height": 844})
    app.open("playing=false&dataset=gauss", frames=1)
    card = app.page.locator("#lab-transfer")
    card.scroll_into_view_if_needed()
    app.wait("paramlab.transferLab.transfer.plot.width > 0")
    assert app.js(OVERFLOW_JS) == []
    # Every control can be reached and is at least a finger's height.
    for name in ["Fine-tune from these weights", "Start from scratch", "Fork and compare"]:
        box = card.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["height"] >= 28 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    app.settle()
    card.screenshot(path=str(app.shot("transfer_phone_page", full_page=False).with_name("transfer_phone.png")))


def test_on_a_projector_the_transfer_lab_type_is_16_px_or_more(make_app):
    app = make_app(viewport={"width": 1920, "height": 1080})
    app.open("playing=false&dataset=gauss&presenter=true", frames=1)
    card = app.page.locator("#lab-transfer")
    card.scroll_into_view_if_needed()
    small = app.js("""[...document.querySelectorAll('#lab-transfer *')].filter(e => e.getClientRects().length
      && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())
      && parseFloat(getComputedStyle(e).fontSize) < 16).map(e => e.tagName + '.' + e.className + ' ' + getComputedStyle(e).fontSize)""")
    assert small == []
    app.settle()
    card.screenshot(path=str(app.shot("transfer_presenter_page", full_page=False).with_name("transfer_presenter.png")))


def test_the_transfer_lab_in_use_has_no_serious_violation(make_app, tmp_path):
    from test_accessibility import assert_none_blocking
    app = make_app().open("playing=false&dataset=gauss&hidden=4,2", frames=1)
    card = app.page.locator("#lab-transfer")
    # A refused file (its error shown), a fine-tune with the run from scratch beside it, replay on.
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    app.page.set_input_files("#im-file", str(bad))
    app.wait("document.querySelector('#im-err').textContent !== ''")
    app.errors[:] = [e for e in app.errors if "422" not in e]   # the refused import, logged by the browser
    card.get_by_label("Rotate (degrees)").fill("180")
    card.get_by_role("button", name="Fine-tune from these weights").click()
    app.wait("paramlab.session.tasks.length === 2 && paramlab.compare.session && paramlab.compare.lastFrame")
    card.get_by_label("Buffer (points)").fill("50")
    card.get_by_role("button", name="Apply").click()
    app.page.get_by_role("button", name="Step", exact=True).click()
    app.wait("paramlab.frame && paramlab.frame.step > 0")
    assert_none_blocking(app, "the transfer lab in use")
    app.page.get_by_role("button", name="Presenter").click()
    app.settle()
    assert_none_blocking(app, "the transfer lab in use, presenter mode")
