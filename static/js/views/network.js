// The network: input features, hidden neurons and outputs as nodes, each with
// its own output drawn as a heatmap over the plane (computed here from the
// streamed weights); edges coloured by sign and sized by magnitude of weight,
// gradient, velocity or last update; biases as small squares. Edges are drawn
// on one canvas; an SVG of invisible wide paths makes them hoverable and
// focusable. The whole view is one Tab stop: arrow keys walk nodes, biases and
// edges (a roving tabindex), Enter edits.
import { OUTPUT_FN } from "../nn.js";
import { divergingLUT, diverging, rgb, LUT_SIZE } from "../colors.js";
import { fmt } from "../format.js";
import { nodeName, paramHTML, nodeHTML } from "./inspect.js";
import { heatScale } from "./heatmap.js";

const LABEL_MAX_EDGES = 40;
const MODE_KEYS = { weights: ["W", "b"], gradients: ["dW", "db"], velocity: ["vW", "vb"], updates: ["deltaW", "deltab"] };
const SVGNS = "http://www.w3.org/2000/svg";

export class NetworkView extends EventTarget {
  constructor(root, tooltip) {
    super();
    this.root = root; this.tooltip = tooltip;
    this.heads = root.querySelector(".net-heads");
    this.stage = root.querySelector(".net-stage");
    this.canvas = this.stage.querySelector("canvas.net-edges");
    this.ctx = this.canvas.getContext("2d");
    this.svg = this.stage.querySelector("svg.net-hits");
    this.nodesEl = this.stage.querySelector(".net-nodes");
    this.scaleEl = document.querySelector(".scale-legend .scale-max");
    this.lut = divergingLUT();
    this.colorCache = new Map();
    this.mode = "weights";
    this.frame = null; this.prevFrame = null;
    this.net = null; this.items = []; this.focusIndex = 0; this.hoverKey = null;
    this.anim = null;
    this.bindKeys();
    new ResizeObserver(() => { if (this.net) { this.layout(); this.draw(); } }).observe(this.stage);
  }

  /**
   * Build the view for a new architecture. ctx: {sizes, inputNames, activations, outputFn, classNames, plane, yRange}.
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
    const { sizes } = this.ctxInfo, H = sizes.length - 2;
    const parts = [`<div class="net-head"><span class="head-title">Input</span><span class="head-sub">${sizes[0]} features</span></div>`];
    for (let l = 0; l < H; l++) {
      parts.push(`<div class="net-head"><span class="head-title">Layer ${l + 1}</span>
        <span class="head-sub"><span class="count">${sizes[l + 1]}</span> neurons</span>
        <span class="head-btns"><button type="button" class="mini" data-layer="${l}" data-delta="1">+ neuron</button><button type="button" class="mini" data-layer="${l}" data-delta="-1">− neuron</button></span></div>`);
    }
    parts.push(`<div class="net-head"><span class="head-title">Output</span><span class="head-sub">${this.ctxInfo.outputFn}</span></div>`);
    this.heads.innerHTML = parts.join("");
    this.heads.querySelectorAll("button[data-layer]").forEach((b) => b.addEventListener("click", () => {
      this.dispatchEvent(new CustomEvent("neurons", { detail: { layer: +b.dataset.layer, delta: +b.dataset.delta } }));
    }));
  }

  buildNodes() {
    const { sizes } = this.ctxInfo;
    this.nodesEl.textContent = "";
    this.svg.textContent = "";
    this.nodes = []; this.items = []; this.edges = [];
    const plane = this.ctxInfo.plane;
    for (let c = 0; c < sizes.length; c++) {
      const col = [];
      for (let k = 0; k < sizes[c]; k++) {
        const el = document.createElement("div");
        el.className = "node" + (c === 0 ? " input" : c === sizes.length - 1 ? " output" : "");
        el.tabIndex = -1;
        el.dataset.key = `n:${c}:${k}`;
        el.setAttribute("aria-label", nodeName(this.ctxInfo, c, k));
        const cv = document.createElement("canvas");
        cv.width = this.m; cv.height = this.m;
        if (!plane) cv.hidden = true;
        el.appendChild(cv);
        const label = document.createElement("span");
        label.className = "node-label"; label.textContent = nodeName(this.ctxInfo, c, k);
        el.appendChild(label);
        const trace = document.createElement("span");
        trace.className = "trace-label";
        el.appendChild(trace);
        this.nodesEl.appendChild(el);
        const node = { el, cv, c, k, trace, label, g: cv.getContext("2d"), img: null, u32: null };
        node.img = node.g.createImageData(this.m, this.m);
        node.u32 = new Uint32Array(node.img.data.buffer);
        this.items.push({ key: el.dataset.key, el, type: "node", c, k });
        if (c > 0) {
          const b = document.createElement("div");
          b.className = "bias"; b.tabIndex = -1; b.dataset.key = `b:${c - 1}:${k}`;
          b.setAttribute("aria-label", `bias of ${nodeName(this.ctxInfo, c, k)}`);
          this.nodesEl.appendChild(b);
          node.bias = b;
          this.items.push({ key: b.dataset.key, el: b, type: "bias", l: c - 1, j: k });
          for (let i = 0; i < sizes[c - 1]; i++) {
            const p = document.createElementNS(SVGNS, "path");
            p.setAttribute("class", "hit"); p.setAttribute("tabindex", "-1");
            p.dataset.key = `e:${c - 1}:${i}:${k}`;
            p.setAttribute("aria-label", `weight ${nodeName(this.ctxInfo, c - 1, i)} to ${nodeName(this.ctxInfo, c, k)}`);
            this.svg.appendChild(p);
            const e = { l: c - 1, i, j: k, path: p };
            this.edges.push(e);
            this.items.push({ key: p.dataset.key, el: p, type: "edge", l: c - 1, i, j: k });
          }
        }
        col.push(node);
      }
      this.nodes.push(col);
    }
    this.byKey = new Map(this.items.map((it, idx) => [it.key, idx]));
    for (const it of this.items) {
      it.el.addEventListener("pointerenter", (ev) => this.hover(it, ev));
      it.el.addEventListener("pointermove", (ev) => { if (this.hoverKey === it.key) this.tooltip.moveTo(ev.clientX, ev.clientY); });
      it.el.addEventListener("pointerleave", () => this.unhover(it));
      it.el.addEventListener("focus", () => { this.focusIndex = this.byKey.get(it.key); this.hover(it, null); });
      it.el.addEventListener("blur", () => this.unhover(it));
      it.el.addEventListener("click", (ev) => { ev.stopPropagation(); this.focusIndex = this.byKey.get(it.key); this.edit(it); });
    }
    this.focusIndex = Math.min(this.focusIndex, this.items.length - 1);
    this.setRoving(this.focusIndex);
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
    if (this.stage.style.height !== `${h}px`) this.stage.style.height = `${h}px`;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(w * dpr); this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = w + "px"; this.canvas.style.height = h + "px";
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    // Room for the input and output labels beside the first and last columns.
    const charW = 6.6 * (parseFloat(getComputedStyle(document.documentElement).fontSize) / 14);
    const longest = (col) => Math.max(...this.nodes[col].map((n) => n.label.textContent.length));
    const padL = Math.max(8 + S / 2 + 14, S / 2 + 10 + longest(0) * charW);
    const padR = Math.max(8 + S / 2 + 14, S / 2 + 10 + longest(sizes.length - 1) * charW);
    const cols = sizes.length;
    this.S = S;
    this.colX = sizes.map((_, c) => padL + (c * (w - padL - padR)) / Math.max(1, cols - 1));
    this.heads.classList.toggle("dense", (w - padL - padR) / Math.max(1, cols - 1) < 130);
    for (let c = 0; c < cols; c++) {
      const m = sizes[c], top = 6 + (slot * (maxCount - m)) / 2;
      for (let k = 0; k < m; k++) {
        const n = this.nodes[c][k];
        n.x = this.colX[c]; n.y = top + slot * (k + 0.5);
        n.el.style.cssText = `left:${n.x - S / 2}px;top:${n.y - S / 2}px;width:${S}px;height:${S}px`;
        if (n.bias) { const bs = Math.max(7, S * 0.22); n.bias.style.cssText = `left:${n.x - S / 2 - bs - 2}px;top:${n.y + S / 2 - bs}px;width:${bs}px;height:${bs}px`; }
      }
    }
    // Heads sit over their columns.
    const heads = this.heads.children;
    for (let c = 0; c < heads.length; c++) heads[c].style.left = `${this.colX[c]}px`;
    for (const e of this.edges) {
      const a = this.nodes[e.l][e.i], b = this.nodes[e.l + 1][e.j];
      const x0 = a.x + S / 2, x1 = b.x - S / 2, mx = (x0 + x1) / 2;
      e.pts = [x0, a.y, mx, a.y, mx, b.y, x1, b.y];
      e.path.setAttribute("d", `M${x0},${a.y} C${mx},${a.y} ${mx},${b.y} ${x1},${b.y}`);
    }
  }

  setEdgeMode(mode) { this.mode = mode; this.draw(); this.refreshTooltip(); }

  /** Draw a new frame (net.setParams was already called by the caller). */
  update(frame) {
    this.prevFrame = this.frame;
    this.frame = frame;
    if (frame.phase && frame.trace && (!this.prevFrame || this.prevFrame.phase !== frame.phase || this.prevFrame.step !== frame.step)) {
      this.startPhase(frame.phase);
    } else if (!frame.phase) this.anim = null;
    this.draw();
    this.drawTrace();
    this.refreshTooltip();
  }

  draw(now = performance.now()) {
    if (!this.net || !this.frame || !this.colX) return;
    if (this.grid) this.drawMaps();
    this.drawBiases();
    this.drawEdges(now);
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

  drawMaps() {
    const sizes = this.ctxInfo.sizes;
    for (let c = 1; c < sizes.length; c++) {
      const [shift, scale] = heatScale(this.ctxInfo, c);
      for (let k = 0; k < sizes[c]; k++) this.paint(this.nodes[c][k], this.grid.acts[c], k, sizes[c], shift, scale);
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

  color(v, scale) {
    const t = Math.min(1, Math.abs(v) / scale);
    const q = Math.round(Math.sign(v) * (0.3 + 0.7 * t) * 32);
    let s = this.colorCache.get(q);
    if (!s) { s = rgb(diverging(q / 32)); this.colorCache.set(q, s); }
    return s;
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
      for (const n of this.nodes[c]) {
        const v = L[bk]?.[n.k];
        const col = v === null || v === undefined ? "#999" : this.color(v, scale);
        if (n.bias.style.backgroundColor !== col) n.bias.style.backgroundColor = col;
        n.bias.classList.toggle("frozen", !!L.frozenb?.[n.k]);
      }
    }
  }

  edgeScale(key) {
    let scale = 1e-12;
    for (const L of this.frame.layers) for (const row of L[key] || []) for (const v of row) if (v !== null && Math.abs(v) > scale) scale = Math.abs(v);
    return this.mode === "weights" ? Math.max(scale, 1) : scale;
  }

  drawEdges(now) {
    const g = this.ctx, layers = this.frame.layers;
    const [wk] = MODE_KEYS[this.mode];
    const w = this.stage.clientWidth, h = this.stage.clientHeight;
    g.clearRect(0, 0, w, h);
    const scale = this.edgeScale(wk);
    const label = { W: "|w|", dW: "|dL/dw|", vW: "|v|", deltaW: "|Δw|" }[wk];
    const text = `${label} = ${fmt(scale, 3)}`;
    if (this.scaleEl && this.scaleEl.textContent !== text) { this.scaleEl.textContent = text; this.scaleEl.title = `${label} = ${scale}`; }
    const anim = this.anim, L = this.nodes.length - 1;
    const t = anim ? now - anim.t0 : Infinity;
    const labels = this.frame.trace && this.edges.length <= LABEL_MAX_EDGES && anim && (anim.phase === "backward" || anim.phase === "update");
    const labelList = [];
    g.lineCap = "round";
    for (const e of this.edges) {
      const Lr = layers[e.l];
      if (!Lr) continue;
      let v = Lr[wk]?.[e.i]?.[e.j];
      if (v === null || v === undefined) { v = 0; }
      let alpha = 1;
      if (anim && anim.phase === "backward") {
        const at = (L - 1 - e.l) * 350 + (e.j / this.nodes[e.l + 1].length) * 200;
        alpha = t < at ? 0.15 : 1;
        if (labels && t >= at) labelList.push([e, Lr.dW[e.i][e.j], null]);
      } else if (anim && anim.phase === "update") {
        const k = Math.min(1, t / 700), d = Lr.deltaW?.[e.i]?.[e.j] ?? 0;
        if (this.mode === "weights") v = v - d * (1 - k);
        if (labels) labelList.push([e, Lr.W[e.i][e.j] - d, Lr.W[e.i][e.j]]);
      }
      const tt = Math.min(1, Math.abs(v) / scale);
      g.globalAlpha = alpha;
      g.strokeStyle = this.color(v, scale);
      g.lineWidth = 0.6 + 6 * tt;
      g.setLineDash(Lr.frozenW?.[e.i]?.[e.j] ? [3, 4] : []);
      const p = e.pts;
      g.beginPath(); g.moveTo(p[0], p[1]); g.bezierCurveTo(p[2], p[3], p[4], p[5], p[6], p[7]); g.stroke();
    }
    g.globalAlpha = 1; g.setLineDash([]);
    if (labelList.length) this.drawEdgeLabels(labelList);
  }

  drawEdgeLabels(list) {
    const g = this.ctx;
    g.font = `${document.documentElement.classList.contains("presenter") ? 14 : 11}px ui-monospace, SFMono-Regular, Menlo, monospace`;
    g.textAlign = "center"; g.textBaseline = "middle";
    const S = this.S, placed = [];
    for (const col of this.nodes) for (const n of col) placed.push([n.x - S / 2 - 2, n.y - S / 2 - 2, S + 4, S + 18]);
    const at = (p, t) => {
      const u = 1 - t;
      return [u * u * u * p[0] + 3 * u * u * t * p[2] + 3 * u * t * t * p[4] + t * t * t * p[6],
        u * u * u * p[1] + 3 * u * u * t * p[3] + 3 * u * t * t * p[5] + t * t * t * p[7]];
    };
    const free = (r) => placed.every((q) => r[0] + r[2] < q[0] || q[0] + q[2] < r[0] || r[1] + r[3] < q[1] || q[1] + q[3] < r[1]);
    // Each label takes the first place along its edge where it overlaps no other; a label with
    // no free place is left out (the phase table and the tooltip still have its numbers).
    for (const [e, a, b] of list) {
      const text = b === null ? fmt(a, 3) : `${fmt(a, 3)} → ${fmt(b, 3)}`;
      const tw = g.measureText(text).width + 6, th = 15;
      for (const t of [0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8]) {
        const [x, y] = at(e.pts, t), r = [x - tw / 2, y - th / 2, tw, th];
        if (!free(r)) continue;
        placed.push(r);
        g.fillStyle = "rgba(255,255,255,0.9)"; g.fillRect(r[0], r[1], r[2], r[3]);
        g.fillStyle = "#222"; g.fillText(text, x, y);
        break;
      }
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
    this.drawEdges(now);
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
            text = `ŷ ${fmt(y, 3)} t ${fmt(t, 3)} L ${fmt(tr.loss, 3)}`; title = `prediction ŷ = ${y}\ntarget t = ${t}\nloss L = ${tr.loss}`;
          } else if (phase === "backward" || phase === "update") {
            const d = tr.dz?.[c - 1]?.[n.k]; text = `dL/dz ${fmt(d, 3)}`; title = `dL/dz = ${d}`;
          } else {
            const z = tr.z?.[c - 1]?.[n.k], a = tr.a?.[c]?.[n.k];
            text = `z ${fmt(z, 3)} a ${fmt(a, 3)}`; title = `z = ${z}\na = ${a}`;
          }
        }
        if (n.trace.textContent !== text) { n.trace.textContent = text; n.trace.title = title; }
        n.el.classList.toggle("traced", !!text);
        if (!tr) n.el.getAnimations().forEach((a) => a.cancel());
      }
    }
  }

  // ---- hover, focus, keyboard, edit ------------------------------------------------

  hover(it, ev) {
    this.hoverKey = it.key;
    this.tooltipItem = it;
    this.refreshTooltip();
    if (ev) this.tooltip.moveTo(ev.clientX, ev.clientY); else this.tooltip.anchor(it.el.getBoundingClientRect());
    if (it.type === "node") this.dispatchEvent(new CustomEvent("inspect", { detail: { c: it.c, k: it.k } }));
    if (it.type === "bias") this.dispatchEvent(new CustomEvent("inspect", { detail: { c: it.l + 1, k: it.j } }));
  }

  unhover(it) {
    if (this.hoverKey !== it.key) return;
    if (it.el === document.activeElement) return;
    this.hoverKey = null; this.tooltipItem = null;
    this.tooltip.hide();
    this.dispatchEvent(new CustomEvent("inspect", { detail: null }));
  }

  refreshTooltip() {
    const it = this.tooltipItem;
    if (!it || !this.frame || this.tooltip.editing) return;
    let html;
    if (it.type === "edge") html = paramHTML(this.ctxInfo, this.frame, this.prevFrame, it.l, "W", it.i, it.j);
    else if (it.type === "bias") html = paramHTML(this.ctxInfo, this.frame, this.prevFrame, it.l, "b", 0, it.j);
    else html = nodeHTML(this.ctxInfo, this.frame, it.c, it.k);
    this.tooltip.show(html, it.key);
  }

  edit(it) {
    if (!this.frame) return;
    let l, kind, i = 0, j;
    if (it.type === "edge") { l = it.l; kind = "W"; i = it.i; j = it.j; }
    else if (it.type === "bias") { l = it.l; kind = "b"; j = it.j; }
    else if (it.type === "node" && it.c > 0) { l = it.c - 1; kind = "b"; j = it.k; }
    else return;
    const L = this.frame.layers[l];
    const value = kind === "W" ? L.W[i][j] : L.b[j];
    const frozen = kind === "W" ? !!L.frozenW?.[i]?.[j] : !!L.frozenb?.[j];
    const title = kind === "W" ? `weight ${nodeName(this.ctxInfo, l, i)} → ${nodeName(this.ctxInfo, l + 1, j)}` : `bias of ${nodeName(this.ctxInfo, l + 1, j)}`;
    const target = it.type === "node" ? "neuron" : kind === "W" ? "weight" : "bias";
    this.tooltip.openEditor({
      title, value, frozen, anchor: it.el.getBoundingClientRect(), returnFocus: it.el,
      freezeLabel: target === "neuron" ? "Freeze neuron" : "Frozen",
      onSet: (v) => this.dispatchEvent(new CustomEvent("intent", { detail: { type: "set_param", layer: l, kind, i: kind === "W" ? i : undefined, j, value: v } })),
      onFreeze: (f) => this.dispatchEvent(new CustomEvent("intent", { detail: { type: "freeze", layer: l, target, ...(target === "weight" ? { i, j } : { j }), frozen: f } })),
    });
  }

  setRoving(idx) {
    this.items.forEach((it, n) => it.el.setAttribute("tabindex", n === idx ? "0" : "-1"));
  }

  bindKeys() {
    this.stage.addEventListener("keydown", (ev) => {
      if (!this.items.length || !ev.target.dataset?.key) return;
      let idx = this.byKey.get(ev.target.dataset.key);
      if (["ArrowDown", "ArrowRight"].includes(ev.key)) idx = Math.min(this.items.length - 1, idx + 1);
      else if (["ArrowUp", "ArrowLeft"].includes(ev.key)) idx = Math.max(0, idx - 1);
      else if (ev.key === "Home") idx = 0;
      else if (ev.key === "End") idx = this.items.length - 1;
      else if (ev.key === "Enter") { ev.preventDefault(); this.edit(this.items[idx]); return; }
      else if (ev.key === "Escape") { this.tooltip.hide(); return; }
      else return;
      ev.preventDefault(); ev.stopPropagation();
      this.focusIndex = idx; this.setRoving(idx); this.items[idx].el.focus();
    });
  }

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
