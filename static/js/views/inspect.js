// What the page says about one parameter or neuron: its numbers and the update
// rule that moved it, as HTML for the tooltip. Pure functions of a frame.
import { fmt, exact, numHTML } from "../format.js";
import { FEATURE_LABELS } from "../nn.js";
import { ruleLines, bufferName } from "../rules.js";

/** Human name of column c (0 = inputs), neuron k. */
export function nodeName(ctx, c, k) {
  if (c === 0) {
    const f = ctx.inputNames[k];
    return FEATURE_LABELS[f] || f;
  }
  if (c === ctx.sizes.length - 1) {
    if (ctx.sizes[c] === 1) return "output";
    return String(ctx.classNames?.[k] ?? `output ${k + 1}`);
  }
  return `neuron ${c}.${k + 1}`;
}

/** The numbers of one parameter (kind "W" with i, j or "b" with j) of layer l. */
export function paramNumbers(frame, prevFrame, l, kind, i, j) {
  const L = frame.layers[l];
  if (!L) return null;
  const pick = (a) => (kind === "W" ? a?.[i]?.[j] : a?.[j]);
  const num = (x) => (x === null || x === undefined ? NaN : x);
  const p = {
    w: num(pick(kind === "W" ? L.W : L.b)),
    g: num(pick(kind === "W" ? L.dW : L.db)),
    v: num(pick(kind === "W" ? L.vW : L.vb)),
    s: kind === "W" ? L.sW?.[i]?.[j] : L.sb?.[j],
    delta: num(pick(kind === "W" ? L.deltaW : L.deltab)),
    frozen: !!pick(kind === "W" ? L.frozenW : L.frozenb),
    t: (kind === "W" ? L.tW?.[i]?.[j] : L.tb?.[j]) ?? frame.step,   // Adam's per-entry step count
    prev: null,
  };
  const P = prevFrame?.layers?.[l];
  if (P && prevFrame.step === frame.step - 1) {
    p.prev = { w: num(kind === "W" ? P.W?.[i]?.[j] : P.b?.[j]), v: num(kind === "W" ? P.vW?.[i]?.[j] : P.vb?.[j]),
      s: kind === "W" ? P.sW?.[i]?.[j] : P.sb?.[j] };
  }
  return p;
}

function row(label, x, hint = "") {
  return `<tr><th scope="row">${label}</th><td>${numHTML(x, 6)}</td>${hint ? `<td class="hint">${hint}</td>` : ""}</tr>`;
}

/** Tooltip HTML for a weight or bias. */
export function paramHTML(ctx, frame, prevFrame, l, kind, i, j) {
  const p = paramNumbers(frame, prevFrame, l, kind, i, j);
  if (!p) return "";
  const hyper = frame.hyper;
  const sym = kind === "W" ? "w" : "b";
  const what = kind === "W"
    ? `Weight <b>${nodeName(ctx, l, i)} → ${nodeName(ctx, l + 1, j)}</b>`
    : `Bias of <b>${nodeName(ctx, l + 1, j)}</b>`;
  const lines = ruleLines(hyper.optimizer, hyper, p, sym);
  const rule = lines.map((ln) =>
    `<div class="rule"><code>${ln.rule}</code><br><code>= ${ln.filled} = </code>${numHTML(ln.result, 6)}</div>`).join("");
  return `<div class="tt-head"><span class="chip param">parameter</span> ${what}</div>
  <table class="tt-table">
    ${row(`value ${sym}`, p.w)}
    ${row(`gradient dL/d${sym}`, p.g)}
    ${row(bufferName(hyper.optimizer), p.v)}
    ${row(`last change Δ${sym}`, p.delta)}
    <tr><th scope="row">frozen</th><td>${p.frozen ? "yes — keeps its value" : "no"}</td></tr>
  </table>
  <div class="tt-sub">Last update (step ${frame.step}), ${hyper.optimizer}, lr ${fmt(hyper.lr)}${hyper.optimizer === "momentum" || hyper.optimizer === "nesterov" ? `, μ ${fmt(hyper.momentum)}` : ""}:</div>
  ${p.frozen ? `<div class="rule">frozen: ${sym} and its optimizer state stand still</div>` : rule}
  <div class="tt-foot">Click or press Enter to edit or freeze</div>`;
}

/** Tooltip HTML for a neuron: its bias, and the traced sample's values if any. */
export function nodeHTML(ctx, frame, c, k) {
  const name = nodeName(ctx, c, k);
  if (c === 0) {
    return `<div class="tt-head">Input <b>${name}</b></div>
      <div class="tt-sub">A feature of the point (x₁, x₂): not learned, chosen (a hyperparameter).</div>`;
  }
  const l = c - 1, act = c === ctx.sizes.length - 1 ? ctx.outputFn : ctx.activations[l];
  let trace = "";
  const t = frame?.trace;
  if (t && t.z?.[l]) {
    trace = `<table class="tt-table">${row("pre-activation z", t.z[l][k])}${row(`activation a = ${act}(z)`, t.a?.[l + 1]?.[k])}
      ${t.dz?.[l] ? row("dL/dz", t.dz[l][k]) : ""}</table>`;
  }
  const b = frame?.layers?.[l]?.b?.[k];
  return `<div class="tt-head">Neuron <b>${name}</b> <span class="muted">(${act})</span></div>
    <table class="tt-table">${row("bias b", b ?? NaN)}</table>${trace}
    <div class="tt-foot">Its map over the plane shows in the output view. Click or press Enter to edit its bias or freeze it.</div>`;
}

export { exact };
