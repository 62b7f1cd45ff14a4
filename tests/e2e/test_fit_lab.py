"""Overfitting made visible, dropout and regularization you can watch, and early stopping, in a real Chromium.

Each figure on the page is checked against the server's own numbers (the frame it drew, the
session and dataset messages), never against a copy of the page's arithmetic.
"""

from __future__ import annotations

import json
import math
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

# A small network that overfits quickly: half the points mislabelled, 10 % of them to learn from.
OVERFIT = "dataset=xor&noise=50&train_ratio=10&val_ratio=20&hidden=8,8&lr=0.1&batch_size=5"


def fmt_int(n: int) -> str:
    return f"{n:,}"


def server_session(app, session_id: str) -> dict:
    """The server's own summary of a session (GET /api/sessions/{id}), over loopback."""
    with urllib.request.urlopen(f"{app.server.url}/api/sessions/{session_id}", timeout=10) as r:
        return json.load(r)


def test_the_validation_share_configures_the_server_and_holds_the_test_set_back(app):
    app.open("playing=false", frames=1)
    assert app.js("paramlab.session.config.val_ratio") == 0
    assert app.js("document.querySelector('.final-score').hidden") is True
    app.page.locator("#val_ratio").focus()
    app.page.keyboard.press("ArrowRight")   # one slider step: 10 %
    app.wait("paramlab.session.config.val_ratio === 10 && paramlab.dataset.val.y.length > 0")
    assert server_session(app, app.session_id())["config"]["val_ratio"] == 10
    n = app.js("paramlab.session.config.n_points")
    assert app.js("paramlab.dataset.val.y.length") == round(n * 0.10)
    assert app.js("paramlab.dataset.train.y.length") == round(n * 0.50)
    assert "validation 10 %" in app.page.locator("#split-summary").inner_text()
    app.wait("paramlab.frame && paramlab.frame.metrics.val_loss !== null")
    # Held back: the figures say so and the chart has no test points.
    assert app.page.locator("#test-loss").inner_text() == "hidden"
    assert app.page.locator("#test-acc").inner_text() == "hidden"
    app.wait("paramlab.charts.flushes > 0 && paramlab.charts.lossPlot.data[2].every(v => v === null || v === undefined)")
    app.shot("fit_lab_test_hidden")
    # The final score reveals them: the frame's own test loss, exactly (in the title).
    app.page.get_by_role("button", name="Final score").click()
    assert app.page.locator("#final-score").get_attribute("aria-pressed") == "true"
    test_loss = app.js("paramlab.frame.metrics.test_loss")
    app.wait(f"document.querySelector('#test-loss').title === String({test_loss!r})")
    app.wait("paramlab.charts.lossPlot.data[2].some(v => v !== null && v !== undefined)")


def test_the_generalization_gap_is_named_on_the_chart_with_the_frames_value(app):
    app.open(OVERFIT, frames=3)
    app.wait_frames(10)
    app.pause()
    # Once the charts have drawn the paused frame, the gap they name is that frame's.
    app.js("paramlab.charts.dirty = true; paramlab.charts.lastFlush = -1e9")
    app.wait("paramlab.charts.lossPlot.gapMark && paramlab.charts.lossPlot.gapMark.step === paramlab.frame.step")
    m = app.frame()["metrics"]
    mark = app.js("paramlab.charts.lossPlot.gapMark")
    assert mark["vs"] == "validation"
    assert mark["value"] == m["val_loss"] - m["train_loss"]
    assert mark["text"].startswith("gap ")
    # The gap is a series of its own, named, and the figure above the output says the same number.
    plot = app.js("""(() => { const u = paramlab.charts.lossPlot;
      const i = u.series.findIndex(s => s.label.startsWith('Gap'));
      return {label: u.series[i].label, show: u.series[i].show, last: u.data[i].filter(v => v !== null && v !== undefined).at(-1)}; })()""")
    assert plot["label"] == "Gap (validation − training)" and plot["show"] is True
    assert plot["last"] == mark["value"]
    assert float(app.page.locator("#gap").get_attribute("title")) == mark["value"]
    assert "validation − training" in app.page.locator("#gap-name").inner_text()
    app.shot("fit_lab_gap")


def test_the_parameter_count_sits_beside_the_training_points(app, make_app):
    app.open(OVERFIT + "&playing=false", frames=1)
    # 2 inputs -> 8 -> 8 -> 1: (2*8 + 8) + (8*8 + 8) + (8*1 + 1) = 105 parameters; 10 % of 500 points = 50.
    assert app.js("paramlab.session.architecture.total_params") == 105
    assert app.js("paramlab.dataset.train.y.length") == 50
    text = app.page.locator("#fit-counts").inner_text()
    assert "105 parameters, 50 training points" in text
    assert "More parameters than training points" in text
    # The default network on half the points: fewer parameters than points, no note.
    app = make_app().open("playing=false&dataset=circle&train_ratio=50&val_ratio=0&hidden=4,2", frames=1)
    assert app.js("paramlab.session.architecture.total_params") == 25
    points = app.js("paramlab.dataset.train.y.length")
    assert points == 250
    assert f"25 parameters, {fmt_int(points)} training points" in app.page.locator("#fit-counts").inner_text()
    assert app.js("document.querySelector('#count-warn').hidden") is True


def test_stepping_with_dropout_greys_exactly_the_dropped_neurons(app):
    app.open("playing=false&hidden=8,8&dropout=0.5", frames=1)
    seen_dropped = 0
    for k in range(1, 6):
        app.page.get_by_role("button", name="Step", exact=True).click()
        app.wait(f"paramlab.frame.step >= {k} && paramlab.frame.playing === false")
        app.settle()
        frame_dropped = app.js("paramlab.frame.dropped")
        assert frame_dropped is not None and [len(x) for x in frame_dropped] == [8, 8]
        assert app.js("paramlab.network.droppedShown()") == frame_dropped
        seen_dropped += sum(sum(1 for d in layer if d) for layer in frame_dropped)
        names = app.js("[...document.querySelectorAll('.node.dropped')].map(n => n.getAttribute('aria-label'))")
        assert all(n.endswith("dropped for this update") for n in names)
    assert seen_dropped > 0, "half the units are dropped on average: five updates drop some"
    # The tooltip of a dropped neuron says so.
    key = app.js("document.querySelector('.node.dropped')?.dataset.key")
    assert key
    app.page.locator(f'.node[data-key="{key}"]').hover()
    app.wait("!document.querySelector('#tooltip').hidden && document.querySelector('#tooltip').textContent.includes('Dropped for this update')")
    app.shot("fit_lab_dropout")
    # No dropout: nothing dropped, nothing greyed.
    app.js("paramlab.socket.send({type: 'set_hyper', dropout: 0})")
    app.page.get_by_role("button", name="Step", exact=True).click()
    app.wait("paramlab.frame.hyper.dropout === 0 && paramlab.frame.dropped === null")
    app.settle()
    assert app.js("document.querySelectorAll('.node.dropped').length") == 0


def test_a_weight_exactly_zero_is_not_stroked_and_says_so(app):
    app.open("playing=false", frames=1)
    key = "e:0:1:0"
    app.page.locator(f'path.hit[data-key="{key}"]').focus()
    app.page.keyboard.press("Enter")
    editor = app.page.get_by_role("dialog")
    editor.get_by_label("New value").fill("0")
    editor.get_by_role("button", name="Set").click()
    app.wait("paramlab.frame.layers[0].W[1][0] === 0")
    app.settle()
    zeros = app.js("[...paramlab.network.painter.zeroKeys]")
    assert zeros == [key], "only the weight set to 0 is left out"
    assert app.js(f"document.querySelector('path.hit[data-key=\"{key}\"]').classList.contains('zero')") is True
    app.page.keyboard.press("Escape")
    app.js("document.activeElement.blur()")   # the editor gave the focus back to the path: focus it anew
    app.page.locator(f'path.hit[data-key="{key}"]').focus()
    app.wait("!document.querySelector('#tooltip').hidden && document.querySelector('#tooltip').textContent.includes('Exactly 0')")
    # The count of zero weights of that layer in the parameters panel.
    assert app.page.locator("#params tbody tr").first.locator("td.w-zeros").inner_text() == "1"


def test_l1_takes_a_feature_that_never_varies_out_of_the_picture(app):
    # Mammal or fish: "vertebrate" is true of every animal, standardized to 0, so its weights get
    # no gradient; L1 drives them to exactly 0, where they stay, and the page draws them as absent.
    app.open("dataset=mammals&hidden=4&regularization=l1&reg_rate=0.01&lr=0.1", frames=3)
    app.wait("paramlab.frame.epoch >= 30", timeout=30000)
    app.pause()
    app.settle()
    frame = app.frame()
    vertebrate = app.js("paramlab.dataset.features.indexOf('vertebrate')")
    assert vertebrate >= 0 and frame["layers"][0]["W"][vertebrate] == [0.0] * 4
    zeros = set(app.js("[...paramlab.network.painter.zeroKeys]"))
    assert {f"e:0:{vertebrate}:{j}" for j in range(4)} <= zeros
    counted = sum(w == 0.0 for row in frame["layers"][0]["W"] for w in row)
    assert app.page.locator("#params tbody tr").first.locator("td.w-zeros").inner_text() == str(counted)


def test_regularization_charts_both_training_losses_and_the_norms_follow_the_weights(app):
    app.open("dataset=circle&hidden=6,6&regularization=l2&reg_rate=0.1&lr=0.1", frames=3)
    pens = "paramlab.charts.cols.trainPen.filter((v) => v !== null)"
    app.wait(f"{pens}.length >= 5")
    app.pause()
    f = app.frame()
    m = f["metrics"]
    assert m["train_loss_penalized"] > m["train_loss"], "L2 adds its penalty"
    assert app.page.locator("#train-loss-pen").get_attribute("title") == str(m["train_loss_penalized"])
    cols = app.js("paramlab.charts.cols")
    assert all(p > t for p, t in zip(cols["trainPen"], cols["trainLoss"], strict=True) if p is not None)
    assert app.js("paramlab.charts.lossPlot.series.find(s => s.label === 'Training loss + penalty').show") is True
    # The curve comes from the history's epoch rows: a reload draws it again, every row of it.
    before = app.js(pens)
    app.page.reload()
    app.wait(f"{pens}.length >= {len(before)}")
    assert set(before) <= set(app.js(pens))
    # ‖W‖ per layer: the frame's weights' Euclidean norm (float32 rows in binary frames).
    norms = app.js("paramlab.params.norms()")
    expected = [math.sqrt(sum(w * w for row in L["W"] for w in row)) for L in f["layers"]]
    assert len(norms) == len(expected) == 3
    for a, b in zip(norms, expected, strict=True):
        assert a == pytest.approx(b, rel=1e-12)


def test_early_stopping_stops_marks_the_chart_and_restores_the_best_step(app):
    app.open(OVERFIT + "&playing=false", frames=1)
    card = app.page.locator("#lab-fit")
    assert card.get_by_label("Watch", exact=True).input_value() == "val_loss"
    card.get_by_label("Patience (epochs)").fill("5")
    card.get_by_label("Stop early").check()
    app.wait("paramlab.frame.early_stopping && paramlab.frame.early_stopping.patience === 5")
    app.page.get_by_role("button", name="Play").click()
    app.wait("paramlab.frame.early_stopping.stopped_epoch !== null && paramlab.frame.playing === false", timeout=60000)
    es = app.frame()["early_stopping"]
    assert es["reason"] == "patience" and es["stopped_epoch"] - es["best_epoch"] >= 5
    app.js("paramlab.charts.dirty = true; paramlab.charts.lastFlush = -1e9")
    app.wait("(paramlab.charts.lossPlot.fitMarks || []).length === 2")
    marks = {m["kind"]: m for m in app.js("paramlab.charts.lossPlot.fitMarks")}
    assert marks["best"]["step"] == es["best_step"] and marks["best"]["text"] == f"best: epoch {es['best_epoch']}"
    assert marks["stop"]["step"] == es["stopped_step"] and marks["stop"]["text"] == f"stopped: epoch {es['stopped_epoch']}"
    assert str(es["best_value"]) in marks["best"]["title"]
    # The run paused itself: the Play button says so, once the click's hold is over.
    app.wait("document.querySelector('#play .label').textContent === 'Play'")
    report = card.locator("#es-report").inner_text()
    assert f"epoch {es['stopped_epoch']}" in report and "no improvement for 5 epochs" in report
    app.shot("fit_lab_early_stopping")
    card.get_by_role("button", name="Restore best weights").click()
    app.wait(f"paramlab.frame && paramlab.frame.step === {es['best_step']} && paramlab.frame.early_stopping.stopped_epoch === null")
    assert app.frame()["epoch"] == es["best_epoch"]
    summary = server_session(app, app.session_id())
    assert (summary["step"], summary["epoch"]) == (es["best_step"], es["best_epoch"])


def test_validation_metrics_are_refused_with_a_reason_without_a_validation_split(app):
    app.open("playing=false&val_ratio=0", frames=1)
    card = app.page.locator("#lab-fit")
    disabled = app.js("[...document.querySelectorAll('#es-metric option')].filter(o => o.disabled).map(o => o.value)")
    assert disabled == ["val_loss", "val_acc"]
    assert "validation split" in card.locator("#es-metric-why").inner_text()
    card.get_by_label("Patience (epochs)").fill("two")
    card.get_by_label("Stop early").click()   # refused: the box does not stay ticked
    app.wait("document.querySelector('#es-err').textContent.includes('not a whole number')")
    assert app.js("document.querySelector('#es-on').checked") is False
    assert app.frame()["early_stopping"] is None


def test_the_fit_and_compare_cards_in_use_have_no_serious_violation(make_app):
    from test_accessibility import assert_none_blocking
    app = make_app().open(OVERFIT + "&playing=false&dropout=0.3&regularization=l1&reg_rate=0.01", frames=1)
    card = app.page.locator("#lab-fit")
    card.get_by_label("Patience (epochs)").fill("3")
    card.get_by_label("Stop early").check()
    app.wait("paramlab.frame.early_stopping && paramlab.frame.early_stopping.patience === 3")
    app.page.get_by_role("button", name="Play").click()
    app.wait("paramlab.frame.early_stopping.stopped_epoch !== null && paramlab.frame.playing === false", timeout=60000)
    app.page.get_by_role("button", name="Final score").click()
    compare = app.page.locator("#lab-compare")
    compare.get_by_label("Hyperparameter to change").select_option("dropout")
    compare.get_by_role("textbox", name="Changed to").fill("0")
    compare.get_by_role("button", name="Start comparison").click()
    app.wait("paramlab.compare.session && paramlab.compare.lastFrame")
    # The duplicate stops early by the same rule.
    app.wait("paramlab.compare.lastFrame.early_stopping && paramlab.compare.lastFrame.early_stopping.patience === 3")
    app.page.get_by_role("button", name="Step", exact=True).click()
    app.wait("paramlab.frame && paramlab.frame.dropped !== null")
    assert_none_blocking(app, "the early stopping and comparison cards in use, dropped neurons greyed")
    app.page.get_by_role("button", name="Presenter").click()
    app.settle()
    assert_none_blocking(app, "the same in presenter mode")
    app.shot("fit_lab_presenter")


def test_the_cards_fit_a_phone(make_app):
    app = make_app(viewport={"width": 390, "height": 844}).open(OVERFIT + "&playing=false", frames=1)
    width = app.js("document.documentElement.clientWidth")
    for sel in ("#lab-fit", "#lab-compare", "#fit-counts", ".final-score"):
        box = app.page.locator(sel).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (sel, box, width)
    assert app.js("document.documentElement.scrollWidth") <= width
    # The network comes first on a phone; the lab's cards after the data panel.
    assert app.page.locator("#network").bounding_box()["y"] < app.page.locator(".col-data").bounding_box()["y"] \
        < app.page.locator("#lab-fit").bounding_box()["y"]
    app.page.locator("#lab-fit").scroll_into_view_if_needed()
    app.shot("fit_lab_phone")


def test_a_larger_training_share_takes_from_validation_so_the_test_set_keeps_its_share(app):
    app.open("playing=false&train_ratio=50&val_ratio=40", frames=1)
    assert app.js("paramlab.session.config.val_ratio") == 40
    app.page.locator("#train_ratio").focus()
    app.page.keyboard.press("End")   # 90 % for training: 10 % is left for the test set, none for validation
    app.wait("paramlab.session.config.train_ratio === 90")
    assert app.js("paramlab.session.config.val_ratio") == 0
    assert server_session(app, app.session_id())["config"]["val_ratio"] == 0
    assert app.page.locator("#val_ratio").input_value() == "0"


def test_an_epoch_budget_stops_the_run_and_the_card_reports_the_epochs_saved(app):
    app.open(OVERFIT + "&playing=false", frames=1)
    card = app.page.locator("#lab-fit")
    card.get_by_label("Patience (epochs)").fill("1000")
    card.get_by_label("Epoch budget").fill("4")
    card.get_by_label("Stop early").check()
    app.wait("paramlab.frame.early_stopping && paramlab.frame.early_stopping.max_epochs === 4")
    app.page.get_by_role("button", name="Play").click()
    app.wait("paramlab.frame.early_stopping.stopped_epoch !== null", timeout=60000)
    es = app.frame()["early_stopping"]
    assert (es["reason"], es["stopped_epoch"], es["epochs_saved"]) == ("max_epochs", 4, 0)
    app.wait("document.querySelector('#es-report').textContent.includes('Epochs saved')")
    report = card.locator("#es-report").inner_text()
    assert "the epoch budget was reached" in report and "0 of the budget of 4" in report
    # A budget that is not a whole number is refused next to the fields, and the watch stays as it is.
    card.get_by_label("Epoch budget").fill("4.5")
    card.get_by_label("Epoch budget").press("Enter")
    assert "not a whole number" in card.locator("#es-err").inner_text()
    assert app.frame()["early_stopping"]["max_epochs"] == 4
