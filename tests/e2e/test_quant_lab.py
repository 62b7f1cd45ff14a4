"""The quantization page in a real Chromium: the bits control, the quantized figures beside the
full-precision ones, the snapped weights, the levels in use, both decision boundaries, the URL
hash and the take-home code links.

What the page shows is checked against the server's own numbers (the frame it drew, its
`quantized` part, the HTTP API), and the snapped weights against the documented rule
(docs/protocol.md, app/nn/quantization.py) applied here in Python with the frame's scales.
"""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import parse_qs

import pytest
from e2e_support import SHOTS

pytestmark = pytest.mark.e2e

SMALL = "dataset=circle&hidden=4,2&lr=0.03"


def pick(app, label: str) -> None:
    """Choose a segmented option of the Quantize card by its accessible name ("4 bits", "Off: full precision", ...)."""
    app.page.locator("#q-card").get_by_label(label, exact=True).check()


def snap(w: float, bits: int, s: float) -> float:
    """The documented rule: bits >= 2, clip(round_half_even(w / s), -L, L) * s (s = 0 gives 0); 1 bit, ±s."""
    if bits == 1:
        return s if w >= 0 else -s
    if s == 0:
        return 0.0
    top = 2 ** (bits - 1) - 1
    return min(top, max(-top, round(w / s))) * s   # Python's round() breaks ties to the even integer


def code(w: float, bits: int, s: float) -> int:
    if bits == 1:
        return 1 if w >= 0 else -1
    if s == 0:
        return 0
    top = 2 ** (bits - 1) - 1
    return min(top, max(-top, round(w / s)))


# axe-core on one part of the page only (the rest has tests of its own in test_accessibility.py).
RUN_AXE_ON = """async (selector) => {
  const r = await axe.run(document.querySelector(selector), { resultTypes: ["violations"] });
  return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 8) }));
}"""


def blocking_violations(app, selector: str) -> list[dict]:
    from test_accessibility import AXE, BLOCKING
    if not app.js("typeof window.axe === 'object'"):
        app.js(AXE.read_text())
    app.settle()
    return [v for v in app.js(RUN_AXE_ON, selector) if v["impact"] in BLOCKING]


def get(app, path: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(f"{app.server.url}{path}", timeout=20) as r:
        return r.status, dict(r.headers), r.read()


def test_the_bits_control_sets_the_server_and_the_quantized_figures_show(app):
    app.open(SMALL, frames=3)
    app.wait("paramlab.frame.step >= 200", timeout=30000)
    assert app.js("paramlab.frame.quantized") is None
    pick(app, "4 bits")
    app.wait("paramlab.frame.quantized && paramlab.frame.quantized.bits === 4")
    app.pause()
    app.settle()
    q = app.frame()["quantized"]
    assert q["granularity"] == "tensor" and q["aware"] is False
    # The server holds the setting: its model export says so.
    status, _, body = get(app, f"/api/sessions/{app.session_id()}/model")
    assert status == 200 and json.loads(body)["quantization"] == {"bits": 4, "granularity": "tensor", "aware": False}
    # The quantized figures, exactly the frame's (each number's title is its exact value), beside the full ones.
    app.wait(f"document.querySelector('#q-card tbody tr:nth-child(1) td.q-quant').title === String({q['train_loss']!r})")
    rows = app.js("""[...document.querySelectorAll('#q-card tbody tr')].map(tr =>
        [...tr.querySelectorAll('td')].map(td => td.title))""")
    m = app.frame()["metrics"]
    assert rows[0][:2] == [str(m["train_loss"]), str(q["train_loss"])]
    assert rows[1][:2] == [str(m["test_loss"]), str(q["test_loss"])]
    assert rows[2][:2] == [str(m["train_acc"]), str(q["train_acc"])]
    assert rows[3][:2] == [str(m["test_acc"]), str(q["test_acc"])]
    assert float(rows[0][2]) == pytest.approx(q["train_loss"] - m["train_loss"], rel=1e-12, abs=1e-15)
    # The change is logged with the hyperparameters, in words.
    app.wait("[...document.querySelectorAll('.changes-log li')].some(li => li.textContent.includes('quantization off → 4 bits'))")
    size = app.page.locator("#q-card .q-size").inner_text()
    assert f"{q['bytes_before']:,} bytes" in size and f"{q['bytes_after']:,} bytes" in size
    assert q["bytes_after"] < q["bytes_before"]
    app.page.locator("#lab-quant").scroll_into_view_if_needed()
    app.shot("quant_lab_4_bits")
    assert blocking_violations(app, "#lab-quant") == []
    # Off again: the frame has no quantized model and the figures say so.
    pick(app, "Off: full precision")
    app.wait("paramlab.frame.quantized === null")
    app.wait("document.querySelector('#q-card tbody td.q-quant').textContent === '—'")


def test_the_weights_drawn_snapped_are_the_servers_levels(app):
    app.open(SMALL + "&hidden=6,4", frames=3)
    app.wait("paramlab.frame.step >= 100", timeout=30000)
    pick(app, "3 bits")
    pick(app, "One scale per neuron")
    app.wait("paramlab.frame.quantized && paramlab.frame.quantized.bits === 3 && paramlab.frame.quantized.granularity === 'neuron'")
    app.pause()
    app.page.locator("#quant-snap").check()
    app.settle()
    app.wait("paramlab.network.frame.step === paramlab.frame.step && !!paramlab.network.frame.layers[0].Wfull")
    raw = app.frame()
    q = raw["quantized"]
    app.wait("paramlab.quantLab.histogram.frame === paramlab.frame")
    drawn = app.js("paramlab.network.frame.layers.map(L => L.W.map(r => Array.from(r)))")
    assert len(drawn) == len(raw["layers"]) == len(q["scales"])
    for l, (L, W) in enumerate(zip(raw["layers"], drawn, strict=True)):
        assert len(q["scales"][l]) == len(L["W"][0])   # one scale per output neuron
        for i, row in enumerate(L["W"]):
            for j, w in enumerate(row):
                assert W[i][j] == snap(w, 3, q["scales"][l][j]), (l, i, j)
        # The codes in use, counted by the server, are the ones the page draws.
        codes = {code(w, 3, q["scales"][l][j]) for row in L["W"] for j, w in enumerate(row)}
        assert len(codes) == q["levels"][l] <= 7
        assert app.js(f"paramlab.quantLab.histogram.inUse[{l}]") == sorted(codes)
    # The network with the weights the page drew has the server's quantized training loss (the same check
    # on the full-precision weights against the frame's own loss shows the loss is computed as the server does).
    losses = app.js("""(() => {
      const ds = paramlab.dataset, base = paramlab.net;
      const lossOf = (layers) => {
        const net = new base.constructor(base.arch, base.features, base.plane);
        net.setParams(layers);
        let sum = 0;
        ds.train.x.forEach((x, n) => { const o = net.forward(x).out[0], t = ds.train.y[n] > 0 ? 1 : -1; sum += 0.5 * (o - t) ** 2; });
        return sum / ds.train.x.length;
      };
      return [lossOf(paramlab.frame.layers), lossOf(paramlab.network.frame.layers)];
    })()""")
    assert losses[0] == pytest.approx(raw["metrics"]["train_loss"], rel=1e-4)   # float32 rows in binary frames
    assert losses[1] == pytest.approx(q["train_loss"], rel=1e-4)
    assert abs(q["train_loss"] - raw["metrics"]["train_loss"]) > 1e-3 * raw["metrics"]["train_loss"]   # 3 bits do change it
    # The edges are stroked with the snapped values: the tooltip of one says both.
    app.page.locator('path.hit[data-key="e:0:0:0"]').focus()
    app.wait("!document.querySelector('#tooltip').hidden && document.querySelector('#tooltip').textContent.includes('Snapped to its quantized level')")
    # Snapping off: the view draws the frame's own weights again.
    app.page.locator("#quant-snap").uncheck()
    assert app.js("paramlab.network.frame.layers[0].W[0][0]") == raw["layers"][0]["W"][0][0]
    app.shot("quant_lab_snapped_network")


def test_one_bit_uses_two_levels_and_changes_the_boundary(app):
    app.open("dataset=circle&hidden=4,2&lr=0.03", frames=3)
    app.wait("paramlab.frame.step >= 300", timeout=30000)
    pick(app, "1 bit")
    app.wait("paramlab.frame.quantized && paramlab.frame.quantized.bits === 1")
    app.pause()
    app.page.locator("#lab-quant").scroll_into_view_if_needed()
    app.settle()
    q = app.frame()["quantized"]
    assert all(n <= 2 for n in q["levels"])
    # The histogram: at most two bars above zero per layer, and they are codes -1 and +1.
    app.wait("paramlab.quantLab.histogram.frame === paramlab.frame && paramlab.quantLab.histogram.inUse.length === paramlab.frame.layers.length")
    bars = app.js("""[...document.querySelectorAll('#q-levels-card .lh-bars')].map(b =>
        [...b.querySelectorAll('.lh-bar')].filter(x => Number(x.dataset.count) > 0).map(x => Number(x.dataset.code)))""")
    assert len(bars) == len(q["levels"])
    for used, server in zip(bars, q["levels"], strict=True):
        assert len(used) == server <= 2 and set(used) <= {-1, 1}
    # Both maps painted from this frame; the one-bit network draws another boundary.
    app.wait("paramlab.quantLab.maps.painted === paramlab.frame")
    full, quant = app.js("[paramlab.quantLab.maps.pixels('full'), paramlab.quantLab.maps.pixels('quant')]")
    assert len(full) == len(quant) > 0
    differing = sum(1 for a, b in zip(full, quant, strict=True) if a != b)
    assert differing > len(full) // 50, "the one-bit boundary should differ visibly from the full-precision one"
    app.shot("quant_lab_1_bit")
    SHOTS.mkdir(parents=True, exist_ok=True)
    app.page.locator("#q-maps-card").screenshot(path=str(SHOTS / "quant_lab_1_bit_maps.png"))


def test_the_url_hash_carries_the_quantization_and_a_link_restores_it(app, make_app):
    app.open(SMALL, frames=3)
    pick(app, "3 bits")
    pick(app, "One scale per neuron")
    app.page.locator("#quant-aware").check()
    app.wait("paramlab.frame.quantized && paramlab.frame.quantized.aware === true && paramlab.frame.quantized.granularity === 'neuron'")
    app.wait("location.hash.includes('quant_bits=3') && location.hash.includes('quant_granularity=neuron') && location.hash.includes('quant_aware=true')")
    link = app.js("location.hash").lstrip("#")
    fields = parse_qs(link)
    assert fields["quant_bits"] == ["3"] and fields["quant_aware"] == ["true"]
    # The link in a new browser (a new session): the server is asked for the same quantization.
    other = make_app()
    other.open(link, frames=1)
    other.wait("paramlab.frame.quantized && paramlab.frame.quantized.bits === 3 && paramlab.frame.quantized.granularity === 'neuron' && paramlab.frame.quantized.aware === true")
    assert other.session_id() != app.session_id()
    other.wait("document.querySelector('#q-card input[aria-label=\"3 bits\"]').checked && document.querySelector('#quant-aware').checked")
    assert other.js("document.querySelector('#q-card input[value=neuron]').checked") is True


def test_quantization_aware_fine_tuning_draws_the_quantized_curve(app):
    app.open(SMALL, frames=3)
    app.wait("paramlab.frame.epoch >= 3", timeout=30000)
    pick(app, "2 bits")
    app.page.locator("#quant-aware").check()
    app.wait("paramlab.frame.quantized && paramlab.frame.quantized.aware === true")
    app.wait("paramlab.quantLab.chart.quantRows() >= 3", timeout=30000)
    app.js("paramlab.quantLab.chart.lastFlush = -1e9")
    app.wait("paramlab.quantLab.chart.plot.data[2].some(v => v !== null && v !== undefined)")
    # The plotted points are the epoch rows' quant_test_acc beside their test_acc.
    rows = app.js("paramlab.quantLab.chart.rows")
    assert len(rows["step"]) == len(rows["quant"]) == len(rows["full"])
    assert any(v is not None for v in rows["quant"]) and all(v is None or 0 <= v <= 1 for v in rows["quant"])
    app.page.locator("#q-levels-card").scroll_into_view_if_needed()
    app.shot("quant_lab_qat_curve")


def test_the_take_home_links_download_python_scripts(app):
    app.open(SMALL, frames=3)
    app.pause()
    sid = app.session_id()
    for lang, marker in (("numpy", "import numpy"), ("torch", "import torch")):
        href = app.page.locator(f"#code-{lang}").get_attribute("href")
        assert href == f"/api/sessions/{sid}/code.py?lang={lang}"
        status, headers, body = get(app, href)
        assert status == 200
        assert headers["content-type"].startswith("text/x-python")
        text = body.decode()
        assert marker in text
        compile(text, f"paramlab_{sid}.py", "exec")   # a Python script, not an error page
    # A click downloads the NumPy script.
    with app.page.expect_download() as dl:
        app.page.locator("#code-numpy").click()
    path = dl.value.path()
    assert path is not None and "import numpy" in path.read_text(encoding="utf-8")


def test_the_pages_rule_is_the_engines_on_ties_and_random_weights(app):
    """quant_levels.js, run in the page, against app/nn/quantization.py on the same weights and scales."""
    import numpy as np

    from app.nn.quantization import quantize
    rng = np.random.default_rng(5)
    ties = np.array([[3.0, 0.5, -0.5, 1.5], [-2.5, 2.5, -1.5, 0.0], [-3.0, 1.0, -1e-300, 2.0]])   # 3 bits: scale 1, halves tie
    cases = [(ties, 3, "tensor")]
    for bits in range(1, 9):
        for granularity in ("tensor", "neuron"):
            cases.append((rng.normal(0, 1.3, (5, 4)), bits, granularity))
    cases.append((np.zeros((2, 3)), 4, "neuron"))   # scale 0 gives 0
    app.open("playing=false", frames=1)
    for W, bits, granularity in cases:
        q = quantize([{"W": W, "b": np.zeros(W.shape[1])}], bits, granularity)
        scales = [q.scales[0].tolist()]
        page = app.js("""async ([W, bits, scales]) => {
            const m = await import('/static/js/views/quant_levels.js');
            return m.snapLayers([{ W, b: [] }], { bits, scales })[0].W;
        }""", [W.tolist(), bits, scales])
        assert page == q.params[0]["W"].tolist(), (bits, granularity)
    half_even = app.js("import('/static/js/views/quant_levels.js').then(m => [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999].map(m.roundHalfEven))")
    assert half_even == [0, 2, 2, 0, -2, -2, 2]
