"""Where the lesson card sits, and the network's per-layer controls, on a projector and a desk.

On a wide screen the open card takes a column of its own at the right: it never covers the output
panel, the charts or the network, at the top of the page or scrolled. Folded or closed, it gives the
width back. On a phone it stays at the top, full width. Each layer's count box and "+ neuron /
− neuron" buttons keep to their own column, whatever the number of layers."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e

LESSON = "/?lesson=overfitting&step=1"
# The step's own setup is on: its network (3 hidden layers of 8) is the one drawn.
STEP_READY = ("window.paramlab && paramlab.stats.framesDrawn >= 1 && paramlab.lesson && paramlab.lesson.step === 0"
              " && paramlab.session && paramlab.session.config.hidden.join() === '8,8,8'"
              " && paramlab.network.ctxInfo.sizes.length === 5")

DESKS = {
    "presenter-1920x1080": ({"width": 1920, "height": 1080}, True),
    "desk-1280x800": ({"width": 1280, "height": 800}, False),
    "desk-1440x900": ({"width": 1440, "height": 900}, False),
}

# Boxes in viewport pixels (null: not shown).
BOXES_JS = """() => {
  const box = (sel) => {
    const el = document.querySelector(sel);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? { x: r.left, y: r.top, w: r.width, h: r.height } : null;
  };
  return { card: box("#lesson-card"), out: box(".col-out"), output: box("#output"), charts: box("#charts"),
           lossChart: box("#charts .chart-loss"), net: box(".col-net"), network: box("#network"),
           topbar: box(".topbar"), vw: innerWidth, vh: innerHeight, scrollW: document.documentElement.scrollWidth };
}"""


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def test_overlap_finds_boxes_that_share_area_and_not_those_that_only_touch():
    a = {"x": 0, "y": 0, "w": 10, "h": 10}
    assert overlap(a, {"x": 9, "y": 9, "w": 5, "h": 5})
    assert not overlap(a, {"x": 10, "y": 0, "w": 5, "h": 5})
    assert not overlap(a, {"x": 0, "y": 10, "w": 5, "h": 5})


def open_lesson(make_app: Any, viewport: dict[str, int], presenter: bool) -> Any:
    app = make_app(viewport=viewport)
    app.page.goto(f"{app.server.url}{LESSON}#playing=false{'&presenter=true' if presenter else ''}")
    app.wait(STEP_READY)
    assert app.js("document.documentElement.classList.contains('presenter')") is presenter
    app.settle()
    return app


def boxes(app: Any) -> dict[str, Any]:
    app.settle()
    return app.js(BOXES_JS)


def covered(b: dict[str, Any]) -> list[str]:
    """The panels the card's box covers."""
    return [name for name in ("out", "output", "charts", "lossChart", "net", "network")
            if b[name] is not None and overlap(b["card"], b[name])]


@pytest.mark.parametrize("desk", list(DESKS))
def test_the_card_takes_a_column_of_its_own_and_gives_the_width_back_when_folded_or_closed(make_app, desk):
    viewport, presenter = DESKS[desk]
    app = open_lesson(make_app, viewport, presenter)
    b = boxes(app)
    app.shot(f"lesson-layout-{desk}", full_page=False)
    card = b["card"]
    assert card is not None, "the card is shown"
    assert not covered(b), f"{desk}: the card covers {covered(b)}"
    # The whole card is on the screen, at the right, below the top bar, and the page does not scroll sideways.
    assert card["x"] > b["vw"] / 2 and card["x"] + card["w"] <= b["vw"]
    assert card["y"] >= b["topbar"]["y"] + b["topbar"]["h"] and card["y"] + card["h"] <= b["vh"]
    assert b["scrollW"] <= b["vw"], f"{desk}: the page is {b['scrollW']} px wide on a {b['vw']} px screen"
    assert b["out"]["x"] + b["out"]["w"] <= card["x"], "the output column ends left of the card"

    # Scrolled down to the charts, the card is still in sight and still covers nothing.
    app.js("document.querySelector('#charts').scrollIntoView({ block: 'center' })")
    scrolled = boxes(app)
    assert app.js("scrollY") > 0, "the page scrolled"
    assert scrolled["card"] is not None, "the card is shown"
    assert scrolled["card"]["y"] >= 0 and scrolled["card"]["y"] + scrolled["card"]["h"] <= b["vh"], "the card stays in sight"
    assert not covered(scrolled), f"{desk}, scrolled: the card covers {covered(scrolled)}"
    app.js("window.scrollTo(0, 0)")

    # Folded to its head: the output column widens again, and the folded card covers nothing either.
    app.page.click("#lesson-card .lc-fold")
    folded = boxes(app)
    app.shot(f"lesson-layout-{desk}-folded", full_page=False)
    assert app.js("document.querySelector('#lesson-card').classList.contains('folded')")
    assert folded["card"] is not None and not covered(folded), f"{desk}, folded: the card covers {covered(folded)}"
    rem = app.js("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert folded["card"]["h"] <= 4.5 * rem, f"{desk}, folded: {folded['card']['h']:.0f} px high, not one line"
    assert folded["out"]["x"] + folded["out"]["w"] > b["out"]["x"] + b["out"]["w"] + 100, "folding gives the width back"
    assert folded["net"]["w"] >= b["net"]["w"]
    assert folded["scrollW"] <= folded["vw"]
    # Unfolded: the column again.
    app.page.click("#lesson-card .lc-fold")
    again = boxes(app)
    assert not covered(again) and again["out"]["x"] + again["out"]["w"] <= again["card"]["x"]

    # Closed: no card, and the columns take the whole width, as on a page with no lesson.
    app.page.click("#lesson-card .lc-close")
    app.wait("!paramlab.lesson && document.querySelector('#lesson-card').hidden")
    closed = boxes(app)
    assert closed["card"] is None
    assert closed["out"]["x"] + closed["out"]["w"] > b["out"]["x"] + b["out"]["w"] + 100, "closing gives the width back"
    assert closed["out"]["x"] + closed["out"]["w"] >= closed["vw"] - 40, "the output column reaches the right of the screen"


def test_on_a_phone_the_card_stays_at_the_top_full_width_and_folds_and_closes(make_app):
    app = open_lesson(make_app, {"width": 390, "height": 844}, False)
    b = boxes(app)
    app.shot("lesson-layout-phone-390x844", full_page=False)
    card = b["card"]
    assert card is not None and card["w"] >= b["vw"] - 20, "full width on a phone"
    assert card["y"] + card["h"] <= b["net"]["y"], "above the network"
    assert not covered(b) and b["scrollW"] <= b["vw"]
    app.page.click("#lesson-card .lc-fold")
    folded = boxes(app)
    assert folded["card"]["h"] < card["h"] / 2, "folded to its head"
    assert folded["net"]["y"] < b["net"]["y"], "the network moves up into the space the card gave back"
    app.page.click("#lesson-card .lc-close")
    app.wait("!paramlab.lesson && document.querySelector('#lesson-card').hidden")
    assert boxes(app)["card"] is None


# Per layer head (input and output heads too): the boxes of its count box, its buttons, and each piece of text
# outside them (measured as text, so a label's box around the count box is not taken for its words).
HEAD_PARTS_JS = """() => [...document.querySelectorAll("#network .net-head")].map((head, i) => {
  const box = (r, what, text) => ({ x: r.left, y: r.top, w: r.width, h: r.height, what, text });
  const parts = [...head.querySelectorAll("input.count-input, button")].map((el) => box(el.getBoundingClientRect(),
    el.matches("button") ? (el.dataset.delta === "1" ? "plus" : "minus") : "count",
    (el.getAttribute("aria-label") || el.textContent).trim()));
  const walk = document.createTreeWalker(head, NodeFilter.SHOW_TEXT);
  for (let t = walk.nextNode(); t; t = walk.nextNode()) {
    if (!t.textContent.trim() || t.parentElement.closest("button, .count-err")) continue;
    if (t.parentElement.getBoundingClientRect().width <= 1) continue;   // visually hidden (read out only)
    const range = document.createRange(); range.selectNodeContents(t);
    parts.push(box(range.getBoundingClientRect(), "text", t.textContent.trim()));
  }
  return { head: i, parts: parts.filter((b) => b.w > 0 && b.h > 0) };
})"""
NODES_JS = """() => [...document.querySelectorAll("#network .node")].map((el) => {
  const r = el.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; })"""


def head_overlaps(app: Any) -> list[str]:
    """Every part of a head that overlaps a part of another head, another part of its own head, or a neuron."""
    heads, nodes = app.js(HEAD_PARTS_JS), app.js(NODES_JS)
    net = app.js("(() => { const r = document.querySelector('.col-net').getBoundingClientRect();"
                 " return { x: r.left, y: r.top, w: r.width, h: r.height }; })()")
    found = []
    for a in heads:
        for n, p in enumerate(a["parts"]):
            if not (net["x"] <= p["x"] and p["x"] + p["w"] <= net["x"] + net["w"]):
                found.append(f"head {a['head']} {p['what']} {p['text']!r} leaves the network panel")
            found += [f"head {a['head']} {p['what']} {p['text']!r} over a neuron" for node in nodes if overlap(p, node)]
            found += [f"head {a['head']}: {p['what']} {p['text']!r} over {q['what']} {q['text']!r}"
                      for q in a["parts"][n + 1:] if overlap(p, q)]
            for b in heads:
                if b["head"] > a["head"]:
                    found += [f"head {a['head']} {p['what']} {p['text']!r} over head {b['head']} {q['what']} {q['text']!r}"
                              for q in b["parts"] if overlap(p, q)]
    return found


def test_presenter_three_layers_of_eight_with_the_lesson_open_keep_each_minus_button_off_the_next_count_box(make_app):
    app = open_lesson(make_app, {"width": 1920, "height": 1080}, True)
    app.page.locator("#network").scroll_into_view_if_needed()
    app.settle()
    app.shot("lesson-layout-presenter-heads-3x8", full_page=False)
    heads = app.js(HEAD_PARTS_JS)
    minus = [p for h in heads for p in h["parts"] if p["what"] == "minus"]
    counts = [(h["head"], p) for h in heads for p in h["parts"] if p["what"] == "count"]
    assert len(minus) == 3 and len(counts) == 3
    for h in heads:
        for p in h["parts"]:
            if p["what"] == "minus":
                hits = [i for i, c in counts if i != h["head"] and overlap(p, c)]
                assert not hits, f"layer {h['head']}'s − neuron button covers the count box of head {hits}"
    assert not head_overlaps(app), head_overlaps(app)


@pytest.mark.parametrize(("desk", "layers"), [("presenter-1920x1080", n) for n in (1, 3, 5, 8)]
                         + [("desk-1280x800", n) for n in (1, 3, 5, 8)])
def test_the_layer_heads_never_overlap_up_to_the_largest_number_of_layers(make_app, desk, layers):
    viewport, presenter = DESKS[desk]
    app = make_app(viewport=viewport)
    hidden = ",".join(["32"] * layers)   # the widest count the box holds
    app.open(f"hidden={hidden}&playing=false{'&presenter=true' if presenter else ''}")
    app.wait(f"paramlab.network.ctxInfo.sizes.length === {layers + 2}")
    app.settle()
    if layers == 8:
        limit = app.js("paramlab.vocab.limits.max_layers")
        assert limit == 8, f"the page now allows {limit} layers: test that many"
        assert app.js("document.querySelector('#add-layer').disabled"), "8 layers is the most the page allows"
        app.page.locator("#network").scroll_into_view_if_needed()
        app.shot(f"layer-heads-{desk}-{layers}", full_page=False)
    assert not head_overlaps(app), head_overlaps(app)


@pytest.mark.parametrize("desk", list(DESKS))
def test_with_the_lesson_card_in_its_column_the_heads_keep_apart_up_to_the_largest_number_of_layers(make_app, desk):
    """The card's column narrows the network: from the step's 3 hidden layers up to the most the page allows,
    every head keeps to its own column and the card still covers nothing."""
    viewport, presenter = DESKS[desk]
    app = open_lesson(make_app, viewport, presenter)
    for n in range(3, 9):
        app.wait(f"paramlab.network.ctxInfo.sizes.length === {n + 2}")
        app.settle()
        assert not covered(boxes(app)), f"{n} layers: the card covers {covered(boxes(app))}"
        problems = head_overlaps(app)
        if problems or n == 8:
            app.page.locator("#network").scroll_into_view_if_needed()
            app.shot(f"lesson-layout-heads-{desk}-{n}", full_page=False)
        assert not problems, f"{n} layers: {problems}"
        if n < 8:
            app.page.click("#add-layer")   # one more hidden layer
    assert app.js("document.querySelector('#add-layer').disabled"), "8 layers is the most the page allows"
