"""A big network in the browser: built by typing counts and choosing presets, and drawn
within fixed budgets per animation frame while it trains at full speed.

The frame rate itself is a figure of benchmarks/browser.py (no test asserts on time);
here the work each animation frame does is counted (window.paramlab.stats), and so is
how soon every node map and every edge is drawn again.
"""

from __future__ import annotations

import importlib.util
import math
import re

import pytest
from support.server import ROOT

DEEP = [16] * 8


def load_benchmark():
    spec = importlib.util.spec_from_file_location("benchmark_browser", ROOT / "benchmarks" / "browser.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hidden_on_server(app):
    return app.server.get_json(f"/api/sessions/{app.session_id()}")["config"]["hidden"]


def wait_hidden(app, hidden):
    """Wait for the session the server sent back to have these hidden layers."""
    want = ",".join(map(str, hidden))
    app.wait(f"paramlab.session && paramlab.session.architecture.hidden.join() === '{want}'")


def configures(app):
    return [t for t in app.sent() if t == "configure"]


def type_count(app, layer, text):
    field = app.page.locator(f"#count-{layer}")
    field.fill(text)
    field.press("Enter")


def test_deep_network_built_by_preset_and_typing_reaches_the_server(app):
    app.open()
    max_neurons = app.server.get_json("/api/vocabulary")["limits"]["max_neurons"]
    app.spy_sends()
    # A preset is one configure.
    app.page.get_by_label("Size", exact=True).select_option(label="Wide: 6 layers of 8")
    wait_hidden(app, [8] * 6)
    assert configures(app) == ["configure"]
    assert hidden_on_server(app) == [8] * 6
    # Two more layers, then every count typed: one configure per change, none for an unchanged count.
    for _ in range(2):
        n = app.js("paramlab.session.architecture.hidden.length")
        app.page.get_by_role("button", name="Add layer", exact=True).click()
        app.wait(f"paramlab.session.architecture.hidden.length === {n + 1}")
    assert hidden_on_server(app) == [8] * 8
    app.js("window.__sent.length = 0")   # (spying again would record every message twice)
    for layer in range(8):
        type_count(app, layer, "16")
        wait_hidden(app, [16] * (layer + 1) + [8] * (7 - layer))
        # The keyboard stays in the field the rebuilt heads put back.
        assert app.js("document.activeElement.id") == f"count-{layer}"
    assert configures(app) == ["configure"] * 8
    type_count(app, 7, "16")   # the same count again: nothing to send
    app.settle()
    assert configures(app) == ["configure"] * 8
    assert hidden_on_server(app) == DEEP
    assert app.page.locator(".node:not(.input):not(.output)").count() == 8 * 16
    assert app.page.get_by_label("Size", exact=True).input_value() != ""   # the menu names the preset it matches
    assert app.page.locator("#size-preset option:checked").inner_text() == "Deep: 8 layers of 16"
    # The largest preset comes from the vocabulary's limits.
    limits = app.server.get_json("/api/vocabulary")["limits"]
    assert app.page.locator("#size-preset option", has_text="Largest").inner_text() == (
        f"Largest: {limits['max_layers']} layers of {max_neurons}")


def test_deep_network_training_at_full_speed_draws_within_its_budgets(app):
    app.open("hidden=16,16,16,16,16,16,16,16")
    wait_hidden(app, DEEP)
    # As fast as possible: the speed slider's last stop, by keyboard.
    app.page.locator("#speed").focus()
    app.page.keyboard.press("End")
    app.page.locator("#speed").blur()
    app.wait("paramlab.frame.playing === true")
    budgets = app.js("paramlab.stats.budgets")
    grid_cost, row_cost = app.js("[paramlab.grid.cost, paramlab.grid.rowCost]")
    assert grid_cost > budgets["grid"]   # this network's grid does not fit in one animation frame...
    edges = app.js("paramlab.network.edges.length")
    assert edges == 2 * 16 + 7 * 16 * 16 + 16 and edges > budgets["edges"]   # ... nor do its edges
    app.js("""Object.assign(paramlab.stats, {mapsPaintedMax: 0, edgesDrawnMax: 0, gridCostMax: 0})""")
    start = app.js("({ticks: paramlab.stats.ticks, drawn: paramlab.stats.framesDrawn, sweeps: paramlab.stats.sweeps, "
                   "passes: paramlab.network.passes, step: paramlab.frame.step})")
    sweep_ticks = math.ceil(grid_cost / max(budgets["grid"], row_cost))
    pass_ticks = math.ceil(edges / budgets["edges"])
    app.wait(f"paramlab.stats.ticks >= {start['ticks'] + 3 * max(sweep_ticks, pass_ticks) + 10} "
             f"&& paramlab.stats.framesDrawn >= {start['drawn'] + 20}", timeout=60000)
    stats = app.js("paramlab.stats")
    # Per animation frame: never more than the budgets...
    assert 0 < stats["mapsPaintedMax"] <= budgets["maps"]
    assert 0 < stats["edgesDrawnMax"] <= budgets["edges"]
    assert 0 < stats["gridCostMax"] <= max(budgets["grid"], row_cost)
    # ... and still the pictures follow the training: the grid swept again, the edges drawn whole again.
    assert stats["sweeps"] >= start["sweeps"] + 2
    assert app.js("paramlab.network.passes") >= start["passes"] + 2
    assert app.frame()["step"] > start["step"]
    # Every node map is repainted from the latest sweep within ceil(nodes / budget) animation frames.
    nodes = 8 * 16 + 1
    mark = app.js("({ticks: paramlab.stats.ticks, sweeps: paramlab.grid.sweeps})")
    app.wait(f"paramlab.stats.ticks >= {mark['ticks'] + math.ceil(nodes / budgets['maps'])}")
    stale = app.js(f"""paramlab.network.nodes.slice(1).flat().filter((n) => n.paintedSweep < {mark['sweeps']})
        .map((n) => n.el.dataset.key)""")
    assert stale == []
    # The numbers stay exact: the grid the maps come from is one whole sweep of one set of parameters.
    assert app.js("paramlab.grid.version") <= app.js("paramlab.net.version")
    app.shot("big_network_8x16_training")
    app.pause()
    # Computed a few rows per animation frame, the grid is still the network's: once a sweep has the
    # paused parameters, the output map's values are the server's predictions at the cell centres.
    app.wait("paramlab.grid.version === paramlab.net.version && !paramlab.grid.sweeping")
    n = app.js("paramlab.grid.n")
    cells = [(r, c) for r in (0, n // 3, n - 1) for c in (0, n // 2, n - 1)]
    centres = [[-6 + (c + 0.5) * 12 / n, 6 - (r + 0.5) * 12 / n] for r, c in cells]
    server = app.server.post_json(f"/api/sessions/{app.session_id()}/predict", {"points": centres})["outputs"]
    for (r, c), s in zip(cells, server):
        assert abs(app.js(f"paramlab.heatmapValue(9, 0, {r}, {c})") - s[0]) <= 1e-4
    # Stepping phase by phase: the nodes glow, the edges stay within their budget.
    app.js("Object.assign(paramlab.stats, {edgesDrawnMax: 0, mapsPaintedMax: 0})")
    for _ in range(4):
        app.page.get_by_role("button", name="Next phase", exact=True).click()
        app.wait(f"!!paramlab.frame.phase && paramlab.stats.ticks > {app.js('paramlab.stats.ticks') + pass_ticks}")
    stats = app.js("paramlab.stats")
    assert stats["edgesDrawnMax"] <= budgets["edges"] and stats["mapsPaintedMax"] <= budgets["maps"]
    app.shot("big_network_8x16_phases")


def test_long_task_observer_of_the_benchmark_sees_a_long_task(make_app):
    bench = load_benchmark()
    app = make_app()
    app.context.add_init_script(bench.LONGTASK_INIT)
    app.open()
    assert app.js("window.__longTaskObserver") is True
    before = app.js("window.__longTasks.length")
    # One task of 120 ms on the main thread: the observer the benchmark counts with reports it.
    app.page.evaluate("setTimeout(() => { const t = performance.now(); while (performance.now() - t < 120) {} }, 0)")
    app.wait(f"window.__longTasks.length > {before} && window.__longTasks.some(([, d]) => d >= 100)")


@pytest.mark.parametrize("text, why", [
    ("abc", "not a whole number"),
    ("4.5", "not a whole number"),
    ("-3", "not a whole number"),
    ("1e1", "not a whole number"),
    ("", "Empty"),
    ("0", "out of range"),
    ("MAX+1", "out of range"),
])
def test_a_bad_count_is_refused_next_to_the_field_and_nothing_is_sent(app, text, why):
    app.open()
    max_neurons = app.server.get_json("/api/vocabulary")["limits"]["max_neurons"]
    text = text.replace("MAX+1", str(max_neurons + 1))
    app.spy_sends()
    field = app.page.get_by_label(re.compile(r"^Neurons in layer 1 "))
    assert field.input_value() == "4"
    field.fill(text)
    field.press("Enter")
    error = app.page.locator("#count-0-err")
    assert why in error.inner_text() and f"1 to {max_neurons}" in error.inner_text()
    assert error.get_attribute("role") == "alert"
    assert field.get_attribute("aria-invalid") == "true"
    field.blur()   # leaving the field is a commit too: refused again
    app.settle()
    assert configures(app) == []
    assert hidden_on_server(app) == [4, 2]
    # Escape puts back the current count and clears the message; a good count then goes out once.
    field.focus()
    field.press("Escape")
    assert field.input_value() == "4" and error.inner_text() == ""
    field.fill(" 6 ")
    field.press("Enter")
    wait_hidden(app, [6, 2])
    assert configures(app) == ["configure"]
    assert hidden_on_server(app) == [6, 2]


def test_count_field_arrow_keys_step_within_the_limits_without_sending(app):
    app.open()
    app.spy_sends()
    field = app.page.locator("#count-1")
    field.focus()
    field.press("ArrowDown")
    assert field.input_value() == "1"
    field.press("ArrowDown")
    assert field.input_value() == "1"   # never below one neuron
    for _ in range(3):
        field.press("ArrowUp")
    assert field.input_value() == "4"
    app.settle()
    assert configures(app) == []
    field.press("Enter")
    wait_hidden(app, [4, 4])
    assert configures(app) == ["configure"]


def test_count_fields_lock_while_following(app):
    app.open()
    app.js("paramlab.network.readOnly = true")
    assert app.page.locator("#count-0").is_disabled()
    app.js("paramlab.network.readOnly = false")
    assert not app.page.locator("#count-0").is_disabled()
