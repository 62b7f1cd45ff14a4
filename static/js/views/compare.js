// Run comparison: the live run duplicated with one hyperparameter changed. The
// page opens a second session on a second socket (the same configuration and
// seed, so the same data and initial weights; the one hyperparameter changed),
// restarts its own run from those weights so both start together, and from
// then on Play, Pause, Step, Reset and the speed drive both. The second run's
// loss curves are drawn over the first's on the loss chart, labelled with the
// changed value. Closing the comparison closes its socket. The page's own
// socket is never touched. A saved run (its link or id) can be drawn over the
// same chart too, in a slot of its own, with or without a live comparison.
// The transfer lab compares through the same machinery (openRun): a run of the
// new task from scratch, or a fork of this session opened by its id.
import { h, fill } from "../dom.js";
import { fmt } from "../format.js";
import { savedRun } from "../http.js";
import { Socket } from "../socket.js";

/** The hyperparameters a comparison may change, with their labels. */
const FIELDS = [["lr", "Learning rate"], ["momentum", "Momentum"], ["batch_size", "Batch size"], ["dropout", "Dropout"],
  ["regularization", "Regularization"], ["reg_rate", "Regularization rate"], ["optimizer", "Optimizer"]];
/** The menus' vocabulary lists of the hyperparameters chosen by name. */
const MENU_OF = { regularization: "regularization", optimizer: "optimizer" };
/** Messages the page sends that the compared run follows too. */
const MIRRORED = new Set(["play", "pause", "step", "set_speed", "reset"]);
const MAX_ROWS = 4000;   // epoch rows kept of the compared run (every other one goes past it)
/** A saved run's id: what a save gives (URL-safe base64), at most as long as the server's RunId. */
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The run id in a saved run's link (http(s)://host/?run=ID or /?run=ID) or a bare id: {id} or {error}. */
export function parseRunRef(text) {
  const t = String(text).trim();
  const allowed = "paste a saved run's link (…/?run=ID) or its id (1 to 64 letters, digits, - or _)";
  if (t === "") return { error: `No run given: ${allowed}.` };
  let id = t;
  if (/^(https?:\/\/|\/)/i.test(t)) {
    let url = null;
    try { url = new URL(t, location.href); } catch { /* not a link: said below */ }
    if (!url || !/^https?:$/.test(url.protocol)) return { error: `“${t}” is not a link: ${allowed}.` };
    id = url.searchParams.get("run");
    if (id === null) return { error: `That link has no ?run= in it: ${allowed}.` };
  }
  return RUN_ID.test(id) ? { id } : { error: `“${id}” is not a run id: ${allowed}.` };
}

/** A typed value of hyperparameter `field`: {value} or {error} saying what is allowed (the vocabulary's bounds). */
export function parseHyper(vocab, field, text) {
  if (MENU_OF[field]) {
    const values = vocab.values(MENU_OF[field]);
    return values.includes(text) ? { value: text } : { error: `Choose one of: ${values.join(", ")}.` };
  }
  const b = vocab.bounds(field), t = String(text).trim();
  const allowed = `a number from ${b.min} to ${b.max}${field === "batch_size" ? " (whole)" : ""}`;
  if (t === "" || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return { error: `${FIELDS.find((f) => f[0] === field)[1]}: “${t}” is not a number: type ${allowed}.` };
  const v = Number(t);
  if (!Number.isFinite(v) || v < b.min || v > b.max || (field === "batch_size" && !Number.isInteger(v))) return { error: `${FIELDS.find((f) => f[0] === field)[1]}: ${t} is out of range: type ${allowed}.` };
  return { value: v };
}

/** The compared run's epoch rows: steps, losses, the held-out accuracy, the previous task's accuracy and loss. */
const emptyRows = () => ({ step: [], train: [], held: [], acc: [], oldAcc: [], oldLoss: [] });

export class CompareRuns extends EventTarget {
  /**
   * root: the #lab-compare card; ctx: {state, vocab, charts, intent(msg): the page's own intent,
   * stoppingRule(): this run's early stopping rule or null}.
   */
  constructor(root, ctx) {
    super();
    Object.assign(this, ctx);
    this.root = root;
    this.socket = null; this.session = null; this.rows = null; this.live = null; this.changed = null; this.config = null;
    this.runLabel = null;
    this.build();
  }

  build() {
    this.field = h("select", { id: "cmp-field" }, FIELDS.map(([v, t]) => h("option", { value: v }, t)));
    this.value = h("input", { id: "cmp-value", type: "text", autocomplete: "off", "aria-describedby": "cmp-err cmp-now" });
    this.choice = h("select", { id: "cmp-choice" });
    this.now = h("span", { id: "cmp-now", class: "note" });
    this.err = h("p", { id: "cmp-err", class: "fit-err", role: "alert" });
    this.start = h("button", { type: "button", id: "cmp-start", class: "primary" }, "Start comparison");
    this.stop = h("button", { type: "button", id: "cmp-close", hidden: true }, "Close comparison");
    this.status = h("p", { id: "cmp-status", class: "note", role: "status" });
    fill(this.root,
      h("h2", { id: "h-lab-compare" }, "Compare runs"),
      h("p", { class: "note" }, "Duplicate this run with one hyperparameter changed: both start again from the same initial weights, Play, Pause and Step drive both, and their losses share the chart."),
      h("div", { class: "fit-fields" },
        h("div", { class: "fit-field" }, h("label", { for: "cmp-field" }, "Hyperparameter to change"), this.field),
        h("div", { class: "fit-field cmp-num" }, h("label", { for: "cmp-value" }, "Changed to"), this.value),
        h("div", { class: "fit-field cmp-enum" }, h("label", { for: "cmp-choice" }, "Changed to"), this.choice)),
      this.now, this.err,
      h("div", { class: "row" }, this.start, this.stop),
      this.status,
      h("div", { class: "cmp-saved" }));
    this.overlay = new SavedRunOverlay(this.root.querySelector(".cmp-saved"), this.charts);
    this.field.addEventListener("change", () => this.showField());
    this.start.addEventListener("click", () => this.open());
    this.stop.addEventListener("click", () => this.close("Comparison closed."));
    this.value.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); this.open(); } });
    this.showField();
  }

  /** The value field of the chosen hyperparameter: a menu for a name, a text field for a number, with its current value. */
  showField() {
    const f = this.field.value, menu = MENU_OF[f];
    this.root.querySelector(".cmp-num").hidden = !!menu;
    this.root.querySelector(".cmp-enum").hidden = !menu;
    if (menu) fill(this.choice, this.vocab.choices(menu).map((c) => h("option", { value: c.value }, c.label)));
    const cur = this.state[f];
    this.now.textContent = `Now: ${typeof cur === "number" ? fmt(cur, 4) : this.vocab.label(MENU_OF[f] || f, cur)}${menu ? "" : ` (allowed ${this.vocab.bounds(f).min} to ${this.vocab.bounds(f).max})`}.`;
    this.err.textContent = "";
  }

  /** Start the comparison: the second session, and the page's own run back at its initial weights. */
  open() {
    const f = this.field.value;
    const r = parseHyper(this.vocab, f, MENU_OF[f] ? this.choice.value : this.value.value);
    if (r.error) { this.err.textContent = r.error; this.value.setAttribute("aria-invalid", "true"); return; }
    if (r.value === this.state[f]) { this.err.textContent = `That is the value this run has: choose another ${FIELDS.find((x) => x[0] === f)[1].toLowerCase()}.`; return; }
    this.err.textContent = ""; this.value.removeAttribute("aria-invalid");
    this.changed = { field: f, value: r.value };
    const name = FIELDS.find((x) => x[0] === f)[1].toLowerCase();
    this.openRun({ label: `${name} ${typeof r.value === "number" ? fmt(r.value, 4) : r.value}`, config: this.state.config(),
      hyper: { ...this.state.hyper(), [f]: r.value }, resetMain: true });
  }

  /**
   * Compare with any second run: a new session with `config` and `hyper` (the same seeds give the same
   * data and the same freshly drawn weights), or, with `sessionId`, an existing session (a fork).
   * resetMain: the page's own run goes back to its initial weights so that both start together.
   * onSession(msg): told each `session` message of the compared run (the transfer lab sends it settings).
   * phrase: the run in a sentence ("Comparing with …"), when the label (a legend's) does not read as one.
   */
  openRun({ label, config, hyper = null, sessionId = null, resetMain = false, onSession = null, phrase = null }) {
    if (this.socket) this.close(null);
    this.runLabel = label; this.phrase = phrase ?? label;
    this.config = config;
    this.rows = emptyRows(); this.live = null; this.lastFrame = null;
    this.heldName = (config?.val_ratio ?? 0) > 0 ? "validation" : "test";
    // frames at 10 a second: a curve needs no more, and the live run keeps the machine's time.
    const hello = () => ({ fps: 10, ...(sessionId ? {} : { config, hyper }), playing: this.state.playing });
    const socket = new Socket(hello, null, { remember: false });
    if (sessionId) socket.sessionId = sessionId;
    socket.addEventListener("session", ({ detail }) => {
      const first = !this.session;
      this.session = detail; this.rows = emptyRows();
      this.status.textContent = `Comparing with ${this.phrase} (session ${detail.session_id}).`;
      // The duplicate stops early by the same rule as this run, if it has one.
      const rule = first ? this.stoppingRule() : null;
      if (rule) socket.send({ type: "early_stopping", rule });
      if (onSession) onSession(detail, socket, first);
      this.draw();
    });
    socket.addEventListener("history", ({ detail }) => { this.rows = emptyRows(); this.append(detail); this.draw(); });
    socket.addEventListener("frame", ({ detail }) => {
      this.append(detail.history);
      if (detail.metrics) this.live = { step: detail.step, m: detail.metrics };
      this.lastFrame = detail;
      socket.ack([detail.seq]);   // no picture to draw: each frame is done once its rows are kept
      this.draw();
    });
    socket.addEventListener("error", ({ detail }) => { this.status.textContent = `The compared run: ${detail.message}`; });
    this.socket = socket;
    socket.connect();
    if (resetMain) this.intent({ type: "reset", same_weights: true });   // both runs from the same initial weights, together
    this.start.textContent = "Restart comparison";
    this.stop.hidden = false;
    this.status.textContent = `Starting the run with ${this.phrase}…`;
  }

  label() { return this.runLabel || ""; }

  append(hist) {
    const e = hist?.epochs, r = this.rows;
    if (!e || !e.step || !r) return;
    for (let i = 0; i < e.step.length; i++) {
      if (r.step.length && e.step[i] <= r.step[r.step.length - 1]) continue;
      r.step.push(e.step[i]); r.train.push(e.train_loss[i]);
      r.held.push((this.heldName === "validation" ? e.val_loss?.[i] : e.test_loss?.[i]) ?? null);
      r.acc.push((this.heldName === "validation" ? e.val_acc?.[i] : e.test_acc?.[i]) ?? null);
      r.oldAcc.push(e.old_task_acc?.[i] ?? null); r.oldLoss.push(e.old_task_loss?.[i] ?? null);
    }
    if (r.step.length > MAX_ROWS) for (const k of Object.keys(r)) r[k] = r[k].filter((_, i) => i % 2 === 0);
  }

  /** The compared run's curves on the chart: its epoch rows and its newest point. */
  draw() {
    if (!this.rows) return;
    const r = this.rows, lv = this.live;
    const step = [...r.step], train = [...r.train], held = [...r.held];
    if (lv && (!step.length || lv.step > step[step.length - 1])) {
      step.push(lv.step); train.push(lv.m.train_loss ?? null); held.push((this.heldName === "validation" ? lv.m.val_loss : lv.m.test_loss) ?? null);
    }
    this.charts.setCompare({ label: this.label(), step, train, held, heldName: this.heldName });
    this.dispatchEvent(new CustomEvent("rows"));   // the transfer lab's chart draws the same run's accuracy
  }

  /** A message the page sent: the compared run follows play, pause, step, reset and speed. */
  mirror(msg) {
    if (!this.socket || !MIRRORED.has(msg.type)) return;
    this.socket.send(msg.type === "reset" ? { type: "reset", same_weights: true } : msg);
  }

  /** The page's own session changed: a new configuration ends the comparison (its data would differ). */
  mainSession(msg) {
    const same = (k) => JSON.stringify(msg.config?.[k] ?? null) === JSON.stringify(this.config[k] ?? null);
    if (this.socket && this.config !== null && !Object.keys(this.config).every(same)) {
      this.close("Comparison closed: this run's configuration changed. Start it again to compare on the new one.");
    }
  }

  close(note) {
    if (this.socket) this.socket.close();
    this.socket = null; this.session = null; this.rows = null; this.live = null; this.config = null; this.runLabel = null;
    this.charts.setCompare(null);
    this.dispatchEvent(new CustomEvent("rows"));
    this.start.textContent = "Start comparison";
    this.stop.hidden = true;
    if (note !== null) this.status.textContent = note;
  }
}

/** "Overlay a saved run": a run's link or id in, its losses on the loss chart (dashed), labelled with its name. */
export class SavedRunOverlay {
  constructor(root, charts) {
    this.root = root; this.charts = charts;
    this.run = null;      // the run drawn, as savedRun() gave it
    this.asked = 0;       // the number of the newest request: a reply to an older one is dropped
    this.field = h("input", { id: "ovl-run", type: "text", autocomplete: "off", spellcheck: "false",
      placeholder: "https://…/?run=… or the id", "aria-describedby": "ovl-err" });
    this.err = h("p", { id: "ovl-err", class: "fit-err", role: "alert" });
    this.show = h("button", { type: "button", id: "ovl-show" }, "Overlay");
    this.remove = h("button", { type: "button", id: "ovl-remove", hidden: true }, "Remove");
    this.status = h("p", { id: "ovl-status", class: "note", role: "status" });
    fill(root,
      h("h3", {}, "Overlay a saved run"),
      h("div", { class: "fit-field" }, h("label", { for: "ovl-run" }, "Saved run's link or id"), this.field),
      this.err,
      h("div", { class: "row" }, this.show, this.remove),
      this.status);
    this.show.addEventListener("click", () => this.open());
    this.remove.addEventListener("click", () => this.close());
    this.field.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); this.open(); } });
  }

  /** Load the run named in the field and draw it; a field that names no run is refused, nothing sent. */
  async open() {
    const ref = parseRunRef(this.field.value);
    if (ref.error) { this.err.textContent = ref.error; this.field.setAttribute("aria-invalid", "true"); return; }
    this.err.textContent = ""; this.field.removeAttribute("aria-invalid");
    const asked = ++this.asked;
    this.status.textContent = `Loading saved run ${ref.id}…`;
    let run;
    try {
      run = await savedRun(ref.id);
    } catch (exc) {
      if (asked === this.asked) { this.status.textContent = ""; this.err.textContent = exc.message; }
      return;
    }
    if (asked !== this.asked) return;
    const e = run.epochs, val = (run.config?.val_ratio ?? 0) > 0;
    this.run = run;
    this.charts.setOverlay({ label: `${run.name} (saved)`, step: e.step, train: e.train_loss,
      held: (val ? e.val_loss : e.test_loss).map((v) => v ?? null), heldName: val ? "validation" : "test" });
    this.remove.hidden = false;
    this.status.textContent = `Showing saved run “${run.name}”: ${e.step.length} epochs, to step ${run.step}.`;
  }

  close() {
    this.asked++;
    this.run = null;
    this.charts.setOverlay(null);
    this.remove.hidden = true;
    this.status.textContent = "Saved run removed from the chart.";
  }
}
