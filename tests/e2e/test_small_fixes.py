"""Small things once seen broken on the page, each checked in a real Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.samples import write_animals

pytestmark = pytest.mark.e2e


def test_a_good_upload_puts_away_the_error_of_a_bad_one(app, tmp_path: Path):
    app.open(frames=1)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,oops,y\n")
    app.page.set_input_files("#csv-file", str(bad))
    app.wait("!document.querySelector('#banner-err').hidden")
    # The browser logs the refused request itself; that line is the expected answer, not a fault.
    app.errors[:] = [e for e in app.errors if "422" not in e]
    app.page.set_input_files("#csv-file", str(write_animals(tmp_path / "animals.csv")))
    app.wait("/dataset=csv-[0-9a-f]{12}/.test(location.hash)")
    # The good file is in use at once: the bad file's explanation is gone with it.
    assert app.js("document.querySelector('#banner-err').hidden") is True



def test_a_hidden_neurons_tooltip_names_it_once(app):
    app.open(frames=1)
    app.pause()
    tip = app.page.locator("#tooltip")
    app.page.locator('.node[data-key="n:1:1"]').hover()
    app.wait("!document.querySelector('#tooltip').hidden && document.querySelector('#tooltip .tt-head') !== null")
    head = tip.locator(".tt-head").first.inner_text()
    assert head.startswith("Neuron 1.2"), head
    assert "neuron neuron" not in tip.inner_text().lower()


def test_the_first_phase_step_shows_the_mini_batch_loss(app):
    app.open("playing=false", frames=1)
    assert app.frame()["step"] == 0 and app.frame()["playing"] is False
    app.page.select_option("#step-unit", "phase")
    app.page.locator("body").click(position={"x": 5, "y": 880})
    app.page.keyboard.press("ArrowRight")  # forward
    app.wait("paramlab.frame.phase === 'forward'")
    app.page.keyboard.press("ArrowRight")  # loss
    app.wait("paramlab.frame.phase === 'loss' && paramlab.frame.trace && paramlab.frame.trace.loss !== undefined")
    batch_loss = app.js("paramlab.frame.trace.batch_loss")
    assert isinstance(batch_loss, float) and batch_loss > 0
    app.settle()
    text = app.page.locator(".phase-body").inner_text()
    shown = text.split("Mean loss of the mini-batch:")[1].strip().rstrip(".")
    assert shown != "—" and float(shown) == pytest.approx(batch_loss, rel=1e-3), text


def test_a_chart_legend_shows_the_hovered_step_and_no_dash_otherwise(app):
    app.open(frames=5)
    app.wait("paramlab.frame.step > 30")
    app.pause()
    app.wait("document.querySelector('.chart-loss .u-legend .u-series .u-value') !== null")
    legend_step = "document.querySelector('.chart-loss .u-legend .u-series .u-value')"
    # Nothing hovered: no value is shown as a dash.
    app.settle()
    assert app.js(f"{legend_step}.offsetParent === null || {legend_step}.textContent !== '—'")
    box = app.page.locator(".chart-loss .u-over").bounding_box()
    app.page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    app.wait(f"{legend_step}.offsetParent !== null && /^[0-9]+$/.test({legend_step}.textContent)", timeout=5000)
    app.page.mouse.move(5, 5)
    app.settle()
    assert app.js(f"{legend_step}.offsetParent === null || {legend_step}.textContent !== '—'")


def test_noise_training_share_and_seed_are_data_settings_not_hyperparameters(app):
    app.open(frames=1)
    chip = "(id) => document.querySelector(`label[for=${id}]`).parentElement.querySelector('.chip')"
    for field in ("noise", "train_ratio", "seed"):
        kind = app.js(f"(({chip})('{field}')).className + ' ' + (({chip})('{field}')).textContent")
        assert kind == "chip data data setting", (field, kind)
    for field in ("lr", "momentum", "batch_size", "dropout"):
        assert app.js(f"(({chip})('{field}')).textContent") == "hyperparameter", field


def test_a_weight_typed_by_hand_is_a_parameter_edit_not_a_hyperparameter_change(app):
    app.open("playing=false", frames=1)
    assert app.page.locator(".edits-log").is_hidden()
    app.page.locator(".bias").first.click()
    editor = app.page.get_by_role("dialog")
    editor.get_by_label("New value").fill("0.625")
    editor.get_by_role("button", name="Set").click()
    app.wait("document.querySelectorAll('.edits-log li').length === 1")
    assert "b[0][0]" in app.page.locator(".edits-log li").first.get_attribute("title")
    assert app.page.locator(".edits-log").is_visible()
    assert app.js("document.querySelectorAll('.changes-log li').length") == 0
    # A hyperparameter still goes to its own log.
    app.page.keyboard.press("Escape")
    app.page.locator("#optimizer").select_option("adam")
    app.wait("document.querySelectorAll('.changes-log li').length === 1")
    assert app.js("document.querySelectorAll('.edits-log li').length") == 1



def test_a_change_marker_label_is_drawn_inside_the_plot_not_over_the_axis(app):
    app.open("playing=false", frames=1)
    app.page.locator("#optimizer").select_option("adam")   # at step 0: the marker sits on the plot's left edge
    app.wait("paramlab.markerCount() === 1")
    app.settle()
    # The label's purple (#5b2d8e) must not reach into the y axis's strip (the left 40 CSS pixels).
    purple_in_axis = app.js("""(() => {
        const cv = document.querySelector('.chart-loss canvas'), dpr = cv.width / cv.clientWidth;
        const w = Math.floor(40 * dpr), d = cv.getContext('2d').getImageData(0, 0, w, cv.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 130 && d[i + 1] < 90 && d[i + 2] > 110 && d[i + 2] - d[i + 1] > 50) n++;
        return n; })()""")
    assert purple_in_axis == 0
