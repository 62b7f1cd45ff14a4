"""The page's names and ranges are the server's: built from GET /api/vocabulary, written nowhere else.

The template holds no option list of the server's names and no slider bound;
in the browser every menu, dataset button, feature and slider shows exactly
what the vocabulary says, each optimizer shows the sliders of the
hyperparameters the vocabulary says it reads, a page starts from the
vocabulary's defaults, and the features can be chosen on the datasets it puts
on the plane. And one module speaks each transport: http.js HTTP, socket.js
the websocket.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Each menu of the page (element id) and the vocabulary's list it offers.
MENUS = {"step-unit": "step_unit", "optimizer": "optimizer", "activation": "activation",
         "regularization": "regularization", "reg_rate": "regularization_rate", "task": "task", "init": "init"}
SLIDERS = ["speed", "lr", "momentum", "beta1", "beta2", "rho", "batch_size", "dropout", "train_ratio", "noise", "seed"]


def test_the_template_lists_no_names_and_no_slider_bounds():
    html = (ROOT / "templates" / "index.html").read_text()
    for select in re.finditer(r'<select id="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        if select.group(1) in MENUS:
            assert "<option" not in select.group(2), f"#{select.group(1)} lists its options in the template"
    for tag in re.findall(r'<input[^>]*type="(?:range|number)"[^>]*>', html):
        assert not re.search(r"\s(min|max|step|value)=", tag), f"a slider's bounds in the template: {tag}"
    # Every menu is one of those, or the classroom's: the hyperparameters a teacher may push, and its value.
    assert sorted(re.findall(r'<select id="([^"]+)"', html)) == sorted([*MENUS, "push-field", "push-choice"])
    assert all(f'id="{s}"' in html for s in SLIDERS)


def test_one_module_speaks_http_and_one_the_websocket():
    sources = {p.relative_to(ROOT / "static" / "js").as_posix(): p.read_text() for p in (ROOT / "static" / "js").rglob("*.js")}
    assert len(sources) > 20
    fetching = sorted(name for name, text in sources.items() if re.search(r"\bfetch\(|XMLHttpRequest|sendBeacon", text))
    assert fetching == ["http.js"]
    sockets = sorted(name for name, text in sources.items() if re.search(r"new WebSocket\b|EventSource", text))
    assert sockets == ["socket.js"]


def test_menus_buttons_and_sliders_show_the_vocabulary(app):
    vocab = app.server.get_json("/api/vocabulary")
    app.open("playing=false", frames=1)
    page = app.page
    for menu, key in MENUS.items():
        options = page.locator(f"#{menu} option").evaluate_all("os => os.map(o => [o.value, o.textContent])")
        assert options == [[str(c["value"]), c["label"]] for c in vocab["choices"][key]], menu
    buttons = page.locator("#datasets button").evaluate_all("bs => bs.map(b => [b.dataset.name, b.textContent])")
    assert buttons == [[c["value"], c["label"]] for c in vocab["choices"]["dataset"]] + [["csv", vocab["uploaded_dataset"]["label"]]]
    features = page.locator("#features label").evaluate_all("ls => ls.map(l => [l.querySelector('input').value, l.textContent.trim()])")
    assert features == [[c["value"], c["label"]] for c in vocab["choices"]["features"]]
    for slider in SLIDERS:
        r = vocab["ranges"][slider]
        got = page.locator(f"#{slider}").evaluate("e => [Number(e.min), Number(e.max), Number(e.step)]")
        want = [r["min"], got[1] if slider == "batch_size" else r["max"], r["step"]]
        assert got == want, slider
    # The batch size slider ends at the training set's size (500 points, half for training), within the server's bound.
    assert page.locator("#batch_size").evaluate("e => Number(e.max)") == min(250, vocab["bounds"]["batch_size"]["max"])
    # The speed shown is the vocabulary's label of the session's speed.
    speeds = vocab["choices"]["speed"]
    index = int(page.locator("#speed").input_value())
    assert page.locator("#speed-out").inner_text() == speeds[index]["label"]


def test_a_hash_value_outside_the_vocabulary_falls_back_to_the_default(app):
    app.open("optimizer=lbfgs&activation=relu&lr=11&momentum=0.5&playing=false")
    config, hyper = app.js("paramlab.session.config"), app.js("paramlab.session.hyper")
    assert hyper["optimizer"] == "momentum" and hyper["lr"] == 0.03, "unknown name and out-of-bounds rate ignored"
    assert config["activation"] == "relu" and hyper["momentum"] == 0.5, "the valid ones kept"


def _visible_sliders(page) -> set[str]:
    """The ids of the hyperparameter sliders shown in the hyperparameter bar."""
    return set(page.locator(".hyperbar input[type=range]").evaluate_all(
        "es => es.filter(e => e.checkVisibility()).map(e => e.id)"))


def test_switching_the_optimizer_shows_exactly_the_sliders_it_reads(make_app):
    app = make_app({"width": 1280, "height": 800})
    vocab = app.server.get_json("/api/vocabulary")
    reads = {name: set(fields) for name, fields in vocab["optimizer_hyper"].items()}
    app.open("playing=false", frames=1)
    page = app.page
    coming_and_going = set().union(*reads.values())
    always = _visible_sliders(page) - coming_and_going
    assert always >= {"batch_size", "dropout"}
    names = [c["value"] for c in vocab["choices"]["optimizer"]]
    for name in [*names[1:], names[0], *names]:   # each one after another, and back
        page.locator("#optimizer").select_option(name)
        assert _visible_sliders(page) == always | reads[name], name
        app.wait(f"paramlab.frame && paramlab.frame.hyper.optimizer === {name!r}")
        app.settle()
        assert _visible_sliders(page) == always | reads[name], f"{name}, after the server's frame"
        app.shot(f"optimizer-{name}", full_page=False)
        # A weight's tooltip names the momentum of the last update when the optimizer read it.
        tooltip = app.js("""async () => {
          const src = document.querySelector('script[type=module]').src.replace(/main\\.js$/, "views/inspect.js");
          const { paramView } = await import(src);
          return paramView(paramlab.network.ctxInfo, paramlab.frame, null, 0, "W", 0, 0).textContent;
        }""")
        assert (", μ " in tooltip) == ("momentum" in reads[name]), tooltip
    assert any(reads[a] != reads[b] for a in reads for b in reads), "the optimizers differ in what they read"


def test_the_page_starts_from_the_vocabularys_defaults_and_shows_what_it_says_an_optimizer_reads(app):
    vocab = app.server.get_json("/api/vocabulary")
    # Another vocabulary than the server's: the page follows it, so it holds no copy of its own.
    vocab["defaults"]["hyper"] = {**vocab["defaults"]["hyper"], "optimizer": "adam", "lr": 0.1, "batch_size": 7}
    vocab["defaults"]["config"] = {**vocab["defaults"]["config"], "hidden": [3], "activation": "relu", "seed": 5}
    vocab["optimizer_hyper"]["sgd"] = ["lr", "rho"]
    app.page.route("**/api/vocabulary", lambda route: route.fulfill(json=vocab))
    app.open("playing=false", frames=1)
    config, hyper = app.js("paramlab.session.config"), app.js("paramlab.session.hyper")
    assert (hyper["optimizer"], hyper["lr"], hyper["batch_size"]) == ("adam", 0.1, 7)
    assert (config["hidden"], config["activation"], config["seed"]) == ([3], "relu", 5)
    assert app.page.locator("#optimizer").input_value() == "adam"
    assert {"beta1", "beta2"} <= _visible_sliders(app.page)
    app.page.locator("#optimizer").select_option("sgd")
    shown = _visible_sliders(app.page)
    assert "rho" in shown and not shown & {"momentum", "beta1", "beta2"}


def test_the_features_are_chosen_on_the_plane_and_fixed_elsewhere(app):
    vocab = app.server.get_json("/api/vocabulary")
    datasets = [c["value"] for c in vocab["choices"]["dataset"]]
    off_plane = [d for d in datasets if d not in vocab["plane_datasets"]]
    assert off_plane and vocab["plane_datasets"]
    app.open("playing=false", frames=1)
    for name in [off_plane[0], vocab["plane_datasets"][-1]]:
        app.page.locator(f'#datasets button[data-name="{name}"]').click()
        app.wait(f"paramlab.session && paramlab.session.config.dataset === {name!r}")
        disabled = app.page.locator("#features input").evaluate_all("is => is.map(i => i.disabled)")
        assert disabled and set(disabled) == {name not in vocab["plane_datasets"]}, name
