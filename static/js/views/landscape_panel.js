// The landscape part of the optimizer lab: choose the slice (two random
// directions normalized per neuron, or two weights picked by clicking two edges
// in the network view), its span and resolution, compute it in the background,
// and watch the live weights' path over it. "Recompute here" slices again around
// where the weights are now. The contour is drawn once per landscape; each frame
// only projects the weights (slice_projection.js) and redraws the path.
import { h } from "../dom.js";
import { fmt } from "../format.js";
import { JobPart } from "./job_part.js";
import { LandscapeView } from "./landscape_view.js";
import { flatParams, project } from "./slice_projection.js";
import { parseNumber, parseCount, checked } from "./optimizer_inputs.js";

const MAX_PATH = 2000;      // points kept of the live path (halved, every other one, when full): a frame redraws them all
const HINT = "Hover the landscape (or focus it and use the arrow keys) for a grid point's coordinates and its exact loss.";

export class LandscapePanel extends JobPart {
  /**
   * send(msg): the page's intent path; pick: {start(), stop()}: picking in the network view (optimizer_lab.js);
   * nameOf([layer, i | "b", j]): a parameter's name in words.
   */
  constructor({ send, pick, nameOf }) {
    super({ kind: "landscape", request: "landscape", title: "Loss landscape", id: "ol-landscape", send, what: "landscape" });
    this.pickCtl = pick; this.nameOf = nameOf;
    this.run.textContent = "Compute the landscape";
    this.picked = [];          // [{l, i, j, name}] the edges picked (mode "weights")
    this.slice = null;         // {origin, d1, d2, result, step}: the landscape shown and its directions
    this.live = [];            // [[a, b], ...] the live weights' path since the slice was computed
    this.lastStep = null;
    this.onPaths = () => {};   // the lab redraws every path (the race's too) when the live one moves
    this.onPicked = () => {};  // the lab rings the picked parameters in the network view
    const text = (id, value, extra = {}) => h("input", { type: "text", id, value, spellcheck: "false", autocomplete: "off", inputmode: "decimal", ...extra });
    this.inputs = { span: text("ol-span", "1"), resolution: text("ol-res", "41", { inputmode: "numeric" }), seed: text("ol-seed", "", { inputmode: "numeric", placeholder: "any" }) };
    const radio = (value, label, checkedNow) => h("label", { class: "lj-radio" },
      h("input", { type: "radio", name: "ol-mode", value, checked: checkedNow, onchange: () => this.showMode() }), label);
    this.modeBox = h("fieldset", { class: "lj-mode" }, h("legend", null, "Directions"),
      radio("random", "Two random directions", true), radio("weights", "Two weights", false));
    this.pickBtn = h("button", { type: "button", class: "ol-pick", "aria-pressed": "false", onclick: () => this.togglePick() }, "Pick two edges in the network");
    this.pickedText = h("span", { class: "ol-picked", role: "status", "aria-live": "polite" });
    this.pickBox = h("div", { class: "ol-pickbox", hidden: true }, this.pickBtn, this.pickedText);
    const row = (id, label, input, note) => [h("label", { for: id }, label), h("div", { class: "lj-pair" }, input, note ? h("span", { class: "muted ol-unit" }, note) : null)];
    this.exactNote = h("p", { class: "ol-exact", hidden: true });
    this.centre = h("p", { class: "ol-centre muted" });
    this.readout = h("p", { class: "lj-readout ol-readout", "aria-live": "polite" }, HINT);
    this.away = h("p", { class: "ol-away", hidden: true });
    this.caveat = h("p", { class: "muted ol-note", hidden: true },
      "A cut, not the whole landscape: the shading holds every other parameter where it was at the centre, while training moves them all, so the path may cross what looks like a hill here. Recompute here to cut again around the weights.");
    this.nowA = h("span", { class: "num" }); this.nowB = h("span", { class: "num" });
    this.now = h("p", { class: "ol-now", hidden: true }, "The weights now: a = ", this.nowA, ", b = ", this.nowB);
    this.shownAt = 0; this.nowTimer = null; this.nowAb = null;
    // A slice of a run with a penalty can show the loss training minimizes (with it) or the plain one.
    this.penaltyBox = h("input", { type: "checkbox", id: "ol-penalty", onchange: () => this.showLoss() });
    this.penalty = h("label", { class: "check ol-penalty", hidden: true }, this.penaltyBox, " Add the regularization penalty (the loss training minimizes)");
    this.mapEl = h("div", { class: "ol-map" });
    this.view = new LandscapeView(this.mapEl, { onHover: (p) => this.showPoint(p) });
    this.root = h("div", { class: "lj-part ol-part", role: "group", "aria-labelledby": "h-ol-landscape" },
      this.heading,
      h("p", { class: "muted lj-help" }, "The training loss around the current weights over a 2-D slice of parameter space: ",
        h("i", null, "loss(origin + a·d₁ + b·d₂)"), ". Random directions are scaled per neuron (Li et al., 2018), so a step of 1 moves each neuron's weights by their own size; biases stay put. The live weights are projected onto the slice (least squares), so their path is drawn as training goes on."),
      this.form([this.modeBox, this.pickBox, h("div", { class: "lj-fields" },
        row("ol-span", "Span (−span to +span)", this.inputs.span, "0 < span ≤ 10"),
        row("ol-res", "Resolution (points per side)", this.inputs.resolution, "5 to 61"),
        row("ol-seed", "Seed of the directions", this.inputs.seed, "optional"))], "Landscape settings"),
      this.status, this.progress, this.exactNote, this.mapEl, this.now, this.readout, this.penalty, this.centre, this.caveat, this.away);
  }

  get mode() { return this.modeBox.querySelector("input:checked").value; }

  showMode() {
    const weights = this.mode === "weights";
    this.pickBox.hidden = !weights;
    this.inputs.seed.disabled = weights;
    if (weights && this.picked.length < 2) this.togglePick(true);
    if (!weights) this.togglePick(false);
  }

  /** Start (or stop) picking edges in the network view; on = undefined toggles. */
  togglePick(on) {
    const now = on === undefined ? this.pickBtn.getAttribute("aria-pressed") !== "true" : on;
    this.pickBtn.setAttribute("aria-pressed", String(now));
    this.pickBtn.textContent = now ? "Picking: click two edges (or bias squares) in the network; Esc stops" : "Pick two edges in the network";
    if (now) { this.picked = []; this.pickCtl.start(); } else this.pickCtl.stop();
    this.showPicked();
  }

  /** An edge or a bias ({l, i (or "b"), j, name}) was clicked in the network view while picking. */
  pickEdge(edge) {
    if (this.picked.some((p) => p.l === edge.l && p.i === edge.i && p.j === edge.j)) return;
    this.picked.push(edge);
    if (this.picked.length > 2) this.picked.shift();
    if (this.picked.length === 2) this.togglePick(false);
    this.showPicked();
  }

  showPicked() {
    this.onPicked(this.picked);
    const [p, q] = this.picked;
    this.pickedText.textContent = !p ? "No edge picked yet." : !q ? `a: ${p.name}; now pick the second.` : `a: ${p.name}; b: ${q.name}.`;
  }

  message() {
    for (const el of Object.values(this.inputs)) el.removeAttribute("aria-invalid");
    const i = this.inputs;
    const span = checked([i.span], () => parseNumber(i.span.value, "Span", { min: 0, max: 10, openMin: true }));
    const resolution = checked([i.resolution], () => parseCount(i.resolution.value, "Resolution", { min: 5, max: 61 }));
    const msg = { type: "landscape", mode: this.mode, span, resolution };
    if (this.mode === "weights") {
      if (this.picked.length !== 2) throw new Error("Two weights: pick two edges in the network first (the button above, then click two edges).");
      msg.weights = this.picked.map((p) => [p.l, p.i, p.j]);
    } else if (i.seed.value.trim() !== "") {
      msg.seed = checked([i.seed], () => parseCount(i.seed.value, "Seed", { min: 0, max: 2 ** 31 - 1 }));
    }
    return msg;
  }

  begin(msg) {
    this.plan = msg;
    this.setProgress(0, msg.resolution, `0 of ${msg.resolution} rows`);
  }

  event(ev) {
    if ("rows_done" in ev) this.setProgress(ev.rows_done, this.plan.resolution, `${ev.rows_done} of ${this.plan.resolution} rows`);
  }

  done(result) {
    // Along two parameters (mode "weights", or the whole of a two-parameter network): their names on the axes.
    const names = result.weights ? result.weights.map((w, k) => `${"ab"[k]}: ${this.nameOf(w)}`) : ["a (direction 1)", "b (direction 2)"];
    this.slice = { result, origin: Float64Array.from(result.origin), d1: Float64Array.from(result.directions[0]), d2: Float64Array.from(result.directions[1]) };
    this.live = [[0, 0]];
    this.lastStep = null;
    this.names = names;
    this.penalty.hidden = !result.loss_penalized;
    this.showLoss();
    this.setProgress(1, 1, `${result.alphas.length} × ${result.betas.length} points`);
    this.run.textContent = "Recompute here";
    this.exactNote.hidden = !result.exact;
    this.exactNote.textContent = result.exact
      ? "Exact: training moves only these two parameters, so this slice is the whole loss landscape, not a cut through it." : "";
    this.caveat.hidden = result.exact;
    const r = result.alphas.length, mid = (r - 1) / 2, centreLoss = Number.isInteger(mid) ? result.loss[mid][mid] : null;
    this.centre.replaceChildren("Loss where the weights were (the centre): ", h("span", { class: "num", title: String(result.center_loss) }, fmt(result.center_loss, 6)),
      centreLoss !== null ? "; on the grid there: " : "", centreLoss !== null ? h("span", { class: "num", title: String(centreLoss) }, fmt(centreLoss, 6)) : "",
      result.loss_penalized ? ". Shaded: the training loss, with the penalty when ticked above." : ". The loss is the training loss (this run has no penalty).");
    this.onPaths();
  }

  /** Shade the plain training loss, or (ticked, with a penalty) the loss training minimizes. */
  showLoss() {
    const r = this.slice?.result;
    if (!r) return;
    const penalized = this.penaltyBox.checked && r.loss_penalized;
    this.view.setLandscape(penalized ? { ...r, loss: r.loss_penalized } : r, this.names);
    this.onPaths();
  }

  showPoint(p) {
    if (!p) { this.readout.textContent = HINT; return; }
    const loss = p.loss === null || p.loss === undefined ? "not finite" : String(p.loss);
    this.readout.textContent = `a = ${p.a}, b = ${p.b}: training loss ${loss}`;
  }

  /** A frame drawn: project its weights and extend the live path (a paused frame of the same step adds nothing). */
  update(frame) {
    const s = this.slice;
    if (!s || !frame?.layers) return;
    const ab = project(flatParams(frame.layers), s.origin, s.d1, s.d2);
    if (!ab) return;
    const last = this.live[this.live.length - 1];
    if (last && last[0] === ab[0] && last[1] === ab[1]) return;
    if (this.lastStep === frame.step && this.live.length > 1) this.live[this.live.length - 1] = ab; else this.live.push(ab);
    this.lastStep = frame.step;
    if (this.live.length > MAX_PATH) this.live = this.live.filter((_, k) => k % 2 === 0 || k === this.live.length - 1);
    this.onPaths();
    this.showNow(ab);
    const out = this.view.outside?.includes("live");
    this.away.hidden = !out;
    if (out) this.away.textContent = "The weights have left this slice (the arrow on its edge points where): recompute here to slice around them.";
  }

  /** The numbers of where the weights are, a few times a second (text every frame would cost layout); the last always shown. */
  showNow(ab) {
    this.nowAb = ab;
    if (this.nowTimer) return;
    const write = () => {
      this.nowTimer = null; this.shownAt = performance.now();
      const [a, b] = this.nowAb;
      this.now.hidden = false;
      for (const [el, v] of [[this.nowA, a], [this.nowB, b]]) { el.textContent = fmt(v, 4); el.title = String(v); }
    };
    const wait = 150 - (performance.now() - this.shownAt);
    if (wait <= 0) write(); else this.nowTimer = setTimeout(write, wait);
  }

  /** Another network (a rebuild): the slice no longer applies. */
  forget() {
    this.slice = null; this.live = [];
    this.view.setLandscape(null);
    this.run.textContent = "Compute the landscape";
    clearTimeout(this.nowTimer); this.nowTimer = null;
    this.exactNote.hidden = true; this.away.hidden = true; this.now.hidden = true; this.penalty.hidden = true; this.caveat.hidden = true;
    this.centre.textContent = "";
    this.picked = []; this.showPicked();
  }
}
