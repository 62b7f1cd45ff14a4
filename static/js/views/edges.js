// The edges of the network view on one canvas: colour by sign, width by
// magnitude of what the switch shows (weights, gradients, velocity, last
// update); the backward and update phases animate them and label their values.
import { diverging, rgb } from "../colors.js";
import { fmt } from "../format.js";

export const MODE_KEYS = { weights: ["W", "b"], gradients: ["dW", "db"], velocity: ["vW", "vb"], updates: ["deltaW", "deltab"] };
const LABEL_MAX_EDGES = 40;
// Places tried along an edge for its value label (curve parameter, middle first), and the clear space
// kept around each label: two labels side by side would read as one number.
const LABEL_SPOTS = [0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8];
const LABEL_GAP = 6;
// An edge from an input that never varies: grey, thin and dotted, whatever its weight (no signal comes through).
const NO_SIGNAL = "rgb(160, 160, 160)";
const FROZEN_GREY = "rgb(150, 150, 150)";

/** The magnitude drawn thickest: the largest |value| (at least 1 for weights). */
export function edgeScale(layers, key, mode) {
  let scale = 1e-12;
  for (const L of layers) for (const row of L[key] || []) for (const v of row) if (v !== null && Math.abs(v) > scale) scale = Math.abs(v);
  return mode === "weights" ? Math.max(scale, 1) : scale;
}

export class EdgePainter {
  constructor(canvas, scaleEl) {
    this.canvas = canvas; this.ctx = canvas.getContext("2d"); this.scaleEl = scaleEl;
    this.colorCache = new Map(); this.w = 0; this.h = 0;
    this.labelBoxes = [];   // the edge labels drawn last, {x, y, w, h, text, key} in canvas px (tests read them)
    this.noSignalKeys = new Set();   // edges drawn as carrying no signal (an input that never varies; tests read them)
    this.zeroKeys = new Set();   // the weights exactly 0 left unstroked by the last draw ("e:l:i:j"; tests read them)
  }

  resize(w, h) {
    const dpr = window.devicePixelRatio || 1;
    this.w = w; this.h = h;
    this.canvas.width = Math.round(w * dpr); this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = w + "px"; this.canvas.style.height = h + "px";
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  /** Stroke colour of value v (sign and a minimum saturation so thin lines keep their hue), cached. */
  color(v, scale) {
    const t = Math.min(1, Math.abs(v) / scale);
    const q = Math.round(Math.sign(v) * (0.3 + 0.7 * t) * 32);
    let s = this.colorCache.get(q);
    if (!s) { s = rgb(diverging(q / 32)); this.colorCache.set(q, s); }
    return s;
  }

  /** Draw every edge of `view` (frame, edges, nodes, mode, anim) at time `now`. */
  draw(view, now) {
    const g = this.ctx, layers = view.frame.layers, mode = view.mode;
    const [wk] = MODE_KEYS[mode];
    g.clearRect(0, 0, this.w, this.h);
    const scale = edgeScale(layers, wk, mode);
    const label = { W: "|w|", dW: "|dL/dw|", vW: "|v|", deltaW: "|Δw|" }[wk];
    const text = `${label} = ${fmt(scale, 3)}`;
    if (this.scaleEl && this.scaleEl.textContent !== text) { this.scaleEl.textContent = text; this.scaleEl.title = `${label} = ${scale}`; }
    const anim = view.anim, L = view.nodes.length - 1;
    const t = anim ? now - anim.t0 : Infinity;
    const labels = view.frame.trace && view.edges.length <= LABEL_MAX_EDGES && anim && (anim.phase === "backward" || anim.phase === "update");
    const labelList = [];
    const zeros = new Set(), noSignal = new Set();
    g.lineCap = "round";
    for (const e of view.edges) {
      const Lr = layers[e.l];
      if (!Lr) continue;
      let v = Lr[wk]?.[e.i]?.[e.j];
      if (v === null || v === undefined) { v = 0; }
      // A weight exactly 0 (L1 drives weights there) connects nothing: drawn as absent, its hit path stays.
      if (mode === "weights" && v === 0 && !(anim && anim.phase === "update")) { zeros.add(`e:${e.l}:${e.i}:${e.j}`); continue; }
      if (e.l === 0 && view.constant?.[e.i]) {
        noSignal.add(`e:${e.l}:${e.i}:${e.j}`);
        // Thin, but still as wide as its weight allows: with L1 the weight visibly decays until it is gone.
        g.globalAlpha = 1; g.strokeStyle = NO_SIGNAL; g.lineWidth = 0.6 + 1.6 * Math.min(1, Math.abs(v) / scale); g.setLineDash([1, 4]);
        const p = e.pts;
        g.beginPath(); g.moveTo(p[0], p[1]); g.bezierCurveTo(p[2], p[3], p[4], p[5], p[6], p[7]); g.stroke();
        continue;
      }
      let alpha = 1;
      if (anim && anim.phase === "backward") {
        const at = (L - 1 - e.l) * 350 + (e.j / view.nodes[e.l + 1].length) * 200;
        alpha = t < at ? 0.15 : 1;
        if (labels && t >= at) labelList.push([e, Lr.dW[e.i][e.j], null, at]);
      } else if (anim && anim.phase === "update") {
        const k = Math.min(1, t / 700), d = Lr.deltaW?.[e.i]?.[e.j] ?? 0;
        if (mode === "weights") v = v - d * (1 - k);
        if (labels) labelList.push([e, Lr.W[e.i][e.j] - d, Lr.W[e.i][e.j], 0]);
      }
      const tt = Math.min(1, Math.abs(v) / scale);
      g.globalAlpha = alpha;
      const frozen = !!Lr.frozenW?.[e.i]?.[e.j];
      // A frozen weight's gradient (velocity, update) is still drawn, greyed: it is computed, never applied.
      g.strokeStyle = frozen && mode !== "weights" ? FROZEN_GREY : this.color(v, scale);
      g.lineWidth = 0.6 + 6 * tt;
      g.setLineDash(frozen ? [3, 4] : []);
      const p = e.pts;
      g.beginPath(); g.moveTo(p[0], p[1]); g.bezierCurveTo(p[2], p[3], p[4], p[5], p[6], p[7]); g.stroke();
    }
    g.globalAlpha = 1; g.setLineDash([]);
    this.zeroKeys = zeros; this.noSignalKeys = noSignal;
    // The labels lit first are placed first, so one already read keeps its place as the next ones come.
    labelList.sort((a, b) => a[3] - b[3]);
    if (labelList.length) this.drawLabels(labelList, view); else this.labelBoxes = [];
  }

  /**
   * Label the listed edges ([edge, value, new value or null]) where each reads on its own: a label takes the
   * first place along its edge (middle first) that keeps LABEL_GAP px from the nodes, their names and trace
   * numbers, the biases and every label placed before it, inside the canvas; a label with no such place is
   * left out (the phase table and the tooltip still have its number). The boxes drawn stay in `labelBoxes`.
   */
  drawLabels(list, view) {
    const g = this.ctx;
    const fs = document.documentElement.classList.contains("presenter") ? 16 : 11;
    g.font = `${fs}px ui-monospace, SFMono-Regular, Menlo, monospace`;
    g.textAlign = "center"; g.textBaseline = "middle";
    const taken = this.obstacles(view), placed = [];
    const at = (p, t) => {
      const u = 1 - t;
      return [u * u * u * p[0] + 3 * u * u * t * p[2] + 3 * u * t * t * p[4] + t * t * t * p[6],
        u * u * u * p[1] + 3 * u * u * t * p[3] + 3 * u * t * t * p[5] + t * t * t * p[7]];
    };
    const inside = (r) => r.x >= 0 && r.y >= 0 && r.x + r.w <= this.w && r.y + r.h <= this.h;
    const free = (r) => inside(r) && taken.every((q) => apart(r, q, LABEL_GAP));
    for (const [e, a, b] of list) {
      const text = b === null ? fmt(a, 3) : `${fmt(a, 3)} → ${fmt(b, 3)}`;
      const w = g.measureText(text).width + 6, h = fs + 4;
      for (const t of LABEL_SPOTS) {
        const [x, y] = at(e.pts, t), r = { x: x - w / 2, y: y - h / 2, w, h, text, key: `e:${e.l}:${e.i}:${e.j}` };
        if (!free(r)) continue;
        taken.push(r); placed.push(r);
        g.fillStyle = "rgba(255,255,255,0.92)"; g.fillRect(r.x, r.y, r.w, r.h);
        g.fillStyle = "#222"; g.fillText(text, x, y);
        break;
      }
    }
    this.labelBoxes = placed;
  }

  /** Boxes (canvas px) a label must keep clear of: each node with its name and trace numbers, each bias. */
  obstacles(view) {
    const c = this.canvas.getBoundingClientRect(), boxes = [];
    const add = (el) => {
      if (!el || !el.isConnected) return;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) boxes.push({ x: r.left - c.left, y: r.top - c.top, w: r.width, h: r.height });
    };
    for (const col of view.nodes) for (const n of col) { add(n.el); add(n.label); add(n.trace); add(n.bias); }
    return boxes;
  }
}

/** True when boxes a and b are at least `gap` px apart on some axis. */
export function apart(a, b, gap) {
  return a.x + a.w + gap <= b.x || b.x + b.w + gap <= a.x || a.y + a.h + gap <= b.y || b.y + b.h + gap <= a.y;
}
