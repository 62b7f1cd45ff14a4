"""The transfer lab in a real Chromium: freezing counted and drawn locked, a model imported from the page
(file picker and drop) with the server's own errors, the next task fine-tuned or from scratch, the
transfer and forgetting charts, replay and freezing against replay on a fork."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def get_json(app: Any, path: str) -> Any:
    with urllib.request.urlopen(f"{app.server.url}{path}", timeout=10) as r:
        return json.load(r)


def put_model(app: Any, session_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"{app.server.url}/api/sessions/{session_id}/model", data=body, method="PUT",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def weights(app: Any, layer: int) -> list[list[float]]:
    return app.js(f"paramlab.frame.layers[{layer}].W.map(r => Array.from(r))")


# ---- freezing as parameter isolation -------------------------------------------------------------


def test_frozen_parameters_are_counted_and_a_frozen_layer_is_drawn_locked(app):
    app.open("playing=false&dataset=circle&hidden=4,3", frames=1)
    sizes = app.js("[paramlab.session.architecture.n_inputs, ...paramlab.session.architecture.hidden, "
                   "paramlab.session.architecture.n_outputs]")
    per_layer = [sizes[k] * sizes[k + 1] + sizes[k + 1] for k in range(len(sizes) - 1)]
    total = sum(per_layer)
    panel = app.page.locator("#params")
    assert panel.locator("#trainable-params").inner_text() == f"{total:,} trainable, none frozen."
    # Layer 2 frozen whole (its weights and biases), and one single weight of the output layer.
    app.js("paramlab.socket.send({type: 'freeze', layer: 1, target: 'layer', frozen: true})")
    app.js("paramlab.socket.send({type: 'freeze', layer: 2, target: 'weight', i: 0, j: 0, frozen: true})")
    app.js("paramlab.socket.send({type: 'step'})")
    frozen = per_layer[1] + 1
    app.wait(f"document.querySelector('#frozen-params').textContent === '{frozen}'")
    cells = panel.locator("td.w-frozen").all_inner_texts()
    assert cells == ["0", str(per_layer[1]), "1"]
    assert panel.locator("#trainable-params").inner_text().startswith(f"{total - frozen:,} trainable, {frozen} frozen")
    # The frame's masks say the same as the counts.
    masks = app.js("paramlab.frame.layers.map(L => [...L.frozenW.flatMap(r => Array.from(r)), ...Array.from(L.frozenb)]"
                   ".filter(Boolean).length)")
    assert masks == [0, per_layer[1], 1]
    # Layer 2's neurons and its head wear the lock; the output neuron with one frozen weight does not.
    app.wait("document.querySelectorAll('.node.locked').length === 3")
    locked = app.js("[...document.querySelectorAll('.node.locked')].map(n => n.dataset.key)")
    assert locked == ["n:2:0", "n:2:1", "n:2:2"]
    heads = app.js("[...document.querySelectorAll('.net-head')].map(h => h.classList.contains('locked'))")
    assert heads == [False, False, True, False]
    # Gradients: the frozen weights' edges are still stroked (greyed), not left out.
    app.page.get_by_label("Gradients dL/dw").check()
    app.js("paramlab.socket.send({type: 'step'})")
    app.wait("paramlab.frame.layers[1].dW !== undefined && paramlab.frame.layers[1].dW.some(r => Array.from(r).some(v => v !== 0))")
    app.settle()
    # Their gradients are computed (non-zero) and stroked grey: every painted pixel along a frozen edge is grey.
    pixels = app.js("""(() => {
      const view = paramlab.network, cv = view.canvas, g = cv.getContext('2d'), dpr = cv.width / cv.clientWidth, out = [];
      for (const e of view.edges.filter(e => e.l === 1)) for (let t = 0.3; t <= 0.7; t += 0.02) {
        const p = e.pts, u = 1 - t;
        const x = u*u*u*p[0] + 3*u*u*t*p[2] + 3*u*t*t*p[4] + t*t*t*p[6], y = u*u*u*p[1] + 3*u*u*t*p[3] + 3*u*t*t*p[5] + t*t*t*p[7];
        const d = g.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data;
        if (d[3] > 200) out.push([d[0], d[1], d[2]]);
      }
      return out; })()""")
    assert len(pixels) > 10
    assert all(max(px) - min(px) <= 12 for px in pixels), pixels
    biases = app.js("paramlab.network.nodes.map(col => col.filter(n => n.bias).map(n => n.bias.style.backgroundColor))")
    assert set(biases[2]) == {"rgb(153, 153, 153)"} and "rgb(153, 153, 153)" not in biases[1]
    app.shot("transfer_frozen_locked", full_page=False)
    # Unfrozen again: the counts and the locks go.
    app.js("paramlab.socket.send({type: 'freeze', layer: 1, target: 'layer', frozen: false})")
    app.js("paramlab.socket.send({type: 'step'})")
    app.wait("document.querySelector('#frozen-params').textContent === '1'")
    app.wait("document.querySelectorAll('.node.locked').length === 0")


# ---- import a model from the page --------------------------------------------------------------


def test_a_model_imported_with_the_file_picker_replaces_the_weights(app, tmp_path: Path):
    app.open("playing=false&dataset=circle", frames=1)
    sid = app.session_id()
    doc = get_json(app, f"/api/sessions/{sid}/model")
    assert doc["weights"][0][0][0] != 0.123456789
    doc["weights"][0][0][0] = 0.123456789
    good = tmp_path / "trained.json"
    good.write_text(json.dumps(doc))
    app.page.set_input_files("#im-file", str(good))
    app.wait("paramlab.frame && paramlab.frame.layers[0].W[0][0] === 0.123456789")
    status = app.page.locator("#im-status").inner_text()
    assert status.startswith("Imported trained.json"), status
    assert app.page.locator("#im-err").inner_text() == ""


def test_a_bad_model_file_shows_the_servers_own_error(app, tmp_path: Path):
    app.open("playing=false&dataset=circle", frames=1)
    sid = app.session_id()
    before = weights(app, 0)
    doc = get_json(app, f"/api/sessions/{sid}/model")
    doc["weights"][0] = doc["weights"][0][:1]   # a first layer of the wrong shape
    bad = json.dumps(doc).encode()
    status, err = put_model(app, sid, bad)
    assert status == 422 and err["message"]
    path = tmp_path / "<b>wrong.json"
    path.write_bytes(bad)
    app.page.set_input_files("#im-file", str(path))
    app.wait("document.querySelector('#im-err').textContent !== ''")
    shown = app.page.locator("#im-err").inner_text()
    assert shown.startswith("<b>wrong.json: "), shown           # the file's name as text, not markup
    assert err["message"] in shown and err["allowed"] in shown
    assert app.js("document.querySelector('#im-err b')") is None
    assert weights(app, 0) == before
    # Not JSON at all: the server's bad_json message.
    status, err = put_model(app, sid, b"not json {")
    assert status == 400
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"not json {")
    app.page.set_input_files("#im-file", str(junk))
    app.wait("document.querySelector('#im-err').textContent.startsWith('junk.json')")
    assert err["message"] in app.page.locator("#im-err").inner_text()
    app.page.locator("#lab-transfer .tl-import").scroll_into_view_if_needed()
    app.shot("transfer_import_error", full_page=False)
    # The two refused requests, logged by the browser as failed loads (what they said is checked above).
    failed = [e for e in app.errors if "Failed to load resource" in e]
    assert len(failed) == 2 and "422" in failed[0] and "400" in failed[1]
    app.errors[:] = [e for e in app.errors if e not in failed]


def test_a_model_dropped_anywhere_on_the_page_is_imported(app):
    app.open("playing=false&dataset=circle", frames=1)
    sid = app.session_id()
    doc = get_json(app, f"/api/sessions/{sid}/model")
    doc["biases"][1][0] = -0.5
    app.js("""(text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], "dropped.json", {type: "application/json"}));
      const target = document.querySelector("#output");
      for (const type of ["dragenter", "dragover", "drop"]) target.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", json.dumps(doc))
    app.wait("paramlab.frame && paramlab.frame.layers[1].b[0] === -0.5")
    assert app.page.locator("#im-status").inner_text().startswith("Imported dropped.json")
    assert not app.js("document.documentElement.classList.contains('im-dragging')")


# ---- task sequences, transfer, forgetting, replay ---------------------------------------------------


def train_a_while(app: Any, steps: int) -> None:
    """Play (both runs, if there is a comparison) until this run is past `steps`, then pause."""
    app.page.get_by_role("button", name="Play").click()
    app.wait(f"paramlab.frame.step > {steps}", timeout=40000)
    app.page.get_by_role("button", name="Pause").click()
    app.wait("paramlab.frame.playing === false")


def next_task(app: Any, dataset: str, rotate: str = "0", start: str = "current", compare: bool = False) -> None:
    """Ask for the next task in the panel and wait for the session of it."""
    card = app.page.locator("#lab-transfer")
    n = app.js("(paramlab.session.tasks || []).length")
    card.get_by_label("Data", exact=True).select_option(dataset)
    card.get_by_label("Rotate (degrees)").fill(rotate)
    card.get_by_label("Also run task B from scratch beside it (the transfer chart)").set_checked(compare)
    name = "Fine-tune from these weights" if start == "current" else "Start from scratch"
    card.get_by_role("button", name=name).click()
    app.wait(f"paramlab.session.tasks.length === {n + 1} && paramlab.session.tasks.at(-1).start === '{start}' "
             f"&& paramlab.frame && paramlab.frame.step === 0")


def test_fine_tuning_keeps_the_kept_layers_weights_and_scratch_draws_them_anew(app):
    app.open("playing=false&dataset=gauss&hidden=4,2", frames=1)
    train_a_while(app, 200)
    before = [weights(app, l) for l in range(3)]
    # New classes: spiral3 has 3, so the output layer changes shape; the hidden layers keep their weights.
    next_task(app, "spiral3", compare=True)
    cur = app.js("paramlab.session.tasks.at(-1)")
    assert cur["kept"] == [0, 1] and cur["reinitialized"] == [2]
    assert weights(app, 0) == before[0] and weights(app, 1) == before[1]
    assert len(weights(app, 2)[0]) == 3
    note = app.page.locator("#tl-note").inner_text()
    assert note == f"Fine-tuned: {cur['note']}." and "layer 3" in note
    items = app.page.locator("#tl-tasks li").all_inner_texts()
    gauss = app.js("paramlab.vocab.label('dataset', 'gauss')")
    assert len(items) == 2 and items[0].startswith(f"{gauss} (2 classes), new network")
    assert "3 classes" in items[1] and "fine-tuned" in items[1]
    # The from-scratch run beside it: the same fresh draw where the fine-tune re-initialized (layer 3),
    # fresh weights where it kept the old ones.
    app.wait("paramlab.compare.lastFrame && paramlab.compare.lastFrame.step === 0")
    scratch = app.js("paramlab.compare.lastFrame.layers.map(L => L.W.map(r => Array.from(r)))")
    assert scratch[2] == weights(app, 2)
    assert scratch[0] != before[0] and scratch[1] != before[1]
    # Start from scratch on the next task: no layer keeps the weights it had (trained on B now).
    train_a_while(app, 100)
    trained = [weights(app, l) for l in range(3)]
    next_task(app, "spiral3", rotate="45", start="scratch")
    assert all(weights(app, l) != trained[l] for l in range(3))
    assert app.page.locator("#tl-note").inner_text().startswith("From scratch: ")
    app.shot("transfer_tasks")


def test_the_transfer_chart_draws_b_fine_tuned_against_b_from_scratch(app):
    app.open("playing=false&dataset=gauss&hidden=4,2", frames=1)
    train_a_while(app, 200)
    next_task(app, "moons", compare=True)
    app.wait("paramlab.compare.session && paramlab.compare.lastFrame")
    # The second run is task B's configuration from scratch, on a session of its own.
    other = get_json(app, f"/api/sessions/{app.js('paramlab.compare.session.session_id')}")
    mine = get_json(app, f"/api/sessions/{app.session_id()}")
    assert other["config"] == mine["config"] and other["config"]["dataset"] == "moons"
    assert [t["start"] for t in other["tasks"]] == ["new"]
    train_a_while(app, 300)
    app.wait("paramlab.compare.lastFrame.playing === false && paramlab.compare.lastFrame.step > 250")
    app.js("paramlab.transferLab.transfer.flush()")
    drawn = app.js("paramlab.transferLab.transfer.drawn()")
    assert drawn[0]["label"] == "Fine-tuned: test accuracy on B"
    assert drawn[1]["label"] == "From scratch: test accuracy on B" and drawn[1]["show"]
    assert len(drawn[0]["pts"]) >= 3 and len(drawn[1]["pts"]) >= 3
    # The curves are the runs' own epoch rows, each ended by its newest metrics (paused: the last frame's).
    rows = app.js("paramlab.transferLab.rows")
    own = [(x, y) for x, y in zip(rows["step"], rows["acc"], strict=True)]
    last = app.frame()
    if last["step"] > own[-1][0]:
        own.append((last["step"], last["metrics"]["test_acc"]))
    assert [tuple(p) for p in drawn[0]["pts"]] == own and own[0][0] == 0
    crow = app.js("paramlab.compare.rows")
    other = [tuple(p) for p in drawn[1]["pts"]]
    # The from-scratch run's curve starts at its step 0 (its first frame: before any update, as B's fine-tuned start).
    assert other[0][0] == 0 and crow["step"][0] > 0
    assert other[1:1 + len(crow["step"])] == list(zip(crow["step"], crow["acc"], strict=True))
    # The loss chart has the from-scratch run too (the run comparison's overlay).
    app.js("paramlab.charts.flush()")
    assert app.js("paramlab.charts.lossPlot.series.some(s => s.label === 'From scratch: training loss' && s.show)")
    app.page.locator("#lab-transfer").scroll_into_view_if_needed()
    app.settle()
    app.shot("transfer_chart", full_page=False)


def test_forgetting_shows_as_the_previous_tasks_accuracy_falls_and_replay_is_offered_only_then(app):
    app.open("playing=false&dataset=gauss&hidden=4,2", frames=1)
    card = app.page.locator("#lab-transfer")
    # No previous task: replay is disabled, with the reason.
    assert card.locator("#rp-share").is_disabled() and card.locator("#rp-apply").is_disabled()
    assert "previous task with the same inputs and classes" in card.locator("#rp-why").inner_text()
    train_a_while(app, 300)
    # The same data turned half a turn: the same inputs and classes, each class where the other was.
    next_task(app, "gauss", rotate="180")
    app.wait("paramlab.transferLab.rows.oldAcc.length >= 1")
    first = app.js("paramlab.transferLab.rows.oldAcc[0]")
    assert first is not None and first > 0.9, first
    assert not card.locator("#rp-share").is_disabled()
    assert card.locator("#rp-why").inner_text().startswith("250 training points")
    train_a_while(app, 400)
    old = app.js("paramlab.transferLab.rows.oldAcc")
    assert all(v is not None for v in old)
    assert old[-1] < first - 0.3, old
    app.js("paramlab.transferLab.forgetting.flush()")
    drawn = app.js("paramlab.transferLab.forgetting.drawn()")[0]
    assert drawn["label"] == "Fine-tuned: accuracy on task A"
    assert [p[1] for p in drawn["pts"]] == old
    figures = card.locator("#tl-forget-figures").inner_text()
    assert "Task A at the switch" in figures and "Task A now" in figures
    shown = app.js("[...document.querySelectorAll('#tl-forget-figures dd span.num')].map(s => Number(s.title))")
    assert shown == [first, old[-1]]
    card.scroll_into_view_if_needed()
    app.shot("transfer_forgetting", full_page=False)


def test_the_replay_slider_sets_the_servers_replay(app):
    app.open("playing=false&dataset=gauss&hidden=4,2", frames=1)
    train_a_while(app, 100)
    next_task(app, "gauss", rotate="180")
    card = app.page.locator("#lab-transfer")
    card.get_by_label("Buffer (points)").fill("60")
    # The slider moved to 0.5 as a hand would (input while dragging, change on release).
    app.js("""(() => { const s = document.querySelector('#rp-share'); s.value = '0.5';
      s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true})); })()""")
    sid = app.session_id()

    def server_replay() -> dict[str, Any]:
        return get_json(app, f"/api/sessions/{sid}")["replay"]

    app.wait("document.querySelector('#rp-now').textContent.startsWith('Replaying: 50%')")
    assert server_replay() == {"share": 0.5, "buffer": 60, "available": 250}
    assert card.locator("#rp-now").inner_text() == "Replaying: 50% of each batch from 60 remembered points."
    # A buffer the field refuses is not sent; the reason shows.
    card.get_by_label("Buffer (points)").fill("1.5")
    card.get_by_role("button", name="Apply").click()
    assert "not a whole number" in card.locator("#rp-err").inner_text()
    assert server_replay()["buffer"] == 60
    # Back to 0: replay off.
    app.js("""(() => { const s = document.querySelector('#rp-share'); s.value = '0';
      s.dispatchEvent(new Event('input', {bubbles: true})); })()""")
    card.get_by_label("Buffer (points)").fill("60")
    card.get_by_role("button", name="Apply").click()
    app.wait("document.querySelector('#rp-now').textContent === 'Replay is off.'")
    assert server_replay()["share"] == 0
    # The change is logged with the hyperparameter changes, not as a parameter typed by hand.
    assert app.js("[...document.querySelectorAll('.changes-log li')].some(li => li.textContent.includes('replay 0.5 → 0'))")


def test_freezing_and_replay_side_by_side_from_the_same_start(app):
    app.open("playing=false&dataset=gauss&hidden=4,2", frames=1)
    train_a_while(app, 200)
    next_task(app, "gauss", rotate="180")
    train_a_while(app, 30)
    main_id = app.session_id()
    start = [weights(app, l) for l in range(3)]
    card = app.page.locator("#lab-transfer")
    card.get_by_label("This run: freeze").select_option("0")
    card.get_by_label("The copy: replay share (0 to 0.9)").fill("0.5")
    card.get_by_role("button", name="Fork and compare").click()
    app.wait("paramlab.compare.session && paramlab.compare.lastFrame")
    fork_id = app.js("paramlab.compare.session.session_id")
    assert fork_id != main_id
    # The copy starts where this run is: the same weights, the same step, the same tasks.
    fork = app.js("paramlab.compare.lastFrame")
    assert fork["step"] == app.js("paramlab.frame.step")
    assert [[list(r) for r in L["W"]] for L in fork["layers"]] == start
    app.wait(f"document.querySelector('#frozen-params').textContent === '{2 * 4 + 4}'")
    # The copy replays half of each batch; this run does not; layer 1 is frozen here only.
    copy = None
    for _ in range(50):
        copy = get_json(app, f"/api/sessions/{fork_id}")
        if copy["replay"]["share"] == 0.5:
            break
        app.settle()
    assert copy is not None and copy["replay"]["share"] == 0.5
    mine = get_json(app, f"/api/sessions/{main_id}")
    assert mine["replay"]["share"] == 0
    assert [t["start"] for t in copy["tasks"]] == [t["start"] for t in mine["tasks"]] == ["new", "current"]
    # Played together: this run's first layer stays as it was, the copy's moves.
    train_a_while(app, 200)
    app.wait("paramlab.compare.lastFrame.playing === false && paramlab.compare.lastFrame.step > 150")
    assert weights(app, 0) == start[0]
    assert app.js("paramlab.compare.lastFrame.layers[0].W.map(r => Array.from(r))") != start[0]
    status = card.locator("#sb-status").inner_text()
    assert status.startswith("This run: layer 1 frozen; copy with replay 50%")
    app.js("paramlab.transferLab.forgetting.flush()")
    drawn = app.js("paramlab.transferLab.forgetting.drawn()")
    assert drawn[1]["label"] == "Copy with replay 50%: accuracy on task A" and drawn[1]["show"]
    assert drawn[0]["label"] == "This run, layer 1 frozen: accuracy on task A"
    note = card.locator("#tl-transfer-note").inner_text()
    assert note.startswith(f"This run, layer 1 frozen against a copy of it made at step {fork['step']}:")
    card.scroll_into_view_if_needed()
    app.settle()
    app.shot("transfer_side_by_side", full_page=False)


def test_a_next_task_the_server_refuses_shows_its_message_in_the_panel(app):
    app.open("playing=false&dataset=gauss", frames=1)
    card = app.page.locator("#lab-transfer")
    # Typed out of range: refused in the page, nothing sent.
    app.spy_sends()
    card.get_by_label("Rotate (degrees)").fill("200")
    card.get_by_role("button", name="Fine-tune from these weights").click()
    assert card.locator("#tl-err").inner_text() == "Rotate: 200 is out of range: type a number from -180 to 180."
    card.get_by_label("Rotate (degrees)").fill("0")
    card.get_by_label("Shift x₂").fill("right")
    card.get_by_role("button", name="Start from scratch").click()
    assert "not a number" in card.locator("#tl-err").inner_text()
    assert "fine_tune" not in app.sent()
    # Rotation asked of tabular data (as a hand-made message would): the server's own words, as text.
    app.js("paramlab.transferLab.intent({type: 'fine_tune', config: {dataset: 'mammals', rotate: 30}, start: 'current'})")
    app.wait("document.querySelector('#tl-err').textContent.includes('rotate')")
    assert app.js("paramlab.session.tasks.length") == 1
    assert app.js("paramlab.session.config.dataset") == "gauss"
    # Tabular data has no plane: the panel greys rotation and shift, and says why.
    card.get_by_label("Data", exact=True).select_option("mammals")
    assert card.get_by_label("Rotate (degrees)").is_disabled()
    assert "rotation and shift do not apply" in card.locator("#tl-plane").inner_text()


def test_a_rooms_teacher_imports_and_forks_with_the_teacher_key(app, tmp_path: Path):
    from test_classroom_page import open_room
    app.open("playing=false&dataset=gauss", frames=1)
    sid = app.session_id()
    open_room(app)
    key = app.js(f"localStorage.getItem('paramlab.teacher_key.{sid}')")
    req = urllib.request.Request(f"{app.server.url}/api/sessions/{sid}/model", headers={"X-Teacher-Key": key})
    with urllib.request.urlopen(req, timeout=10) as r:
        doc = json.load(r)
    doc["weights"][0][0][0] = 0.25
    # The session is a room's now: without the key the route refuses the very file the page sends.
    status, _ = put_model(app, sid, json.dumps(doc).encode())
    assert status in (401, 403)
    path = tmp_path / "teacher.json"
    path.write_text(json.dumps(doc))
    app.page.set_input_files("#im-file", str(path))
    app.wait("paramlab.frame && paramlab.frame.layers[0].W[0][0] === 0.25")
    assert app.page.locator("#im-err").inner_text() == ""
    # The fork beside it too (the page sends the key with its request).
    app.page.locator("#lab-transfer").get_by_role("button", name="Fork and compare").click()
    app.wait("paramlab.compare.session && paramlab.compare.lastFrame")
    assert app.js("paramlab.compare.session.session_id") != sid
    assert app.js("paramlab.compare.lastFrame.layers[0].W[0][0]") == 0.25
