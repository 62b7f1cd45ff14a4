// Each weight's velocity beside it in the network view: at the middle of every
// edge a short arrow showing where the optimizer is pushing that weight (up:
// growing, down: shrinking; length: how hard, against the largest in the
// network) and, to its left, a trail of the last few pushes (a short line), so a
// weight that overshoots its minimum shows as a trail that swings up and down.
// The optimizer's first slot is the velocity in gradient units (momentum's v,
// Adam's m): the weight moves against it, so the arrow points along −v. RMSprop's
// slot is a mean of squared gradients (no direction) and plain SGD keeps none.
// Drawn on a canvas of its own over the edges, once per frame drawn.
import { h } from "../dom.js";
import { diverging, rgb } from "../colors.js";

const TRAIL = 10;          // pushes remembered per weight
const MAX_MARKS = 160;     // a larger network: the weights with the largest velocity only (a frame's drawing stays short)
const DIRECTIONAL = new Set(["momentum", "nesterov", "adam"]);

export class VelocityMarks {
  /** network: the NetworkView (its stage, edges with their curve points, and the frame drawn). */
  constructor(network) {
    this.network = network;
    this.canvas = h("canvas", { class: "vel-marks", "aria-hidden": "true" });
    this.on = false;
    this.trails = new Map();   // edge (the network view's) -> [push, ...] newest last
    this.edgesSeen = null;     // the network's edge list the trails belong to
    this.lastStep = null;
    this.drawn = [];           // [{key, x, y, push}] the marks of the last draw (tests read them)
    this.note = "";
  }

  /** Show or hide the marks; the caller asks the server for the frame's velocity part while on. */
  setOn(on) {
    this.on = on;
    if (on && !this.canvas.isConnected) {
      this.network.canvas.after(this.canvas);
      // The network laid out again (a resize): the marks move with their edges, frame or not.
      new ResizeObserver(() => { if (this.on) this.draw(this.optimizer); }).observe(this.network.stage);
    }
    this.canvas.hidden = !on;
    this.trails.clear(); this.lastStep = null;
    if (on && this.network.frame) this.update(this.network.frame);
  }

  /** A frame was drawn: remember each weight's push and draw the marks. */
  update(frame) {
    if (!this.on || !frame?.layers || !this.network.edges.length) return;
    const optimizer = frame.hyper?.optimizer;
    this.optimizer = optimizer;
    if (this.edgesSeen !== this.network.edges) { this.edgesSeen = this.network.edges; this.trails.clear(); }   // a rebuilt network
    if (frame.step !== this.lastStep) {
      this.lastStep = frame.step;
      const sign = DIRECTIONAL.has(optimizer) ? -1 : 1;
      for (const e of this.network.edges) {
        const v = frame.layers[e.l]?.vW?.[e.i]?.[e.j];
        if (v === undefined || v === null) continue;
        let list = this.trails.get(e);
        if (!list) { list = []; this.trails.set(e, list); }
        list.push(sign * v);
        if (list.length > TRAIL) list.shift();
      }
    }
    this.draw(optimizer);
  }

  draw(optimizer) {
    const net = this.network, stage = net.stage, w = stage.clientWidth, hgt = stage.clientHeight;
    if (!w || !hgt) return;
    const dpr = window.devicePixelRatio || 1, cv = this.canvas;
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(hgt * dpr)) {
      cv.width = Math.round(w * dpr); cv.height = Math.round(hgt * dpr);
      cv.style.width = `${w}px`; cv.style.height = `${hgt}px`;
    }
    const g = cv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    this.drawn = [];
    if (optimizer === "sgd") { this.note = "Plain SGD keeps no velocity: each update is just −lr × the gradient."; return; }
    const directional = DIRECTIONAL.has(optimizer);
    this.note = directional ? "" : "RMSprop keeps a running mean of squared gradients, not a velocity: drawn as a bar, without direction.";
    // Against the largest push now (an old outlier would shrink every arrow), linear: a square-root scale
    // made the sign flips of tiny pushes look like large swings.
    let scale = 1e-12;
    for (const list of this.trails.values()) { const v = list[list.length - 1]; if (Math.abs(v) > scale) scale = Math.abs(v); }
    const size = (v) => Math.min(1, Math.abs(v) / scale);
    const colour = (v, alpha = 1) => rgb(diverging(Math.sign(v) * (0.35 + 0.65 * size(v))), alpha);
    let edges = net.edges.filter((e) => e.pts);
    if (edges.length > MAX_MARKS) {
      this.note = `${this.note ? `${this.note} ` : ""}Only the ${MAX_MARKS} weights pushed hardest now, of ${edges.length}, are marked.`;
      const size = (e) => Math.abs(this.trails.get(e)?.at(-1) ?? 0);
      edges = [...edges].sort((a, b) => size(b) - size(a)).slice(0, MAX_MARKS);
    }
    const big = document.documentElement.classList.contains("presenter"), L = big ? 22 : 16, step = big ? 3.4 : 2.6;
    g.lineCap = "round";
    for (const e of edges) {
      const list = this.trails.get(e);
      if (!list || !list.length) continue;
      const p = e.pts, x = (p[0] + 3 * p[2] + 3 * p[4] + p[6]) / 8, y = (p[1] + 3 * p[3] + 3 * p[5] + p[7]) / 8;   // the curve at t = 1/2
      // The trail: the earlier pushes as one short line to the left, ending at the arrow's foot.
      const v = list[list.length - 1];
      if (list.length > 1) {
        g.strokeStyle = colour(v, 0.6); g.lineWidth = big ? 1.8 : 1.4;
        g.beginPath();
        list.forEach((u, k) => {
          const X = x - (list.length - 1 - k) * step - 3, Y = y - (directional ? Math.sign(u) : 1) * size(u) * L;
          if (k) g.lineTo(X, Y); else g.moveTo(X, Y);
        });
        g.stroke();
      }
      const len = size(v) * L;
      const col = colour(v);
      const tipY = directional ? y - Math.sign(v) * len : y - len;
      // A white casing so the mark reads over an edge of any colour.
      for (const [stroke, lw] of [["rgba(255,255,255,0.95)", 4.5], [col, 2]]) {
        g.strokeStyle = stroke; g.lineWidth = lw;
        g.beginPath(); g.moveTo(x, y); g.lineTo(x, tipY);
        if (directional && len > 3) { const d = Math.sign(v) * 4; g.moveTo(x - 3.5, tipY + d); g.lineTo(x, tipY); g.lineTo(x + 3.5, tipY + d); }
        g.stroke();
      }
      g.fillStyle = "#222"; g.beginPath(); g.arc(x, y, 1.8, 0, 2 * Math.PI); g.fill();
      this.drawn.push({ key: `${e.l}:${e.i}:${e.j}`, x, y, push: v });
    }
  }
}
