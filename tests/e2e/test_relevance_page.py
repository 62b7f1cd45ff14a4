"""Feature relevance, honestly drawn, in a real Chromium: on the mammal-or-fish data the input
that never varies ("vertebrate") is drawn as carrying no signal and measures no importance,
"has gills" measures the most; tabular columns switch on and off; the 2-D feature panel shows
only for data on the plane.
"""

from __future__ import annotations

import json

import pytest
from e2e_support import SHOTS
from test_quant_lab import blocking_violations

pytestmark = pytest.mark.e2e

MAMMALS = "dataset=mammals&hidden=4&lr=0.1"


def test_the_constant_input_is_drawn_as_no_signal_and_measures_no_importance(app):
    app.open(MAMMALS, frames=3)
    app.wait("paramlab.dataset && Array.isArray(paramlab.dataset.constant_inputs)")
    names = app.js("paramlab.dataset.features")
    flags = app.js("paramlab.dataset.constant_inputs")
    vertebrate, gills = names.index("vertebrate"), names.index("has_gills")
    assert flags[vertebrate] is True and flags[gills] is False
    assert [n for n, f in zip(names, flags, strict=True) if f] == ["vertebrate"]
    app.wait("paramlab.frame.epoch >= 20", timeout=30000)
    app.pause()
    app.settle()
    # Without L1 its weights keep their random start (never 0), yet every edge of it is drawn as no-signal.
    W0 = app.frame()["layers"][0]["W"]
    assert all(w != 0 for w in W0[vertebrate])
    hidden = len(W0[0])
    keys = set(app.js("[...paramlab.network.painter.noSignalKeys]"))
    assert keys == {f"e:0:{vertebrate}:{j}" for j in range(hidden)}
    assert app.js(f"document.querySelector('.node[data-key=\"n:0:{vertebrate}\"]').classList.contains('no-signal')") is True
    app.page.locator(f'path.hit[data-key="e:0:{vertebrate}:0"]').focus()
    app.wait("!document.querySelector('#tooltip').hidden && document.querySelector('#tooltip').textContent.includes('its gradient is always exactly 0')")
    app.page.locator(f'path.hit[data-key="e:0:{gills}:0"]').focus()
    app.wait("!document.querySelector('#tooltip').hidden && !document.querySelector('#tooltip').textContent.includes('Never varies')")
    # The relevance card: weight sizes live from the first layer's W, the constant input flagged.
    card = app.page.locator("#rel-card")
    assert card.is_visible()
    assert card.locator('.rel-row[data-name="vertebrate"] .rel-flag').inner_text() == "never varies"
    assert card.locator('.rel-row[data-name="has_gills"] .rel-flag').count() == 0
    norm = float(card.locator('.rel-row[data-name="has_gills"] .rel-cell').first.locator(".num").get_attribute("title"))
    assert norm == pytest.approx(sum(w * w for w in W0[gills]) ** 0.5, rel=1e-6)   # float32 rows in binary frames
    # Measure: the server's permutation importance, drawn per input.
    card.get_by_role("button", name="Measure").click()
    app.wait("paramlab.quantLab.relevance.measured !== null", timeout=30000)
    measured = app.js("paramlab.quantLab.relevance.measured")
    by_name = {r["name"]: r for r in measured["inputs"]}
    assert by_name["vertebrate"]["importance"] == 0 and by_name["vertebrate"]["constant"] is True
    assert max(by_name, key=lambda n: by_name[n]["importance"]) == "has_gills"
    shown = app.js("""Object.fromEntries([...document.querySelectorAll('#rel-card .rel-row[data-name]')].map(r =>
        [r.dataset.name, Number(r.querySelectorAll('.rel-cell')[1].dataset.importance)]))""")
    assert shown == {n: r["importance"] for n, r in by_name.items()}
    assert max(shown, key=shown.get) == "has_gills" and shown["vertebrate"] == 0
    app.shot("relevance_mammals")
    assert blocking_violations(app, "#lab-quant") == []
    assert blocking_violations(app, ".col-data") == []
    assert blocking_violations(app, "#network") == []   # the greyed input's name stays readable
    SHOTS.mkdir(parents=True, exist_ok=True)
    card.screenshot(path=str(SHOTS / "relevance_card.png"))
    app.page.locator("#network").screenshot(path=str(SHOTS / "relevance_network_no_signal.png"))


def test_a_column_switched_off_leaves_the_network_one_input_less(app):
    app.open(MAMMALS + "&playing=false", frames=1)
    app.wait("paramlab.dataset && Array.isArray(paramlab.dataset.columns)")
    columns = app.js("paramlab.dataset.columns")
    n = app.js("paramlab.session.architecture.n_inputs")
    assert n == len(columns) and app.js("paramlab.network.ctxInfo.sizes[0]") == n
    boxes = app.page.locator("#columns input[type=checkbox]")
    assert boxes.count() == len(columns) and all(boxes.nth(i).is_checked() for i in range(len(columns)))
    app.page.locator("#columns").get_by_label("noise_2", exact=True).uncheck()
    app.wait(f"paramlab.session.architecture.n_inputs === {n - 1} && paramlab.network.ctxInfo.sizes[0] === {n - 1}")
    assert app.js("paramlab.session.config.columns") == [c for c in columns if c != "noise_2"]
    assert "noise_2" not in app.js("paramlab.dataset.features")
    assert app.js("document.querySelectorAll('.node.input').length") == n - 1
    # The switch stays off, every column is still offered, and the hash carries the choice.
    app.wait("!document.querySelector('#columns input[value=noise_2]').checked")
    assert app.page.locator("#columns input[type=checkbox]").count() == len(columns)
    app.wait("location.hash.includes('columns=')")
    # Switched on again: all the columns, said as null (every column).
    app.page.locator("#columns").get_by_label("noise_2", exact=True).check()
    app.wait(f"paramlab.session.architecture.n_inputs === {n} && paramlab.session.config.columns === null")


def test_the_2d_feature_panel_shows_only_for_data_on_the_plane(app):
    app.open("dataset=mammals&playing=false", frames=1)
    assert app.page.locator("#features").is_hidden()
    assert app.page.locator("#h-features").is_hidden()
    assert app.page.locator("#columns").is_visible()
    assert app.page.locator("#rel-card").is_visible()
    app.page.locator('#datasets button[data-name="circle"]').click()
    app.wait("paramlab.session.config.dataset === 'circle' && paramlab.dataset.plane === true")
    app.wait("!document.querySelector('#features').hidden")
    assert app.page.locator("#features").is_visible()
    assert app.page.locator("#columns").is_hidden()
    assert app.page.locator("#rel-card").is_hidden()
    assert app.js("paramlab.network.painter.noSignalKeys.size") == 0


def test_hostile_csv_columns_switch_off_as_text_and_a_link_reopens_the_choice(make_app, tmp_path):
    from test_hostile_names import HEADERS, assert_harmless, spy, upload, write_hostile_csv
    app = spy(make_app()).open("playing=false", frames=1)
    upload(app, write_hostile_csv(tmp_path / "animals.csv"))
    app.wait("/dataset=csv-[0-9a-f]{12}/.test(location.hash) && paramlab.dataset && paramlab.dataset.plane === false")
    app.wait(f"document.querySelectorAll('#columns input').length === {len(HEADERS)}")
    shown = app.js("[...document.querySelectorAll('#columns label')].map(l => l.textContent.trim())")
    assert shown == HEADERS   # each header as the characters it is
    # Switch off the one with a comma-free payload and an attribute quote in it.
    off = HEADERS[2]
    app.page.locator("#columns input").nth(2).uncheck()
    kept = [c for c in HEADERS if c != off]
    want = json.dumps(json.dumps(kept, separators=(",", ":")))   # as JSON.stringify writes it, quoted for JS
    app.wait(f"JSON.stringify(paramlab.session.config.columns) === {want}")
    assert app.js("paramlab.session.architecture.n_inputs") == len(HEADERS) - 1
    app.wait("location.hash.includes('columns=')")
    link = app.js("location.hash").lstrip("#")
    # The relevance card lists the network's inputs by their names, as text.
    app.wait(f"document.querySelectorAll('#rel-card .rel-row[data-name]').length === {len(kept)}")
    names = app.js("[...document.querySelectorAll('#rel-card .rel-name')].map(e => e.firstChild.textContent)")
    assert names == kept
    assert_harmless(app, "columns and relevance of a hostile CSV")
    # The link in another browser: the same columns, the switch of the one left out off.
    other = spy(make_app()).open(link + "&playing=false", frames=1)
    other.wait(f"paramlab.session && JSON.stringify(paramlab.session.config.columns) === {want}")
    other.wait(f"document.querySelectorAll('#columns input').length >= {len(kept)}")
    checked = other.js("[...document.querySelectorAll('#columns input')].map(i => [i.value, i.checked])")
    assert all(c for v, c in checked if v in kept) and not any(c for v, c in checked if v == off)
    assert_harmless(other, "a link with a hostile CSV's columns")


def test_with_l1_the_no_signal_weights_decay_to_zero_and_disappear(app):
    app.open("dataset=mammals&hidden=4&regularization=l1&reg_rate=0.01&lr=0.1&playing=false", frames=1)
    app.wait("paramlab.dataset && Array.isArray(paramlab.dataset.constant_inputs) && paramlab.frame")
    vertebrate = app.js("paramlab.dataset.features.indexOf('vertebrate')")
    edges = {f"e:0:{vertebrate}:{j}" for j in range(4)}
    # At the start: random weights, drawn grey and dotted, as wide as they are.
    app.settle()
    assert set(app.js("[...paramlab.network.painter.noSignalKeys]")) == edges
    start = app.js(f"paramlab.quantLab.relevance.norms[{vertebrate}]")
    assert start > 0
    app.page.get_by_role("button", name="Play").click()
    app.wait(f"paramlab.frame.layers[0].W[{vertebrate}].every(w => w === 0)", timeout=30000)
    app.pause()
    app.settle()
    # At exactly 0 they connect nothing: absent, no longer drawn at all; the weight size says 0.
    assert edges <= set(app.js("[...paramlab.network.painter.zeroKeys]"))
    assert not edges & set(app.js("[...paramlab.network.painter.noSignalKeys]"))
    assert app.js(f"paramlab.quantLab.relevance.norms[{vertebrate}]") == 0
    num = app.page.locator('#rel-card .rel-row[data-name="vertebrate"] .rel-cell').first.locator(".num")
    assert num.inner_text() == "0" and num.get_attribute("title") == "0"


def test_a_link_with_columns_the_data_does_not_have_still_opens(app):
    app.open("dataset=circle&columns=has_gills&playing=false", frames=1)
    assert app.js("paramlab.session.config.dataset") == "circle"
    assert app.js("paramlab.session.config.columns") is None
    assert "choice of columns was dropped" in app.page.locator("#banner-err").inner_text()
    app.wait("!location.hash.includes('columns=')")
