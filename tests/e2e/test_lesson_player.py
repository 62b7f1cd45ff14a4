"""The page's lesson player in a real Chromium: the list, a step's setup reaching the server, locks and the
highlight, an action noticed with the run's numbers, the keyboard, deep links, and a teacher's own file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from app.lessons.library import load_builtin

pytestmark = pytest.mark.e2e

CURRENT = "paramlab.lesson"
# One frame drawn after the lesson's setup took effect: its hyperparameters are the step's.
LR_IS = "paramlab.frame && paramlab.frame.hyper.lr === {lr}"

OWN_LESSON = """\
id: my-momentum
title: My momentum lesson
summary: A lesson a teacher wrote, uploaded from the page.
ideas: [momentum]
steps:
  - title: Touch the momentum
    setup:
      hyper: {optimizer: momentum, momentum: 0.5}
      playing: false
    locked: [lr]
    card: |
      Momentum keeps part of the last update.
    action:
      text: Move the momentum slider.
      notice: {event: set_hyper}
    then: "Momentum is now {hyper.momentum:g} after {step} updates."
    highlight: momentum
  - title: Second step
    card: Nothing to notice here.
    then: "The run stands at update {step}."
"""


def card_text(app: Any) -> str:
    return app.js("document.querySelector('#lesson-card').innerText")


def set_lr_through_the_slider(app: Any, at_least: float) -> None:
    """Click the learning-rate slider near `at_least` on its log scale, then step it up with the keys."""
    box = app.page.locator("#lr").bounding_box()
    lo, hi = app.js("[+document.querySelector('#lr').min, +document.querySelector('#lr').max]")
    x = box["x"] + box["width"] * (math.log10(at_least) - lo) / (hi - lo)
    app.page.mouse.click(x, box["y"] + box["height"] / 2)
    for _ in range(40):   # the thumb's own width shifts a click a little: the arrow keys finish the job
        if app.js("Number((10 ** +document.querySelector('#lr').value).toPrecision(2))") >= at_least:
            return
        app.page.keyboard.press("ArrowRight")
    raise AssertionError("the learning-rate slider did not reach the value")


def test_a_built_in_lesson_opens_from_the_list_sets_up_locks_highlights_and_notices_the_action(app):
    app.open("playing=false")
    app.page.click("#lessons-toggle")
    app.wait("document.querySelector('#lessons [data-lesson=\"learning-rate\"]') !== null")
    item = app.page.locator("#lessons .ll-item", has=app.page.locator("[data-lesson='learning-rate']"))
    steps = len(load_builtin()["learning-rate"].steps)  # read from the file: lessons grow
    assert "The learning rate" in item.inner_text() and f"{steps} steps" in item.inner_text()
    app.page.click("#lessons [data-lesson='learning-rate']")
    app.wait(f"{CURRENT} && {CURRENT}.id === 'learning-rate' && {CURRENT}.step === 0")
    assert app.js("document.querySelector('#lessons').hidden"), "the list closes once a lesson is chosen"
    text = card_text(app)
    assert "Too small" in text and f"Step 1 of {steps}" in text and "Press Play" in text
    assert app.js("document.querySelectorAll('#lesson-card .lc-dots li').length") == steps
    # The card's Markdown subset: elements made from the text, the text itself never parsed as HTML.
    assert app.js("document.querySelector('#lesson-card .lc-body strong').textContent") == "learning rate"
    assert app.js("document.querySelector('#lesson-card .lc-body em').textContent") == "downhill"

    # The step's setup reached the server: its frames carry the step's hyperparameters, its session the config.
    app.wait(LR_IS.format(lr=0.001))
    frame = app.frame()
    assert frame["hyper"]["momentum"] == 0 and frame["hyper"]["optimizer"] == "sgd"
    assert app.js("paramlab.session.config.hidden") == [4, 2] and app.js("paramlab.session.config.activation") == "tanh"
    assert app.js("document.querySelector('#lr-out').textContent") == "0.001", "the slider shows the step's value"
    # Locked controls are disabled and say why; hidden panels are hidden; the asked control is highlighted.
    assert app.js("document.querySelector('#lr').disabled") and app.js("document.querySelector('#optimizer').disabled")
    assert app.js("document.querySelector('#lr').title") == "Locked by the lesson"
    assert not app.js("document.querySelector('#play').disabled")
    assert app.js("getComputedStyle(document.querySelector('#lab-fit')).display") == "none"
    assert app.js("document.querySelector('#play').classList.contains('lesson-highlight')")
    assert app.js("getComputedStyle(document.querySelector('#play')).animationName") == "lc-glow"
    assert not app.js(f"{CURRENT}.noticed")
    app.shot("lesson_step1_1280")

    # Next: step 2 re-applies the same network at lr 0.3; step 3 unlocks the learning rate and highlights it.
    app.page.click("#lesson-card .lc-next")
    app.wait(f"{CURRENT}.step === 1")
    app.page.click("#lesson-card .lc-next")
    app.wait(f"{CURRENT}.step === 2")
    app.wait(LR_IS.format(lr=0.3))
    assert not app.js("document.querySelector('#lr').disabled"), "the step before's lock is off"
    assert app.js("document.querySelector('#momentum').disabled")
    assert app.js("document.querySelector('#lr').classList.contains('lesson-highlight')")
    assert not app.js("document.querySelector('#play').classList.contains('lesson-highlight')")
    assert not app.js(f"{CURRENT}.noticed"), "lr 0.3 is not yet the action"

    # The action, through the UI: the learning rate dragged to 3 (the slider has focus: its arrow keys
    # move the slider, not the lesson).
    app.js("""window.__noticed = null;
      document.addEventListener('lesson:noticed', (ev) => { window.__noticed = ev.detail; }, { once: true })""")
    set_lr_through_the_slider(app, 3)
    app.wait(f"{CURRENT}.noticed", timeout=20000)
    assert app.js(f"{CURRENT}.step") == 2, "the slider's arrow keys did not move the lesson"
    noticed = app.js("window.__noticed")
    assert noticed["id"] == "learning-rate" and noticed["step"] == 2
    lr = noticed["values"]["hyper.lr"]
    assert lr >= 3
    then = app.js("document.querySelector('#lesson-card .lc-then').textContent")
    assert f"At a learning rate of {format(lr, 'g')} the training loss jumped to " \
           f"{noticed['values']['metrics.train_loss']:.3f}" in " ".join(then.split())
    # Every number shown hovers to its exact value.
    titles = app.js("[...document.querySelectorAll('#lesson-card .lc-then .lc-num')].map((s) => [s.textContent, s.title])")
    assert [format(lr, "g"), str(lr) if lr != int(lr) else str(int(lr))] == titles[0]
    assert float(titles[1][1]) == noticed["values"]["metrics.train_loss"]
    assert app.js("document.querySelector('#lesson-card .lc-next').classList.contains('primary')"), "Next is emphasised"
    app.shot("lesson_noticed_1280")

    # Close: panels, locks and highlight are the page's own again; the URL forgets the lesson.
    app.page.click("#lesson-card .lc-close")
    app.wait(f"{CURRENT} === null")
    assert not app.js("document.querySelector('#momentum').disabled")
    assert app.js("document.querySelectorAll('.lesson-hidden, .lesson-locked, .lesson-highlight').length") == 0
    assert app.js("getComputedStyle(document.querySelector('#lab-fit')).display") != "none"
    assert "lesson=" not in app.js("location.search")


def test_a_deep_link_opens_its_step_and_the_keys_move_and_the_url_follows(app):
    steps: list[Any] = []
    app.page.goto(f"{app.server.url}/?lesson=learning-rate&step=2#playing=false")
    app.wait(f"window.paramlab && paramlab.stats.framesDrawn >= 1 && {CURRENT} && {CURRENT}.step === 1")
    assert f"Step 2 of {len(load_builtin()['learning-rate'].steps)}" in card_text(app) and "About right" in card_text(app)
    app.wait(LR_IS.format(lr=0.3))
    app.js("""window.__steps = [];
      document.addEventListener('lesson:step', (ev) => __steps.push(ev.detail))""")
    app.page.locator("body").click(position={"x": 5, "y": 300})   # nothing focused that takes the keys itself

    app.page.keyboard.press("ArrowRight")
    app.wait(f"{CURRENT}.step === 2")
    assert app.js("new URLSearchParams(location.search).get('step')") == "3"
    app.page.keyboard.press("PageUp")
    app.wait(f"{CURRENT}.step === 1")
    app.page.keyboard.press("ArrowLeft")
    app.wait(f"{CURRENT}.step === 0")
    app.page.keyboard.press("PageDown")
    app.wait(f"{CURRENT}.step === 1")
    steps = app.js("window.__steps")
    assert [(s["step"], s["by"]) for s in steps] == [(2, "user"), (1, "user"), (0, "user"), (1, "user")]
    assert app.js("new URLSearchParams(location.search).get('step')") == "2"
    assert app.js("location.hash").startswith("#"), "the page's own hash is kept beside the lesson's query"
    # Going back re-applied that step's setup (lr 0.3, playing).
    app.wait(LR_IS.format(lr=0.3) + " && paramlab.frame.playing && paramlab.state.playing")
    # The space bar still plays and pauses, with a lesson open.
    app.page.keyboard.press(" ")
    app.wait("paramlab.frame && paramlab.frame.playing === false")

    # A reload stays on the step.
    app.page.reload()
    app.wait(f"window.paramlab && {CURRENT} && {CURRENT}.id === 'learning-rate'")
    assert app.js(f"{CURRENT}.step") == 1


def test_an_unknown_lesson_says_so_and_the_page_works(app):
    app.page.goto(f"{app.server.url}/?lesson=no-such-lesson&step=2#playing=true")
    app.wait("window.paramlab && paramlab.stats.framesDrawn >= 3")
    app.wait("!document.querySelector('#banner-err').hidden")
    message = app.js("document.querySelector('#banner-err').textContent")
    assert 'no lesson "no-such-lesson"' in message
    assert app.js(CURRENT) is None and app.js("document.querySelector('#lesson-card').hidden")
    assert "lesson=" not in app.js("location.search")
    start = app.js("paramlab.frame.step")
    app.wait(f"paramlab.frame.step > {start}")
    app.errors[:] = [e for e in app.errors if "404" not in e]   # the lesson asked for, logged by the browser


def test_a_follower_sees_the_card_and_the_locks_but_sends_nothing_and_cannot_move_steps(app):
    app.open("playing=false")
    app.spy_sends()
    assert app.js("paramlab.lessonPlayer.open('learning-rate', 2, {follower: true, by: 'room'})") is True
    app.wait(f"{CURRENT} && {CURRENT}.step === 2")
    assert app.js("document.querySelector('#lesson-card .lc-nav').hidden")
    assert app.js("document.querySelector('#momentum').disabled")
    assert app.js("document.querySelector('#lr').classList.contains('lesson-highlight')")
    # A step's setup goes out as the step is shown (open() has resolved): nothing went.
    assert not {"configure", "set_hyper", "play", "pause"} & set(app.sent()), app.sent()
    app.page.locator("body").click(position={"x": 5, "y": 300})
    app.page.keyboard.press("ArrowLeft")
    app.settle()
    assert app.js(f"{CURRENT}.step") == 2, "the teacher moves the steps"
    # The same step opened as a forked student: only the mode changes, nothing is sent again.
    assert app.js("paramlab.lessonPlayer.open('learning-rate', 2, {follower: false, steered: true})") is True
    assert not {"configure", "set_hyper"} & set(app.sent())
    assert app.js("document.querySelector('#lesson-card .lc-nav').hidden")


def upload(app: Any, path: Path) -> None:
    if app.js("document.querySelector('#lessons').hidden"):
        app.page.click("#lessons-toggle")
    app.page.set_input_files("#lessons input[type=file]", str(path))


def test_a_teachers_own_lesson_file_uploads_shares_by_link_and_notices_only_the_users_act(app, tmp_path):
    app.open("playing=false")
    good = tmp_path / "my-momentum.yaml"
    good.write_text(OWN_LESSON, encoding="utf-8")
    upload(app, good)
    app.wait("!document.querySelector('#lessons .ll-shared').hidden")
    link = app.js("document.querySelector('#lessons .ll-link').value")
    assert link.startswith(f"{app.server.url}/?lesson=lesson-")
    app.wait(f"{CURRENT} && {CURRENT}.id.startsWith('lesson-')")
    assert link.endswith(app.js(f"{CURRENT}.id"))
    assert "Touch the momentum" in card_text(app)
    # The step's own set_hyper is not the user's act.
    app.wait("paramlab.frame.hyper.momentum === 0.5 && paramlab.frame.hyper.optimizer === 'momentum'")
    app.settle()
    assert not app.js(f"{CURRENT}.noticed")
    app.page.locator("#momentum").focus()
    app.page.keyboard.press("ArrowRight")
    app.wait(f"{CURRENT}.noticed")
    momentum = app.js("paramlab.frame.hyper.momentum")
    assert momentum > 0.5
    assert f"Momentum is now {format(momentum, 'g')}" in app.js("document.querySelector('#lesson-card .lc-then').textContent")
    # A step the page cannot notice: the presenter may still show what happened, with the newest frame's numbers.
    app.page.click("#lesson-card .lc-next")
    app.wait(f"{CURRENT}.step === 1")
    assert app.js("document.querySelector('#lesson-card .lc-done').hidden")
    assert not app.js("document.querySelector('#momentum').disabled") and not app.js("document.querySelector('#lr').disabled")
    app.page.click("#lesson-card .lc-reveal")
    step = app.js("paramlab.frame.step")
    assert app.js("document.querySelector('#lesson-card .lc-then').textContent").strip() == f"The run stands at update {step}."

    # The link opens the same lesson in a fresh page.
    other = app.__class__(app.context.browser, app.server)
    try:
        other.page.goto(link)
        other.wait(f"window.paramlab && {CURRENT} && {CURRENT}.id === {json.dumps(app.js(f'{CURRENT}.id'))}")
        assert "My momentum lesson" in card_text(other)
        assert other.errors == []
    finally:
        other.close()


def test_a_bad_lesson_file_names_the_line_and_the_field_as_text(app, tmp_path):
    app.open("playing=false")
    bad = tmp_path / "bad.yaml"
    bad.write_text(OWN_LESSON.replace("title: My momentum lesson", "title: My <b>bold</b> lesson"), encoding="utf-8")
    upload(app, bad)
    app.wait("document.querySelector('#lessons .ll-err').textContent !== ''")
    error = app.js("document.querySelector('#lessons .ll-err').textContent")
    assert "line 2" in error and "title" in error and "<b>bold</b>" in error, error
    assert app.js("document.querySelectorAll('#lessons .ll-err *').length") == 0, "the file's <b> stays text"
    assert app.js(CURRENT) is None and app.js("document.querySelector('#lessons .ll-shared').hidden")
    app.errors[:] = [e for e in app.errors if "422" not in e]   # the refused uploads, logged by the browser

    bad.write_text(OWN_LESSON.replace("momentum: 0.5}", "momentum: 5}"), encoding="utf-8")
    upload(app, bad)
    app.wait("document.querySelector('#lessons .ll-err').textContent.includes('steps.0.setup.hyper.momentum')")
    assert "line 8" in app.js("document.querySelector('#lessons .ll-err').textContent")
    assert not app.js("document.querySelector('#lessons').hidden")
    app.shot("lesson_upload_error_1280", full_page=False)
    app.page.keyboard.press("Escape")
    app.wait("document.querySelector('#lessons').hidden")
    app.errors[:] = [e for e in app.errors if "422" not in e]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_the_card_docks_on_a_wide_screen_and_sits_on_top_on_a_phone(make_app, viewport):
    app = make_app(viewport=viewport)
    app.page.goto(f"{app.server.url}/?lesson=learning-rate&step=3#playing=false")
    app.wait(f"window.paramlab && paramlab.stats.framesDrawn >= 1 && {CURRENT} && {CURRENT}.step === 2")
    # Opened at step 3 (which sets only the learning rate), the page is as steps 1 and 2 left it too.
    app.wait(LR_IS.format(lr=0.3) + " && paramlab.frame.hyper.optimizer === 'sgd' && paramlab.frame.hyper.momentum === 0")
    assert app.js("paramlab.session.config.hidden") == [4, 2]
    card = app.page.locator("#lesson-card").bounding_box()
    assert card is not None
    if viewport["width"] < 900:
        assert card["width"] >= viewport["width"] - 20, "full width on a phone"
        assert card["y"] < app.page.locator("#network").bounding_box()["y"], "above the network"
        assert app.js("window.scrollY") == 0, "the page stays at the card"
    else:
        assert card["x"] + card["width"] <= viewport["width"] and card["x"] > viewport["width"] / 2, "docked right"
        assert card["y"] + card["height"] <= viewport["height"]
    app.settle()
    app.shot(f"lesson_card_{viewport['width']}x{viewport['height']}", full_page=False)
    # "Show me" brings the asked control into sight.
    app.page.click("#lesson-card .lc-locate")
    app.wait("(() => { const r = document.querySelector('#lr').getBoundingClientRect();"
             " return r.top >= 0 && r.bottom <= innerHeight; })()")


EVENT_THEN_WHEN = """\
id: noise-then-train
title: Noise, then train
summary: Change the data, then train on it.
ideas: [overfitting-and-model-size]
steps:
  - title: Change the noise
    setup:
      config: {dataset: circle, noise: 0, seed: 3}
      playing: true
    card: Change the noise and let the network train on the new data.
    action:
      text: Move the noise slider.
      notice: {event: configure, when: "epoch >= 2"}
    then: "Noise {config.noise:g}: epoch {epoch}."
    highlight: noise
"""


def open_lesson_text(app: Any, text: str) -> None:
    """Upload a lesson's YAML through the page's own origin and open it at its first step."""
    lesson_id = app.js("""(text) => fetch('/api/lessons', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({text})}).then((r) => r.json()).then((b) => b.id)""", text)
    assert app.js(f"paramlab.lessonPlayer.open({lesson_id!r}, 0)") is True


def test_an_event_then_a_condition_counts_only_frames_of_the_run_the_event_made(app):
    """Frames of the old run still arrive between the user's configure and the session that answers it:
    those (already past epoch 2) must not notice the step."""
    app.open("playing=false")
    open_lesson_text(app, EVENT_THEN_WHEN)
    app.wait("paramlab.frame && paramlab.frame.epoch >= 4 && paramlab.session.config.noise === 0", timeout=30000)
    assert not app.js(f"{CURRENT}.noticed")
    app.page.locator("#noise").focus()
    app.page.keyboard.press("ArrowRight")
    app.wait(f"{CURRENT}.noticed", timeout=30000)
    values = app.js("paramlab.lessonPlayer.noticed.values")
    assert values["config.noise"] > 0, "noticed on the new data's run, not on a frame of the old one"
    assert values["epoch"] >= 2


EVENT_ON_A_PAUSED_RUN = """\
id: measure-paused
title: Measure, paused
summary: An action that sends a message but makes no new frame.
ideas: [weights-and-relevance]
steps:
  - title: Measure
    setup:
      config: {dataset: mammals, hidden: [4], seed: 1}
      playing: false
    card: Measure each input's importance.
    action:
      text: Press Measure.
      notice: {event: importance}
    then: "Measured at step {step}."
    highlight: importance
"""


def test_an_event_alone_is_noticed_when_sent_though_a_paused_run_sends_no_frame(app):
    app.open("playing=false")
    open_lesson_text(app, EVENT_ON_A_PAUSED_RUN)
    app.wait("paramlab.session && paramlab.session.config.dataset === 'mammals' && paramlab.frame"
             " && !document.querySelector('#imp-measure').disabled", timeout=30000)
    assert not app.js(f"{CURRENT}.noticed")
    app.page.locator("#imp-measure").click()
    app.wait(f"{CURRENT}.noticed", timeout=10000)
    assert app.js("paramlab.lessonPlayer.noticed.values")["step"] == app.js("paramlab.frame.step")
    assert "Measured at step" in app.js("document.querySelector('#lesson-card .lc-then').textContent")


def test_the_card_folds_to_its_head_and_unfolds_for_the_next_step(app):
    app.page.goto(f"{app.server.url}/?lesson=learning-rate&step=1#playing=false")
    app.wait(f"window.paramlab && paramlab.stats.framesDrawn >= 1 && {CURRENT} && {CURRENT}.step === 0")
    full = app.page.locator("#lesson-card").bounding_box()["height"]
    app.page.click("#lesson-card .lc-fold")
    folded = app.page.locator("#lesson-card").bounding_box()["height"]
    assert folded < full / 2 and not app.page.locator("#lesson-card .lc-body").is_visible()
    assert app.js("document.querySelector('#lesson-card .lc-fold').getAttribute('aria-expanded')") == "false"
    app.page.locator("body").click(position={"x": 5, "y": 300})
    app.page.keyboard.press("PageDown")
    app.wait(f"{CURRENT}.step === 1")
    assert app.page.locator("#lesson-card .lc-body").is_visible(), "a new step is shown unfolded"


# The learning-rate lesson's last step (from 0), read from its file: lessons grow.
LAST = len(load_builtin()["learning-rate"].steps) - 1


@pytest.mark.parametrize(("step", "shown", "said"), [("99", LAST, "past its end"), ("abc", 0, "not a step number"),
                                                      ("0", 0, "not a step number"), ("2.0", 0, "not a step number")])
def test_a_links_step_that_is_no_step_of_the_lesson_is_said_and_a_step_is_shown(app, step, shown, said):
    app.page.goto(f"{app.server.url}/?lesson=learning-rate&step={step}#playing=false")
    app.wait(f"window.paramlab && {CURRENT} && {CURRENT}.step === {shown}")
    app.wait("!document.querySelector('#banner-err').hidden")
    assert said in app.js("document.querySelector('#banner-err').textContent")
    assert app.js("new URLSearchParams(location.search).get('step')") == str(shown + 1), "the URL says the step shown"


def test_the_players_interface_refuses_a_step_that_is_not_an_integer_in_range(app):
    app.open("playing=false")
    assert app.js("paramlab.lessonPlayer.open('learning-rate', 1)") is True
    for bad in ("'1'", "1.5", "-1", "null"):
        error = app.js(f"paramlab.lessonPlayer.open('learning-rate', {bad}).then(() => 'opened', (e) => e.message)")
        assert error.startswith("a lesson step is an integer from 0"), (bad, error)
    assert f"has steps 0 to {LAST}" in app.js(
        f"(() => {{ try {{ paramlab.lessonPlayer.goto({LAST + 1}); }} catch (e) {{ return e.message; }} }})()")
    assert app.js(f"{CURRENT}.step") == 1


LAB_SETUP = """\
id: lab-setup
title: The lab's settings
summary: A step that quantizes and watches for early stopping.
ideas: [quantization]
steps:
  - title: Four bits and a watch
    setup:
      config: {dataset: circle, val_ratio: 20, seed: 2}
      lab:
        quantize: {bits: 4}
        early_stopping: {rule: {patience: 7}}
      step_unit: epoch
      playing: false
    panels:
      hide: [charts]
      show: [lab_quant]
    card: Quantized to four bits, with a watch on the validation loss.
"""


def test_a_steps_lab_settings_and_step_unit_reach_the_server_and_the_page(app):
    app.open("playing=false")
    open_lesson_text(app, LAB_SETUP)
    app.wait("paramlab.frame && paramlab.frame.quantized && paramlab.frame.quantized.bits === 4"
             " && paramlab.frame.early_stopping && paramlab.frame.early_stopping.patience === 7", timeout=20000)
    assert app.js("paramlab.session.config.val_ratio") == 20
    assert app.js("document.querySelector('#step-unit').value") == "epoch"
    assert app.js("getComputedStyle(document.querySelector('#charts')).display") == "none"
    assert app.js("document.querySelector('#es-on').checked"), "the lab's own switch shows the watch"
