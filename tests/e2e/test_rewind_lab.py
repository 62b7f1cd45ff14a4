"""Histograms over time and the rewind scrubber, in a real Chromium.

What the page draws and says is checked against the server's own answers: the `histograms`
message as it came over the socket, a paused frame (float64) kept from an earlier step, and
the session's hyperparameters and model over HTTP.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from test_accessibility import assert_none_blocking

pytestmark = pytest.mark.e2e

# Record every `histograms` answer as it came from the server (before any view touched it).
SPY_HISTOGRAMS = """(() => {
  window.__hist = [];
  paramlab.socket.addEventListener("histograms", ({ detail }) => __hist.push(JSON.parse(JSON.stringify(detail))));
})()"""


def get_json(app, path: str) -> dict:
    with urllib.request.urlopen(f"{app.server.url}{path}", timeout=10) as r:
        return json.load(r)


def train_to(app, step: int) -> None:
    """Play until the run has passed `step`, then pause (the paused frame is float64)."""
    app.js("paramlab.socket.send({type: 'play'})")
    app.wait(f"paramlab.frame && paramlab.frame.step >= {step}", timeout=30000)
    app.pause()


def open_histograms(app, kind: str) -> dict:
    """Show the lab, pick `kind`, and return the server's newest answer for it once the page drew it."""
    app.js(SPY_HISTOGRAMS)
    app.page.locator("#lab-rewind").scroll_into_view_if_needed()
    app.page.select_option("#hist-kind", kind)
    app.wait(f"window.__hist.some(m => m.kind === '{kind}') && paramlab.rewindLab.data['{kind}']", timeout=20000)
    app.settle()
    return [m for m in app.js("window.__hist") if m["kind"] == kind][-1]


def hover_strip_cell(app, col: int, b: int) -> dict:
    """Point at column `col`, bin `b` of the strip; the readout's numbers."""
    box = app.page.locator(".hs-strip").bounding_box()
    x0, x1 = app.js(f"paramlab.rewindLab.strip.colX({col}, {box['width']})")
    lo, hi = app.js("paramlab.rewindLab.strip.win")   # the bins drawn (the empty ones far from the values are not)
    assert lo <= b < hi
    x = box["x"] + (x0 + x1) / 2
    y = box["y"] + box["height"] - (b - lo + 0.5) * box["height"] / (hi - lo)
    app.page.mouse.move(x, y)
    return app.js("({...document.querySelector('.hs-readout').dataset, text: document.querySelector('.hs-readout').textContent})")


def test_the_histograms_draw_and_their_hovered_counts_are_the_servers(app):
    app.open("playing=false", frames=1)
    train_to(app, 300)
    answer = open_histograms(app, "weights")
    layer = answer["layers"][0]
    drawn = app.js("paramlab.rewindLab.strip.layer")
    assert drawn["edges"] == layer["edges"] and drawn["steps"] == layer["steps"]
    assert len(layer["steps"]) >= 2
    # Each row counts every weight of the layer: 2 inputs x 4 units by default.
    sizes = [len(app.frame()["layers"][0]["W"]), len(app.frame()["layers"][0]["W"][0])]
    assert all(sum(row) == sizes[0] * sizes[1] for row in layer["counts"])
    # A bin with values in the last column, and one in the first: the readout says the server's count.
    for col in (len(layer["steps"]) - 1, 0):
        counts = layer["counts"][col]
        b = max(range(len(counts)), key=lambda k: counts[k])
        said = hover_strip_cell(app, col, b)
        assert int(said["step"]) == layer["steps"][col]
        assert int(said["bin"]) == b
        assert int(said["count"]) == counts[b] > 0
    assert app.js("!document.getElementById('tooltip').hidden")
    tip = app.page.locator("#tooltip").inner_text()
    assert f"{counts[b]} of {sum(counts)}" in tip
    assert f"[{layer['edges'][b]}, {layer['edges'][b + 1]})" in tip
    # The bars show the last recorded step: hovering one says its count too.
    last = layer["counts"][-1]
    b = max(range(len(last)), key=lambda k: last[k])
    box = app.page.locator(".hs-bars").bounding_box()
    lo, hi = app.js("paramlab.rewindLab.strip.win")
    app.page.mouse.move(box["x"] + (b - lo + 0.5) * box["width"] / (hi - lo), box["y"] + box["height"] - 3)
    said = app.js("({...document.querySelector('.hs-readout').dataset})")
    assert int(said["count"]) == last[b] and int(said["step"]) == layer["steps"][-1]
    app.shot("rewind_histograms", full_page=False)


def test_the_scrubber_shows_an_earlier_steps_weights_exactly_and_goes_on_from_there(app):
    app.open("playing=false", frames=1)
    train_to(app, 60)
    then = app.frame()
    step = then["step"]
    assert then.get("float32") is not True   # a paused frame carries the exact numbers
    w = then["layers"][0]["W"][0][1]
    train_to(app, step + 150)
    live = app.frame()["step"]
    assert app.frame()["layers"][0]["W"][0][1] != w
    app.page.locator("#lab-rewind").scroll_into_view_if_needed()
    app.js("""(() => { window.__rewound = [];
      paramlab.socket.addEventListener("rewound", ({ detail }) => __rewound.push(JSON.parse(JSON.stringify(detail)))); })()""")
    # Move the scrubber to that step (as a drag would: input events on the range).
    app.js(f"""(() => {{ const r = document.getElementById('rw-range'); r.value = '{step}';
      r.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")
    app.wait(f"paramlab.rewindLab.look && paramlab.rewindLab.look.step === {step} && paramlab.frame.rewound", timeout=20000)
    where = app.page.locator("#rw-where").inner_text()
    assert where == f"Looking at step {step:,} (live: {live:,})"
    # The network draws that step's weights: the frame it drew, and the tooltip of the edge, exactly.
    assert app.frame()["layers"][0]["W"][0][1] == w
    app.page.locator('path[data-key="e:0:0:1"]').hover(force=True)
    app.wait("!document.getElementById('tooltip').hidden")
    shown = app.page.locator("#tooltip .tt-table td .num").first.get_attribute("title")
    assert float(shown) == w
    # The output map is computed from the same weights: the page's network (the heatmaps' grid) holds them.
    n_out = len(then["layers"][0]["W"][0])
    assert app.js("paramlab.net.W[0][1]") == w and app.js(f"paramlab.net.W[0][{n_out}]") == then["layers"][0]["W"][1][0]
    app.wait("paramlab.grid && !paramlab.grid.sweeping && paramlab.grid.version === paramlab.net.version")
    assert "step" in app.page.locator("#h-net").inner_text() and "rewound" in app.page.locator("#h-net").inner_text()
    app.shot("rewind_looking", full_page=False)
    # The histograms' bars are that step's own counts, as the server sent them.
    rewound = app.js("window.__rewound.at(-1)")
    assert rewound["step"] == step and rewound["params"][0]["W"][0][1] == w
    app.wait("paramlab.rewindLab.strip.current() && paramlab.rewindLab.strip.current().step === " + str(step))
    assert app.js("Array.from(paramlab.rewindLab.strip.current().counts)") == rewound["histograms"]["weights"][0]["counts"][0]
    assert app.page.locator(".hs-bar-title").inner_text() == f"At step {step:,}"
    # The live session went on untouched.
    assert get_json(app, f"/api/sessions/{app.session_id()}/model")["step"] == live
    # Go on from here: the session goes back to that step, with those weights, and trains on from it.
    app.page.get_by_role("button", name="Go on from here").click()
    app.wait(f"paramlab.rewindLab.look === null && paramlab.frame && paramlab.frame.step === {step} && !paramlab.frame.rewound", timeout=20000)
    model = get_json(app, f"/api/sessions/{app.session_id()}/model")
    assert model["step"] == step
    assert app.frame()["layers"][0]["W"][0][1] == w
    assert app.page.locator("#rw-where").inner_text().startswith("Live: step")
    # The fork is logged with the choices made (and marked on the loss chart), not as a weight typed by hand.
    app.wait(f"[...document.querySelectorAll('.changes-log li')].some(li => li.textContent === 'step {step}: went back from step {live} to step {step}')")
    app.js("paramlab.socket.send({type: 'play'})")
    app.wait(f"paramlab.frame && paramlab.frame.step > {step + 5}", timeout=20000)


def test_back_to_live_draws_the_live_weights_again(app):
    app.open("playing=false", frames=1)
    train_to(app, 80)
    now = app.frame()
    app.page.locator("#lab-rewind").scroll_into_view_if_needed()
    app.js("""(() => { const r = document.getElementById('rw-range'); r.value = '20';
      r.dispatchEvent(new Event('input', {bubbles: true})); })()""")
    app.wait("paramlab.rewindLab.look && paramlab.frame.rewound && paramlab.frame.step === 20", timeout=20000)
    assert app.frame()["layers"][0]["W"] != now["layers"][0]["W"]
    app.page.get_by_role("button", name="Back to live").click()
    app.wait(f"paramlab.rewindLab.look === null && !paramlab.frame.rewound && paramlab.frame.step === {now['step']}")
    assert app.frame()["layers"][0]["W"] == now["layers"][0]["W"]
    assert app.js("document.documentElement.classList.contains('rewound')") is False


# Log, in order, each `histograms` or `rewind` the page sends ("ask") and each answer it gets ("answer").
SPY_TURNS = """(() => {
  window.__turns = [];
  const socket = paramlab.socket, rawSend = socket.rawSend.bind(socket);
  socket.rawSend = (msg) => { if (msg.type === "histograms" || msg.type === "rewind") __turns.push(["ask", msg.type, msg.step ?? msg.kind]);
    return rawSend(msg); };
  // Logged as they arrive, before any listener (the lab's answers one by sending the next).
  const dispatch = socket.dispatchEvent.bind(socket);
  socket.dispatchEvent = (ev) => {
    if (ev.type === "histograms") __turns.push(["answer", "histograms", ev.detail.layers[0].steps.at(-1)]);
    if (ev.type === "rewound") __turns.push(["answer", "rewind", ev.detail.step]);
    return dispatch(ev);
  };
})()"""


def in_flight_at_most_one(turns: list, kind: str) -> bool:
    waiting = 0
    for what, k, _ in turns:
        if k != kind:
            continue
        waiting += 1 if what == "ask" else -1
        if waiting > 1 or waiting < 0:
            return False
    return True


def test_histograms_refresh_while_training_and_a_fast_drag_keeps_one_rewind_in_flight(app):
    app.open("playing=false", frames=1)
    train_to(app, 100)
    app.js(SPY_TURNS)
    app.page.locator("#lab-rewind").scroll_into_view_if_needed()
    app.js("paramlab.socket.send({type: 'play'})")
    # While training, the histograms are asked again: a later answer covers newer steps.
    app.wait("window.__turns.filter(t => t[0] === 'answer' && t[1] === 'histograms').length >= 2", timeout=30000)
    answers = [t[2] for t in app.js("window.__turns") if t[0] == "answer" and t[1] == "histograms"]
    assert answers[-1] > answers[0]
    app.pause()
    # A fast drag: 40 positions in one go. One rewind in flight at a time, the last position shown in the end.
    app.js("""(() => { const r = document.getElementById('rw-range');
      for (let s = 10; s <= 89; s += 2) { r.value = String(s); r.dispatchEvent(new Event('input', {bubbles: true})); } })()""")
    app.wait("paramlab.rewindLab.look && paramlab.rewindLab.look.step === 88 && paramlab.rewindLab.pending === null", timeout=20000)
    turns = app.js("window.__turns")
    asks = [t for t in turns if t[:2] == ["ask", "rewind"]]
    assert in_flight_at_most_one(turns, "rewind") and in_flight_at_most_one(turns, "histograms")
    assert 2 <= len(asks) < 40 and asks[-1][2] == 88


def test_the_lab_looking_back_has_no_serious_violation(app):
    app.open("playing=false", frames=1)
    train_to(app, 60)
    open_histograms(app, "gradients")
    app.js("""(() => { const r = document.getElementById('rw-range'); r.value = '30';
      r.dispatchEvent(new Event('input', {bubbles: true})); })()""")
    app.wait("paramlab.rewindLab.look && paramlab.frame.rewound")
    app.page.locator(".hs-strip").focus()
    app.page.keyboard.press("ArrowLeft")   # the strip walked by keyboard: the readout says the bin
    assert app.page.locator(".hs-readout").inner_text().startswith("Step ")
    assert_none_blocking(app, "rewound")
