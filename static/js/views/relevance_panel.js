// Which inputs matter, for tabular data (no map to look at): each named input
// with the size of its learned weights (the length of its row of the first
// layer's W, live from the frame) and, on request ("Measure", an `importance`
// message), its permutation importance measured by the server on held-out data,
// drawn as a bar with its spread. An input that never varies (the dataset's
// `constant_inputs`) is marked: it carries no signal, whatever its weights.
import { h, fill } from "../dom.js";
import { fmt, int } from "../format.js";

const REPEATS = [3, 5, 10, 20];
const DEFAULT_REPEATS = 5;

/** The L2 norm of each input's outgoing first-layer weights (one per row of W). */
export function weightNorms(W) {
  return Array.from(W, (row) => Math.sqrt(Array.from(row).reduce((s, w) => s + (w === null ? 0 : w * w), 0)));
}

export class RelevancePanel extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    this.names = []; this.constant = []; this.measured = null; this.norms = []; this.step = null; this.measuredStep = null;
    this.build();
  }

  intent(detail) { this.dispatchEvent(new CustomEvent("intent", { detail })); }

  build() {
    this.repeats = h("select", { id: "imp-repeats" }, REPEATS.map((r) => h("option", { value: String(r), selected: r === DEFAULT_REPEATS }, `${r} shuffles`)));
    this.measure = h("button", { type: "button", id: "imp-measure", class: "primary" }, "Measure");
    this.status = h("p", { class: "note rel-status", role: "status" });
    this.list = h("div", { class: "rel-list", role: "table", "aria-label": "Inputs: weight size and permutation importance" });
    fill(this.root,
      h("h3", { id: "h-relevance" }, "Which inputs matter?"),
      h("p", { class: "note" }, h("b", null, "Weight size"), " (live): the length of the weights that carry an input into the first layer. Large weights let an input move the network, but only if the input itself varies. ",
        h("b", null, "Importance"), " (measured): shuffle one input across the held-out points, which cuts its link to the answer, and see how much the score drops. An input the model does not rely on drops nothing. The thin line shows the spread over the shuffles."),
      h("p", { class: "note rel-const-note" }, h("span", { class: "rel-flag" }, "never varies"), " an input with the same value for every training point: after standardizing it is always 0, so its gradient is always exactly 0. Its weights never learn and it carries no signal, whatever they are (L1 regularization takes them to exactly 0)."),
      h("div", { class: "row" }, this.measure, h("label", { class: "inline", for: "imp-repeats" }, "with"), this.repeats),
      this.status,
      this.list);
    this.measure.addEventListener("click", () => {
      this.measure.disabled = true;
      this.status.textContent = "Measuring…";
      this.intent({ type: "importance", repeats: Number(this.repeats.value) });
      clearTimeout(this.timer);
      this.timer = setTimeout(() => { this.measure.disabled = false; }, 3000);
    });
  }

  /** A dataset: its inputs' names and which of them never vary; earlier measures no longer apply. */
  setDataset(msg) {
    this.names = msg.features || msg.input_names || [];
    this.constant = msg.constant_inputs || this.names.map(() => false);
    this.measured = null; this.measuredStep = null; this.status.textContent = "";
    this.key = null;
    this.draw();
  }

  /** Per frame: the weight sizes from the first layer's weights. */
  update(frame) {
    const W = frame.layers?.[0]?.W;
    if (!W || W.length !== this.names.length) return;
    this.step = frame.step;
    this.norms = weightNorms(W);
    this.draw();
  }

  /** The server refused or failed to measure: say why, and let the user try again. */
  failed(message) {
    clearTimeout(this.timer);
    this.measure.disabled = false;
    this.status.textContent = `Not measured: ${message}`;
  }

  /** The server's `importance` answer. */
  setImportance(msg) {
    clearTimeout(this.timer);
    this.measure.disabled = false;
    this.measured = msg; this.measuredStep = this.step;
    const metric = msg.metric === "loss" ? "loss" : "accuracy";
    this.status.textContent = `Measured at step ${int(this.step ?? 0)} on the ${msg.split === "val" ? "validation" : "test"} points: ${metric} ${fmt(msg.baseline, 4)} before shuffling.`;
    this.status.title = `baseline ${metric} = ${msg.baseline}`;
    this.key = null;
    this.draw();
  }

  /** The rows again when the inputs or the measure changed; else only the live weight sizes, in place. */
  draw() {
    const imp = this.measured?.inputs || null;
    const key = JSON.stringify([this.names, this.constant, imp]);
    if (key !== this.key) { this.key = key; this.buildRows(imp); }
    const maxNorm = Math.max(1e-12, ...this.norms);
    this.names.forEach((_, i) => {
      const cell = this.normCells?.[i], n = this.norms[i];
      if (!cell) return;
      cell.bar.style.width = `${n === undefined ? 0 : (100 * n) / maxNorm}%`;
      const text = n === undefined ? "—" : fmt(n, 3);
      if (cell.num.textContent !== text) cell.num.textContent = text;
      cell.num.title = n === undefined ? "" : String(n);
    });
  }

  buildRows(imp) {
    const maxImp = imp ? Math.max(1e-12, ...imp.map((r) => Math.abs(r.importance) + r.spread)) : 1;
    const what = this.measured?.metric === "loss" ? "rise in loss" : "drop in accuracy";
    const head = h("div", { class: "rel-row rel-head", role: "row" },
      h("span", { role: "columnheader" }, "Input"), h("span", { role: "columnheader" }, "Weight size ‖w‖"),
      h("span", { role: "columnheader" }, `Importance (${what})`));
    this.normCells = [];
    const rows = this.names.map((name, i) => {
      const constant = !!this.constant[i];
      const normBar = h("span", { class: `rel-bar norm${constant ? " dead" : ""}` }), normNum = h("span", { class: "num" });
      this.normCells[i] = { bar: normBar, num: normNum };
      const r = imp?.find((x) => x.name === name) ?? imp?.[i];
      const impCell = h("span", { class: "rel-cell", role: "cell" }, h("span", { class: "rel-mlabel", "aria-hidden": "true" }, "importance"));
      if (r) {
        const bar = h("span", { class: `rel-bar imp${r.importance < 0 ? " neg" : ""}` }), whisker = h("span", { class: "rel-whisker" });
        const x = (v) => 50 + (50 * v) / maxImp;
        bar.style.left = `${Math.min(x(0), x(r.importance))}%`; bar.style.width = `${Math.abs(x(r.importance) - x(0))}%`;
        whisker.style.left = `${x(r.importance - r.spread)}%`; whisker.style.width = `${x(r.importance + r.spread) - x(r.importance - r.spread)}%`;
        impCell.append(h("span", { class: "rel-track centered" }, bar, whisker),
          h("span", { class: "num", title: `importance ${r.importance}, spread ${r.spread}` }, `${fmt(r.importance, 3)} ± ${fmt(r.spread, 2)}`));
        impCell.dataset.importance = String(r.importance);
      } else impCell.append(h("span", { class: "muted" }, "press Measure"));
      return h("div", { class: `rel-row${constant ? " constant" : ""}`, role: "row", dataset: { name } },
        h("span", { class: "rel-name", role: "rowheader" }, name, constant ? h("span", { class: "rel-flag", title: "never varies: its gradient is always exactly 0" }, "never varies") : null),
        h("span", { class: "rel-cell", role: "cell" }, h("span", { class: "rel-mlabel", "aria-hidden": "true" }, "‖w‖"), h("span", { class: "rel-track" }, normBar), normNum),
        impCell);
    });
    fill(this.list, head, rows);
  }
}
