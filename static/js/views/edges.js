// The edges of the network view on one canvas: colour by sign, width by
// magnitude of what the switch shows (weights, gradients, velocity, last
// update); the backward and update phases animate them and label their values.
import { diverging, rgb } from "../colors.js";
import { fmt } from "../format.js";

export const MODE_KEYS = { weights: ["W", "b"], gradients: ["dW", "db"], velocity: ["vW", "vb"], updates: ["deltaW", "deltab"] };
const LABEL_MAX_EDGES = 40;

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
    g.lineCap = "round";
    for (const e of view.edges) {
      const Lr = layers[e.l];
      if (!Lr) continue;
      let v = Lr[wk]?.[e.i]?.[e.j];
      if (v === null || v === undefined) { v = 0; }
      let alpha = 1;
      if (anim && anim.phase === "backward") {
        const at = (L - 1 - e.l) * 350 + (e.j / view.nodes[e.l + 1].length) * 200;
        alpha = t < at ? 0.15 : 1;
        if (labels && t >= at) labelList.push([e, Lr.dW[e.i][e.j], null]);
      } else if (anim && anim.phase === "update") {
        const k = Math.min(1, t / 700), d = Lr.deltaW?.[e.i]?.[e.j] ?? 0;
        if (mode === "weights") v = v - d * (1 - k);
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
    if (labelList.length) this.drawLabels(labelList, view);
  }

  drawLabels(list, view) {
    const g = this.ctx;
    g.font = `${document.documentElement.classList.contains("presenter") ? 14 : 11}px ui-monospace, SFMono-Regular, Menlo, monospace`;
    g.textAlign = "center"; g.textBaseline = "middle";
    const S = view.S, placed = [];
    for (const col of view.nodes) for (const n of col) placed.push([n.x - S / 2 - 2, n.y - S / 2 - 2, S + 4, S + 18]);
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
}
