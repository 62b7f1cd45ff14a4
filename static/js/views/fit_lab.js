// Overfitting and early stopping, the page side: the early stopping card (on/off,
// patience, the metric watched, an epoch budget; the best epoch, the stop, its
// reason and the epochs saved, as the frame's `early_stopping` reports them; the
// "Restore best weights" button), the count of parameters beside the count of
// training points in the data panel, and the "Final score" button that reveals
// the test set held back while there is a validation split.
import { h, fill } from "../dom.js";
import { int, fmt } from "../format.js";

const $ = (id) => document.getElementById(id);
const METRICS = [
  ["val_loss", "Validation loss"], ["val_acc", "Validation accuracy"], ["train_loss", "Training loss"], ["train_acc", "Training accuracy"],
];
const PATIENCE = { min: 1, max: 1000, def: 10 };
const MAX_EPOCHS = { min: 1, max: 100000 };
const NO_VAL = "needs a validation split: give “Validation data” a share first";

/** A whole number typed in a field, within [min, max]: {value} or {error} saying what is allowed. */
export function parseWhole(text, min, max, what) {
  const t = String(text).trim();
  if (!/^[0-9]+$/.test(t)) return { error: `${what}: “${t}” is not a whole number (type one from ${int(min)} to ${int(max)}).` };
  const v = Number(t);
  if (v < min || v > max) return { error: `${what}: ${int(v)} is out of range (type one from ${int(min)} to ${int(max)}).` };
  return { value: v };
}

export class FitLab extends EventTarget {
  /** root: the #lab-fit card; reveal: {test} shared with the metrics and charts; onReveal(): they redraw. */
  constructor(root, { reveal, onReveal }) {
    super();
    Object.assign(this, { root, reveal, onReveal });
    this.hasVal = false; this.stopping = null; this.pending = 0; this.config = null;
    this.build();
    this.finalRow = document.querySelector(".final-score");
    $("final-score").addEventListener("click", () => this.setReveal(!this.reveal.test));
  }

  intent(detail) { this.dispatchEvent(new CustomEvent("intent", { detail })); }

  build() {
    const field = (id, label, input, hint) => h("div", { class: "fit-field" }, h("label", { for: id }, label), input, hint);
    this.on = h("input", { type: "checkbox", id: "es-on" });
    this.patience = h("input", { id: "es-patience", type: "text", inputmode: "numeric", autocomplete: "off", value: String(PATIENCE.def), "aria-describedby": "es-err" });
    this.metric = h("select", { id: "es-metric", "aria-describedby": "es-metric-why" }, METRICS.map(([v, t]) => h("option", { value: v }, t)));
    this.metricWhy = h("span", { id: "es-metric-why", class: "note" });
    this.maxEpochs = h("input", { id: "es-max", type: "text", inputmode: "numeric", autocomplete: "off", placeholder: "no limit", "aria-describedby": "es-err" });
    this.err = h("p", { id: "es-err", class: "fit-err", role: "alert" });
    this.restore = h("button", { type: "button", id: "es-restore", disabled: true, "aria-describedby": "es-report" }, "Restore best weights");
    this.report = h("dl", { id: "es-report", class: "fit-report", "aria-live": "polite" });
    fill(this.root,
      h("h2", { id: "h-lab-fit" }, "Early stopping"),
      h("p", { class: "note" }, "Stop training once the watched score has not improved for a number of epochs, and go back to the best weights."),
      h("label", { class: "check" }, this.on, " Stop early"),
      h("div", { class: "fit-fields" },
        field("es-patience", "Patience (epochs)", this.patience),
        field("es-metric", "Watch", this.metric, this.metricWhy),
        field("es-max", "Epoch budget", this.maxEpochs)),
      this.err,
      this.report,
      h("div", { class: "row" }, this.restore));
    this.on.addEventListener("change", () => this.send());
    for (const el of [this.patience, this.maxEpochs]) {
      el.addEventListener("change", () => { if (this.on.checked) this.send(); else this.check(); });
      el.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); if (this.on.checked) this.send(); else this.check(); } });
    }
    this.metric.addEventListener("change", () => { if (this.on.checked) this.send(); });
    this.restore.addEventListener("click", () => this.intent({ type: "restore_best" }));
    this.showReport(null);
  }

  /** The rule the fields say, or null with the reason shown. */
  check() {
    const p = parseWhole(this.patience.value, PATIENCE.min, PATIENCE.max, "Patience");
    const budget = this.maxEpochs.value.trim();
    const m = budget === "" ? { value: null } : parseWhole(budget, MAX_EPOCHS.min, MAX_EPOCHS.max, "Epoch budget");
    const metric = this.metric.value;
    let error = p.error || m.error || null;
    if (!error && metric.startsWith("val_") && !this.hasVal) error = `Watching ${metric.replace("_", " ")} ${NO_VAL}, or watch the training loss.`;
    this.err.textContent = error || "";
    for (const [el, bad] of [[this.patience, p.error], [this.maxEpochs, m.error]]) {
      if (bad) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
    }
    return error ? null : { patience: p.value, metric, min_delta: 0, max_epochs: m.value };
  }

  /** Send the rule (or null, switched off). A rule the fields refuse is not sent: the reason shows. */
  send() {
    if (!this.on.checked) { this.err.textContent = ""; this.pending = 2; this.intent({ type: "early_stopping", rule: null }); return; }
    const rule = this.check();
    if (!rule) { this.on.checked = !!this.stopping; return; }
    this.pending = 2;   // frames already on their way still show the old watch
    this.intent({ type: "early_stopping", rule });
  }

  /** The rule of the watch the server has now (as an `early_stopping` message carries it), or null. */
  rule() {
    const es = this.stopping;
    return es ? { patience: es.patience, metric: es.metric, min_delta: es.min_delta, max_epochs: es.max_epochs } : null;
  }

  /** A new session: is there a validation split; the held-back test set hidden again when the data changed. */
  setSession(msg) {
    const config = JSON.stringify(msg.config);
    if (this.config !== null && this.config !== config) this.setReveal(false, false);
    this.config = config;
    this.hasVal = (msg.config?.val_ratio ?? 0) > 0;
    for (const o of this.metric.options) o.disabled = o.value.startsWith("val_") && !this.hasVal;
    this.metricWhy.textContent = this.hasVal ? "" : `Validation scores ${NO_VAL}.`;
    if (!this.hasVal && this.metric.value.startsWith("val_")) this.metric.value = "train_loss";
    if (this.hasVal && !this.on.checked && this.metric.value === "train_loss") this.metric.value = "val_loss";
    this.finalRow.hidden = !this.hasVal;
    this.params = msg.architecture?.total_params ?? null;
    this.showCounts();
  }

  setDataset(msg) { this.points = msg.train?.y?.length ?? null; this.showCounts(); }

  /** "1,561 parameters, 50 training points", and a plain note when the parameters outnumber the points. */
  showCounts() {
    const p = this.params, n = this.points;
    $("count-params").textContent = p === null || p === undefined ? "" : `${int(p)} parameter${p === 1 ? "" : "s"},`;
    $("count-points").textContent = n === null || n === undefined ? "" : `${int(n)} training point${n === 1 ? "" : "s"}`;
    const warn = $("count-warn");
    const more = p > 0 && n >= 0 && p > n;
    warn.hidden = !more;
    warn.textContent = more ? `More parameters than training points: the network can learn every point by heart, noise included, and fit new points worse (overfitting).` : "";
  }

  /** Reveal the test set (the final score) or hold it back again. */
  setReveal(on, redraw = true) {
    this.reveal.test = on;
    const b = $("final-score");
    b.setAttribute("aria-pressed", String(on));
    b.textContent = on ? "Hide test score" : "Final score";
    $("final-note").textContent = on ? "The test score is shown: it measures the finished model. Tuning on it would make it one more validation set."
      : "The test set is held back: tune on validation, then look once.";
    if (redraw) this.onReveal();
  }

  /** Per frame: the watch as the server has it. */
  update(frame) {
    const es = frame.early_stopping ?? null;
    if (this.pending > 0) this.pending--;
    else if (this.on.checked !== !!es && document.activeElement !== this.on) this.on.checked = !!es;
    if (JSON.stringify(es) === JSON.stringify(this.stopping)) return;
    this.stopping = es;
    this.showReport(es);
  }

  showReport(es) {
    const row = (dt, dd, title = null) => h("div", null, h("dt", null, dt), h("dd", { title }, dd));
    this.restore.disabled = !(es && es.best_epoch !== null && es.best_epoch !== undefined);
    if (!es) { fill(this.report, row("Watch", "off")); return; }
    const rows = [row("Watching", `${es.metric.replace("_", " ")}, patience ${es.patience}${es.max_epochs ? `, budget ${int(es.max_epochs)} epochs` : ""}`)];
    if (es.best_epoch === null || es.best_epoch === undefined) rows.push(row("Best epoch", "none yet (measured at the end of each epoch)"));
    else {
      rows.push(row("Best epoch", `${int(es.best_epoch)} (step ${int(es.best_step)}): ${fmt(es.best_value)}`, `${es.metric} = ${es.best_value}`));
      if (es.stopped_epoch === null || es.stopped_epoch === undefined) rows.push(row("Waiting", `${es.waited} of ${es.patience} epochs without improvement`));
    }
    if (es.stopped_epoch !== null && es.stopped_epoch !== undefined) {
      const why = es.reason === "max_epochs" ? "the epoch budget was reached" : `no improvement for ${es.patience} epochs`;
      rows.push(row("Stopped", `epoch ${int(es.stopped_epoch)} (step ${int(es.stopped_step)}): ${why}`));
      if (es.epochs_saved !== null && es.epochs_saved !== undefined) rows.push(row("Epochs saved", `${int(es.epochs_saved)} of the budget of ${int(es.max_epochs)}`));
      rows.push(row("Next", "the run stays paused: restore the best weights, or switch the watch off (or change it) to train on"));
    }
    fill(this.report, rows);
  }
}
