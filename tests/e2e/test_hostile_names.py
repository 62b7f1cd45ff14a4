"""Names users give are shown as text, never run as markup; the page runs under a strict CSP.

A CSV's header and label names, a file name, a server error that echoes a cell,
a student's name and a run's name are all written by someone else than the
person looking at the page. Each one here is markup meant to run script
(`window.__pwned = ...`) or to read the teacher key. The test walks every place
the page shows them: node labels, the tooltip of inputs, outputs and weights,
the weight editor, the phase-by-phase panel (on the teacher's page and, without
a click, on a following student's), the upload button and error banner, the
class gallery and the saved-run note.

On the page before this change it fails: `nodeName()` went into the tooltip and
the phase panel through innerHTML, so the first hover and the first phase put an
`<img src=x>` and an `<svg onload>` from the CSV header into the DOM (the
`hostile_dom` check), the browser fetched /x (a 404 on the console) and the CSP
refused the inline handler (a console error); `make_app` fails a test on either.
Without the CSP the handler would have run: the DOM check is the one that does
not depend on it. Checked by running this file against the previous static/.
"""

from __future__ import annotations

import csv
import re
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
HEADERS = ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=2</script>",
           '"><svg onload=window.__pwned=3>', "constructor"]   # an Object.prototype key, too
LABEL_COLUMN = "<b>kind</b>"
CLASSES = ["<img src=x onerror=window.__pwned=4>", "<svg/onload=window.__pwned=5>", "plain & simple"]
FILE_NAME = "<img src=x onerror=window.__pwned=6>.csv"
STUDENT = "<img src=x onerror=window.__pwned=7>"        # 37 characters: fits the 40 a name may have
RUN = "<script>window.__pwned=8</script>"
BAD_CELL = '<img src=x onerror="window.__pwned=9">'

# Installed before any page script: records who reads localStorage or document.cookie
# (the caller's stack line), and every CSP violation the page reports.
SPY = r"""(() => {
  window.__reads = []; window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) =>
    window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  function __paramlabSpyCaller(what) {
    const lines = String(new Error().stack).split("\n").slice(1);
    window.__reads.push(what + " " + (lines.find((l) => !l.includes("__paramlabSpy")) || "?").trim());
  }
  function wrap(owner, name, kind) {
    const d = Object.getOwnPropertyDescriptor(owner, name);
    if (!d || !d.configurable || !d.get) return;
    Object.defineProperty(owner, name, { ...d, get: function __paramlabSpyGet() {
      __paramlabSpyCaller(kind);
      return d.get.call(this);
    } });
  }
  wrap(Object.getOwnPropertyDescriptor(window, "localStorage") ? window : Window.prototype, "localStorage", "localStorage");
  wrap(Document.prototype, "cookie", "cookie");
})()"""

# What markup from a payload would leave behind.
HOSTILE_DOM = """() => {
  const bad = [];
  for (const el of document.querySelectorAll("*")) {
    for (const a of el.attributes) if (a.name.startsWith("on")) bad.push(`${el.tagName} with ${a.name}`);
    if (el.tagName === "SCRIPT" && !el.src) bad.push("an inline SCRIPT");
    if (el.tagName === "IMG" && el.getAttribute("src") === "x") bad.push("IMG src=x");
    if (el.tagName === "B" && el.textContent === "kind") bad.push("B from the label column");
  }
  return bad;
}"""


def write_hostile_csv(path: Path, rows: int = 240) -> Path:
    """Three classes decided by the first column; every name is markup."""
    rng = np.random.default_rng(11)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow([*HEADERS, LABEL_COLUMN])
        for _ in range(rows):
            x = rng.normal(0, 1, len(HEADERS))
            k = 0 if x[0] < -0.45 else 1 if x[0] < 0.45 else 2
            out.writerow([f"{v:.3f}" for v in x] + [CLASSES[k]])
    return path


def spy(app: Any) -> Any:
    app.context.add_init_script(SPY)
    return app


def assert_harmless(app: Any, where: str) -> None:
    """No payload ran, left an element behind, or read the teacher key; the policy was never violated."""
    page = app.page
    assert page.evaluate("typeof window.__pwned") == "undefined", f"{where}: a payload ran"
    assert page.evaluate(HOSTILE_DOM) == [], f"{where}: markup from a name is in the DOM"
    assert page.evaluate("window.__csp") == [], f"{where}: CSP violations"
    reads = page.evaluate("window.__reads")
    strangers = [r for r in reads if "/static/js/" not in r]
    assert not strangers, f"{where}: localStorage or cookie read by code that is not the page's: {strangers}"


def text(app: Any, selector: str) -> str:
    return app.page.locator(selector).evaluate("e => e.textContent")


def hover_tooltip(app: Any, selector: str) -> str:
    app.page.locator(selector).hover()
    tip = app.page.locator("#tooltip")
    tip.wait_for(state="visible")
    return tip.evaluate("e => e.textContent")


def upload(app: Any, path: Path) -> None:
    with app.page.expect_file_chooser() as chooser:
        app.page.get_by_role("button", name="Your CSV").click()
    chooser.value.set_files(str(path))


def test_hostile_csv_names_are_shown_as_text_in_every_view(make_app, tmp_path):
    app = spy(make_app()).open("playing=false")
    # A file whose cell the server's error message repeats: the banner shows it as text.
    bad = tmp_path / "bad.csv"
    bad.write_text(f'a,b,label\n1,2,x\n3,"{BAD_CELL.replace(chr(34), chr(34) * 2)}",y\n')
    app.page.set_input_files("#csv-file", str(bad))
    app.wait("!document.querySelector('#banner-err').hidden")
    assert "bad.csv" in text(app, "#banner-err") and BAD_CELL in text(app, "#banner-err")
    assert_harmless(app, "upload error")
    app.errors[:] = [e for e in app.errors if "422" not in e]   # the refused upload, logged by the browser

    upload(app, write_hostile_csv(tmp_path / FILE_NAME))
    app.wait("/dataset=csv-[0-9a-f]{12}/.test(location.hash)")
    app.wait(f"paramlab.session.architecture.n_inputs === {len(HEADERS)} && paramlab.frame")
    assert app.page.locator("#csv-upload").evaluate("e => e.textContent") == FILE_NAME
    # Node labels: every header and class, literally.
    labels = app.page.locator(".node-label").evaluate_all("els => els.map(e => e.textContent)")
    assert labels[:len(HEADERS)] == HEADERS and labels[-len(CLASSES):] == CLASSES
    assert app.page.get_by_role("button", name="Step", exact=True).is_enabled()
    # Train on it.
    app.page.get_by_role("button", name="Play").click()
    app.wait("paramlab.frame.step >= 40")
    app.page.get_by_role("button", name="Pause").click()
    app.wait("paramlab.frame && paramlab.frame.playing === false")
    assert_harmless(app, "training")

    # Tooltips: an input, an output (a class), a weight from the first input.
    assert HEADERS[0] in hover_tooltip(app, '.node[data-key="n:0:0"]')
    assert HEADERS[3] in hover_tooltip(app, '.node[data-key="n:0:3"]')
    last = len(app.js("paramlab.session.architecture.hidden")) + 1
    assert CLASSES[1] in hover_tooltip(app, f'.node[data-key="n:{last}:1"]')
    # Just right of input 2, where only its own edges run (each names it).
    x, y = app.js("""(() => { const p = paramlab.network.edges.find(e => e.l === 0 && e.i === 2).pts;
        const r = document.querySelector('.net-stage').getBoundingClientRect();
        return [r.left + p[0] + 8, r.top + p[1]]; })()""")
    app.page.mouse.move(x, y)
    app.wait(f"document.querySelector('#tooltip').textContent.includes({HEADERS[2]!r})")
    assert_harmless(app, "tooltips")
    # The editor of a weight from that input names it in its title.
    app.page.mouse.click(x, y)
    dialog = app.page.get_by_role("dialog")
    assert HEADERS[2] in dialog.get_attribute("aria-label") and HEADERS[2] in dialog.evaluate("e => e.textContent")
    app.page.keyboard.press("Escape")
    # The output view's caption, on hovering an output node.
    app.page.locator(f'.node[data-key="n:{last}:0"]').hover()
    app.wait(f"document.querySelector('.out-caption').textContent.includes({CLASSES[0]!r})")
    app.page.mouse.move(5, 5)
    assert_harmless(app, "editor and caption")

    # Phase by phase: every phase's panel names neurons, classes and weights.
    next_phase = app.page.get_by_role("button", name="Next phase", exact=True)
    for phase in ("forward", "loss", "backward", "update"):
        next_phase.click()
        app.wait(f"paramlab.frame.phase === '{phase}'")
        body = text(app, ".phase-body")
        if phase in ("forward", "backward"):
            assert all(c in body for c in CLASSES), (phase, body)
        if phase == "backward":
            assert f"w {HEADERS[0]} → neuron 1.1" in body
        assert_harmless(app, f"phase {phase}")
    app.shot("hostile-names-phases")


def test_a_student_following_a_hostile_session_and_a_hostile_student_name(make_app, tmp_path):
    teacher = spy(make_app({"width": 1920, "height": 1080})).open("playing=false")
    upload(teacher, write_hostile_csv(tmp_path / "names.csv"))
    teacher.wait(f"paramlab.session.architecture.n_inputs === {len(HEADERS)} && paramlab.frame")
    tpage = teacher.page
    tpage.get_by_role("button", name="Classroom", exact=True).click()
    tpage.get_by_role("button", name="Open a room", exact=True).click()
    teacher.wait("paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    code = teacher.js("paramlab.classroom.room.code")
    sid = teacher.session_id()
    # The key reaches the download links as a cookie of this session's routes only.
    cookies = {c["name"]: c for c in teacher.context.cookies()}
    # (This read is the test's own: it leaves no trace in the record.)
    key = teacher.js(f"(() => {{ const n = __reads.length, k = localStorage.getItem('paramlab.teacher_key.{sid}');"
                     " __reads.length = n; return k; })()")
    assert cookies["paramlab_teacher"]["value"] == key and cookies["paramlab_teacher"]["path"] == f"/api/sessions/{sid}"
    assert cookies["paramlab_teacher"]["sameSite"] == "Strict"
    status = teacher.js("fetch(document.querySelector('#export-model').href).then(r => r.status)")
    assert status == 200

    student = spy(make_app({"width": 390, "height": 844})).open(path=f"/?room={code}")
    spage = student.page
    student.wait("document.activeElement && document.activeElement.id === 'join-name'")
    spage.keyboard.type(STUDENT)
    spage.get_by_label("Share my loss with the class", exact=True).check()
    spage.get_by_role("button", name="Join", exact=True).click()
    student.wait("paramlab.classroom.mode === 'follow' && paramlab.frame && paramlab.session.session_id === null")
    assert STUDENT in text(student, ".cl-student-text")
    # The teacher steps phase by phase; the student clicks nothing.
    for phase in ("forward", "loss", "backward", "update"):
        tpage.get_by_role("button", name="Next phase", exact=True).click()
        student.wait(f"paramlab.frame.phase === '{phase}'")
        body = text(student, ".phase-body")
        if phase == "forward":
            assert all(c in body for c in CLASSES)
        assert_harmless(student, f"student, phase {phase}")
    assert "paramlab_teacher" not in {c["name"] for c in student.context.cookies()}, "a follower holds no key"

    # Forked and sharing: the teacher's gallery shows the name as text.
    spage.get_by_role("button", name="Fork: experiment on my own copy", exact=True).click()
    student.wait("paramlab.classroom.mode === 'fork' && paramlab.session.session_id !== null")
    teacher.wait("document.querySelector('.cl-gallery tbody tr td:nth-child(2)')?.textContent === "
                 + repr(STUDENT), timeout=20000)
    assert_harmless(teacher, "teacher's gallery")
    tpage.get_by_label("Run name", exact=True).fill(RUN)
    tpage.get_by_role("button", name="Save run", exact=True).click()
    teacher.wait("document.querySelector('.cl-copied').textContent.includes('Saved')")
    assert f"Saved “{RUN}”" in text(teacher, ".cl-copied")
    teacher.shot("hostile-names-teacher", full_page=False)
    assert_harmless(teacher, "saved run")
    assert_harmless(student, "student, forked")


def test_the_spy_sees_a_read_from_outside_the_pages_scripts(make_app):
    """The storage check can fail: a read from anywhere but static/js/ is recorded as such."""
    app = spy(make_app()).open()
    app.js("localStorage.getItem('paramlab.teacher_key.x')")
    reads = app.js("window.__reads")
    assert any("/static/js/" not in r for r in reads), reads
    assert any("/static/js/socket.js" in r for r in reads), "the page's own reads are seen too"


def test_every_page_sends_the_policy_and_breaks_none_of_it(make_app, server):
    for path in ("/", "/docs", "/static/js/main.js"):
        with urllib.request.urlopen(server.url + path, timeout=10) as r:
            policy = r.headers["Content-Security-Policy"]
        assert policy and "script-src 'self';" in policy and "style-src 'self';" in policy, path
        assert "unsafe" not in policy, path
    app = spy(make_app({"width": 1920, "height": 1080})).open(frames=2)
    page = app.page
    page.get_by_role("button", name="Presenter", exact=True).click()
    app.wait("document.documentElement.classList.contains('presenter')")
    app.wait_frames(2)
    page.get_by_role("button", name="Classroom", exact=True).click()
    page.get_by_role("button", name="Open a room", exact=True).click()
    app.wait("paramlab.classroom.room && paramlab.classroom.room.role === 'teacher'")
    page.get_by_role("button", name="Next phase", exact=True).click()
    app.wait("paramlab.frame.phase === 'forward'")
    page.locator(".bias").first.click()
    page.get_by_role("dialog").wait_for()
    page.keyboard.press("Escape")
    assert_harmless(app, "presenter and classroom")

    # The API reference: Swagger UI from our own files, on our own schema, offline.
    docs = spy(make_app())
    docs.page.goto(server.url + "/docs")
    docs.page.locator(".swagger-ui .info .title").filter(has_text="Paramlab").wait_for()
    docs.page.locator('.opblock-summary-path[data-path="/api/sessions/{session_id}/model"]').first.wait_for()
    assert docs.page.evaluate("window.__csp") == []
    requested = docs.page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert requested and all(u.startswith(server.url) for u in requested), requested


def test_no_view_parses_html_or_writes_an_inline_style():
    """The rule, checked on the source: markup is built with dom.js (text nodes), styles come from classes."""
    sources = sorted((ROOT / "static" / "js").rglob("*.js"))
    assert len(sources) > 10
    parsing = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser")
    for src in sources:
        for n, line in enumerate(src.read_text().splitlines(), 1):
            assert not parsing.search(line), f"{src.relative_to(ROOT)}:{n}: {line.strip()}"
            assert not re.search(r"""setAttribute\(\s*["']style|style=""", line), f"{src.relative_to(ROOT)}:{n}"
    for page in sorted((ROOT / "templates").glob("*.html")):
        html = page.read_text()
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=|<script(?![^>]*\ssrc=)", html), page.name
