"""Frames drawn per second in headless Chromium while the server trains at full speed.

Starts uvicorn on a free port, opens the page in Chromium, sets the speed to
"as fast as possible" and counts, over a measuring window, the new frames the
page drew (one per requestAnimationFrame at most, counted in
window.paramlab.stats.framesDrawn) and the epochs the server trained.
Prints one JSON line per network. Not a test: it prints figures.

    python benchmarks/browser.py [--seconds 10] [--fps 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from e2e_support import CHROMIUM, CHROMIUM_ARGS, page_server

NETWORKS = {
    "default (x1,x2 -> [4,2], tanh, batch 10)": "playing=true",
    "6 features x [8]x6": "features=x1,x2,x1_sq,x2_sq,x1x2,sin_x1&hidden=8,8,8,8,8,8&playing=true",
}


def measure(page, seconds: float, warmup: float) -> dict[str, float]:
    page.evaluate("paramlab.socket.send({type: 'set_speed', updates_per_second: null})")
    time.sleep(warmup)
    start = page.evaluate("""({t: performance.now(), drawn: paramlab.stats.framesDrawn, recv: paramlab.socket.framesReceived,
        ms: paramlab.stats.drawMs, epoch: paramlab.frame.epoch, step: paramlab.frame.step})""")
    # Count the animation frames too, to know what "60 Hz" means here.
    page.evaluate("window.__raf = 0; (function f() { window.__raf++; requestAnimationFrame(f); })()")
    time.sleep(seconds)
    end = page.evaluate("""({t: performance.now(), drawn: paramlab.stats.framesDrawn, recv: paramlab.socket.framesReceived,
        ms: paramlab.stats.drawMs, epoch: paramlab.frame.epoch, step: paramlab.frame.step, raf: window.__raf})""")
    dt = (end["t"] - start["t"]) / 1000
    drawn = end["drawn"] - start["drawn"]
    return {
        "frames_drawn_per_s": round(drawn / dt, 1),
        "frames_received_per_s": round((end["recv"] - start["recv"]) / dt, 1),
        "animation_frames_per_s": round(end["raf"] / dt, 1),
        "draw_ms_mean": round((end["ms"] - start["ms"]) / max(1, drawn), 3),
        "epochs_per_s": round((end["epoch"] - start["epoch"]) / dt, 1),
        "updates_per_s": round((end["step"] - start["step"]) / dt, 1),
        "seconds": round(dt, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    server = page_server().start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, h in NETWORKS.items():
                ctx = browser.new_context(viewport={"width": 1440, "height": 900})
                page = ctx.new_page()
                page.goto(f"{server.url}/#{h}")
                # Not wait_for_function: the page's CSP refuses the eval it uses.
                page.evaluate("""() => new Promise((done, fail) => {
                    const t0 = performance.now();
                    const poll = () => (window.paramlab && paramlab.stats.framesDrawn > 2) ? done()
                        : performance.now() - t0 > 20000 ? fail(new Error("no frames in 20 s"))
                        : requestAnimationFrame(poll);
                    poll();
                })""")
                row = {"network": name, **measure(page, args.seconds, args.warmup)}
                print(json.dumps(row), flush=True)
                ctx.close()
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
