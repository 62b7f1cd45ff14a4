"""The page takes its frames as binary messages, asks only for what it draws, and hovering
a weight still shows its exact float64 value (asked of the server, float32 meanwhile marked ≈)."""

from __future__ import annotations

import struct


def test_the_page_receives_binary_frames_and_asks_for_what_its_edges_show(app):
    app.open(frames=5)
    counts = app.js("[paramlab.socket.framesReceived, paramlab.socket.binaryFrames]")
    assert counts[0] >= 5 and counts[1] == counts[0], "every frame came as a binary message"
    assert app.js("paramlab.frame.float32 === true && paramlab.frame.layers[0].W[0] instanceof Float32Array")
    assert app.js("paramlab.frame.playing && !('dW' in paramlab.frame.layers[0]) && !('vW' in paramlab.frame.layers[0])"), \
        "edges showing weights: no optional part while training"
    app.spy_sends()
    app.page.locator("input[name=edges][value=velocity]").check(force=True)
    app.wait("paramlab.frame.playing && 'vW' in paramlab.frame.layers[0]")
    assert "views" in app.sent()
    assert not app.js("'dW' in paramlab.frame.layers[0]")
    assert app.errors == []


def tooltip_value(app):
    """The tooltip's first number: (its text, its title)."""
    cell = app.page.locator("#tooltip td .num").first
    return cell.inner_text(), cell.get_attribute("title")


def hover_edge(app, l, i, j):
    x, y = app.js(f"""(() => {{ const e = paramlab.network.edges.find(e => e.l === {l} && e.i === {i} && e.j === {j});
        const r = document.querySelector('.net-stage').getBoundingClientRect(); const p = e.pts;
        return [r.left + (p[0] + p[6]) / 2, r.top + (p[1] + p[7]) / 2]; }})()""")
    app.page.mouse.move(x, y)
    app.page.locator("#tooltip").wait_for(state="visible")


def test_hovering_a_weight_while_training_shows_the_servers_exact_value(app):
    app.open(frames=2)
    # Slow training, so that one state stays on screen while we read it; frames are float32 meanwhile.
    app.js("paramlab.socket.send({type: 'set_speed', updates_per_second: 2})")
    app.js("""(() => { window.__answers = [];
        paramlab.socket.addEventListener('inspected', ({detail}) => __answers.push(detail)); })()""")
    app.wait("paramlab.frame.playing && paramlab.frame.float32 === true && paramlab.frame.step > 0")
    hover_edge(app, 0, 1, 2)
    # The tooltip shows the exact value once the server's numbers for the frame shown are here.
    app.wait("(() => { const n = document.querySelector('#tooltip td .num'); return n && !n.classList.contains('approx'); })()")
    # The edge under the pointer (edges cross: it may be another than the one aimed at).
    got = app.js("""(() => { const f = paramlab.frame, [, l, i, j] = paramlab.network.hoverKey.split(':').map(Number);
        const mine = (a) => a && a.step === f.step && a.layer === l && a.kind === 'W' && a.i === i && a.j === j;
        const x = mine(f.inspected) ? f.inspected : __answers.find(mine);
        const n = document.querySelector('#tooltip td .num');   // read with the frame: one state
        return {step: f.step, streamed: f.layers[l].W[i][j], exact: x && x.value, xstep: x && x.step,
                text: n.textContent, title: n.title}; })()""")
    text, title = got["text"], got["title"]
    assert got["exact"] is not None and got["xstep"] == got["step"]
    assert not text.startswith("≈")
    assert float(title) == got["exact"], "the title is the server's float64 value, digit for digit"
    as_float32 = struct.unpack("<f", struct.pack("<f", got["exact"]))[0]
    assert got["streamed"] == as_float32, "the frame carries the same number rounded to float32"
    assert as_float32 != got["exact"], "the value shown is not the float32 one"
    app.js("paramlab.socket.send({type: 'pause'})")
    app.wait("paramlab.frame.playing === false")
    assert app.errors == []


def test_float32_shown_before_the_exact_value_arrives_is_marked_approximate(app):
    app.open(frames=2)
    app.js("paramlab.socket.send({type: 'set_speed', updates_per_second: 2})")
    app.wait("paramlab.frame.playing && paramlab.frame.float32 === true && paramlab.frame.step > 0")
    app.js("paramlab.socket.inspect = () => {}")  # the exact numbers are never asked for
    hover_edge(app, 0, 0, 1)
    text, title = tooltip_value(app)
    assert text.startswith("≈ ") and "float32" in title and "exact value is on its way" in title
    app.js("paramlab.socket.send({type: 'pause'})")


def test_paused_the_page_has_exact_numbers_equal_to_the_model_export(app):
    app.open("playing=false", frames=1)
    app.page.get_by_role("button", name="Step", exact=True).click()
    app.wait("paramlab.frame.step >= 1 && paramlab.frame.float32 !== true")
    hover_edge(app, 1, 2, 1)
    app.wait("(() => { const n = document.querySelector('#tooltip td .num'); return n && !n.classList.contains('approx'); })()")
    _, title = tooltip_value(app)
    model = app.page.request.get(f"{app.server.url}/api/sessions/{app.js('paramlab.session.session_id')}/model").json()
    assert float(title) == model["weights"][1][2][1]
    assert app.js("paramlab.frame.layers[1].W[2] instanceof Float64Array")
