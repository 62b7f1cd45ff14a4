// The cross-validation part of the lab card: k and epochs, Run and Cancel, the
// progress over folds x epochs, one validation-loss curve per fold as it ends,
// a table of the folds (hover or focus a row: its held-out points are ringed on
// the data view) and the score's mean and sample standard deviation.
import { h, fill } from "../dom.js";
import { fmt, exact } from "../format.js";
import { JobPart } from "./job_part.js";
import { FoldChart, FOLD_COLORS } from "./fold_chart.js";
import { K_RANGE, EPOCHS_RANGE, parseWhole, sampleStd } from "./lab_inputs.js";

export class CrossValidationPanel extends JobPart {
  /** highlight(valIndex | null): ring these pooled points on the data view. */
  constructor({ send, highlight }) {
    super({ kind: "cross_validation", request: "cross_validate", title: "Cross-validation", id: "lj-cv", send, what: "cross-validation" });
    this.highlight = highlight;
    this.k = h("input", { type: "number", id: "lj-cv-k", min: String(K_RANGE.min), max: String(K_RANGE.max), step: "1", value: "5", inputmode: "numeric" });
    this.epochs = h("input", { type: "number", id: "lj-cv-epochs", min: String(EPOCHS_RANGE.min), max: String(EPOCHS_RANGE.max), step: "1", value: "20", inputmode: "numeric" });
    this.run.textContent = "Run cross-validation";
    this.folds = [];            // fold_done events, in the order they came
    this.hovered = null;        // the fold hovered on the chart or the table
    this.shown = null;          // the fold whose points are ringed
    this.summary = h("p", { class: "lj-summary" });
    this.table = h("tbody");
    this.chartEl = h("div", { class: "lj-fold-chart" });
    this.chart = new FoldChart(this.chartEl, (fold) => { this.hovered = fold; this.ring(); });
    this.root = h("div", { class: "lj-part", role: "group", "aria-labelledby": "h-lj-cv" },
      this.heading,
      h("p", { class: "muted lj-help" }, "The training and validation points are pooled and cut into k folds; each fold is held out once while a copy of the network, from the live run's initial weights, trains on the others. The spread of the k scores says how much one split's score can be trusted."),
      this.form([
        h("label", { for: "lj-cv-k" }, "Folds (k, 2 to 10)"), this.k,
        h("label", { for: "lj-cv-epochs" }, "Epochs per fold (1 to 2000)"), this.epochs,
      ], "Cross-validation settings"),
      this.status, this.progress, this.chartEl, this.summary,
      h("table", { class: "lj-folds", hidden: true }, h("caption", null, "Folds: hover or focus a row to ring its held-out points on the data view"),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Fold"), h("th", { scope: "col" }, "Held-out points"),
          h("th", { scope: "col" }, "Epochs"), h("th", { scope: "col" }, "Validation loss"))), this.table),
      this.csv);
    this.tableEl = this.root.querySelector("table");
  }

  message() {
    this.k.removeAttribute("aria-invalid"); this.epochs.removeAttribute("aria-invalid");
    const field = (input, label, r) => {
      try { return parseWhole(input.value, label, r); } catch (err) { input.setAttribute("aria-invalid", "true"); input.focus(); throw err; }
    };
    const k = field(this.k, "Folds (k)", K_RANGE), epochs = field(this.epochs, "Epochs", EPOCHS_RANGE);
    return { type: "cross_validate", k, epochs };
  }

  begin(msg) {
    this.plan = msg;
    this.folds = []; this.hovered = null; this.stale = false;
    this.held = null; this.running = null;   // every fold's held-out points (sent first), the fold training now
    this.chart.clear();
    fill(this.table); this.tableEl.hidden = true;
    fill(this.summary);
    this.setProgress(0, msg.k * msg.epochs, `0 of ${msg.k} folds`);
    this.ring();
  }

  event(ev) {
    const { k, epochs } = this.plan;
    if (ev.folds) {
      this.held = ev.folds;
    } else if ("fold" in ev && "epoch" in ev) {
      this.setProgress(ev.fold * epochs + ev.epoch, k * epochs, `Fold ${ev.fold + 1} of ${k}, epoch ${ev.epoch} of ${epochs}`);
      this.running = ev.fold;
      this.ring();
    } else if (ev.fold_done) {
      const f = ev.fold_done;
      this.folds.push(f);
      this.chart.add(f.fold, f.curve.val_loss);
      this.addRow(f);
      this.setProgress((f.fold + 1) * epochs, k * epochs, `${this.folds.length} of ${k} folds done`);
      this.showSummary(null);
      this.ring();
    }
  }

  done(result) {
    this.setProgress(this.plan.k * this.plan.epochs, this.plan.k * this.plan.epochs, `${result.k} of ${result.k} folds done`);
    this.showSummary(result);
  }

  addRow(f) {
    const score = f.score === null ? h("span", { class: "lj-diverged" }, "diverged") : h("span", { class: "num", title: exact(f.score) }, fmt(f.score, 4));
    const row = h("tr", { tabindex: "0", dataset: { fold: String(f.fold) }, "aria-label": `Fold ${f.fold + 1}: ${f.val_index.length} held-out points, ${f.epochs} epochs, validation loss ${f.score === null ? "diverged" : exact(f.score)}` },
      h("th", { scope: "row" }, h("span", { class: "lj-swatch", "aria-hidden": "true", dataset: { c: String(f.fold % FOLD_COLORS.length) } }), `Fold ${f.fold + 1}`),
      h("td", { class: "num" }, String(f.val_index.length)), h("td", { class: "num" }, String(f.epochs)), h("td", null, score));
    const on = () => { this.hovered = f.fold; this.ring(); }, off = () => { this.hovered = null; this.ring(); };
    row.addEventListener("mouseenter", on); row.addEventListener("focus", on);
    row.addEventListener("mouseleave", off); row.addEventListener("blur", off);
    this.table.append(row);
    this.tableEl.hidden = false;
  }

  /**
   * The score's mean and sample standard deviation: the server's once the job is done (result), the folds'
   * so far before. Exact values in the titles.
   */
  showSummary(result) {
    let mean, std, n, final = !!result;
    if (result) { mean = result.mean; std = result.std; n = result.scores.length; } else {
      const scores = this.folds.map((f) => f.score);
      n = scores.length;
      const finite = scores.every((s) => s !== null);
      mean = finite && n ? scores.reduce((a, b) => a + b, 0) / n : null;
      std = finite ? sampleStd(scores) : null;
    }
    this.shownSummary = { mean, std, final };
    if (mean === null || mean === undefined) {
      fill(this.summary, this.folds.some((f) => f.score === null) ? "A fold diverged: there is no mean score (lower the learning rate)." : null);
      return;
    }
    fill(this.summary,
      final ? "Validation loss over the folds: mean " : `So far (${n} of ${this.plan.k} folds): mean `,
      h("strong", { class: "num lj-mean", title: `mean ${exact(mean)}` }, fmt(mean, 4)),
      " ± ",
      h("strong", { class: "num lj-std", title: std === null ? "one fold: no spread yet" : `sample standard deviation ${exact(std)}` }, std === null ? "—" : fmt(std, 3)),
      h("span", { class: "muted" }, ` (sample standard deviation over ${n} folds)`));
  }

  /** Ring the hovered fold's points, else the fold training now, else the last fold that ended. */
  ring() {
    if (this.stale) return;
    const done = (i) => this.folds.find((f) => f.fold === i);
    const running = this.running !== null && !done(this.running) && this.held ? this.running : null;
    const show = this.hovered ?? running ?? (this.folds.length ? this.folds[this.folds.length - 1].fold : null);
    if (show === this.shown) return;
    this.shown = show;
    const points = show === null ? null : done(show)?.val_index ?? this.held?.[show] ?? null;
    this.highlight(points);
  }

  /** A new dataset: the folds' indices no longer name these points. */
  forgetPoints() { this.stale = true; this.shown = null; this.highlight(null); }
}
