"""Run comparison in a real Chromium: a second session with one hyperparameter changed, driven with the first,
its curves on the same chart, closed with its socket."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.e2e


def server_session(app, session_id: str) -> dict:
    with urllib.request.urlopen(f"{app.server.url}/api/sessions/{session_id}", timeout=10) as r:
        return json.load(r)


def test_a_compared_run_is_a_second_session_with_the_changed_value_and_its_curve_on_the_chart(app):
    app.open("playing=false&dataset=circle&val_ratio=20&lr=0.03", frames=1)
    main_id = app.session_id()
    main_w = app.js("paramlab.frame.layers.map(L => L.W.map(r => Array.from(r)))")
    card = app.page.locator("#lab-compare")
    card.get_by_label("Hyperparameter to change").select_option("lr")
    card.get_by_role("textbox", name="Changed to").fill("0.3")
    card.get_by_role("button", name="Start comparison").click()
    app.wait("paramlab.compare.session && paramlab.compare.lastFrame")
    other_id = app.js("paramlab.compare.session.session_id")
    assert other_id and other_id != main_id
    # The page's own session is still its own (the second socket stores nothing).
    assert app.js("sessionStorage.getItem('paramlab.session_id')") == main_id
    assert app.js("paramlab.socket.sessionId") == main_id
    other = server_session(app, other_id)
    mine = server_session(app, main_id)
    assert other["hyper"]["lr"] == 0.3 and mine["hyper"]["lr"] == 0.03
    assert {k: v for k, v in other["hyper"].items() if k != "lr"} == {k: v for k, v in mine["hyper"].items() if k != "lr"}
    assert other["config"] == mine["config"]
    # The same seed: the same initial weights as the page's own run.
    other_w = app.js("paramlab.compare.lastFrame.layers.map(L => L.W.map(r => Array.from(r)))")
    assert other_w == main_w
    # Play drives both; Pause stops both.
    app.page.get_by_role("button", name="Play").click()
    app.wait("paramlab.frame.step > 100 && paramlab.compare.lastFrame.step > 100", timeout=30000)
    app.page.get_by_role("button", name="Pause").click()
    app.wait("paramlab.frame.playing === false && paramlab.compare.lastFrame.playing === false")
    assert server_session(app, other_id)["playing"] is False
    # Its curves on the loss chart, labelled with the changed value, its last point the run's own.
    app.js("paramlab.charts.dirty = true; paramlab.charts.lastFlush = -1e9")
    app.wait("paramlab.charts.lossPlot.series.some(s => s.label === 'learning rate 0.3: training loss' && s.show)")
    curve_js = """(() => { const u = paramlab.charts.lossPlot;
      const i = u.series.findIndex(s => s.label === 'learning rate 0.3: training loss');
      const j = u.series.findIndex(s => s.label === 'learning rate 0.3: validation loss');
      const pts = u.data[0].map((x, k) => [x, u.data[i][k]]).filter(p => p[1] !== null && p[1] !== undefined);
      return {pts, held: u.data[j].filter(v => v !== null && v !== undefined).length, dash: u.series[i].dash}; })()"""
    # Paused: the compared run's last frame is final; the chart shows it within a flush.
    app.wait(f"{curve_js}.pts.at(-1)[0] === paramlab.compare.lastFrame.step")
    curve = app.js(curve_js)
    last = app.js("paramlab.compare.lastFrame")
    assert curve["pts"][-1] == [last["step"], last["metrics"]["train_loss"]]
    assert len(curve["pts"]) >= 3 and curve["held"] >= 3
    assert curve["dash"], "the compared run is dashed"
    app.shot("compare_runs")
    # Stepping drives both too.
    before = (app.js("paramlab.frame.step"), app.js("paramlab.compare.lastFrame.step"))
    app.page.get_by_role("button", name="Step", exact=True).click()
    app.wait(f"paramlab.frame.step > {before[0]} && paramlab.compare.lastFrame.step > {before[1]}")
    # Closing ends the comparison: the socket closed, the curves gone.
    card.get_by_role("button", name="Close comparison").click()
    assert app.js("paramlab.compare.socket") is None
    app.js("paramlab.charts.dirty = true; paramlab.charts.lastFlush = -1e9")
    app.wait("!paramlab.charts.lossPlot.series.some(s => s.label.startsWith('learning rate 0.3') )")
    assert app.js("paramlab.socket.connected") is True


def test_a_compared_value_out_of_range_is_refused_with_what_is_allowed(app):
    app.open("playing=false", frames=1)
    card = app.page.locator("#lab-compare")
    card.get_by_label("Hyperparameter to change").select_option("batch_size")
    card.get_by_role("textbox", name="Changed to").fill("2.5")
    card.get_by_role("button", name="Start comparison").click()
    assert "whole" in card.locator("#cmp-err").inner_text()
    card.get_by_role("textbox", name="Changed to").fill("ten")
    card.get_by_role("button", name="Start comparison").click()
    assert "not a number" in card.locator("#cmp-err").inner_text()
    assert app.js("paramlab.compare.socket") is None
