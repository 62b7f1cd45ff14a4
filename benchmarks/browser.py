"""How smoothly the page draws while the server trains at full speed, against a blank page.

Starts uvicorn on a free loopback port and opens headless Chromium. First it counts
the animation frames a blank page gets per second in that browser (the limit: the
reference every share below is of). Then, for each network (the default, 6 features
x [8]x6, 8 x [16] and the largest the vocabulary allows), it opens the page, sets the
speed to "as fast as possible" and over a measuring window prints one JSON line with:

- frames_drawn_share: new frames drawn per second (one per animation frame at most,
  window.paramlab.stats.framesDrawn) over the blank page's animation frames per second;
  animation_frames_share: the page's own animation frames over the blank page's
  (below 1 when the page's work makes the browser skip frames); frames_received_per_s:
  what the server sent (a page cannot draw more frames than it gets);
- long_tasks / long_task_max_ms: main-thread tasks over 50 ms, from a PerformanceObserver
  ('longtask') registered before the page's own scripts run (LONGTASK_INIT);
- draw_ms_per_frame: time the page spent drawing, per frame drawn (stats.drawMs);
- pause_shown_ms: from the click on Pause (the event's time stamp) to the first animation
  frame that shows the button saying Play; pause_confirmed_ms: to the first drawn frame
  from the server that says paused;
- slider_shown_ms: from a learning-rate slider input (an arrow key) to the first animation
  frame showing the new value; slider_frame_ms: to the first drawn frame whose
  hyperparameters carry it;
- hover_ms: from the pointer entering a hidden neuron to the first animation frame with
  the tooltip shown.

Latencies are the median and max of a few trials. Not a test: it prints figures, and on
a shared machine they are noisy (run it more than once).

    python benchmarks/browser.py [--seconds 8] [--warmup 2] [--trials 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from e2e_support import CHROMIUM, CHROMIUM_ARGS, page_server

VIEWPORT = {"width": 1440, "height": 900}
BLANK = "data:text/html,<!doctype html><title>blank</title>"

# Registered before any script of the page runs (page.add_init_script): every main-thread
# task over 50 ms from the start, with when it began (ms since navigation) and how long it took.
LONGTASK_INIT = """
window.__longTasks = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: true });
  window.__longTaskObserver = true;
} catch (e) { window.__longTaskObserver = false; }
"""

# The page's animation frames, counted by the benchmark itself (the same way on any version of the page).
RAF_COUNT_INIT = """
window.__animationFrames = 0;
(function count() { window.__animationFrames++; requestAnimationFrame(count); })();
"""

# Resolves with the time (performance.now()) of the first animation frame at which CHECK
# holds, polled once per animation frame; null after `ms`.
FIRST_FRAME_WHERE = """(ms) => new Promise((resolve) => {
  const end = performance.now() + ms;
  const tick = (now) => { if (CHECK) resolve(performance.now()); else if (now > end) resolve(null); else requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})"""

COUNT_RAF = """(ms) => new Promise((resolve) => {
  let n = 0; const t0 = performance.now();
  const f = (now) => { n++; if (now - t0 < ms) requestAnimationFrame(f); else resolve(n / ((now - t0) / 1000)); };
  requestAnimationFrame(f);
})"""


def networks(base_url: str) -> dict[str, str]:
    """The networks measured, as page links; the largest from the server's vocabulary."""
    with urllib.request.urlopen(f"{base_url}/api/vocabulary", timeout=10) as r:
        vocab = json.load(r)
    limits, features = vocab["limits"], [c["value"] for c in vocab["choices"]["features"]]
    largest = ",".join([str(limits["max_neurons"])] * limits["max_layers"])
    return {
        "default": "",
        "6 features x [8]x6": "features=x1,x2,x1_sq,x2_sq,x1x2,sin_x1&hidden=8,8,8,8,8,8",
        "8 x [16]": "hidden=16,16,16,16,16,16,16,16",
        f"largest: {len(features)} features x [{limits['max_neurons']}]x{limits['max_layers']}":
            f"features={','.join(features)}&hidden={largest}",
    }


def wait(page: Any, check: str, ms: float = 20000) -> float:
    t = page.evaluate(FIRST_FRAME_WHERE.replace("CHECK", check), ms)
    if t is None:
        raise RuntimeError(f"not within {ms} ms: {check}")
    return float(t)


def blank_rate(browser: Any, seconds: float) -> float:
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(BLANK)
    rate = float(page.evaluate(COUNT_RAF, seconds * 1000))
    ctx.close()
    return rate


def counters(page: Any) -> dict[str, Any]:
    return page.evaluate("""({t: performance.now(), drawn: paramlab.stats.framesDrawn, ticks: window.__animationFrames,
        recv: paramlab.socket.framesReceived, ms: paramlab.stats.drawMs, epoch: paramlab.frame.epoch,
        long: window.__longTasks.slice()})""")


def throughput(page: Any, seconds: float, warmup: float, blank: float) -> dict[str, Any]:
    page.evaluate("paramlab.socket.send({type: 'set_speed', updates_per_second: null})")
    time.sleep(warmup)
    a = counters(page)
    time.sleep(seconds)
    b = counters(page)
    dt = (b["t"] - a["t"]) / 1000
    drawn = b["drawn"] - a["drawn"]
    long = [d for (start, d) in b["long"] if a["t"] <= start <= b["t"]]
    return {
        "frames_drawn_per_s": round(drawn / dt, 1),
        "frames_drawn_share": round(drawn / dt / blank, 3),
        "animation_frames_share": round((b["ticks"] - a["ticks"]) / dt / blank, 3),
        "frames_received_per_s": round((b["recv"] - a["recv"]) / dt, 1),
        "long_tasks": len(long),
        "long_task_max_ms": round(max(long, default=0.0), 1),
        "draw_ms_per_frame": round((b["ms"] - a["ms"]) / max(1, drawn), 2),
        "epochs_per_s": round((b["epoch"] - a["epoch"]) / dt, 1),
        "seconds": round(dt, 2),
    }


def pause_latency(page: Any) -> tuple[float, float]:
    """Click Pause; ms to the button showing Play, and to a drawn frame saying paused. Plays again after."""
    page.evaluate("""window.__clickAt = null; document.getElementById("play").addEventListener("click",
        (ev) => { window.__clickAt = ev.timeStamp; }, { capture: true, once: true })""")
    page.locator("#play").click()
    shown = wait(page, 'document.querySelector("#play .label").textContent === "Play"', 5000)
    confirmed = wait(page, "paramlab.frame.playing === false", 10000)
    t0 = page.evaluate("window.__clickAt")
    page.locator("#play").click()
    wait(page, "paramlab.frame.playing === true", 10000)
    page.evaluate("paramlab.socket.send({type: 'set_speed', updates_per_second: null})")
    return shown - t0, confirmed - t0


def slider_latency(page: Any, step: int) -> tuple[float, float]:
    """One arrow key on the learning-rate slider; ms to its value shown, and to a drawn frame carrying it."""
    page.evaluate("""window.__inputAt = null; document.getElementById("lr").addEventListener("input",
        (ev) => { window.__inputAt = ev.timeStamp; window.__lrShown = document.getElementById("lr-out").textContent; },
        { capture: true, once: true })""")
    before = page.evaluate('document.getElementById("lr-out").textContent')
    page.locator("#lr").focus()
    page.keyboard.press("ArrowLeft" if step % 2 else "ArrowRight")
    shown = wait(page, f'document.getElementById("lr-out").textContent !== {json.dumps(before)}', 5000)
    want = page.evaluate('Number((10 ** Number(document.getElementById("lr").value)).toPrecision(2))')
    frame = wait(page, f"paramlab.frame.hyper && paramlab.frame.hyper.lr === {want}", 10000)
    t0 = page.evaluate("window.__inputAt")
    page.locator("#lr").blur()
    return shown - t0, frame - t0


def hover_latency(page: Any, trial: int) -> float:
    """The pointer onto a hidden neuron; ms to the tooltip shown. Moves away after."""
    page.mouse.move(5, 5)
    wait(page, 'document.getElementById("tooltip").hidden', 5000)
    box = page.locator(".node:not(.input):not(.output)").nth(trial).bounding_box()
    page.evaluate("""window.__hoverAt = null; document.querySelector(".net-nodes").addEventListener("pointerover",
        (ev) => { window.__hoverAt = ev.timeStamp; }, { capture: true, once: true })""")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    shown = wait(page, '!document.getElementById("tooltip").hidden', 5000)
    t0 = page.evaluate("window.__hoverAt")
    page.mouse.move(5, 5)
    return shown - t0


def spread(xs: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(xs), 1), "max": round(max(xs), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--only", help="measure only the networks whose name contains this")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    server = page_server().start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            blank = blank_rate(browser, args.seconds)
            print(json.dumps({"reference": "blank page", "animation_frames_per_s": round(blank, 1)}), flush=True)
            for name, link in networks(server.url).items():
                if args.only and args.only not in name:
                    continue
                ctx = browser.new_context(viewport=VIEWPORT)
                ctx.add_init_script(LONGTASK_INIT)
                ctx.add_init_script(RAF_COUNT_INIT)
                page = ctx.new_page()
                page.goto(f"{server.url}/#{link}{'&' if link else ''}playing=true")
                wait(page, "window.paramlab && paramlab.stats.framesDrawn > 2", 30000)
                row: dict[str, Any] = {"network": name, "blank_animation_frames_per_s": round(blank, 1),
                                       "long_task_observer": page.evaluate("window.__longTaskObserver")}
                row.update(throughput(page, args.seconds, args.warmup, blank))
                pauses = [pause_latency(page) for _ in range(args.trials)]
                sliders = [slider_latency(page, t) for t in range(args.trials)]
                hovers = [hover_latency(page, t) for t in range(args.trials)]
                row["pause_shown_ms"] = spread([p[0] for p in pauses])
                row["pause_confirmed_ms"] = spread([p[1] for p in pauses])
                row["slider_shown_ms"] = spread([s[0] for s in sliders])
                row["slider_frame_ms"] = spread([s[1] for s in sliders])
                row["hover_ms"] = spread(hovers)
                row["long_tasks_total"] = page.evaluate("window.__longTasks.length")   # page load and trials too
                print(json.dumps(row), flush=True)
                # Paused before the page goes, so its session does not train on while the next network is measured.
                page.evaluate("paramlab.socket.send({type: 'pause'})")
                wait(page, "paramlab.frame.playing === false", 10000)
                ctx.close()
            print(json.dumps({"reference": "blank page, again at the end",
                              "animation_frames_per_s": round(blank_rate(browser, args.seconds), 1)}), flush=True)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
