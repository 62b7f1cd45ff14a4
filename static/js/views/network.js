// The network: input features, hidden neurons and outputs as nodes, each with
// its own output drawn as a heatmap over the plane (computed here from the
// streamed weights); edges coloured by sign and sized by magnitude of weight,
// gradient, velocity or last update; biases as small squares. Edges are drawn
// on one canvas; an SVG of invisible wide paths makes them hoverable and
// focusable. The whole view is one Tab stop: arrow keys walk nodes, biases and
// edges (a roving tabindex), Enter edits.
//
// On a big network the drawing is spread over animation frames so none of them
// overruns: the frame loop calls refresh() once per animation frame, which
// repaints at most MAP_BUDGET node maps (the ones whose grid changed, oldest
// first) and strokes at most EDGE_BUDGET edges (a network with more draws its
// edges in passes over several animation frames; see layoutBuffer). Biases, the
// legend, the trace and the tooltip follow every frame; the tooltip's numbers
// come from the frame, never from a picture.
import { OUTPUT_FN } from "../nn.js";
import { divergingLUT, LUT_SIZE } from "../colors.js";
import { fmt } from "../format.js";
import { h, fill } from "../dom.js";
import { nodeName } from "./inspect.js";
import { heatScale } from "./heatmap.js";
import { EdgePainter, MODE_KEYS } from "./edges.js";
import { NetworkFocus } from "./network_focus.js";

const SVGNS = "http://www.w3.org/2000/svg";
/** Node maps repainted per animation frame at most. */
export const MAP_BUDGET = 24;
/** Edges stroked per animation frame at most (stroking is what a frame's rendering spends most on). */
export const EDGE_BUDGET = 96;

/** A layer's neuron count as typed: the count, or the reason it is refused. */
export function parseCount(text, max) {
  const t = String(text).trim();
  const allowed = `type a whole number from 1 to ${max}`;
  if (!/^[0-9]+$/.test(t)) return { error: t ? `“${t}” is not a whole number: ${allowed}.` : `Empty: ${allowed}.` };
  const n = Number(t);
  if (n < 1 || n > max) return { error: `${n} neurons is out of range: ${allowed}.` };
  return { value: n };
}

export class NetworkView extends EventTarget {
  constructor(root, tooltip) {
    super();
    this.root = root; this.tooltip = tooltip;
    this.heads = root.querySelector(".net-heads");
    this.stage = root.querySelector(".net-stage");
    this.canvas = this.stage.querySelector("canvas.net-edges");
    this.painter = new EdgePainter(this.canvas, document.querySelector(".scale-legend .scale-max"));
    this.svg = this.stage.querySelector("svg.net-hits");
    this.nodesEl = this.stage.querySelector(".net-nodes");
    // Layers of their own: a bias colour or a node map changing every frame then repaints only
    // itself, not the thousands of hit paths of a big network's SVG under it.
    this.svg.style.willChange = "transform"; this.nodesEl.style.willChange = "transform";
    this.lut = divergingLUT();
    this.mode = "weights";
    this.frame = null; this.prevFrame = null;
    this.net = null; this.edges = [];
    // The tooltip (the network's own) says what the picture leaves out: a neuron dropped for this
    // update, a weight exactly 0 (not stroked). Added here, where the frame's dropout and weights are.
    const show = tooltip.show.bind(tooltip);
    tooltip.show = (content, key) => show(this.withNotes(content, key), key);
    this.focus = new NetworkFocus(this, tooltip);
    this.anim = null;
    this.buffer = null;        // big networks: where passes of edges are drawn (layoutBuffer)
    this.pass = null; this.passes = 0;   // passes: edge passes completed (tests count them)
    this.mapQueue = [];        // nodes whose map waits to be repainted, oldest first
    this.work = { maps: 0, edges: 0 };   // what the last refresh() drew
    this.ro = false;
    // Quantization (quant_lab.js): snap(frame) gives the frame drawn with its weights snapped, or null; rawFrame is the
    // frame as it came. constant: per input, true when it never varies (the dataset's constant_inputs).
    this.snap = null; this.rawFrame = null; this.constant = null;
    this.focus.bindKeys(this.stage);
    new ResizeObserver(() => { if (this.net) { this.layout(); this.draw(); } }).observe(this.stage);
  }

  /** Following a teacher: the count fields are locked like the +/- buttons. */
  get readOnly() { return this.ro; }
  set readOnly(on) {
    this.ro = !!on;
    for (const input of this.heads.querySelectorAll("input.count-input")) input.disabled = this.ro;
  }

  /**
   * Build the view for a new architecture. ctx: {sizes, inputNames, inputLabels, activations, outputFn, classNames, plane, yRange}.
   * grid: the Grid the caller runs once per frame (shared with the output view); node maps sample every other cell.
   */
  reset(net, ctx, grid) {
    this.net = net; this.ctxInfo = ctx;
    this.frame = null; this.prevFrame = null; this.anim = null;
    this.grid = grid;
    this.m = grid ? grid.n >> 1 : 1;
    this.buildHeads();
    this.buildNodes();
    this.layout();
    if (this.grid) this.drawInputMaps();
  }

  buildHeads() {
    const { sizes } = this.ctxInfo, H = sizes.length - 2, max = this.ctxInfo.maxNeurons;
    // A rebuild (after a change) keeps the keyboard where it was.
    const focused = this.heads.contains(document.activeElement) ? document.activeElement.dataset : null;
    const head = (title, ...sub) => h("div", { class: "net-head" }, h("span", { class: "head-title" }, title), " ", ...sub);
    const heads = [head("Input", h("span", { class: "head-sub" }, `${sizes[0]} features`))];
    for (let l = 0; l < H; l++) {
      // The word is hidden (still read out) where the head is too narrow for it (network.css).
      const button = (delta, sign) => h("button", { type: "button", class: "mini", dataset: { layer: l, delta },
        onclick: () => this.dispatchEvent(new CustomEvent("neurons", { detail: { layer: l, delta } })) },
      sign, h("span", { class: "head-word" }, " neuron"));
      heads.push(head(`Layer ${l + 1}`, this.countField(l, sizes[l + 1], max), " ",
        h("span", { class: "head-btns" }, button(1, "+"), button(-1, "−"))));
    }
    heads.push(head("Output", h("span", { class: "head-sub" }, this.ctxInfo.outputFn)));
    fill(this.heads, heads);
    if (focused && focused.layer !== undefined) {
      const sel = focused.delta !== undefined ? `button[data-layer="${focused.layer}"][data-delta="${focused.delta}"]` : `input[data-layer="${focused.layer}"]`;
      this.heads.querySelector(sel)?.focus();
    }
  }

  /**
   * Layer l's neuron count as a field: Enter (or leaving the field) sends the typed count as
   * one configure; arrow keys step it; Escape puts back the current count. A count that is not
   * a whole number from 1 to the vocabulary's limit is refused next to the field, and nothing is sent.
   */
  countField(l, n, max) {
    const id = `count-${l}`;
    const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", class: "count-input", id, value: String(n),
      "aria-label": `Neurons in layer ${l + 1} (1 to ${max})`, "aria-describedby": `${id}-err`, dataset: { layer: l } });
    input.style.width = "2.6em"; input.style.textAlign = "center"; input.style.padding = "0 .15rem";
    input.disabled = this.ro;
    const err = h("span", { id: `${id}-err`, class: "count-err", role: "alert" });
    // Under the layer's head, over the top of the network (a panel of its own, so no node covers it).
    err.style.cssText = "position:absolute;top:100%;left:50%;transform:translateX(-50%);z-index:5;width:12em;white-space:normal;" +
      "color:#a4281b;background:#fff;border:1px solid #e59a8c;border-radius:4px;padding:.1rem .3rem;font-size:max(var(--floor),.75rem)";
    err.hidden = true;
    const showError = (text) => {
      err.textContent = text; err.hidden = !text;
      const head = input.closest(".net-head");
      if (head) head.style.zIndex = text ? "5" : "";   // the head (a stacking context) above the network's layers
      input.style.borderColor = text ? "#a4281b" : "";
      if (text) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    };
    let sent = n;   // the count asked for last: Enter and then the change event are one change, sent once
    const commit = () => {
      const r = parseCount(input.value, max);
      if (r.error) { showError(r.error); return; }
      showError("");
      if (r.value === sent) return;
      sent = r.value;
      const hidden = this.ctxInfo.sizes.slice(1, -1);
      hidden[l] = r.value;
      this.dispatchEvent(new CustomEvent("intent", { detail: { type: "configure", config: { hidden } } }));
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); commit(); }
      else if (ev.key === "Escape") { input.value = String(this.ctxInfo.sizes[l + 1]); showError(""); }
      else if (ev.key === "ArrowUp" || ev.key === "ArrowDown") {
        ev.preventDefault();
        const r = parseCount(input.value, max), cur = r.error ? this.ctxInfo.sizes[l + 1] : r.value;
        input.value = String(Math.max(1, Math.min(max, cur + (ev.key === "ArrowUp" ? 1 : -1))));
        showError("");
      }
    });
    input.addEventListener("change", commit);
    const label = h("label", { class: "head-sub", for: id }, input, h("span", { class: "head-word" }, " neurons"));
    return h("span", { class: "head-count" }, label, err);
  }

  buildNodes() {
    const { sizes } = this.ctxInfo;
    this.nodesEl.textContent = "";
    this.svg.textContent = "";
    this.nodes = []; this.edges = [];
    this.mapQueue = [];
    const items = [];
    const plane = this.ctxInfo.plane;
    for (let c = 0; c < sizes.length; c++) {
      const col = [];
      for (let k = 0; k < sizes[c]; k++) {
        const el = document.createElement("div");
        el.className = "node" + (c === 0 ? " input" : c === sizes.length - 1 ? " output" : "");
        el.tabIndex = -1;
        el.dataset.key = `n:${c}:${k}`;
        // Nodes, biases and edges are focusable and open their details on Enter or a click: buttons
        // (an aria-label on an element with no role is not allowed).
        el.setAttribute("role", "button");
        el.setAttribute("aria-label", nodeName(this.ctxInfo, c, k));
        const cv = document.createElement("canvas");
        cv.width = this.m; cv.height = this.m;
        if (!plane) cv.hidden = true;
        el.appendChild(cv);
        const label = document.createElement("span");
        label.className = "node-label"; label.textContent = nodeName(this.ctxInfo, c, k);
        el.appendChild(label);
        el.append(" ");   // the name and the traced numbers read as two words (as the aria-label has them)
        const trace = document.createElement("span");
        trace.className = "trace-label";
        el.appendChild(trace);
        this.nodesEl.appendChild(el);
        const node = { el, cv, c, k, trace, label, g: cv.getContext("2d"), img: null, u32: null, queued: false, paintedSweep: -1, paints: 0 };
        node.img = node.g.createImageData(this.m, this.m);
        node.u32 = new Uint32Array(node.img.data.buffer);
        items.push({ key: el.dataset.key, el, type: "node", c, k });
        if (c > 0) {
          const b = document.createElement("div");
          b.className = "bias"; b.tabIndex = -1; b.dataset.key = `b:${c - 1}:${k}`;
          b.setAttribute("role", "button");
          b.setAttribute("aria-label", `bias of ${nodeName(this.ctxInfo, c, k)}`);
          this.nodesEl.appendChild(b);
          node.bias = b;
          items.push({ key: b.dataset.key, el: b, type: "bias", l: c - 1, j: k });
          for (let i = 0; i < sizes[c - 1]; i++) {
            const p = document.createElementNS(SVGNS, "path");
            p.setAttribute("class", "hit"); p.setAttribute("tabindex", "-1");
            p.dataset.key = `e:${c - 1}:${i}:${k}`;
            p.setAttribute("role", "button");
            p.setAttribute("aria-label", `weight ${nodeName(this.ctxInfo, c - 1, i)} to ${nodeName(this.ctxInfo, c, k)}`);
            this.svg.appendChild(p);
            const e = { l: c - 1, i, j: k, path: p };
            this.edges.push(e);
            items.push({ key: p.dataset.key, el: p, type: "edge", l: c - 1, i, j: k });
          }
        }
        col.push(node);
      }
      this.nodes.push(col);
    }
    this.focus.attach(items);
  }

  layout() {
    const { sizes } = this.ctxInfo;
    // Node size from the room the stylesheet allows (max-height), then the stage takes only what it needs.
    const maxH = parseFloat(getComputedStyle(this.stage).maxHeight) || 416;
    const w = this.stage.clientWidth;
    if (!w) return;
    const maxCount = Math.max(...sizes);
    const big = document.documentElement.classList.contains("presenter") ? 72 : 50;
    const S = Math.max(16, Math.min(big, ((maxH - 24) / maxCount) * 0.66));
    const slot = Math.min(S * 1.6, (maxH - 24) / maxCount);
    const h = Math.ceil(slot * maxCount + 24);
    const charW = 6.6 * (parseFloat(getComputedStyle(document.documentElement).fontSize) / 14);
    // The stage's own new height brings the ResizeObserver back here: nothing moved, nothing to redo
    // (on the largest network that is thousands of paths and a pass of edges).
    const laid = `${w} ${h} ${S} ${charW}`;
    if (this.laid === laid && this.laidNodes === this.nodes) return;
    this.laid = laid; this.laidNodes = this.nodes;
    if (this.stage.style.height !== `${h}px`) this.stage.style.height = `${h}px`;
    this.painter.resize(w, h);
    this.svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    // Room for the input and output labels beside the first and last columns.
    const longest = (col) => Math.max(...this.nodes[col].map((n) => n.label.textContent.length));
    const padL = Math.max(8 + S / 2 + 14, S / 2 + 10 + longest(0) * charW);
    const padR = Math.max(8 + S / 2 + 14, S / 2 + 10 + longest(sizes.length - 1) * charW);
    const cols = sizes.length;
    this.S = S;
    this.colX = sizes.map((_, c) => padL + (c * (w - padL - padR)) / Math.max(1, cols - 1));
    for (let c = 0; c < cols; c++) {
      const m = sizes[c], top = 6 + (slot * (maxCount - m)) / 2;
      for (let k = 0; k < m; k++) {
        const n = this.nodes[c][k];
        n.x = this.colX[c]; n.y = top + slot * (k + 0.5);
        n.el.style.cssText = `left:${n.x - S / 2}px;top:${n.y - S / 2}px;width:${S}px;height:${S}px`;
        if (n.bias) { const bs = Math.max(7, S * 0.22); n.bias.style.cssText = `left:${n.x - S / 2 - bs - 2}px;top:${n.y + S / 2 - bs}px;width:${bs}px;height:${bs}px`; }
      }
    }
    // Heads sit over their columns, each as wide as its column's share less a gap: a head's title, count and
    // buttons wrap inside that width (network.css), so no head reaches into its neighbour's.
    const heads = this.heads.children, share = cols > 1 ? (w - padL - padR) / (cols - 1) : w, gap = 8;
    for (let c = 0; c < heads.length; c++) {
      // The input and output heads also stay within the room beside their columns (the page never scrolls sideways).
      const side = c === 0 ? 2 * padL : c === cols - 1 ? 2 * padR : Infinity;
      heads[c].style.left = `${this.colX[c]}px`;
      heads[c].style.width = `${Math.max(0, Math.min(share - gap, side))}px`;
    }
    for (const e of this.edges) {
      const a = this.nodes[e.l][e.i], b = this.nodes[e.l + 1][e.j];
      const x0 = a.x + S / 2, x1 = b.x - S / 2, mx = (x0 + x1) / 2;
      e.pts = [x0, a.y, mx, a.y, mx, b.y, x1, b.y];
      e.path.setAttribute("d", `M${x0},${a.y} C${mx},${a.y} ${mx},${b.y} ${x1},${b.y}`);
    }
    this.layoutBuffer(w, h);
  }

  /**
   * More edges than one animation frame strokes (EDGE_BUDGET): they are drawn in passes, a
   * budget's worth per animation frame into a canvas off the page, which is copied onto the
   * page's canvas when the pass is complete. A pass draws one frame in one edge mode, so the
   * picture on the page is always one whole frame. Fewer edges: drawn whole every frame.
   */
  layoutBuffer(w, h) {
    this.pass = null; this.edgesStale = true;
    if (this.edges.length <= EDGE_BUDGET) { this.buffer = null; return; }
    const canvas = document.createElement("canvas");
    // Read back one pixel per slice (below) to make the browser rasterize the slice now, not all at the copy.
    const g = canvas.getContext("2d", { willReadFrequently: true });
    const painter = new EdgePainter(canvas, document.querySelector(".scale-legend .scale-max"));
    painter.resize(w, h);
    painter.w = 0; painter.h = 0;   // its draw() clears w x h first: a slice must add to the pass, so nothing
    this.buffer = { canvas, g, painter };
  }

  /** Draw the next EDGE_BUDGET edges of the current pass (starting one on a new frame); returns the edges drawn. */
  drawSlice(now) {
    const buf = this.buffer;
    if (!this.pass) {
      if (!this.edgesStale) return 0;
      buf.g.save(); buf.g.setTransform(1, 0, 0, 1, 0, 0); buf.g.clearRect(0, 0, buf.canvas.width, buf.canvas.height); buf.g.restore();
      this.pass = { frame: this.frame, mode: this.mode, next: 0 };
      this.edgesStale = false;
    }
    const pass = this.pass, edges = this.edges.slice(pass.next, pass.next + EDGE_BUDGET);
    buf.painter.draw({ frame: pass.frame, mode: pass.mode, anim: null, nodes: this.nodes, edges, S: this.S, constant: this.constant }, now);
    buf.g.getImageData(0, 0, 1, 1);
    pass.next += edges.length;
    if (pass.next >= this.edges.length) {
      const g = this.painter.ctx;
      g.save(); g.setTransform(1, 0, 0, 1, 0, 0);
      g.clearRect(0, 0, this.canvas.width, this.canvas.height); g.drawImage(buf.canvas, 0, 0);
      g.restore();
      this.pass = null;
      this.passes++;
    }
    return edges.length;
  }

  setEdgeMode(mode) { this.mode = mode; this.draw(); this.focus.refreshTooltip(); }

  /** Draw the weights snapped to their quantized levels (fn: frame -> frame drawn), or as they are (null). */
  setSnap(fn) { this.snap = fn; if (this.frame) this.update(this.rawFrame); }

  /** Which inputs never vary (one boolean per input, or null): their edges are drawn as carrying no signal. */
  setConstantInputs(flags) { this.constant = flags; this.edgesStale = true; if (this.frame) this.update(this.rawFrame); }

  /** An input node that never varies is greyed, and says so to a screen reader. */
  markConstant() {
    for (const n of this.nodes?.[0] || []) {
      const on = !!this.constant?.[n.k];
      if (n.constant === on) continue;
      n.constant = on;
      n.el.classList.toggle("no-signal", on);
      n.el.setAttribute("aria-label", `${nodeName(this.ctxInfo, 0, n.k)}${on ? ", never varies: carries no signal" : ""}`);
    }
  }

  /** Draw a new frame (net.setParams was already called by the caller). */
  update(frame) {
    this.rawFrame = frame;
    if (this.snap) frame = this.snap(frame);
    this.prevFrame = this.frame;
    this.frame = frame;
    if (frame.phase && frame.trace && (!this.prevFrame || this.prevFrame.phase !== frame.phase || this.prevFrame.step !== frame.step)) {
      this.startPhase(frame.phase);
    } else if (!frame.phase) this.anim = null;
    this.draw();
    this.showDropped(frame.dropped);
    this.markZeros();
    this.markConstant();
    this.drawTrace();
    this.focus.refreshTooltip();
  }

  /**
   * Grey the hidden neurons dropout dropped for this update (the frame's `dropped`, one list of
   * booleans per hidden layer; null: none, as at evaluation or without dropout).
   */
  showDropped(dropped) {
    const last = this.nodes.length - 1;
    for (let c = 1; c < last; c++) {
      for (const n of this.nodes[c]) {
        const on = !!dropped?.[c - 1]?.[n.k];
        if (n.dropped === on) continue;
        n.dropped = on;
        n.el.classList.toggle("dropped", on);
        n.el.setAttribute("aria-label", this.nodeLabel(n));
      }
    }
  }

  /** The hidden neurons greyed now: one list of booleans per hidden layer (tests compare it with the frame). */
  droppedShown() {
    return this.nodes.slice(1, -1).map((col) => col.map((n) => n.el.classList.contains("dropped")));
  }

  /** A weight exactly 0 is not stroked: its hit path (still hoverable) is marked so the hover can say so. */
  markZeros() {
    const layers = this.frame.layers;
    for (const e of this.edges) {
      const zero = layers[e.l]?.W?.[e.i]?.[e.j] === 0;
      if (e.zero === zero) continue;
      e.zero = zero;
      e.path.classList.toggle("zero", zero);
    }
  }

  /** A node's accessible name: its name, its traced numbers, and whether dropout dropped it. */
  nodeLabel(n) {
    const name = nodeName(this.ctxInfo, n.c, n.k), text = n.trace.textContent;
    return `${text ? `${name} ${text.replace(/\s+/g, " ")}` : name}${n.dropped ? ", dropped for this update" : ""}`;
  }

  /** Tooltip content plus what the picture shows by leaving out: a dropped neuron, a weight exactly 0. */
  withNotes(content, key) {
    const [kind, a, b, c] = String(key).split(":").map((x, i) => (i ? Number(x) : x));
    if (this.frame?.rewound && (kind === "e" || kind === "b")) return this.rewoundView(kind, a, b, c);
    let note = null;
    if (kind === "n" && this.nodes?.[a]?.[b]?.dropped) {
      note = "Dropped for this update: dropout switched this neuron off for the current mini-batch (its output counts as 0).";
    } else if (kind === "e" && this.mode === "weights" && this.frame?.layers?.[a]?.W?.[b]?.[c] === 0) {
      note = "Exactly 0: drawn as absent. L1 regularization pushes weights to exactly zero, cutting the connection.";
    } else if ((kind === "e" && this.frame?.layers?.[a]?.frozenW?.[b]?.[c]) || (kind === "b" && this.frame?.layers?.[a]?.frozenb?.[b])) {
      note = "Frozen: training leaves it as it is. Its gradient is still computed and drawn grey, but never applied.";
    }
    if (note) content.append(h("div", { class: "tt-note" }, note));
    if ((kind === "e" || kind === "n") && a === 0 && this.constant?.[b]) {
      content.append(h("div", { class: "tt-note no-signal-note" }, "Never varies: this input has the same value for every training point, so its gradient is always exactly 0. "
        + "It carries no signal, whatever its weights (drawn grey and dotted)."));
    }
    const full = kind === "e" && this.snap ? this.frame?.layers?.[a]?.Wfull?.[b]?.[c] : undefined;
    if (full !== undefined && full !== null) {
      content.append(h("div", { class: "tt-note" }, "Snapped to its quantized level ", h("b", { class: "num", title: String(this.frame.layers[a].W[b][c]) }, fmt(this.frame.layers[a].W[b][c], 6)),
        "; at full precision ", h("span", { class: "num", title: String(full) }, fmt(full, 6)), "."));
    }
    return content;
  }

  /**
   * The tooltip of a weight or bias while the rewind lab shows a recorded step (the frame's `rewound`): its exact
   * value there; the record sent has no gradients or optimizer state, so the update rule is not shown.
   */
  rewoundView(kind, a, b, c) {
    const L = this.frame.layers[a], v = kind === "e" ? L?.W?.[b]?.[c] : L?.b?.[b];
    const what = kind === "e" ? `${nodeName(this.ctxInfo, a, b)} → ${nodeName(this.ctxInfo, a + 1, c)}` : `bias of ${nodeName(this.ctxInfo, a + 1, b)}`;
    const { step, live } = this.frame.rewound;
    return h("div", null,
      h("div", { class: "tt-head" }, h("span", { class: "chip param" }, "parameter"), " ", kind === "e" ? "Weight " : "", h("b", null, what)),
      h("table", { class: "tt-table" }, h("tbody", null,
        h("tr", null, h("th", { scope: "row" }, `value at step ${step}`), h("td", null, h("span", { class: "num", title: String(v) }, fmt(v, 6)))))),
      h("div", { class: "tt-note" }, `As it was at step ${step} (the live run is at step ${live}). Back to live, or go on from here, in the Rewind card.`));
  }

  /** Biases now; the edges now, or (a big network) in the passes refresh() draws. */
  draw(now = performance.now()) {
    if (!this.net || !this.frame || !this.colX) return;
    this.drawBiases();
    if (this.buffer) {
      this.edgesStale = true;
      if (this.pass && this.pass.mode !== this.mode) this.pass = null;   // a new mode shows in the next pass, not after this one
    } else { this.painter.draw(this, now); this.work.edges += this.edges.length; }
  }

  /** The grid has a new sweep: every node map it feeds waits to be repainted. */
  mapsChanged() {
    if (!this.grid || !this.nodes) return;
    for (let c = 1; c < this.nodes.length; c++) {
      for (const n of this.nodes[c]) if (!n.queued) { n.queued = true; this.mapQueue.push(n); }
    }
  }

  /**
   * Once per animation frame: repaint the node maps waiting longest (MAP_BUDGET at most)
   * and, on a big network, the next EDGE_BUDGET edges of the pass. Returns what was drawn ({maps, edges}), counted from
   * this call and any draw() since the last one.
   */
  refresh(now = performance.now()) {
    const work = this.work;
    if (this.grid && this.frame) {
      const sizes = this.ctxInfo.sizes, q = this.mapQueue;
      const count = Math.min(MAP_BUDGET, q.length);
      for (let t = 0; t < count; t++) {
        const n = q[t], [shift, scale] = heatScale(this.ctxInfo, n.c);
        this.paint(n, this.grid.acts[n.c], n.k, sizes[n.c], shift, scale);
        n.queued = false; n.paintedSweep = this.grid.sweeps; n.paints++;
      }
      q.splice(0, count);
      work.maps += count;
    }
    if (this.buffer && this.frame) work.edges += this.drawSlice(now);
    this.work = { maps: 0, edges: 0 };
    return work;
  }

  drawInputMaps() {
    const g = this.grid, D = this.ctxInfo.sizes[0], P = g.n * g.n, x0 = g.acts[0];
    for (let d = 0; d < D; d++) {
      let lo = Infinity, hi = -Infinity;
      for (let p = 0; p < P; p++) { const v = x0[p * D + d]; if (v < lo) lo = v; if (v > hi) hi = v; }
      const mid = (lo + hi) / 2, half = (hi - lo) / 2 || 1;
      this.paint(this.nodes[0][d], x0, d, D, mid, 1 / half);
    }
  }

  paint(node, values, off, stride, shift, scale) {
    // Cell (r, c) of the node's m x m map is cell (2r, 2c) of the n x n grid.
    const u32 = node.u32, lut = this.lut, m = this.m, n = this.grid.n, half = (LUT_SIZE - 1) / 2;
    for (let r = 0, q = 0; r < m; r++) {
      const row = 2 * r * n;
      for (let c = 0; c < m; c++, q++) {
        const i = Math.round(((values[(row + 2 * c) * stride + off] - shift) * scale + 1) * half);
        u32[q] = lut[i < 0 ? 0 : i > 255 ? 255 : i === i ? i : 127];
      }
    }
    node.g.putImageData(node.img, 0, 0);
  }

  drawBiases() {
    const [, bk] = MODE_KEYS[this.mode];
    const layers = this.frame.layers;
    let scale = 1e-12;
    for (const L of layers) for (const v of L[bk] || []) if (v !== null) scale = Math.max(scale, Math.abs(v));
    if (this.mode === "weights") scale = Math.max(scale, 1);
    for (let c = 1; c < this.nodes.length; c++) {
      const L = layers[c - 1];
      if (!L) continue;
      let layerLocked = true;
      for (const n of this.nodes[c]) {
        const v = L[bk]?.[n.k];
        // A frozen bias's gradient (or velocity, update) is still shown, greyed: training does not use it.
        const frozen = !!L.frozenb?.[n.k];
        const col = v === null || v === undefined || (frozen && this.mode !== "weights") ? "#999" : this.painter.color(v, scale);
        // Written only when they change (what was written is kept: reading styles back costs more).
        if (n.biasColor !== col) { n.biasColor = col; n.bias.style.backgroundColor = col; }
        if (n.biasFrozen !== frozen) { n.biasFrozen = frozen; n.bias.classList.toggle("frozen", frozen); }
        // Freezing as parameter isolation: a neuron whose bias and incoming weights are all frozen is drawn locked.
        const locked = frozen && (L.frozenW || []).every((row) => !!row[n.k]);
        if (n.locked !== locked) { n.locked = locked; n.el.classList.toggle("locked", locked); }
        layerLocked = layerLocked && locked;
      }
      this.heads.children[c]?.classList.toggle("locked", layerLocked);
    }
  }

  startPhase(phase) {
    this.anim = { phase, t0: performance.now() };
    const sizes = this.ctxInfo.sizes, last = sizes.length - 1;
    for (let c = 0; c <= last; c++) {
      let delay = null;
      if (phase === "forward") delay = c * 220;
      else if (phase === "loss" && c === last) delay = 0;
      else if (phase === "backward" && c > 0) delay = (last - c) * 350;
      if (delay === null) continue;
      this.animated = true;
      for (const n of this.nodes[c]) {
        n.el.animate([{ boxShadow: "0 0 0 0 rgba(255,190,40,0)" }, { boxShadow: "0 0 0 6px rgba(255,190,40,.85)" }, { boxShadow: "0 0 0 2px rgba(255,190,40,.6)" }],
          { duration: 500, delay, fill: "forwards" });
        n.trace.animate([{ opacity: 0 }, { opacity: 1 }], { duration: 200, delay, fill: "backwards" });
      }
    }
  }

  /** True while an animation still needs frames. */
  animate(now) {
    if (!this.anim || !this.frame) return false;
    if (now - this.anim.t0 > 2500) return false;
    // A big network's edges stay in their passes (all of them every frame would overrun it); its nodes still glow.
    if (!this.buffer) this.painter.draw(this, now);
    return true;
  }

  drawTrace() {
    const tr = this.frame.trace, phase = this.frame.phase;
    const last = this.nodes.length - 1;
    for (let c = 0; c <= last; c++) {
      for (const n of this.nodes[c]) {
        let text = "", title = "";
        if (tr && phase) {
          if (c === 0) { const x = tr.a?.[0]?.[n.k]; text = `${fmt(x, 3)}`; title = `input ${x}`; }
          else if (phase === "loss" && c === last) {
            const y = tr.output?.[n.k], t = Array.isArray(tr.target) ? tr.target[n.k] : tr.target;
            text = `ŷ ${fmt(y, 3)}\nt ${fmt(t, 3)}\nL ${fmt(tr.loss, 3)}`; title = `prediction ŷ = ${y}\ntarget t = ${t}\nloss L = ${tr.loss}`;
          } else if (phase === "backward" || phase === "update") {
            const d = tr.dz?.[c - 1]?.[n.k]; text = `dL/dz ${fmt(d, 3)}`; title = `dL/dz = ${d}`;
          } else {
            const z = tr.z?.[c - 1]?.[n.k], a = tr.a?.[c]?.[n.k];
            text = `z ${fmt(z, 3)}\na ${fmt(a, 3)}`; title = `z = ${z}\na = ${a}`;
          }
        }
        // "\n" reads as a space where labels do not wrap (wide screens) and breaks the line on phones.
        if (n.trace.textContent !== text) {
          n.trace.textContent = text; n.trace.title = title;
          // The node's name says what it shows: its label, then the traced numbers.
          n.el.setAttribute("aria-label", this.nodeLabel(n));
        }
        n.el.classList.toggle("traced", !!text);
        if (!tr && this.animated) n.el.getAnimations().forEach((a) => a.cancel());
      }
    }
    if (!tr) this.animated = false;   // getAnimations() recalculates styles: only after a phase animated
  }

  /** Key of the item under the pointer or focus (e.g. "e:0:1:2"), or null. */
  get hoverKey() { return this.focus.hoverKey; }

  /** Paint the network (edges and node maps) into a 2-D context at (x, y), for the PNG export. */
  paintInto(g, x, y) {
    g.drawImage(this.canvas, x, y, this.stage.clientWidth, this.stage.clientHeight);
    g.imageSmoothingEnabled = true;
    for (const col of this.nodes) for (const n of col) {
      if (!n.cv.hidden) g.drawImage(n.cv, x + n.x - this.S / 2, y + n.y - this.S / 2, this.S, this.S);
      if (n.bias) { g.fillStyle = n.bias.style.backgroundColor; const r = n.bias.getBoundingClientRect(), s = this.stage.getBoundingClientRect(); g.fillRect(x + r.left - s.left, y + r.top - s.top, r.width, r.height); }
    }
  }
}

export { OUTPUT_FN };
