"""The optimizer lab in Chromium: a landscape job drawn with its centre at the frame's training
loss, the live path projected on the slice (moving as training runs; in mode "two weights" equal
to the two weights' offsets to the bit), a race of two optimizers drawn as two curves, the
learning-rate explorer's points and a click on it that sets the server's rate, and the velocity
toggle asking for the frame's velocity part and drawing a mark per weight. Screenshots on a desk,
a 390 px phone and in presenter mode."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_support import SHOTS

pytestmark = pytest.mark.e2e

LAB = "paramlab.optimizerLab"
ENDED = "['done', 'failed', 'cancelled']"


def landscape_done(app: Any, timeout: float = 60000) -> dict[str, Any]:
    app.wait(f"{LAB}.landscape.job && {ENDED}.includes({LAB}.landscape.job.state)", timeout=timeout)
    job = app.js(f"{LAB}.landscape.job")
    assert job["state"] == "done", job
    return job["result"]


def compute_landscape(app: Any, resolution: str = "21", span: str = "1") -> dict[str, Any]:
    app.page.fill("#ol-res", resolution)
    app.page.fill("#ol-span", span)
    app.page.locator("#ol-landscape-card button.lj-run").click()
    return landscape_done(app)


def test_a_landscape_is_drawn_and_its_centre_is_the_training_loss_the_frame_shows(app):
    app.open("playing=false")
    app.wait("paramlab.frame && paramlab.frame.metrics")
    frame_loss = app.js("paramlab.frame.metrics.train_loss")
    shown = app.js("document.getElementById('train-loss').title")
    result = compute_landscape(app, resolution="21")
    assert result["mode"] == "random" and len(result["alphas"]) == 21 and len(result["loss"]) == 21
    # The centre: the job's own loss at the weights and the grid's middle point are the frame's training loss.
    assert shown == app.js("String", frame_loss)
    assert result["center_loss"] == pytest.approx(frame_loss, rel=1e-12)
    assert result["loss"][10][10] == pytest.approx(frame_loss, rel=1e-9)
    centre_shown = app.js("document.querySelector('#ol-landscape-card .ol-centre .num').title")
    assert centre_shown == app.js("String", result["center_loss"])
    assert result["exact"] is False and app.js("document.querySelector('#ol-landscape-card .ol-exact').hidden")
    # Drawn: the base once, with colour at the middle of the plot; hovering a grid point says its exact loss.
    assert app.js(f"{LAB}.landscape.view.baseDraws") >= 1
    alpha = app.js(f"""(() => {{
      const v = {LAB}.landscape.view, g = v.base.getContext('2d'), d = v.dpr;
      return g.getImageData(Math.round(v.px(0.3) * d), Math.round(v.py(-0.2) * d), 1, 1).data[3];
    }})()""")
    assert alpha == 255
    app.page.locator("#ol-landscape-card").scroll_into_view_if_needed()
    at = app.js(f"{LAB}.landscape.view.hoverAt(3, 17)")
    box = app.page.locator("#ol-landscape-card canvas.ls-over").bounding_box()
    app.page.mouse.move(box["x"] + at["x"], box["y"] + at["y"])
    readout = app.js("document.querySelector('#ol-landscape-card .ol-readout').textContent")
    a, b, loss = result["alphas"][3], result["betas"][17], result["loss"][17][3]
    assert readout == f"a = {app.js('String', a)}, b = {app.js('String', b)}: training loss {app.js('String', loss)}"


def test_with_a_penalty_the_landscape_can_shade_the_loss_training_minimizes(app):
    app.open("regularization=l2&reg_rate=0.1&playing=false")
    assert app.js("paramlab.session.hyper.regularization") == "l2"
    result = compute_landscape(app, resolution="11")
    assert result["loss_penalized"] is not None
    assert app.js(f"{LAB}.landscape.view.landscape.loss") == result["loss"]
    app.page.locator("#ol-penalty").check()
    assert app.js(f"{LAB}.landscape.view.landscape.loss") == result["loss_penalized"]
    pairs = zip(result["loss_penalized"], result["loss"], strict=True)
    assert all(p > q for rp, rq in pairs for p, q in zip(rp, rq, strict=True))
    app.page.locator("#ol-penalty").uncheck()
    assert app.js(f"{LAB}.landscape.view.landscape.loss") == result["loss"]


def test_the_live_path_moves_as_training_runs_and_on_two_weights_is_their_offsets_exactly(app):
    app.open("playing=false")
    compute_landscape(app, resolution="11")
    assert app.js(f"{LAB}.landscape.live") == [[0, 0]]
    app.js("paramlab.socket.send({type: 'play'})")
    app.wait(f"{LAB}.landscape.live.length >= 6", timeout=20000)
    app.pause()
    path = app.js(f"{LAB}.landscape.live")
    assert len({tuple(p) for p in path}) >= 5, path   # the projected coordinates change
    drawn = app.js(f"{LAB}.landscape.view.overDraws")
    assert drawn >= len(path) - 1
    # The numbers of where the weights are now, exact in the titles.
    shown = "[...document.querySelectorAll('#ol-landscape-card .ol-now .num')].map((e) => e.title).join()"
    app.wait(f"{shown} === {LAB}.landscape.live.at(-1).map(String).join()", timeout=2000)

    # Two weights, picked by clicking two edges in the network view.
    app.page.locator("#ol-landscape-card input[value=weights]").check()
    assert app.js(f"{LAB}.picking")
    app.page.locator('#network path[data-key="e:0:1:2"]').dispatch_event("click")
    app.page.locator('#network path[data-key="e:1:3:0"]').dispatch_event("click")
    assert not app.js(f"{LAB}.picking")
    ringed = app.js("[...document.querySelectorAll('#network .ol-picked-param')].map((e) => e.dataset.key)")
    assert ringed == ["e:0:1:2", "e:1:3:0"]
    assert app.js("document.querySelector('.tooltip .editor')") is None   # the click picked; it opened no editor
    app.page.locator("#ol-landscape-card button.lj-run").click()
    result = landscape_done(app)
    assert result["mode"] == "weights" and result["weights"] == [[0, 1, 2], [1, 3, 0]]
    app.js("paramlab.socket.send({type: 'play'})")
    app.wait(f"{LAB}.landscape.live.length >= 4", timeout=20000)
    app.pause()
    # The last point is the drawn frame's two weights minus the origin's, to the bit.
    check = app.js(f"""(() => {{
      const s = {LAB}.landscape.slice, f = paramlab.frame, sizes = paramlab.network.ctxInfo.sizes;
      const flat = (l, i, j) => {{
        let o = 0;
        for (let k = 0; k < l; k++) o += sizes[k] * sizes[k + 1] + sizes[k + 1];
        return o + i * sizes[l + 1] + j;
      }};
      const a = f.layers[0].W[1][2] - s.origin[flat(0, 1, 2)], b = f.layers[1].W[3][0] - s.origin[flat(1, 3, 0)];
      const live = {LAB}.landscape.live;
      return {{ expect: [a, b], got: live[live.length - 1], moved: a !== 0 || b !== 0 }};
    }})()""")
    assert check["moved"], check
    assert check["got"] == check["expect"], check


def test_a_two_parameter_network_has_an_exact_landscape_along_its_weight_and_bias(app):
    app.open("hidden=&features=x1&playing=false")
    assert app.js("paramlab.session.architecture.total_params") == 2
    result = compute_landscape(app, resolution="11")
    assert result["exact"] is True and result["weights"] == [[0, 0, 0], [0, "b", 0]]
    note = app.js("document.querySelector('#ol-landscape-card .ol-exact')")
    assert note is not None
    assert not app.js("document.querySelector('#ol-landscape-card .ol-exact').hidden")
    assert "whole loss landscape" in app.js("document.querySelector('#ol-landscape-card .ol-exact').textContent")
    assert app.js(f"{LAB}.landscape.view.axisNames") == ["a: w x₁ → output", "b: bias of output"]
    app.js("paramlab.socket.send({type: 'play'})")
    app.wait(f"{LAB}.landscape.live.length >= 4", timeout=20000)
    app.pause()
    check = app.js(f"""(() => {{
      const s = {LAB}.landscape.slice, L = paramlab.frame.layers[0], live = {LAB}.landscape.live;
      return {{ expect: [L.W[0][0] - s.origin[0], L.b[0] - s.origin[1]], got: live[live.length - 1] }};
    }})()""")
    assert check["got"] == check["expect"] and check["got"] != [0, 0], check


def test_a_race_of_two_optimizers_draws_two_curves_and_two_paths(app):
    app.open("playing=false")
    compute_landscape(app, resolution="11")
    for name, on in [("sgd", True), ("momentum", True), ("nesterov", False), ("adam", False), ("rmsprop", False)]:
        app.page.locator(f"#ol-r-{name}").set_checked(on)
    app.page.fill("#ol-r-momentum-lr", "0.1")
    app.page.fill("#ol-r-updates", "60")
    app.page.locator("#ol-race-card button.lj-run").click()
    app.wait(f"{LAB}.race.job && {ENDED}.includes({LAB}.race.job.state)", timeout=60000)
    job = app.js(f"{LAB}.race.job")
    assert job["state"] == "done", job
    assert [c["optimizer"] for c in job["result"]["contenders"]] == ["sgd", "momentum"]
    assert job["result"]["contenders"][1]["lr"] == 0.1
    assert app.js(f"{LAB}.race.curves") == 2
    data = app.js(f"{LAB}.race.plot.data.map((s) => s.length)")
    assert data == [60, 60, 60]
    assert app.js(f"{LAB}.race.plot.data[1]") == job["result"]["contenders"][0]["losses"]
    keys = app.js(f"{LAB}.landscape.view.paths.map((p) => p.key)")
    assert keys == ["live", "race:sgd", "race:momentum"]
    assert app.js(f"{LAB}.landscape.view.paths[1].points.length") == len(job["result"]["contenders"][0]["path"])
    assert app.js("document.querySelectorAll('#ol-race-card .ol-race-table tbody tr').length") == 2


def test_a_race_needs_two_optimizers_and_refuses_a_rate_that_is_not_a_number(app):
    app.open("playing=false")
    app.spy_sends()
    for name in ["sgd", "momentum", "nesterov", "adam", "rmsprop"]:
        app.page.locator(f"#ol-r-{name}").set_checked(name == "adam")
    app.page.locator("#ol-race-card button.lj-run").click()
    assert "at least two" in app.js(f"{LAB}.race.status.textContent")
    app.page.locator("#ol-r-sgd").set_checked(True)
    app.page.fill("#ol-r-sgd-lr", "0x10")
    app.page.locator("#ol-race-card button.lj-run").click()
    assert '"0x10" is not a number' in app.js(f"{LAB}.race.status.textContent")
    assert app.js("document.getElementById('ol-r-sgd-lr').getAttribute('aria-invalid')") == "true"
    assert "race" not in app.sent()


def test_the_lr_explorer_draws_its_points_and_a_click_sets_the_servers_rate(app):
    app.open("playing=false")
    app.page.fill("#ol-lr-low", "0.001")
    app.page.fill("#ol-lr-high", "1")
    app.page.fill("#ol-lr-points", "5")
    app.page.fill("#ol-lr-updates", "10")
    app.page.locator("#ol-lr-card button.lj-run").click()
    app.wait(f"{LAB}.lr.job && {ENDED}.includes({LAB}.lr.job.state)", timeout=60000)
    job = app.js(f"{LAB}.lr.job")
    assert job["state"] == "done", job
    result = job["result"]
    assert len(result["lrs"]) == 5
    assert result["lrs"][0] == pytest.approx(0.001) and result["lrs"][-1] == pytest.approx(1)
    assert app.js(f"{LAB}.lr.plot.data[0]") == result["lrs"]
    # On the log axis: every finite loss up to 100 times the loss before; the others are marked along the top.
    cap = 100 * result["start_loss"]
    rows = zip(result["losses"], result["diverged"], strict=True)
    on_axis = [None if d or v is None or v > cap else v for v, d in rows]
    assert app.js(f"{LAB}.lr.plot.data[1]") == on_axis
    assert app.js(f"{LAB}.lr.drawn.offScale.length + {LAB}.lr.drawn.diverged.length") == on_axis.count(None)
    assert app.js(f"{LAB}.lr.drawn.start") == result["start_loss"]
    assert app.js(f"{LAB}.lr.drawn.now") == app.js("paramlab.frame.hyper.lr")
    # A click at 0.1 on the log axis sets the live rate there.
    app.page.locator("#ol-lr-card").scroll_into_view_if_needed()
    x = app.js(f"{LAB}.lr.plot.valToPos(0.1, 'x')")
    over = app.page.locator("#ol-lr-card .u-over").bounding_box()
    app.page.mouse.click(over["x"] + x, over["y"] + over["height"] / 2)
    picked = app.js(f"{LAB}.lr.picked")
    assert picked == pytest.approx(0.1, rel=0.02)
    app.wait(f"paramlab.frame.hyper.lr === {LAB}.lr.picked")
    assert app.js(f"{LAB}.lr.drawn.now") == picked
    assert f"{picked}" in app.js("document.querySelector('#ol-lr-card .lj-loaded').textContent")


def test_a_race_can_be_cancelled(app):
    app.open("playing=false")
    for name in ["sgd", "momentum", "nesterov", "adam", "rmsprop"]:
        app.page.locator(f"#ol-r-{name}").set_checked(True)
    app.page.fill("#ol-r-updates", "5000")
    app.page.locator("#ol-race-card button.lj-run").click()
    app.wait(f"{LAB}.race.job && {LAB}.race.job.state === 'running'", timeout=30000)
    app.page.get_by_role("button", name="Cancel race").click()
    app.wait(f"{LAB}.race.job.state === 'cancelled'", timeout=30000)
    assert app.js(f"{LAB}.race.status.textContent") == "Cancelled."
    assert app.js(f"{LAB}.race.run.disabled") is False


def test_the_lr_explorer_marks_rates_that_blow_the_loss_up_along_the_top(app):
    app.open("dataset=plane&task=regression&playing=false")
    app.page.fill("#ol-lr-points", "7")
    app.page.fill("#ol-lr-updates", "50")
    app.page.locator("#ol-lr-card button.lj-run").click()
    app.wait(f"{LAB}.lr.job && {ENDED}.includes({LAB}.lr.job.state)", timeout=60000)
    result = app.js(f"{LAB}.lr.job.result")
    cap = 100 * result["start_loss"]
    rows = zip(result["lrs"], result["losses"], result["diverged"], strict=True)
    blown = [lr for lr, v, d in rows if d or v is None or v > cap]
    assert blown and blown[-1] == 10, result   # regression at learning rate 10 blows up
    assert sorted(app.js(f"{LAB}.lr.drawn.offScale") + app.js(f"{LAB}.lr.drawn.diverged")) == sorted(blown)
    assert "along the top" in app.js("document.querySelector('#ol-lr-card .ol-lr-keys').textContent")


def test_the_velocity_toggle_asks_for_velocity_and_draws_a_mark_per_weight(app):
    app.open("optimizer=momentum")
    assert "velocity" not in app.js("paramlab.socket.parts")
    app.page.locator("#velocity-marks").check()
    assert app.js("paramlab.socket.parts") == ["velocity"]
    app.wait("paramlab.frame.layers[0].vW !== undefined")
    app.wait_frames(3)
    n_edges = app.js("paramlab.network.edges.length")
    drawn = app.js(f"{LAB}.velocity.drawn")
    assert len(drawn) == n_edges
    # The arrow points where the weight goes: against momentum's velocity, the frame's own numbers.
    app.pause()
    step = app.js("paramlab.frame.step")
    app.js("paramlab.socket.send({type: 'step'})")
    app.wait(f"paramlab.frame.step > {step} && {LAB}.velocity.lastStep === paramlab.frame.step")
    pushes = app.js(f"""{LAB}.velocity.drawn.map((d) => {{ const [l, i, j] = d.key.split(':').map(Number);
      return [d.push, -paramlab.frame.layers[l].vW[i][j]]; }})""")
    assert len(pushes) == n_edges and all(a == b for a, b in pushes), pushes
    assert any(a != 0 for a, _ in pushes)
    ink = app.js(f"""(() => {{ const c = {LAB}.velocity.canvas;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0; for (let k = 3; k < d.length; k += 4) if (d[k]) n++; return n; }})()""")
    assert ink > 50
    assert app.js("document.getElementById('ol-velocity').checked")   # the lab's own switch follows
    app.page.locator("#velocity-marks").uncheck()
    assert app.js("paramlab.socket.parts") == []
    assert app.js(f"{LAB}.velocity.canvas.hidden")


@pytest.mark.parametrize("where", ["desk", "phone", "presenter"])
def test_screenshots_of_the_lab_with_a_landscape_a_race_and_a_sweep(make_app, where):
    viewport = {"desk": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844},
                "presenter": {"width": 1920, "height": 1080}}[where]
    app = make_app(viewport=viewport)
    app.open("playing=false" + ("&presenter=true" if where == "presenter" else ""))
    compute_landscape(app, resolution="31")
    app.page.fill("#ol-r-updates", "40")
    app.page.locator("#ol-race-card button.lj-run").click()
    app.wait(f"{LAB}.race.job && {LAB}.race.job.state === 'done'", timeout=60000)
    app.page.fill("#ol-lr-points", "9")
    app.page.fill("#ol-lr-updates", "10")
    app.page.locator("#ol-lr-card button.lj-run").click()
    app.wait(f"{LAB}.lr.job && {LAB}.lr.job.state === 'done'", timeout=60000)
    app.page.locator("#velocity-marks").check()
    app.js("paramlab.socket.send({type: 'play'})")
    app.wait(f"{LAB}.landscape.live.length >= 4", timeout=20000)
    app.settle()
    # Nothing of the lab is wider than the page.
    assert app.js("document.documentElement.scrollWidth") <= viewport["width"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    app.page.locator("#lab-optimizer").screenshot(path=str(SHOTS / f"optimizer-lab-{where}.png"))
    app.page.locator("#network").screenshot(path=str(SHOTS / f"optimizer-velocity-{where}.png"))
