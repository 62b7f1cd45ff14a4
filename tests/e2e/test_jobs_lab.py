"""The lab card's cross-validation and hyperparameter search in Chromium: what the page
draws against the `job` messages the server sent (recorded from the socket), the fold's
points ringed on the data view, a search cell loaded into the live session, cancel,
errors, and input refused in the page with nothing sent."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

WITH_VAL = "val_ratio=20&playing=true"

# Every job message the socket delivers, kept in order (installed before a job starts).
RECORD_JOBS = """(() => {
  window.__jobs = [];
  paramlab.socket.addEventListener("job", (e) => __jobs.push(e.detail));
})()"""


def record_jobs(app: Any) -> None:
    app.js(RECORD_JOBS)


def finished(app: Any, part: str, timeout: float = 60000) -> dict[str, Any]:
    """Wait for the part's job to end; its last job message."""
    app.wait(f"paramlab.jobsLab.{part}.job && ['done', 'failed', 'cancelled'].includes(paramlab.jobsLab.{part}.job.state)",
             timeout=timeout)
    jobs = app.js("__jobs")
    assert jobs, "no job message came"
    return jobs[-1]


def run_cv(app: Any, k: str, epochs: str) -> None:
    app.page.fill("#lj-cv-k", k)
    app.page.fill("#lj-cv-epochs", epochs)
    app.page.get_by_role("button", name="Run cross-validation").click()


def run_grid(app: Any, lrs: str, momenta: str, epochs: str) -> None:
    app.page.fill("#lj-s-lr", lrs)
    app.page.fill("#lj-s-mom", momenta)
    app.page.fill("#lj-s-epochs", epochs)
    app.page.get_by_role("button", name="Run search").click()


def test_three_fold_cross_validation_draws_three_curves_and_the_server_mean_and_spread(app):
    app.open(WITH_VAL)
    app.wait("paramlab.jobsLab.nVal > 0")
    record_jobs(app)
    run_cv(app, "3", "4")
    app.wait("paramlab.jobsLab.cv.job && paramlab.jobsLab.cv.job.state === 'running'")
    app.wait_frames(5)   # the live view goes on drawing while the job runs
    last = finished(app, "cv")
    assert last["state"] == "done", last
    result = last["result"]
    jobs = app.js("__jobs")
    folds = [m["event"]["fold_done"] for m in jobs if m["event"] and "fold_done" in m["event"]]
    assert [f["fold"] for f in folds] == [0, 1, 2]
    assert result["scores"] == [f["score"] for f in folds]
    assert result["mean"] == pytest.approx(statistics.mean(result["scores"]))
    assert result["std"] == pytest.approx(statistics.stdev(result["scores"]))

    assert app.js("paramlab.jobsLab.cv.chart.curves") == 3
    assert app.js("document.querySelectorAll('#lab-jobs .lj-folds tbody tr').length") == 3
    # The numbers shown are the server's: exact in the titles, short in the text.
    mean_title = app.js("document.querySelector('#lab-jobs .lj-mean').title")
    std_title = app.js("document.querySelector('#lab-jobs .lj-std').title")
    assert mean_title == f"mean {app.js('String', result['mean'])}"
    assert std_title == f"sample standard deviation {app.js('String', result['std'])}"
    assert app.js("paramlab.jobsLab.cv.shownSummary") == {"mean": result["mean"], "std": result["std"], "final": True}
    assert app.js("document.querySelector('#lab-jobs .lj-csv').hidden") is False
    href = app.js("document.querySelector('#lab-jobs .lj-csv').href")
    assert href.endswith(f"/api/sessions/{app.session_id()}/lab.csv?kind=cross_validation")
    reply = app.page.request.get(href)
    assert reply.status == 200 and reply.text().count("\n") >= 3
    app.page.locator("#lab-jobs").scroll_into_view_if_needed()
    app.shot("jobs_lab_cross_validation", full_page=False)


def test_a_fold_s_held_out_points_are_ringed_on_the_data_view(app):
    app.open(WITH_VAL)
    app.wait("paramlab.jobsLab.nVal > 0")
    record_jobs(app)
    run_cv(app, "3", "2")
    finished(app, "cv")
    folds = [m["event"]["fold_done"] for m in app.js("__jobs") if m["event"] and "fold_done" in m["event"]]
    # After the job: the last fold's points; hovering (or focusing) a row: that fold's.
    assert app.js("paramlab.output.fold") == folds[-1]["val_index"]
    assert app.js("paramlab.output.foldRings") == len(folds[-1]["val_index"])
    app.page.hover("#lab-jobs .lj-folds tbody tr[data-fold='0']")
    app.wait(f"paramlab.output.foldRings === {len(folds[0]['val_index'])}")
    assert app.js("paramlab.output.fold") == folds[0]["val_index"]
    app.page.focus("#lab-jobs .lj-folds tbody tr[data-fold='1']")
    app.wait(f"paramlab.output.foldRings === {len(folds[1]['val_index'])}")
    assert app.js("paramlab.output.fold") == folds[1]["val_index"]
    # Hovering a fold's curve on the chart: the one nearest the pointer is focused and its points ringed.
    app.page.mouse.move(1, 1)
    app.page.locator("#lab-jobs .lj-fold-chart").scroll_into_view_if_needed()
    x, y = app.js("""(() => {
      const u = paramlab.jobsLab.cv.chart.plot, r = u.over.getBoundingClientRect(), f = paramlab.jobsLab.cv.folds[2];
      const last = f.curve.val_loss.length;
      return [r.left + u.valToPos(last, "x") - 1, r.top + u.valToPos(f.curve.val_loss[last - 1], "y")];
    })()""")
    app.page.mouse.move(x, y)
    app.wait(f"paramlab.jobsLab.cv.chart.focused === 2 && paramlab.output.foldRings === {len(folds[2]['val_index'])}")
    assert app.js("paramlab.output.fold") == folds[2]["val_index"]
    # The pool is the training points then the validation points: every index names one of them.
    n_pool = app.js("paramlab.dataset.train.x.length + paramlab.dataset.val.x.length")
    assert sorted(i for f in folds for i in f["val_index"]) == list(range(n_pool))
    app.page.locator("#output").scroll_into_view_if_needed()
    app.shot("jobs_lab_fold_points", full_page=False)


def test_a_two_by_two_grid_fills_the_heatmap_and_a_cell_loads_into_the_session(app):
    app.open(WITH_VAL)
    app.wait("paramlab.jobsLab.nVal > 0")
    record_jobs(app)
    run_grid(app, "0.01, 0.1", "0, 0.9", "2")
    last = finished(app, "search")
    assert last["state"] == "done", last
    result = last["result"]
    assert len(result["trials"]) == 4
    cells = app.page.locator("#lab-jobs .hm-cell")
    assert cells.count() == 4
    seen = {}
    for i in range(4):
        cells.nth(i).hover()
        text = app.js("document.querySelector('#lab-jobs .lj-readout').textContent")
        seen[text] = i
    for trial in result["trials"]:
        values, score = trial["values"], trial["score"]
        want = (f"learning rate {app.js('String', values['lr'])}, momentum {app.js('String', values['momentum'])}: "
                f"validation loss {app.js('String', score)}")
        assert any(want in text for text in seen), (want, list(seen))
    best = result["best"]
    best_values = result["trials"][best]["values"]
    best_cells = app.js("[...document.querySelectorAll('#lab-jobs .hm-cell.hm-best')].map(b => b.dataset.text)")
    assert len(best_cells) == 1 and f"Trial {best + 1}:" in best_cells[0]
    app.page.locator("#lab-jobs").scroll_into_view_if_needed()
    app.shot("jobs_lab_heatmap", full_page=False)

    # Click a cell that is not the session's own setting: the server's next frames carry it.
    pick = next(t["values"] for t in result["trials"] if t["values"] != {"lr": 0.03, "momentum": 0.9})
    label = f"learning rate {app.js('String', pick['lr'])}, momentum {app.js('String', pick['momentum'])}:"
    app.page.locator(f"#lab-jobs .hm-cell[data-text*='{label}']").click()
    app.wait(f"paramlab.frame.hyper.lr === {pick['lr']} && paramlab.frame.hyper.momentum === {pick['momentum']}")
    # And with the keyboard: focus the best cell and press Enter.
    app.page.locator("#lab-jobs .hm-cell.hm-best").focus()
    app.page.keyboard.press("Enter")
    app.wait(f"paramlab.frame.hyper.lr === {best_values['lr']} && paramlab.frame.hyper.momentum === {best_values['momentum']}")
    # Arrow keys move between cells: right is a larger learning rate, up a larger momentum.
    app.page.locator("#lab-jobs .hm-cell[data-text*='learning rate 0.01, momentum 0:']").focus()
    app.page.keyboard.press("ArrowRight")
    assert "learning rate 0.1, momentum 0:" in app.js("document.activeElement.dataset.text")
    app.page.keyboard.press("ArrowUp")
    assert "learning rate 0.1, momentum 0.9:" in app.js("document.activeElement.dataset.text")


def test_cancel_ends_a_long_job(app):
    app.open(WITH_VAL)
    app.wait("paramlab.jobsLab.nVal > 0")
    record_jobs(app)
    run_cv(app, "10", "2000")
    app.wait("paramlab.jobsLab.cv.job && paramlab.jobsLab.cv.job.state === 'running'", timeout=30000)
    # While the first fold trains, its held-out points (sent before it started) are ringed.
    app.wait("__jobs.some((m) => m.event && m.event.fold === 0 && m.event.epoch > 0)", timeout=30000)
    held = next(m["event"]["folds"] for m in app.js("__jobs") if m["event"] and "folds" in m["event"])
    app.wait(f"paramlab.output.foldRings === {len(held[0])}")
    assert app.js("paramlab.output.fold") == held[0]
    cancel = app.page.get_by_role("button", name="Cancel cross-validation")
    assert cancel.is_visible()
    cancel.click()
    last = finished(app, "cv")
    assert last["state"] == "cancelled"
    assert app.js("document.querySelector('#lab-jobs .lj-status').textContent") == "Cancelled."
    assert not cancel.is_visible()
    assert app.js("document.querySelector('#lab-jobs .lj-run').disabled") is False


@pytest.mark.parametrize(("k", "epochs", "words"), [
    ("1", "5", "Folds (k): 1 is not allowed; give a whole number from 2 to 10."),
    ("11", "5", "Folds (k): 11 is not allowed"),
    ("2.5", "5", "Folds (k): 2.5 is not allowed"),
    ("", "5", "Folds (k): give a whole number from 2 to 10."),
    ("3", "0", "Epochs: 0 is not allowed; give a whole number from 1 to 2000."),
    ("3", "2001", "Epochs: 2001 is not allowed"),
])
def test_bad_k_or_epochs_is_refused_in_the_page_and_nothing_is_sent(app, k, epochs, words):
    app.open(WITH_VAL)
    app.wait("paramlab.jobsLab.nVal > 0")
    app.spy_sends()
    run_cv(app, k, epochs)
    status = app.js("document.querySelector('#lab-jobs .lj-status').textContent")
    assert words in status
    assert app.js("document.querySelector('#lab-jobs .lj-status').classList.contains('lj-problem')")
    assert app.js("document.querySelectorAll('#lab-jobs [aria-invalid=true]').length") == 1
    app.settle()
    assert "cross_validate" not in app.sent()


def test_a_bad_search_list_is_refused_in_the_page(app):
    app.open(WITH_VAL)
    app.wait("paramlab.jobsLab.nVal > 0")
    app.spy_sends()
    for lrs, momenta, words in [("0.01, abc", "0", 'learning rate: "abc" is not a number.'),
                                ("0.01", "1.5", "momentum: 1.5 is out of range; allowed from 0 to 0.999."),
                                ("0x10", "0", 'learning rate: "0x10" is not a number.')]:
        run_grid(app, lrs, momenta, "2")
        assert words in app.js("document.querySelectorAll('#lab-jobs .lj-status')[1].textContent")
    app.settle()
    assert "search" not in app.sent()


def test_without_a_validation_split_the_card_says_so_and_offers_one(app):
    app.open("playing=false")
    app.wait("paramlab.jobsLab.nVal === 0")
    note = app.page.locator("#lab-jobs .lj-need-val").first
    assert note.is_visible()
    app.spy_sends()
    run_cv(app, "3", "2")
    assert "no validation split" in app.js("document.querySelector('#lab-jobs .lj-status').textContent")
    assert "cross_validate" not in app.sent()
    app.page.get_by_role("button", name="Give the validation split 20 % of the data").click()
    app.wait("paramlab.jobsLab.nVal > 0")
    assert "configure" in app.sent()
    assert app.js("paramlab.session.config.val_ratio") == 20
    assert not note.is_visible()


def test_the_job_limit_is_told_in_the_card(make_app):
    """Two jobs per client address: a third, from another tab on the same address, is refused in plain words."""
    first, second = make_app(), make_app()
    for app in (first, second):
        app.open(WITH_VAL)
        app.wait("paramlab.jobsLab.nVal > 0")
        record_jobs(app)
    run_cv(first, "10", "2000")
    run_grid(first, "0.01, 0.1", "0, 0.9", "2000")
    first.wait("paramlab.jobsLab.cv.job && paramlab.jobsLab.search.job")
    run_cv(second, "3", "2")
    second.wait("document.querySelector('#lab-jobs .lj-status').textContent.startsWith('Not started:')")
    status = second.js("document.querySelector('#lab-jobs .lj-status').textContent")
    assert "background jobs" in status
    assert second.js("paramlab.jobsLab.cv.busy()") is False
    assert second.js("document.querySelector('#lab-jobs .lj-run').disabled") is False
    for part in ("cv", "search"):
        first.js(f"paramlab.jobsLab.{part}.cancel()")
        first.wait(f"paramlab.jobsLab.{part}.job.state === 'cancelled'")


def test_a_failed_job_is_told_in_plain_words_and_its_message_stays_text(app):
    """A job's `failed` state with the server's message: shown as text (never parsed as HTML)."""
    app.open(WITH_VAL)
    app.wait("paramlab.jobsLab.nVal > 0")
    record_jobs(app)
    run_cv(app, "10", "2000")
    app.wait("paramlab.jobsLab.cv.job && paramlab.jobsLab.cv.job.state === 'running'", timeout=30000)
    job_id = app.js("paramlab.jobsLab.cv.job.id")
    words = '<img src=x class="injected"> the worker process died'
    app.js("""([id, words]) => paramlab.socket.dispatchEvent(new CustomEvent("job", { detail: {
      type: "job", job_id: id, kind: "cross_validation", state: "failed", event: null, result: null, message: words } }))""",
           [job_id, words])
    status = app.page.locator("#lab-jobs .lj-status").first
    assert status.text_content() == f"Failed: {words}"
    assert app.js("document.querySelectorAll('#lab-jobs .injected').length") == 0
    assert app.js("paramlab.jobsLab.cv.busy()") is False
    app.js(f"paramlab.socket.send({{type: 'cancel_job', job_id: '{job_id}'}})")   # the real job: ended
    app.wait("__jobs.some((m) => m.state === 'cancelled')")
