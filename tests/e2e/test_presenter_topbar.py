"""The top bar on every screen from 1280 to 1920 px, on a desk and in presenter mode, with and without a lesson.

It stays inside the screen (on a narrower projector it takes a second line instead of running off the right
edge and making the page scroll sideways), none of its controls or their words sits over another, presenter
mode keeps its 16 px type, and the lesson card sits below it. At 1920 px the presenter bar stays one line
whatever speed it shows, so choosing a speed never moves the page under it."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_support import SHOTS

pytestmark = pytest.mark.e2e

SCREENS = {"1280x800": (1280, 800), "1600x900": (1600, 900), "1920x1080": (1920, 1080)}
LESSON = "/?lesson=overfitting&step=1"
LESSON_READY = "window.paramlab && paramlab.stats.framesDrawn >= 1 && paramlab.lesson && paramlab.lesson.step === 0"

# Every part of the top bar a class reads or a teacher presses, as a box in viewport pixels. A part's box
# includes its words where they run out of it (a squeezed box whose text spills over its neighbour); a
# label's own words are a part of their own, apart from the control inside it.
PARTS_JS = """() => {
  const bar = document.querySelector(".topbar");
  const rect = (r) => ({ x: r.left, y: r.top, w: r.width, h: r.height });
  const union = (a, b) => {
    if (!b || b.width === 0) return rect(a);
    const x = Math.min(a.left, b.left), y = Math.min(a.top, b.top);
    return { x, y, w: Math.max(a.right, b.right) - x, h: Math.max(a.bottom, b.bottom) - y };
  };
  const parts = [];
  for (const el of bar.querySelectorAll(".brand, button, select, input, output, a, dt, dd, .room-chip")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const words = document.createRange(); words.selectNodeContents(el);
    const name = el.id || (el.textContent || "").trim() || el.tagName.toLowerCase();
    const size = el.matches("input[type=range]") ? null : parseFloat(getComputedStyle(el).fontSize);   // a slider has no words
    parts.push({ ...union(r, words.getBoundingClientRect()), name, size });
  }
  for (const label of bar.querySelectorAll("label")) {
    for (const t of label.childNodes) {
      if (t.nodeType !== 3 || !t.textContent.trim()) continue;
      const words = document.createRange(); words.selectNodeContents(t);
      parts.push({ ...rect(words.getBoundingClientRect()), name: t.textContent.trim(),
                   size: parseFloat(getComputedStyle(label).fontSize) });
    }
  }
  const b = bar.getBoundingClientRect(), card = document.querySelector("#lesson-card");
  const c = card && !card.hidden ? card.getBoundingClientRect() : null;
  return { parts, bar: rect(b), barScroll: bar.scrollWidth, barClient: bar.clientWidth,
           card: c && c.height > 0 ? rect(c) : null,
           vw: innerWidth, scrollW: document.documentElement.scrollWidth };
}"""


class PageScrollsSideways(AssertionError):
    """The page is wider than the screen, through something other than the top bar."""


def overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def overlapping(parts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["name"], b["name"]) for n, a in enumerate(parts) for b in parts[n + 1:] if overlap(a, b)]


def test_overlapping_names_the_parts_that_share_area_and_not_those_that_only_touch():
    a = {"x": 0, "y": 0, "w": 10, "h": 10, "name": "a"}
    assert overlapping([a, {"x": 9, "y": 9, "w": 5, "h": 5, "name": "b"}]) == [("a", "b")]
    assert overlapping([a, {"x": 10, "y": 0, "w": 5, "h": 5, "name": "c"}, {"x": 0, "y": 10, "w": 5, "h": 5, "name": "d"}]) == []


def open_page(make_app: Any, screen: str, presenter: bool, lesson: bool) -> Any:
    w, h = SCREENS[screen]
    app = make_app(viewport={"width": w, "height": h})
    mode = "&presenter=true" if presenter else ""
    if lesson:
        app.page.goto(f"{app.server.url}{LESSON}#playing=false{mode}")
        app.wait(LESSON_READY)
    else:
        app.open(f"playing=false{mode}")
    assert app.js("document.documentElement.classList.contains('presenter')") is presenter
    app.js("window.scrollTo(0, 0)")
    app.settle()
    return app


CASES = [(screen, presenter, lesson) for screen in SCREENS for presenter in (True, False) for lesson in (False, True)]


def case_id(screen: str, presenter: bool, lesson: bool) -> str:
    return f"{screen}-{'presenter' if presenter else 'desk'}-{'lesson' if lesson else 'no-lesson'}"


def param(screen: str, presenter: bool, lesson: bool) -> Any:
    return pytest.param(screen, presenter, lesson, id=case_id(screen, presenter, lesson))


@pytest.mark.parametrize(("screen", "presenter", "lesson"), [param(*c) for c in CASES])
def test_the_top_bar_fits_the_screen_with_no_control_over_another(make_app, screen, presenter, lesson):
    app = open_page(make_app, screen, presenter, lesson)
    name = case_id(screen, presenter, lesson)
    SHOTS.mkdir(parents=True, exist_ok=True)
    app.page.screenshot(path=str(SHOTS / f"topbar-{name}.png"), clip={"x": 0, "y": 0, "width": SCREENS[screen][0], "height": 160})
    got = app.js(PARTS_JS)
    parts, vw = got["parts"], got["vw"]
    assert len(parts) >= 20, f"{name}: only {len(parts)} parts of the top bar found"
    off = [(p["name"], round(p["x"]), round(p["x"] + p["w"])) for p in parts if p["x"] < 0 or p["x"] + p["w"] > vw]
    assert not off, f"{name}: parts of the top bar off a {vw} px screen: {off}"
    assert got["barScroll"] <= got["barClient"], f"{name}: the top bar's content is {got['barScroll']} px wide"
    assert not overlapping(parts), f"{name}: top-bar parts over one another: {overlapping(parts)}"
    if presenter:
        small = [(p["name"], p["size"]) for p in parts if p["size"] is not None and p["size"] < 16]
        assert not small, f"{name}: type under 16 px in presenter mode: {small}"
    if lesson:
        card, bar = got["card"], got["bar"]
        assert card is not None, f"{name}: the lesson card is shown"
        assert card["y"] >= bar["y"] + bar["h"], f"{name}: the lesson card starts at {card['y']:.0f} px, inside the top bar"
    if got["scrollW"] > vw:
        raise PageScrollsSideways(f"{name}: the page is {got['scrollW']} px wide on a {vw} px screen")


def test_at_1920_the_presenter_bar_is_one_line_whatever_speed_it_shows(make_app):
    app = open_page(make_app, "1920x1080", True, False)
    got = app.js(PARTS_JS)
    rows = {round(p["y"] + p["h"] / 2) for p in got["parts"] if p["name"] in ("play", "presenter", "export-png")}
    assert len(rows) == 1, f"the bar's first and last controls are on different lines: {rows}"
    before = got["bar"]["h"]
    speeds = app.js("paramlab.vocab.choices('speed').map((c) => c.label)")
    slider = app.page.locator("#speed")
    for key in ("End", "Home"):   # the last stop ("as fast as possible") and the first
        slider.focus()
        app.page.keyboard.press(key)
        app.wait("document.querySelector('#speed-out').textContent === "
                 + repr(speeds[-1] if key == "End" else speeds[0]))
        app.settle()
        now = app.js(PARTS_JS)
        assert now["bar"]["h"] == before, f"showing {speeds[-1 if key == 'End' else 0]!r} changed the bar's height"
        assert not overlapping(now["parts"]), overlapping(now["parts"])
        assert now["scrollW"] <= now["vw"]
