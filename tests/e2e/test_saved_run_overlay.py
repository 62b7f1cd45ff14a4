"""A saved run overlaid on the loss chart in a real Chromium: its link pasted in the compare card, its
epoch rows drawn (dashed, labelled with its name as text), a bad id refused before anything is sent,
Remove taking it off."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

NAME = "<b>wide</b> & lr 0.3"   # markup in a name must show as text


def api(app: Any, method: str, path: str, body: dict | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{app.server.url}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def saved_run(app: Any) -> tuple[str, dict]:
    """A run trained 5 epochs with a validation split and saved; its id and its epoch rows at the save."""
    sid = api(app, "POST", "/api/sessions", {"config": {"val_ratio": 20}, "hyper": {"lr": 0.3}})["session_id"]
    api(app, "POST", f"/api/sessions/{sid}/step", {"unit": "epoch", "count": 5})
    epochs = api(app, "GET", f"/api/sessions/{sid}/history")["epochs"]
    run_id = api(app, "POST", f"/api/sessions/{sid}/save", {"name": NAME})["run_id"]
    return run_id, epochs


CURVES_JS = """(() => { const u = paramlab.charts.lossPlot;
  const i = u.series.findIndex(s => s.label === NAME + ' (saved): training loss');
  const j = u.series.findIndex(s => s.label === NAME + ' (saved): validation loss');
  if (i < 0 || j < 0) return null;
  const pts = (k) => u.data[0].map((x, r) => [x, u.data[k][r]]).filter(p => p[1] !== null && p[1] !== undefined);
  return {train: pts(i), held: pts(j), shown: u.series[i].show && u.series[j].show, dash: u.series[i].dash,
          legend: u.root.querySelectorAll('.u-legend .u-series')[i].querySelector('.u-label').textContent,
          markup: u.root.querySelectorAll('.u-legend b').length}; })()""".replace("NAME", json.dumps(NAME))


def flush(app: Any) -> None:
    app.js("paramlab.charts.dirty = true; paramlab.charts.lastFlush = -1e9")


def test_a_saved_run_link_draws_its_history_on_the_loss_chart_and_remove_takes_it_off(app):
    run_id, epochs = saved_run(app)
    assert len(epochs["step"]) == 5
    app.open("playing=false", frames=1)
    asked: list[str] = []
    app.page.on("request", lambda r: asked.append(r.url) if "/api/runs/" in r.url else None)
    card = app.page.locator("#lab-compare")
    field = card.get_by_role("textbox", name="Saved run's link or id")

    # A bad id is refused with what is allowed, and nothing is fetched.
    field.fill("not a run!")
    card.get_by_role("button", name="Overlay").click()
    err = card.locator("#ovl-err")
    assert "is not a run id" in err.inner_text() and "letters, digits, - or _" in err.inner_text()
    assert field.get_attribute("aria-invalid") == "true"
    field.fill(f"{app.server.url}/?dataset=xor")
    card.get_by_role("button", name="Overlay").click()
    assert "has no ?run=" in err.inner_text()
    app.settle()
    assert asked == [] and app.js("paramlab.charts.overlay") is None

    # The run's link: its training and validation losses on the chart, at its steps, exactly.
    field.fill(f"{app.server.url}/?run={run_id}")
    card.get_by_role("button", name="Overlay").click()
    app.wait("paramlab.charts.overlay !== null")
    assert err.inner_text() == "" and field.get_attribute("aria-invalid") is None
    assert {u.split("/api/runs/")[1] for u in asked} == {run_id, f"{run_id}/history"}
    flush(app)
    app.wait(f"{CURVES_JS}?.shown")
    curves = app.js(CURVES_JS)
    assert curves["train"] == [list(p) for p in zip(epochs["step"], epochs["train_loss"], strict=True)]
    assert curves["held"] == [list(p) for p in zip(epochs["step"], epochs["val_loss"], strict=True)]
    assert curves["dash"], "the saved run is dashed"
    assert curves["legend"] == f"{NAME} (saved): training loss" and curves["markup"] == 0
    assert NAME in card.locator("#ovl-status").inner_text()
    # Hovering shows the exact value in the legend.
    idx = app.js(f"paramlab.charts.lossPlot.data[0].indexOf({epochs['step'][2]})")
    app.js(f"(() => {{ const u = paramlab.charts.lossPlot; u.setCursor({{left: u.valToPos(u.data[0][{idx}], 'x'), top: 10}}); }})()")
    shown = app.js("""(() => { const u = paramlab.charts.lossPlot;
      const i = u.series.findIndex(s => s.label.endsWith('(saved): training loss'));
      return u.root.querySelectorAll('.u-legend .u-series')[i].querySelector('.u-value').textContent; })()""")
    assert shown == str(epochs["train_loss"][2]) or float(shown) == epochs["train_loss"][2]
    app.shot("saved_run_overlay")

    # Remove takes it off the chart and the legend.
    card.get_by_role("button", name="Remove").click()
    assert app.js("paramlab.charts.overlay") is None
    flush(app)
    app.wait("!paramlab.charts.lossPlot.series.some(s => s.label.endsWith('(saved): training loss'))")
    assert not card.get_by_role("button", name="Remove").is_visible()


def test_a_bare_run_id_is_taken_too(app):
    run_id, epochs = saved_run(app)
    app.open("playing=false", frames=1)
    card = app.page.locator("#lab-compare")
    card.get_by_role("textbox", name="Saved run's link or id").fill(f"  {run_id} ")
    card.get_by_role("button", name="Overlay").click()
    app.wait("paramlab.charts.overlay !== null")
    assert app.js("paramlab.charts.overlay.step") == epochs["step"]
    assert app.js("paramlab.charts.overlay.train") == epochs["train_loss"]
