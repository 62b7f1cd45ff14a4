// Step-by-step mode: one click per phase (forward, loss, backward, update) on
// the current mini-batch, with the traced sample's numbers. The network view
// lights up in step; this panel says in words and numbers what happened.
import { fmt } from "../format.js";
import { h, fill, num, nums } from "../dom.js";
import { nodeName, paramNumbers } from "./inspect.js";
import { ruleLines } from "../rules.js";

const PHASES = ["forward", "loss", "backward", "update"];
const TITLES = { forward: "Forward", loss: "Loss", backward: "Backward", update: "Update" };
const MAX_ROWS = 48;
const LOSS_FORMULA = { playground: "½(ŷ − t)²", binary: "−[t·log ŷ + (1−t)·log(1−ŷ)]", multiclass: "−log ŷ_t", regression: "squared error of ŷ − t" };

const formula = (text) => h("span", { class: "formula" }, text);
const targets = (t) => (Array.isArray(t.target) ? nums(t.target) : num(t.target));

/** A scrolling table: head cells (strings) and rows (arrays of cells: a string or node is a th first, then tds). */
function table(head, rows) {
  // Focusable: a table taller than its box scrolls, and a keyboard must be able to scroll it too.
  return h("div", { class: "scroll", tabindex: "0" }, h("table", null,
    h("thead", null, h("tr", null, head.map((c) => h("th", null, c)))),
    h("tbody", null, rows.map(([th, ...tds]) => h("tr", null, h("th", null, th), tds.map((c) => h("td", null, c)))))));
}

export class PhasesView extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    const next = h("button", { id: "next-phase", type: "button", class: "primary" }, "Next phase");
    this.items = PHASES.map((p) => h("li", { dataset: { phase: p } }, TITLES[p]));
    this.body = h("div", { class: "phase-body", "aria-live": "polite" });
    fill(root, h("h2", { id: "h-phases" }, "Step by step"),
      h("div", { class: "phase-head" }, next, h("ol", { class: "phase-list", "aria-label": "Phases" }, this.items)),
      this.body);
    next.addEventListener("click", () =>
      this.dispatchEvent(new CustomEvent("intent", { detail: { type: "step", unit: "phase", count: 1 } })));
    this.key = null; this.prev = null;
  }

  reset(ctx) { this.ctxInfo = ctx; this.key = null; this.prev = null; this.render(null); }

  update(frame) {
    const key = frame.phase ? `${frame.phase}:${frame.step}:${frame.trace?.index}` : "none";
    if (key !== this.key) { this.key = key; this.render(frame); }
    this.prev = frame;
  }

  render(frame) {
    const phase = frame?.phase || null;
    this.items.forEach((li) => (li.dataset.phase === phase ? li.setAttribute("aria-current", "step") : li.removeAttribute("aria-current")));
    if (!phase || !frame.trace) {
      fill(this.body, h("p", null, "Walk one mini-batch through a training step: press ", h("b", null, "Next phase"),
        " (or set Step unit to ", h("i", null, "phase"), " and press ", h("kbd", null, "→"),
        "). Forward, loss, backward, update — one click each. Click a training point in the output view to choose the sample that is traced."));
      return;
    }
    const t = frame.trace, ctx = this.ctxInfo;
    const sample = h("p", null, "Traced sample ", h("b", null, `#${t.index}`), ": x = (", nums(t.x), "), target ", targets(t), ".");
    // Words on one side, tables on the other: a projector shows both side by side (presenter mode).
    let text = [], tables = [];
    if (phase === "forward") {
      text = [h("p", null, "Layer by layer, every neuron computes ", formula("z = Σ w·a + b"), " and ", formula("a = f(z)"), ".")];
      tables = [this.neuronTable(t, ["z", "a"])];
    } else if (phase === "loss") {
      text = [h("p", null, "Prediction ", h("b", null, "ŷ = ", nums(t.output)), ", target ", h("b", null, "t = ", targets(t)),
        ", loss of this sample ", formula(LOSS_FORMULA[ctx.task] || ""), " = ", h("b", null, num(t.loss)),
        ". Mean loss of the mini-batch: ", h("b", null, num(t.batch_loss)), ".")];   // this batch's, from the trace (metrics hold the last finished step's)
    } else if (phase === "backward") {
      text = [h("p", null, "The error flows back: ", formula("dL/dz"), " of every neuron for this sample, and the mini-batch gradient ",
        formula("dL/dw"), " on every edge (edges now show gradients; hover one for its numbers).")];
      tables = [this.neuronTable(t, ["dz"]), this.paramTable(frame, "grad")];
    } else if (phase === "update") {
      text = [h("p", null, `Every parameter moves by the optimizer's rule (${frame.hyper.optimizer}, lr `, num(frame.hyper.lr), "): old value → new value."),
        this.ruleOfLargest(frame)];
      tables = [this.paramTable(frame, "update")];
    }
    fill(this.body, h("div", { class: "phase-text" }, sample, text), tables.length ? h("div", { class: "phase-tables" }, tables) : null);
  }

  neuronTable(t, cols) {
    const ctx = this.ctxInfo, rows = [];
    const head = { z: "z (pre-activation)", a: "a (activation)", dz: "dL/dz" };
    for (let l = 0; l < (t.z?.length || 0) && rows.length < MAX_ROWS; l++) {
      for (let k = 0; k < t.z[l].length && rows.length < MAX_ROWS; k++) {
        const vals = { z: t.z[l][k], a: t.a?.[l + 1]?.[k], dz: t.dz?.[l]?.[k] };
        rows.push([nodeName(ctx, l + 1, k), ...cols.map((c) => num(vals[c], 5))]);
      }
    }
    return h("div", { class: "phase-table" }, table(["neuron", ...cols.map((c) => head[c])], rows));
  }

  *params(frame) {
    for (let l = 0; l < frame.layers.length; l++) {
      const L = frame.layers[l];
      for (let i = 0; i < L.W.length; i++) for (let j = 0; j < L.W[i].length; j++) yield [l, "W", i, j];
      for (let j = 0; j < L.b.length; j++) yield [l, "b", 0, j];
    }
  }

  label(l, kind, i, j) {
    const ctx = this.ctxInfo;
    return kind === "W" ? `w ${nodeName(ctx, l, i)} → ${nodeName(ctx, l + 1, j)}` : `b ${nodeName(ctx, l + 1, j)}`;
  }

  paramTable(frame, what) {
    const rows = [];
    let n = 0;
    for (const [l, kind, i, j] of this.params(frame)) {
      n++;
      if (rows.length >= MAX_ROWS) continue;
      const p = paramNumbers(frame, this.prev, l, kind, i, j);
      const old = p.prev ? p.prev.w : p.w - p.delta;
      rows.push(what === "grad"
        ? [this.label(l, kind, i, j), num(p.g, 5)]
        : [this.label(l, kind, i, j), num(old, 6), h("span", null, "→ ", num(p.w, 6)), num(p.delta, 4)]);
    }
    const head = what === "grad" ? ["parameter", "dL/dw (batch)"] : ["parameter", "old", "new", "Δ"];
    const more = n > rows.length ? h("p", { class: "muted" }, `${n - rows.length} more: hover any edge or bias for its own.`) : null;
    return h("div", { class: "phase-table" }, table(head, rows), more);
  }

  ruleOfLargest(frame) {
    let best = null, bd = -1;
    for (const [l, kind, i, j] of this.params(frame)) {
      const d = Math.abs(kind === "W" ? frame.layers[l].deltaW[i][j] : frame.layers[l].deltab[j]);
      if (d > bd) { bd = d; best = [l, kind, i, j]; }
    }
    if (!best) return null;
    const p = paramNumbers(frame, this.prev, ...best);
    const lines = ruleLines(frame.hyper.optimizer, frame.hyper, p, best[1] === "W" ? "w" : "b");
    return [h("p", null, `The rule, for the parameter that moved most (${this.label(...best)}):`),
      lines.map((ln) => h("div", { class: "rule" }, h("code", null, ln.rule), " ", h("code", null, `= ${ln.filled} =`), " ", num(ln.result, 6)))];
  }
}

export { fmt };
