// Step-by-step mode: one click per phase (forward, loss, backward, update) on
// the current mini-batch, with the traced sample's numbers. The network view
// lights up in step; this panel says in words and numbers what happened.
import { fmt, numHTML } from "../format.js";
import { nodeName, paramNumbers } from "./inspect.js";
import { ruleLines } from "../rules.js";

const PHASES = ["forward", "loss", "backward", "update"];
const TITLES = { forward: "Forward", loss: "Loss", backward: "Backward", update: "Update" };
const MAX_ROWS = 48;

export class PhasesView extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    root.innerHTML = `<h2 id="h-phases">Step by step</h2>
      <div class="phase-head">
        <button id="next-phase" type="button" class="primary">Next phase</button>
        <ol class="phase-list" aria-label="Phases">${PHASES.map((p) => `<li data-phase="${p}">${TITLES[p]}</li>`).join("")}</ol>
      </div>
      <div class="phase-body" aria-live="polite"></div>`;
    this.body = root.querySelector(".phase-body");
    this.items = [...root.querySelectorAll(".phase-list li")];
    root.querySelector("#next-phase").addEventListener("click", () =>
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
      this.body.innerHTML = `<p>Walk one mini-batch through a training step: press <b>Next phase</b> (or set Step unit to
        <i>phase</i> and press <kbd>→</kbd>). Forward, loss, backward, update — one click each. Click a training point in the output
        view to choose the sample that is traced.</p>`;
      return;
    }
    const t = frame.trace, ctx = this.ctxInfo;
    const sample = `<p>Traced sample <b>#${t.index}</b>: x = (${t.x.map((v) => numHTML(v)).join(", ")}), target ${Array.isArray(t.target) ? t.target.map((v) => numHTML(v)).join(", ") : numHTML(t.target)}.</p>`;
    let html = "";
    if (phase === "forward") {
      html = `<p>Layer by layer, every neuron computes <span class="formula">z = Σ w·a + b</span> and <span class="formula">a = f(z)</span>.</p>${this.neuronTable(t, ["z", "a"])}`;
    } else if (phase === "loss") {
      const formula = { playground: "½(ŷ − t)²", binary: "−[t·log ŷ + (1−t)·log(1−ŷ)]", multiclass: "−log ŷ_t", regression: "squared error of ŷ − t" }[ctx.task] || "";
      html = `<p>Prediction <b>ŷ = ${t.output.map((v) => numHTML(v)).join(", ")}</b>, target <b>t = ${Array.isArray(t.target) ? t.target.map((v) => numHTML(v)).join(", ") : numHTML(t.target)}</b>,
        loss of this sample <span class="formula">${formula}</span> = <b>${numHTML(t.loss)}</b>.
        Mean loss of the mini-batch: <b>${numHTML(frame.metrics?.batch_loss)}</b>.</p>`;
    } else if (phase === "backward") {
      html = `<p>The error flows back: <span class="formula">dL/dz</span> of every neuron for this sample, and the mini-batch gradient
        <span class="formula">dL/dw</span> on every edge (edges now show gradients; hover one for its numbers).</p>${this.neuronTable(t, ["dz"])}${this.paramTable(frame, "grad")}`;
    } else if (phase === "update") {
      html = `<p>Every parameter moves by the optimizer's rule (${frame.hyper.optimizer}, lr ${numHTML(frame.hyper.lr)}): old value → new value.</p>${this.ruleOfLargest(frame)}${this.paramTable(frame, "update")}`;
    }
    this.body.innerHTML = sample + html;
  }

  neuronTable(t, cols) {
    const ctx = this.ctxInfo, rows = [];
    const head = { z: "z (pre-activation)", a: "a (activation)", dz: "dL/dz" };
    for (let l = 0; l < (t.z?.length || 0) && rows.length < MAX_ROWS; l++) {
      for (let k = 0; k < t.z[l].length && rows.length < MAX_ROWS; k++) {
        const vals = { z: t.z[l][k], a: t.a?.[l + 1]?.[k], dz: t.dz?.[l]?.[k] };
        rows.push(`<tr><th>${nodeName(ctx, l + 1, k)}</th>${cols.map((c) => `<td>${numHTML(vals[c], 5)}</td>`).join("")}</tr>`);
      }
    }
    return `<div class="scroll"><table><thead><tr><th>neuron</th>${cols.map((c) => `<th>${head[c]}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
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
        ? `<tr><th>${this.label(l, kind, i, j)}</th><td>${numHTML(p.g, 5)}</td></tr>`
        : `<tr><th>${this.label(l, kind, i, j)}</th><td>${numHTML(old, 6)}</td><td>→ ${numHTML(p.w, 6)}</td><td>${numHTML(p.delta, 4)}</td></tr>`);
    }
    const head = what === "grad" ? "<th>parameter</th><th>dL/dw (batch)</th>" : "<th>parameter</th><th>old</th><th>new</th><th>Δ</th>";
    const more = n > rows.length ? `<p class="muted">${n - rows.length} more: hover any edge or bias for its own.</p>` : "";
    return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody></table></div>${more}`;
  }

  ruleOfLargest(frame) {
    let best = null, bd = -1;
    for (const [l, kind, i, j] of this.params(frame)) {
      const d = Math.abs(kind === "W" ? frame.layers[l].deltaW[i][j] : frame.layers[l].deltab[j]);
      if (d > bd) { bd = d; best = [l, kind, i, j]; }
    }
    if (!best) return "";
    const p = paramNumbers(frame, this.prev, ...best);
    const lines = ruleLines(frame.hyper.optimizer, frame.hyper, p, best[1] === "W" ? "w" : "b");
    return `<p>The rule, for the parameter that moved most (${this.label(...best)}):</p>` + lines.map((ln) =>
      `<div class="rule"><code>${ln.rule}</code> <code>= ${ln.filled} =</code> ${numHTML(ln.result, 6)}</div>`).join("");
  }
}

export { fmt };
