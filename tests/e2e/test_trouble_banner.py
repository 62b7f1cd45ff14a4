"""Trouble explained on the page, and vanishing gradients in the histograms, in a real Chromium.

The banner's words are the server's (the frame's `trouble`); its buttons change the session as
the server then reports it (the hyperparameters over HTTP).
"""

from __future__ import annotations

import json
import math
import urllib.request

import pytest
from test_accessibility import assert_none_blocking

pytestmark = pytest.mark.e2e

SPY_HISTOGRAMS = """(() => {
  window.__hist = [];
  paramlab.socket.addEventListener("histograms", ({ detail }) => __hist.push(JSON.parse(JSON.stringify(detail))));
})()"""


def get_json(app, path: str) -> dict:
    with urllib.request.urlopen(f"{app.server.url}{path}", timeout=10) as r:
        return json.load(r)


def test_at_learning_rate_10_the_banner_says_stuck_in_the_servers_words_and_lowers_the_rate(app):
    app.open("lr=10&playing=true", frames=1)
    app.wait("paramlab.frame && paramlab.frame.trouble && paramlab.frame.trouble.kind === 'stuck'", timeout=60000)
    banner = app.page.locator("#banner-div")
    banner.wait_for(state="visible")
    # The message counts the updates it has lasted: compare it with the frame the banner shows, paused on
    # one that says it (the server's verdict on the noisy loss comes and goes between updates).
    for _ in range(20):
        app.pause()
        if (app.frame()["trouble"] or {}).get("kind") == "stuck":
            break
        app.js("paramlab.socket.send({type: 'play'})")
        app.wait("paramlab.frame.playing && paramlab.frame.trouble && paramlab.frame.trouble.kind === 'stuck'", timeout=30000)
    app.settle()
    trouble = app.frame()["trouble"]
    assert trouble and trouble["kind"] == "stuck"
    text = banner.inner_text()
    assert "stuck" in text.lower()
    assert "saturated" in trouble["message"]
    # The server's message and advice, word for word (the first letter capitalized).
    assert trouble["message"][1:] in text and trouble["advice"][1:] in text
    assert app.page.locator("#banner-div").get_attribute("data-kind") == "stuck"
    app.shot("trouble_stuck", full_page=False)
    assert_none_blocking(app, "stuck")
    sid = app.session_id()
    lr = get_json(app, f"/api/sessions/{sid}/hyper")["lr"]
    assert lr == 10
    app.page.get_by_role("button", name="Lower the learning rate").click()
    app.wait(f"paramlab.frame.hyper.lr === {lr / 10!r}")
    assert get_json(app, f"/api/sessions/{sid}/hyper")["lr"] == lr / 10
    # Roll back: to the recorded step before the trouble began, and on from there at the new rate.
    since = trouble["since_step"]
    assert since > 0
    live = app.frame()["step"]
    app.page.locator("#banner-div").get_by_role("button", name="Roll back").click()
    app.wait(f"paramlab.frame && paramlab.frame.step < {since} && !paramlab.frame.rewound && paramlab.rewindLab.look === null", timeout=20000)
    back = app.frame()["step"]
    assert get_json(app, f"/api/sessions/{sid}/model")["step"] == back < since < live
    assert get_json(app, f"/api/sessions/{sid}/hyper")["lr"] == lr / 10


def test_with_sigmoid_and_8_layers_the_first_layers_gradients_are_smaller_than_the_lasts(app):
    app.open("activation=sigmoid&hidden=6,6,6,6,6,6,6,6&playing=false", frames=1)
    app.js("paramlab.socket.send({type: 'play'})")
    app.wait("paramlab.frame && paramlab.frame.step >= 100", timeout=30000)
    app.pause()
    app.js(SPY_HISTOGRAMS)
    app.page.locator("#lab-rewind").scroll_into_view_if_needed()
    app.page.select_option("#hist-kind", "gradients")
    app.wait("window.__hist.some(m => m.kind === 'gradients') && paramlab.rewindLab.data.gradients", timeout=20000)
    answer = [m for m in app.js("window.__hist") if m["kind"] == "gradients"][-1]
    layers = answer["layers"]
    assert len(layers) == 9 and all(L["scale"] == "log10_abs" for L in layers)

    def median_and_top(L: dict) -> tuple[float, float]:
        counts, edges = L["counts"][-1], L["edges"]
        total, seen, median = sum(counts), 0, None
        for b, n in enumerate(counts):
            seen += n
            if median is None and n and seen >= total / 2:
                median = (edges[b] + edges[b + 1]) / 2
        top = max(b for b, n in enumerate(counts) if n)
        return median, edges[top + 1]

    first, last = median_and_top(layers[0]), median_and_top(layers[-1])
    # Vanishing: the first layer's |dL/dw| sit decades below the last's.
    assert first[0] < last[0] - 1 and first[1] < last[1]
    # The page says the same numbers for each layer (its summary of the last recorded step).
    shown = app.js("paramlab.rewindLab.spreads()")
    for L, s in zip(layers, shown):
        m, top = median_and_top(L)
        assert math.isclose(s["median"], m) and math.isclose(s["high"], top)
    # Drawn: the first layer's strip, then the last's; the summary line names |dL/dw|.
    app.page.select_option("#hist-layer", "8")
    app.wait("paramlab.rewindLab.strip.layer === paramlab.rewindLab.data.gradients[8]")
    assert "|dL/dw|" in app.page.locator(".hs-summary").inner_text()
    app.settle()
    app.shot("trouble_vanishing_last_layer", full_page=False)
    app.page.select_option("#hist-layer", "0")
    app.wait("paramlab.rewindLab.strip.layer === paramlab.rewindLab.data.gradients[0]")
    app.settle()
    app.shot("trouble_vanishing_first_layer", full_page=False)
