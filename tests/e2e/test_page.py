"""The page in a real Chromium: it loads, trains, listens, explains and reproduces."""

from __future__ import annotations

import math
import random

import pytest

pytestmark = pytest.mark.e2e

DEFAULT_NODES = 2 + 4 + 2 + 1


def test_page_loads_with_playground_defaults_and_frames_arrive(app):
    app.open(frames=10)
    s = app.js("paramlab.session")
    assert s["config"]["dataset"] == "circle"
    assert s["config"]["features"] == ["x1", "x2"]
    assert s["config"]["hidden"] == [4, 2]
    assert s["config"]["activation"] == "tanh"
    assert s["hyper"]["lr"] == 0.03 and s["hyper"]["momentum"] == 0.9 and s["hyper"]["batch_size"] == 10
    frame = app.frame()
    assert frame["playing"] is True, "a link that says play plays"
    assert app.page.locator(".node").count() == DEFAULT_NODES
    assert app.page.locator("svg.net-hits path.hit").count() == 2 * 4 + 4 * 2 + 2 * 1
    assert app.page.locator(".bias").count() == 4 + 2 + 1
    # The URL now carries the whole configuration.
    h = app.js("location.hash")
    for part in ("dataset=circle", "hidden=4,2", "lr=0.03", "momentum=0.9", "batch_size=10", "seed=", "playing=true"):
        assert part in h
    # Node heatmaps are painted: the first hidden neuron's canvas is not blank.
    distinct = app.js("""(() => { const cv = document.querySelectorAll('.node canvas')[2];
        const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        return new Set(Array.from({length: d.length / 4}, (_, i) => d[4 * i] * 65536 + d[4 * i + 1] * 256 + d[4 * i + 2])).size; })()""")
    assert distinct > 10
    app.shot("desktop")


def test_the_page_opens_paused_on_the_untrained_network(app):
    app.page.goto(app.server.url + "/")   # a bare URL: no link says play
    app.wait("window.paramlab && paramlab.stats.framesDrawn >= 1")
    frame = app.frame()
    assert frame["playing"] is False and frame["step"] == 0
    assert app.page.get_by_role("button", name="Play", exact=True).count() == 1
    app.wait("location.hash.includes('playing=false')")
    app.settle()
    assert app.frame()["step"] == 0, "nothing trained before Play"
    app.page.get_by_role("button", name="Play", exact=True).click()
    app.wait("paramlab.frame.playing === true && paramlab.frame.step > 0")


def test_accessible_names_equal_visible_labels(app):
    app.open()
    page = app.page
    assert page.get_by_role("button", name="Pause").count() == 1  # playing: the button says Pause
    for name in ("Step", "Reset", "New weights", "Regenerate", "Add layer", "Remove layer", "Presenter", "Next phase", "PNG"):
        assert page.get_by_role("button", name=name, exact=True).count() == 1, name
    for name in ("Learning rate", "Momentum", "Batch size", "Dropout", "Noise", "Training data", "Speed"):
        assert page.get_by_role("slider", name=name, exact=True).count() == 1, name
    for name in ("Optimizer", "Activation", "Regularization", "Regularization rate", "Step unit", "Problem type", "Initialization"):
        assert page.get_by_role("combobox", name=name, exact=True).count() == 1, name
    assert page.get_by_role("link", name="Model JSON").count() == 1
    assert page.get_by_role("checkbox", name="Show test data").count() == 1
    # Every hyperparameter control is tagged as one.
    assert page.locator(".hyperbar .hp .chip.hyper").count() >= 10


def test_playing_lowers_the_displayed_training_loss(app):
    app.open(frames=1)
    first = float(app.page.locator("#train-loss").get_attribute("title"))
    app.wait(f"Number(document.querySelector('#train-loss').title) < {first} * 0.5", timeout=20000)
    last = float(app.page.locator("#train-loss").get_attribute("title"))
    assert last < first * 0.5
    assert app.frame()["step"] > 50


def test_space_pauses_and_right_arrow_steps(app):
    app.open(frames=2)
    app.page.locator("body").click(position={"x": 5, "y": 880})
    app.page.keyboard.press("Space")
    app.wait("paramlab.frame.playing === false")
    assert app.page.get_by_role("button", name="Play", exact=True).count() == 1
    step = app.frame()["step"]  # the server answers in order: nothing trains after this frame
    app.page.keyboard.press("ArrowRight")
    app.wait(f"paramlab.frame.step === {step + 1}")
    app.page.keyboard.press("Space")
    app.wait("paramlab.frame.playing === true")
    app.wait("location.hash.includes('playing=true')")


def test_learning_rate_slider_reaches_server_and_marks_the_chart(app):
    app.open(frames=2)
    assert app.js("paramlab.markerCount()") == 0
    slider = app.page.get_by_role("slider", name="Learning rate", exact=True)
    slider.focus()
    for _ in range(50):           # log10 steps of 0.01: 0.03 -> about 0.095
        app.page.keyboard.press("ArrowRight")
    shown = float(app.page.locator("#lr-out").get_attribute("title"))
    assert 0.08 < shown < 0.11
    app.wait(f"paramlab.frame.hyper.lr === {shown}")
    sid = app.session_id()
    assert app.server.get_json(f"/api/sessions/{sid}/hyper")["lr"] == shown
    app.wait("paramlab.markerCount() > 0")
    log = app.page.locator(".changes-log li").first.inner_text()
    assert "lr" in log and "→" in log
    app.wait(f"location.hash.includes('lr={shown}&')")
    # The marker is drawn on the loss chart: its label is in the chart's pixels.
    app.wait("paramlab.charts.flushes > 0")
    app.shot("lr-change")


def test_step_by_step_walks_the_four_phases(app):
    app.open("playing=false", frames=1)
    # Pick the traced sample by clicking a training point.
    idx, x, y = app.js("""(() => { const ds = paramlab.dataset, cv = document.querySelector('canvas.out-points');
        const r = cv.getBoundingClientRect(); const i = 7; const [x1, x2] = ds.train.x[i];
        return [i, r.left + (x1 + 6) / 12 * r.width, r.top + r.height - (x2 + 6) / 12 * r.height]; })()""")
    app.page.mouse.click(x, y)
    next_phase = app.page.get_by_role("button", name="Next phase", exact=True)
    seen = []
    step0 = app.frame()["step"]
    for phase in ("forward", "loss", "backward", "update"):
        next_phase.click()
        app.wait(f"paramlab.frame.phase === '{phase}'")
        f = app.frame()
        seen.append(f["phase"])
        assert f["trace"] is not None
        assert app.page.locator(f".phase-list li[data-phase={phase}]").get_attribute("aria-current") == "step"
        if phase == "forward":
            assert f["trace"]["index"] == idx, "clicking a point chose the traced sample"
            assert app.page.locator(".trace-label").first.inner_text() != ""
            z = app.page.locator(".phase-body").inner_text()
            assert "z (pre-activation)" in z
        if phase == "loss":
            assert "Prediction" in app.page.locator(".phase-body").inner_text()
        if phase == "backward":
            assert "dL/dz" in app.page.locator(".phase-body").inner_text()
            assert app.js("document.querySelector('input[name=edges][value=gradients]').checked")
        if phase == "update":
            assert f["step"] == step0 + 1
            body = app.page.locator(".phase-body").inner_text()
            assert "→" in body and ("v ← μ·v + dL/dw" in body or "v ← μ·v + dL/db" in body)
            app.settle()
            app.shot("step-by-step")
    assert seen == ["forward", "loss", "backward", "update"]


def test_hovering_an_edge_shows_its_numbers_and_rule(app):
    app.open("playing=false", frames=1)
    app.page.get_by_role("button", name="Step", exact=True).click()   # one update: gradients and velocity exist
    app.wait("paramlab.frame.step >= 1 && paramlab.frame.layers[0].dW.flat().some(v => v !== 0)")
    # The middle of edge x1 -> neuron 1.2 (layer 0, i 0, j 1).
    x, y = app.js("""(() => { const e = paramlab.network.edges.find(e => e.l === 0 && e.i === 0 && e.j === 1);
        const r = document.querySelector('.net-stage').getBoundingClientRect(); const p = e.pts;
        return [r.left + (p[0] + p[6]) / 2, r.top + (p[1] + p[7]) / 2]; })()""")
    app.page.mouse.move(x, y)
    tip = app.page.locator("#tooltip")
    tip.wait_for(state="visible")
    key = app.js("paramlab.network.hoverKey")
    assert key.startswith("e:0:")
    _, l, i, j = key.split(":")
    f = app.frame()
    L = f["layers"][int(l)]
    values = [float(t) for t in tip.locator("td .num").evaluate_all("els => els.map(e => e.title)")]
    assert values[:4] == [L["W"][int(i)][int(j)], L["dW"][int(i)][int(j)], L["vW"][int(i)][int(j)], L["deltaW"][int(i)][int(j)]]
    text = tip.inner_text()
    assert "v ← μ·v + dL/dw" in text and "w ← w − lr·v" in text and "0.9 ·" in text and "0.03 ·" in text
    app.shot("hover-edge", full_page=False)
    # The rule's result is the new weight: old − lr · v.
    results = [float(t) for t in tip.locator(".rule .num").evaluate_all("els => els.map(e => e.title)")]
    assert math.isclose(results[-1], L["W"][int(i)][int(j)], rel_tol=1e-9, abs_tol=1e-12)
    # Hovering a neuron shows its own map in the output view.
    app.page.locator('.node[data-key="n:1:0"]').hover()
    app.wait("document.querySelector('.out-caption').textContent.includes('neuron 1.1')")
    app.page.mouse.move(5, 5)
    app.wait("document.querySelector('.out-caption').textContent.includes('decision boundary')")
    # Keyboard: the network is one Tab stop; arrows walk nodes, biases and edges.
    app.page.locator(".node").first.focus()
    app.page.keyboard.press("ArrowDown")
    app.page.keyboard.press("ArrowDown")
    assert app.js("document.activeElement.dataset.key") is not None
    assert tip.is_visible()


def test_click_a_weight_to_type_a_value_and_freeze_it(app):
    app.open("playing=false", frames=1)
    app.page.locator(".bias").first.click()
    editor = app.page.get_by_role("dialog")
    editor.get_by_label("New value").fill("0.625")
    editor.get_by_role("button", name="Set").click()
    app.wait("paramlab.frame.layers[0].b[0] === 0.625")
    app.page.locator(".bias").first.click()
    app.page.get_by_role("dialog").get_by_label("Frozen").check()
    app.wait("paramlab.frame.layers[0].frozenb[0] === true")
    app.page.keyboard.press("Escape")
    # A neuron's editor freezes its whole layer too.
    app.page.locator('.node[data-key="n:2:1"]').click()
    app.page.get_by_role("dialog").get_by_label("Freeze layer 2").check()
    app.wait("paramlab.frame.layers[1].frozenW.flat().every(Boolean) && paramlab.frame.layers[1].frozenb.every(Boolean)")
    app.page.keyboard.press("Escape")
    w = app.frame()["layers"][1]["W"]
    app.page.get_by_role("button", name="Step", exact=True).click()
    app.wait("paramlab.frame.step >= 1")
    assert app.frame()["layers"][1]["W"] == w, "a frozen layer keeps its exact values"


def test_a_shared_url_reproduces_the_same_initial_weights(make_app):
    h = "dataset=xor&features=x1,x2,x1x2&hidden=5,3&activation=relu&seed=4242&playing=false"
    a = make_app().open(h)
    b = make_app().open(h)
    assert a.session_id() != b.session_id(), "two fresh tabs are two sessions"
    wa, wb = a.frame()["layers"], b.frame()["layers"]
    assert [L["W"] for L in wa] == [L["W"] for L in wb]
    assert [L["b"] for L in wa] == [L["b"] for L in wb]
    assert a.frame()["step"] == 0 and b.frame()["step"] == 0
    assert a.js("paramlab.dataset.train.x") == b.js("paramlab.dataset.train.x")
    c = make_app().open(h.replace("seed=4242", "seed=4243"))
    assert [L["W"] for L in c.frame()["layers"]] != [L["W"] for L in wa], "another seed, other weights"


@pytest.mark.parametrize("h", [
    "playing=false",
    "dataset=spiral&features=x1,x2,x1_sq,x2_sq,sin_x1,cos_x2&hidden=6,5&activation=relu&task=binary&playing=false",
    "dataset=spiral3&features=x1,x2,x1x2&hidden=5&activation=sigmoid&playing=false",
    "dataset=plane&hidden=3&activation=leaky_relu&playing=false",
])
def test_heatmaps_agree_with_the_server_predictions(app, h):
    app.open(h)
    app.page.get_by_role("button", name="Step", exact=True).click()
    app.wait("paramlab.frame.step >= 1")
    rng = random.Random(5)
    points = [[rng.uniform(-6, 6), rng.uniform(-6, 6)] for _ in range(25)]
    server = app.server.post_json(f"/api/sessions/{app.session_id()}/predict", {"points": points})["outputs"]
    browser = app.js("(pts) => paramlab.predict(pts)", points)
    for s, b in zip(server, browser):
        for sv, bv in zip(s, b):
            assert abs(sv - bv) <= 1e-4
    # And the numbers the output node's heatmap was painted from, at grid-cell centres.
    n = app.js("paramlab.grid.n")
    col = len(app.frame()["layers"])
    cells = [(r, c) for r in (0, n // 3, n - 1) for c in (0, n // 2, n - 1)]
    centres = [[-6 + (c + 0.5) * 12 / n, 6 - (r + 0.5) * 12 / n] for r, c in cells]
    server = app.server.post_json(f"/api/sessions/{app.session_id()}/predict", {"points": centres})["outputs"]
    for (r, c), s in zip(cells, server):
        drawn = app.js(f"paramlab.heatmapValue({col}, 0, {r}, {c})")
        assert abs(drawn - s[0]) <= 1e-4


def test_divergence_is_explained_and_rolled_back(app):
    app.open("dataset=plane&hidden=8,8&activation=relu&lr=10&momentum=0.99&batch_size=1&playing=true", frames=1)
    banner = app.page.locator("#banner-div")
    banner.wait_for(state="visible", timeout=20000)
    text = banner.inner_text()
    assert "diverged" in text and "learning rate" in text
    app.shot("diverged", full_page=False)
    app.page.get_by_role("button", name="Roll back", exact=True).click()
    app.wait("paramlab.frame && paramlab.frame.diverged === null")
    banner.wait_for(state="hidden")
    f = app.frame()
    assert f["playing"] is False
    assert all(v is not None for L in f["layers"] for row in L["W"] for v in row)


def test_reload_resumes_the_same_session(app):
    app.open(frames=2)
    sid = app.session_id()
    app.page.reload()
    app.wait_frames(1)
    assert app.session_id() == sid


def test_exports(app):
    app.open("playing=false", frames=1)
    sid = app.session_id()
    assert app.page.locator("#export-model").get_attribute("href") == f"/api/sessions/{sid}/model"
    assert app.page.locator("#export-csv").get_attribute("href") == f"/api/sessions/{sid}/history.csv"
    status = app.js("fetch(document.querySelector('#export-model').href).then(r => r.status)")
    assert status == 200
    with app.page.expect_download() as dl:
        app.page.get_by_role("button", name="PNG", exact=True).click()
    assert dl.value.suggested_filename.endswith(".png")


def test_projector_presenter_and_phone_layouts(make_app):
    big = make_app({"width": 1920, "height": 1080}).open(frames=3)
    big.page.get_by_role("button", name="Presenter", exact=True).click()
    big.wait("document.documentElement.classList.contains('presenter')")
    big.wait_frames(3)
    assert big.js("parseFloat(getComputedStyle(document.documentElement).fontSize)") >= 18
    big.shot("projector-1920x1080-presenter", full_page=False)
    big.wait("location.hash.includes('presenter=true')")
    again = make_app({"width": 1920, "height": 1080}).open(big.js("location.hash.slice(1)"), frames=1)
    assert again.js("document.documentElement.classList.contains('presenter')"), "a presenter link opens in presenter mode"
    phone = make_app({"width": 390, "height": 844}).open(frames=3)
    # One column: nothing wider than the screen.
    assert phone.js("document.documentElement.scrollWidth") <= 390
    phone.shot("phone-390x844")


def test_every_control_is_reachable_by_tab_with_a_visible_focus(app):
    app.open(frames=1)
    app.page.locator("body").click(position={"x": 5, "y": 5})
    seen, invisible = set(), []
    for _ in range(90):
        app.page.keyboard.press("Tab")
        if app.js("document.activeElement === document.body"):
            continue   # focus left the page after the last control (it wraps around)
        info = app.js("""(() => { const e = document.activeElement; const cs = getComputedStyle(e);
            return {id: e.id || e.dataset.key || e.getAttribute('aria-label') || e.textContent.trim().slice(0, 20),
                    outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
                    stroke: e instanceof SVGElement && cs.stroke !== 'none' && cs.stroke !== 'transparent'}; })()""")
        seen.add(info["id"])
        if not (info["outline"] or info["stroke"]):
            invisible.append(info["id"])
    for must in ("play", "step", "reset", "lr", "momentum", "batch_size", "optimizer", "regularization", "dropout", "speed", "n:0:0"):
        assert must in seen, f"{must} not reachable by Tab; reached {sorted(seen)}"
    assert not invisible, f"focus not visible on {invisible}"


def test_connection_lost_banner_and_reconnect(make_app):
    from e2e_support import page_server
    srv = page_server().start()
    app = make_app(srv=srv)
    try:
        app.open("playing=false", frames=1)
        loss_text = app.page.locator("#train-loss").inner_text()
        srv.stop()
        banner = app.page.locator("#banner-conn")
        banner.wait_for(state="visible", timeout=10000)
        assert banner.inner_text() == "Connection lost — reconnecting…"
        # What was on screen stays on screen.
        assert app.page.locator("#train-loss").inner_text() == loss_text
        assert app.page.locator(".node").count() == DEFAULT_NODES
        drawn = app.js("paramlab.stats.framesDrawn")
        srv.start()
        banner.wait_for(state="hidden", timeout=20000)
        app.wait(f"paramlab.stats.framesDrawn > {drawn}")   # the page said hello again and draws
    finally:
        srv.stop()
        # The browser reports each refused websocket handshake on the console: expected here.
        app.errors[:] = [e for e in app.errors if "WebSocket" not in e and "ERR_CONNECTION_REFUSED" not in e]


def test_controls_reconfigure_the_network_and_the_url(app):
    app.open("playing=false", frames=1)
    page = app.page
    page.get_by_role("button", name="Add layer", exact=True).click()
    app.wait("paramlab.frame && JSON.stringify(paramlab.session.config.hidden) === '[4,2,2]'")
    assert page.locator(".node").count() == 2 + 4 + 2 + 2 + 1
    page.get_by_role("button", name="+ neuron", exact=True).first.click()
    app.wait("paramlab.frame && JSON.stringify(paramlab.session.config.hidden) === '[5,2,2]'")
    page.get_by_role("button", name="XOR", exact=True).click()
    app.wait("paramlab.frame && paramlab.session.config.dataset === 'xor'")
    assert page.get_by_role("button", name="XOR", exact=True).get_attribute("aria-pressed") == "true"
    page.get_by_label("x₁x₂", exact=True).check()
    app.wait("paramlab.frame && paramlab.session.config.features.includes('x1x2')")
    page.get_by_role("combobox", name="Activation", exact=True).select_option("relu")
    app.wait("paramlab.frame && paramlab.session.config.activation === 'relu'")
    h = app.js("location.hash")
    for part in ("dataset=xor", "hidden=5,2,2", "features=x1,x2,x1x2", "activation=relu"):
        assert part in h
    # Reset with the same weights returns to this configuration's initial weights.
    w0 = app.frame()["layers"][0]["W"]
    page.get_by_role("button", name="Step", exact=True).click()
    app.wait("paramlab.frame && paramlab.frame.step === 1")
    assert app.frame()["layers"][0]["W"] != w0
    page.get_by_role("button", name="Reset", exact=True).click()
    app.wait("paramlab.frame && paramlab.frame.step === 0")
    assert app.frame()["layers"][0]["W"] == w0
    page.get_by_role("button", name="New weights", exact=True).click()
    # (Rows are typed arrays: compare numbers, not JSON text, which differs for them anyway.)
    app.wait(f"paramlab.frame && paramlab.frame.step === 0 && paramlab.frame.layers[0].W[0][0] !== {w0[0][0]!r}")
    assert app.frame()["layers"][0]["W"] != w0


def test_adam_rule_shows_every_number(app):
    app.open("optimizer=adam&lr=0.01&playing=false", frames=1)
    app.page.get_by_role("button", name="Step", exact=True).click()
    app.wait("paramlab.frame && paramlab.frame.step === 1 && paramlab.frame.layers[0].sW !== undefined")
    app.page.locator('.bias').first.hover()
    tip = app.page.locator("#tooltip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert "m ← β₁·m + (1−β₁)·dL/db" in text and "s ← β₂·s" in text and "√ŝ" in text
    results = [float(t) for t in tip.locator(".rule .num").evaluate_all("els => els.map(e => e.title)")]
    b = app.frame()["layers"][0]["b"][0]
    assert math.isclose(results[-1], b, rel_tol=1e-9, abs_tol=1e-12), "the rule's result is the new bias"
