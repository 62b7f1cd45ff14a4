"""Presenter mode on a 1920x1080 projector, phase by phase: the network, the output and the
step-by-step panel on one screen, no text under 16 px, and no label over another."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e

VIEWPORT = {"width": 1920, "height": 1080}
PHASES = ("forward", "loss", "backward", "update")

# Every visible element of the top bar, the hyperparameter bar and the three columns that
# shows text of its own (or is a control with text): its font size. Canvas text is not here.
FONT_SIZES_JS = """() => {
  const shown = (el) => {
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && cs.visibility !== "hidden" && +cs.opacity > 0;
  };
  const out = [];
  for (const area of document.querySelectorAll(".topbar, .hyperbar, .layout")) {
    for (const el of area.querySelectorAll("*")) {
      if (el.closest("canvas, svg")) continue;
      const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== "");
      if (!ownText && !el.matches("button, select, input[type=text], input[type=number]")) continue;
      if (!shown(el)) continue;
      out.push({ what: `${el.tagName.toLowerCase()}.${el.className} ${(el.textContent || "").trim().slice(0, 30)}`,
                 size: parseFloat(getComputedStyle(el).fontSize) });
    }
  }
  return out;
}"""

# Page boxes (CSS px, the page scrolled to the top) of what a class must see.
BOXES_JS = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; };
  const all = (sel) => [...document.querySelectorAll(sel)].filter((el) => el.getBoundingClientRect().width > 0).map(
    (el) => ({ ...box(el), text: el.textContent }));
  const cv = document.querySelector("#network canvas.net-edges").getBoundingClientRect();
  const edgeLabels = (paramlab.network.painter.labelBoxes ?? null);
  return {
    network: box(document.querySelector("#network")),
    output: box(document.querySelector("#output .out-stage")),
    phases: box(document.querySelector("#phases")),
    canvas: { x: cv.left, y: cv.top, w: cv.width, h: cv.height },
    edgeLabels: edgeLabels && edgeLabels.map((r) => ({ x: r.x + cv.left, y: r.y + cv.top, w: r.w, h: r.h, text: r.text })),
    edges: paramlab.network.edges.length,
    nodes: all("#network .node"),
    nodeLabels: all("#network .node-label, #network .trace-label"),
    heads: all("#network .net-head"),
  };
}"""


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def overlapping_pairs(boxes: list[dict[str, Any]], others: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
    """Pairs of boxes that overlap: within `boxes`, or (with `others`) between the two lists."""
    if others is None:
        return [(a.get("text", ""), b.get("text", "")) for n, a in enumerate(boxes) for b in boxes[n + 1:] if overlap(a, b)]
    return [(a.get("text", ""), b.get("text", "")) for a in boxes for b in others if overlap(a, b)]


def test_overlap_finds_boxes_that_touch_inside_and_not_those_apart():
    a = {"x": 0, "y": 0, "w": 10, "h": 10}
    assert overlap(a, {"x": 9, "y": 9, "w": 5, "h": 5})
    assert not overlap(a, {"x": 10, "y": 0, "w": 5, "h": 5})
    assert overlapping_pairs([a, {"x": 5, "y": 5, "w": 1, "h": 1}, {"x": 50, "y": 0, "w": 1, "h": 1}]) == [("", "")]


def check_screen(app: Any, phase: str) -> dict[str, Any]:
    app.js("window.scrollTo(0, 0)")
    app.settle()
    small = [f for f in app.js(FONT_SIZES_JS) if f["size"] < 16]
    assert not small, f"{phase}: text under 16 px: {small[:12]}"
    boxes = app.js(BOXES_JS)
    for name in ("network", "output", "phases"):
        b = boxes[name]
        assert b["h"] > 0 and b["y"] >= 0 and b["y"] + b["h"] <= VIEWPORT["height"], \
            f"{phase}: the {name} view reaches {b['y'] + b['h']:.0f} px, below the 1080 px screen"
        assert b["x"] >= 0 and b["x"] + b["w"] <= VIEWPORT["width"], f"{phase}: the {name} view is cut at a side"
    # Node names, their trace numbers and the column heads: none over another, none over a node.
    assert not overlapping_pairs(boxes["nodeLabels"]), f"{phase}: node labels overlap"
    assert not overlapping_pairs(boxes["heads"]), f"{phase}: column heads overlap"
    assert not overlapping_pairs(boxes["heads"], boxes["nodes"]), f"{phase}: a column head covers a node"
    trace_or_name = [b for b in boxes["nodeLabels"] if b["text"]]
    assert not overlapping_pairs(trace_or_name, boxes["nodes"]), f"{phase}: a node label covers a node"
    return boxes


def wait_for_the_animation(app: Any, phase: str) -> None:
    app.wait(f"paramlab.frame.phase === '{phase}'")
    # The phase animates for up to 2.5 s (the view stops asking for frames after that); its labels are final then.
    app.wait("paramlab.network.anim && performance.now() - paramlab.network.anim.t0 > 2600", timeout=20000)
    app.settle()


def test_presenter_mode_fits_a_1920x1080_screen_with_large_type_and_no_overlapping_labels(make_app):
    app = make_app(viewport=VIEWPORT)
    app.open("presenter=true&playing=false", frames=1)
    assert app.js("document.documentElement.classList.contains('presenter')")
    app.page.select_option("#step-unit", "phase")
    check_screen(app, "before the first phase")
    for phase in PHASES:
        app.page.get_by_role("button", name="Next phase", exact=True).click()
        wait_for_the_animation(app, phase)
        boxes = check_screen(app, phase)
        app.shot(f"presenter-1920-{phase}", full_page=False)
        labels = boxes["edgeLabels"]
        assert labels is not None, "the edge painter keeps no labelBoxes"
        if phase in ("backward", "update"):
            # Each edge's value is labelled where it reads on its own; most edges find such a place.
            assert len(labels) >= boxes["edges"] * 2 // 3, f"{phase}: only {len(labels)} of {boxes['edges']} edges labelled"
            assert not overlapping_pairs(labels), f"{phase}: edge labels overlap: {overlapping_pairs(labels)}"
            assert not overlapping_pairs(labels, boxes["nodeLabels"] + boxes["nodes"]), \
                f"{phase}: an edge label covers a node or its label"
            cv = boxes["canvas"]
            for r in labels:
                assert cv["x"] <= r["x"] and r["x"] + r["w"] <= cv["x"] + cv["w"] and cv["y"] <= r["y"] and \
                    r["y"] + r["h"] <= cv["y"] + cv["h"], f"{phase}: the label {r['text']} is cut at the canvas edge"
        else:
            assert labels == [], f"{phase}: edge labels belong to the backward and update phases"


@pytest.mark.parametrize("presenter", [True, False])
def test_change_marker_labels_never_overlap_nor_leave_the_plot_and_each_change_stays_reachable(make_app, presenter):
    app = make_app(viewport=VIEWPORT)
    app.open(f"presenter={'true' if presenter else 'false'}&playing=false", frames=1)
    # A drag on the learning-rate slider while stepping: a change at nearly every step, and a
    # momentum change among them.
    values = [round(0.01 + 0.002 * k, 4) for k in range(24)]
    for k, lr in enumerate(values):
        change = {"type": "set_hyper", "momentum": 0.5} if k == 12 else {"type": "set_hyper", "lr": lr}
        app.js("(msg) => paramlab.socket.send(msg)", change)
        app.js("paramlab.socket.send({type: 'step', unit: 'update', count: 1})")
        app.wait(f"paramlab.frame.step >= {k + 1}")
    app.wait("paramlab.markerCount() === 24")
    app.wait("paramlab.charts.lossPlot.markerGroups && paramlab.charts.lossPlot.markerGroups"
             ".reduce((n, g) => n + g.changes.length, 0) === 24")
    app.settle()
    app.shot(f"change-markers-{'presenter' if presenter else 'desk'}", full_page=False)
    plot = app.js("""(() => { const u = paramlab.charts.lossPlot;
        return { labels: u.markerLabels, groups: u.markerGroups.map((g) => ({ x1: g.x1, x2: g.x2, n: g.changes.length })) }; })()""")
    labels, groups = plot["labels"], plot["groups"]
    assert labels, "no change label drawn"
    assert len(groups) >= 2, groups
    assert not overlapping_pairs(labels), f"change labels overlap: {overlapping_pairs(labels)}"
    for r in labels:
        assert r["x"] >= 0 and r["x"] + r["w"] <= r["plotWidth"] + 0.5, f"{r['text']} is cut at a side of the plot"
        assert r["y"] >= 0 and r["y"] + r["h"] <= r["plotHeight"] + 0.5, f"{r['text']} is cut at the top or bottom"
    # Every change is listed with its value, and hovering its marker shows it exactly.
    log = app.js("[...document.querySelectorAll('.changes-log li')].map((li) => li.title)")
    assert len(log) == 24 and any("0.5" in t and "momentum" in t for t in log)
    last = groups[-1]
    over = app.page.locator(".chart-loss .u-over")
    box = over.bounding_box()
    app.page.mouse.move(box["x"] + (last["x1"] + last["x2"]) / 2, box["y"] + box["height"] / 2)
    app.wait("document.querySelector('.chart-loss .u-over').title !== ''")
    title = over.get_attribute("title")
    assert f"lr {values[-2]} → {values[-1]}" in title, title
