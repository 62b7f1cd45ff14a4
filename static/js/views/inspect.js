// What the page says about one parameter or neuron: its numbers and the update
// rule that moved it, as DOM nodes for the tooltip (names as text, never
// markup). Pure functions of a frame and of the exact numbers the server sent
// for the parameter under the pointer (`inspected`): a binary frame's float32
// numbers are shown as approximate (≈) until those arrive.
import { fmt, exact } from "../format.js";
import { h, frag, num } from "../dom.js";
import { ruleLines, bufferName } from "../rules.js";

/** Human name of column c (0 = inputs), neuron k. */
export function nodeName(ctx, c, k) {
  if (c === 0) return String(ctx.inputLabels[k]);
  if (c === ctx.sizes.length - 1) {
    if (ctx.sizes[c] === 1) return "output";
    return String(ctx.classNames?.[k] ?? `output ${k + 1}`);
  }
  return `neuron ${c}.${k + 1}`;
}

/** The server's exact numbers (an `inspected` message or a frame's `inspected`) if they are those of
 * weight (l, "W", i, j) or bias (l, "b", j) at `step`, else null. */
export function exactFor(inspected, step, l, kind, i, j) {
  const x = inspected;
  return x && x.step === step && x.layer === l && x.kind === kind && x.j === j && (kind === "b" || x.i === i) ? x : null;
}

/** The numbers of one parameter (kind "W" with i, j or "b" with j) of layer l: the server's exact ones
 * when `exact` (see exactFor) is given, else the frame's (`p.exact` false when they are float32). */
export function paramNumbers(frame, prevFrame, l, kind, i, j, exact = null) {
  const L = frame.layers[l];
  if (!L) return null;
  const pick = (a) => (kind === "W" ? a?.[i]?.[j] : a?.[j]);
  const num = (x) => (x === null || x === undefined ? NaN : x);
  if (exact) {
    return { w: num(exact.value), g: num(exact.gradient), v: num(exact.velocity), s: exact.second_moment ?? undefined,
      delta: num(exact.update), frozen: exact.frozen, t: exact.adam_steps ?? frame.step, prev: null, exact: true };
  }
  const p = {
    w: num(pick(kind === "W" ? L.W : L.b)),
    g: num(pick(kind === "W" ? L.dW : L.db)),
    v: num(pick(kind === "W" ? L.vW : L.vb)),
    s: kind === "W" ? L.sW?.[i]?.[j] : L.sb?.[j],
    delta: num(pick(kind === "W" ? L.deltaW : L.deltab)),
    frozen: !!pick(kind === "W" ? L.frozenW : L.frozenb),
    t: (kind === "W" ? L.tW?.[i]?.[j] : L.tb?.[j]) ?? frame.step,   // Adam's per-entry step count
    prev: null,
    exact: !frame.float32,
  };
  const P = prevFrame?.layers?.[l];
  if (P && !prevFrame.float32 && prevFrame.step === frame.step - 1) {
    p.prev = { w: num(kind === "W" ? P.W?.[i]?.[j] : P.b?.[j]), v: num(kind === "W" ? P.vW?.[i]?.[j] : P.vb?.[j]),
      s: kind === "W" ? P.sW?.[i]?.[j] : P.sb?.[j] };
  }
  return p;
}

function row(label, x, hint = "") {
  return h("tr", null, h("th", { scope: "row" }, label), h("td", null, num(x, 6)), hint ? h("td", { class: "hint" }, hint) : null);
}

/** A row whose number may be float32 from a binary frame (≈, not exact) or not streamed (…), both on their way. */
function valueRow(label, x, exact) {
  if (exact) return row(label, x);
  const shown = Number.isNaN(x)
    ? h("span", { class: "num pending", title: "not in this frame: the exact value is on its way from the server" }, "…")
    : h("span", { class: "num approx", title: "rounded to float32 as streamed: the exact value is on its way from the server" }, `≈ ${fmt(x, 6)}`);
  return h("tr", null, h("th", { scope: "row" }, label), h("td", null, shown));
}

/** Tooltip content (a DOM fragment) for a weight or bias; `exact`: the server's numbers for it (exactFor). */
export function paramView(ctx, frame, prevFrame, l, kind, i, j, exact = null) {
  const p = paramNumbers(frame, prevFrame, l, kind, i, j, exact);
  if (!p) return frag();
  const hyper = frame.hyper;
  const sym = kind === "W" ? "w" : "b";
  const what = kind === "W"
    ? ["Weight ", h("b", null, `${nodeName(ctx, l, i)} → ${nodeName(ctx, l + 1, j)}`)]
    : ["Bias of ", h("b", null, nodeName(ctx, l + 1, j))];
  const lines = ruleLines(hyper.optimizer, hyper, p, sym);
  const rule = lines.map((ln) =>
    h("div", { class: "rule" }, h("code", null, ln.rule), h("br"), h("code", null, `= ${ln.filled} = `), num(ln.result, 6)));
  const mu = ctx.hyperOf(hyper.optimizer).includes("momentum") ? `, μ ${fmt(hyper.momentum)}` : "";
  return frag(
    h("div", { class: "tt-head" }, h("span", { class: "chip param" }, "parameter"), " ", what),
    h("table", { class: "tt-table" }, h("tbody", null,
      valueRow(`value ${sym}`, p.w, p.exact),
      valueRow(`gradient dL/d${sym}`, p.g, p.exact),
      valueRow(bufferName(hyper.optimizer), p.v, p.exact),
      valueRow(`last change Δ${sym}`, p.delta, p.exact),
      h("tr", null, h("th", { scope: "row" }, "frozen"), h("td", null, p.frozen ? "yes — keeps its value" : "no")))),
    h("div", { class: "tt-sub" }, `Last update (step ${frame.step}), ${hyper.optimizer}, lr ${fmt(hyper.lr)}${mu}:`),
    p.frozen ? h("div", { class: "rule" }, `frozen: ${sym} and its optimizer state stand still`)
      : p.exact ? rule : h("div", { class: "rule muted" }, "The rule with its numbers shows when the exact values arrive."),
    h("div", { class: "tt-foot" }, "Click or press Enter to edit or freeze"));
}

/** Tooltip content (a DOM fragment) for a neuron: its bias (`exact`: the server's numbers for it, see
 * exactFor), and the traced sample's values if any. */
export function nodeView(ctx, frame, c, k, exact = null) {
  const name = nodeName(ctx, c, k);
  if (c === 0) {
    return frag(h("div", { class: "tt-head" }, "Input ", h("b", null, name)),
      h("div", { class: "tt-sub" }, "A feature of the point (x₁, x₂): not learned, chosen (a hyperparameter)."));
  }
  const l = c - 1, act = c === ctx.sizes.length - 1 ? ctx.outputFn : ctx.activations[l];
  let trace = null;
  const t = frame?.trace;
  if (t && t.z?.[l]) {
    trace = h("table", { class: "tt-table" }, h("tbody", null,
      row("pre-activation z", t.z[l][k]), row(`activation a = ${act}(z)`, t.a?.[l + 1]?.[k]),
      t.dz?.[l] ? row("dL/dz", t.dz[l][k]) : null));
  }
  const b = exact ? exact.value : frame?.layers?.[l]?.b?.[k];
  return frag(
    // A hidden neuron's name already says "neuron": the head names it once.
    h("div", { class: "tt-head" }, "Neuron ", h("b", null, c < ctx.sizes.length - 1 ? `${c}.${k + 1}` : name), " ", h("span", { class: "muted" }, `(${act})`)),
    h("table", { class: "tt-table" }, h("tbody", null, valueRow("bias b", b ?? NaN, !!exact || !frame?.float32))), trace,
    h("div", { class: "tt-foot" }, "Its map over the plane shows in the output view. Click or press Enter to edit its bias or freeze it."));
}

export { exact };
