// What the cross-validation and search parts of the lab card share: a Run form
// whose input is checked in the page, a Cancel button, a progress bar, a status
// line (waiting, running, done, cancelled, failed, refused: in plain words) and
// the CSV link of the last finished job. A part follows one job at a time: the
// first `job` message of its kind after it asked, then that job's id.
import { h } from "../dom.js";

const STATE_TEXT = {
  waiting: "Waiting for a free worker (jobs run one at a time on the server)…",
  running: "Running in the background; the live session goes on.",
  done: "Done.",
  cancelled: "Cancelled.",
  failed: "Failed.",
};

const FINAL = new Set(["done", "cancelled", "failed"]);

export class JobPart {
  /**
   * kind: "cross_validation" | "search"; request: the message type that starts it; what: its short name
   * ("search"); send(msg) through the page's intent path.
   */
  constructor({ kind, request, title, id, send, what }) {
    this.kind = kind; this.request = request; this.send = send;
    this.job = null;          // {id, state, result, message}
    this.pending = false;     // asked, no job message yet
    this.sent = [];           // the start messages this part sent (tests read them)
    this.heading = h("h3", { id: `h-${id}` }, title);
    this.run = h("button", { type: "submit", class: "lj-run" }, "Run");
    this.cancelBtn = h("button", { type: "button", class: "lj-cancel", hidden: true, onclick: () => this.cancel() }, `Cancel ${what}`);
    this.status = h("p", { class: "lj-status", role: "status", "aria-live": "polite" });
    this.bar = h("progress", { class: "lj-bar", max: "1", value: "0", "aria-label": `${title} progress` });
    this.barText = h("span", { class: "lj-bar-text num" });
    this.progress = h("div", { class: "lj-progress", hidden: true }, this.bar, this.barText);
    this.csv = h("a", { class: "lj-csv", hidden: true, download: "" }, `Download the last ${title.toLowerCase()} as CSV`);
    this.blocked = null;      // why Run is refused now (no validation split, following), or null
  }

  /** The form: its fields, then Run and Cancel; submit checks the input and sends. */
  form(fields, label) {
    return h("form", { class: "lj-form", novalidate: true, "aria-label": label, onsubmit: (ev) => { ev.preventDefault(); this.start(); } },
      fields, h("div", { class: "lj-actions" }, this.run, this.cancelBtn));
  }

  /** Check the form; send the start message, or say what is wrong and send nothing. */
  start() {
    if (this.blocked) { this.say(this.blocked, true); return; }
    if (this.busy()) { this.say("A job of this kind is still going: cancel it or wait for it to end.", true); return; }
    let msg;
    try { msg = this.message(); } catch (err) { this.say(err.message, true); return; }
    this.pending = true;
    this.job = null;
    this.sent.push(msg);
    this.begin(msg);
    this.say("Asking the server…");
    this.update();
    this.send(msg);
  }

  busy() { return this.pending || (this.job !== null && (this.job.state === "waiting" || this.job.state === "running")); }

  cancel() {
    if (this.job && this.busy()) this.send({ type: "cancel_job", job_id: this.job.id });
  }

  /** A `job` message of this part's kind: the job it asked for, or not its business. */
  receive(msg) {
    if (this.pending && (!this.job || this.job.id !== msg.job_id)) {
      this.pending = false;
      this.job = { id: msg.job_id, state: msg.state, result: null, message: null };
    }
    if (!this.job || this.job.id !== msg.job_id || FINAL.has(this.job.state)) return;   // an ended job stays ended
    this.job.state = msg.state;
    if (msg.event) this.event(msg.event);
    if (msg.state === "done") { this.job.result = msg.result; this.done(msg.result); }
    if (msg.state === "failed") this.job.message = msg.message;
    this.say(msg.state === "failed" && msg.message ? `Failed: ${msg.message}` : STATE_TEXT[msg.state] || msg.state, msg.state === "failed");
    this.update();
  }

  /** An `error` answering this part's start or cancel. */
  refused(msg) {
    if (msg.request === this.request) this.pending = false;
    const words = msg.code === "limit" ? `Not started: ${msg.message}.` : msg.message;
    this.say(words, true);
    this.update();
  }

  /** The connection dropped: the server cancels a leaving client's jobs. */
  disconnected() {
    if (!this.busy()) return;
    this.pending = false;
    if (this.job) this.job.state = "cancelled";
    this.say("Cancelled: the connection to the server dropped (a job ends with its connection).", true);
    this.update();
  }

  say(text, problem = false) {
    this.status.textContent = text;
    this.status.classList.toggle("lj-problem", problem);
  }

  setProgress(value, max, text) {
    this.bar.max = Math.max(1, max); this.bar.value = Math.min(value, max);
    this.barText.textContent = text;
  }

  /** Buttons and progress follow the job's state. */
  update() {
    const busy = this.busy();
    this.run.disabled = busy;
    this.cancelBtn.hidden = !(busy && this.job);
    this.progress.hidden = !(this.job || this.pending);
  }

  /** Where the last finished job's CSV is (null: nowhere). */
  setCsv(href) {
    this.csv.hidden = !href;
    if (href) this.csv.href = href; else this.csv.removeAttribute("href");
  }

  // ---- for the parts ------------------------------------------------------------------------
  message() { throw new Error("not implemented"); }
  begin() {}
  event() {}
  done() {}
}
