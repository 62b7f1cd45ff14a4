// Two decision boundaries side by side: the network with its full-precision
// weights and with the same weights snapped to their levels (quant_levels.js).
// Both are computed here from the frame's weights with the page's own forward
// pass (nn.js Grid) and painted by the output view's renderer (heatmap.js), in
// sweeps of a budget per animation frame, only while they are on screen.
import { Network, Grid, PLANE } from "../nn.js";
import { classColor, diverging, rgb } from "../colors.js";
import { h, fill } from "../dom.js";
import { HeatMap, heatScale } from "./heatmap.js";
import { snapLayers } from "./quant_levels.js";

/** Grid resolution: 48 x 48 cells, 32 x 32 for big networks (a sweep then takes a few animation frames, not dozens). */
const gridSize = (net) => (net.W.reduce((a, w) => a + w.length, 0) <= 300 ? 48 : 32);
/** Multiply-adds of each grid per animation frame at most (the output view's grid has a budget of its own). */
const BUDGET = 200_000;

export class QuantMaps {
  /** root: where the two maps go; loop: the FrameLoop (its network and its context). */
  constructor(root, loop) {
    Object.assign(this, { root, loop });
    this.sides = ["full", "quant"].map((kind) => this.side(kind));
    this.net = null; this.frame = null; this.q = null; this.dirty = false; this.visible = true;
    this.paints = 0; this.painted = null;   // maps painted, and the frame they show (tests wait on it)
    this.sweepFrame = null;
    fill(root, this.sides.map((s) => s.el));
    new IntersectionObserver((entries) => { this.visible = entries.some((e) => e.isIntersecting); }).observe(root);
    const tick = () => { this.work(); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  }

  side(kind) {
    const map = h("canvas", { class: "qm-map", "aria-hidden": "true", dataset: { kind } });
    const points = h("canvas", { class: "qm-points", role: "img" });
    const title = h("figcaption", { class: "qm-title" });
    const el = h("figure", { class: `qm-side qm-${kind}` }, title, h("div", { class: "qm-stage" }, map, points));
    return { kind, el, map, points, title, heat: null, grid: null, net: null };
  }

  /** A frame with its quantization (null: off); the maps follow at the next sweep. */
  update(frame, q) {
    this.frame = frame; this.q = q; this.dirty = true;
    const bits = q ? `${q.bits} bit${q.bits === 1 ? "" : "s"}` : "off";
    // Two lines each, so the two maps start at the same height.
    const caption = (s, title, sub) => {
      const text = `${title}\n${sub}`;
      if (s.title.dataset.text !== text) { s.title.dataset.text = text; fill(s.title, h("b", null, title), h("span", { class: "muted" }, sub)); }
    };
    caption(this.sides[0], "Full precision", "32-bit floats");
    caption(this.sides[1], `Quantized: ${bits}`, q ? (q.granularity === "neuron" ? "one scale per neuron" : "one scale per layer") : "choose a number of bits");
    this.sides[0].points.setAttribute("aria-label", "Decision boundary of the full-precision network, with the training points");
    this.sides[1].points.setAttribute("aria-label", `Decision boundary of the network with its weights snapped to ${bits}, with the training points`);
  }

  /** Networks of the loop's shape, made again when the loop's network is a new one. */
  ensureNets() {
    const base = this.loop.net;
    if (!base || !base.plane) return false;
    if (this.net !== base) {
      this.net = base;
      this.n = gridSize(base);
      for (const s of this.sides) {
        s.net = new Network(base.arch, base.features, true);
        s.grid = new Grid(s.net, this.n);
        if (!s.heat || s.heat.n !== this.n) s.heat = new HeatMap(s.map, this.n);
      }
      this.pointsFor = null;
    }
    return true;
  }

  /** Once per animation frame: start a sweep of both grids on the newest frame, advance it, paint when done. */
  work() {
    if (!this.visible || !this.frame || !this.ensureNets()) return;
    const [full, quant] = this.sides;
    if (!full.grid.sweeping && !quant.grid.sweeping && this.dirty) {
      if (!this.loop.fits(this.frame)) return;
      this.dirty = false;
      full.net.setParams(this.frame.layers);
      quant.net.setParams(this.q ? snapLayers(this.frame.layers, this.q) : this.frame.layers);
      full.grid.start(); quant.grid.start();
      this.sweepFrame = this.frame;
    }
    if (!full.grid.sweeping && !quant.grid.sweeping) return;
    full.grid.advance(BUDGET); quant.grid.advance(BUDGET);
    if (full.grid.sweeping || quant.grid.sweeping) return;
    for (const s of this.sides) this.paint(s);
    this.paints++; this.painted = this.sweepFrame;
    this.drawPoints();
  }

  paint(s) {
    const ctx = this.loop.ctx, sizes = ctx.sizes, last = sizes.length - 1, acts = s.grid.acts[last];
    if (ctx.task === "multiclass") { s.heat.paintClasses(acts, sizes[last]); return; }
    const [shift, scale] = heatScale(ctx, last);
    s.heat.paint(acts, 0, sizes[last], shift, scale);
  }

  /** The training points over both maps (drawn again when the data or the size changed). */
  drawPoints() {
    const ds = this.loop.dataset;
    if (!ds || !ds.plane) return;
    const size = this.sides[0].points.parentElement.clientWidth;
    const key = `${size} ${ds.train.x.length} ${ds.train.x[0]}`;
    if (!size || this.pointsFor === key) return;
    this.pointsFor = key;
    const k = ds.n_classes || 2, [lo, hi] = this.loop.ctx.yRange || [-1, 1];
    const color = (y) => (ds.task === "regression" ? rgb(diverging(((y - lo) / ((hi - lo) || 1)) * 2 - 1)) : rgb(classColor(y, k)));
    const px = (x) => ((x + PLANE) / (2 * PLANE)) * size;
    for (const s of this.sides) {
      const dpr = window.devicePixelRatio || 1, cv = s.points;
      cv.width = Math.round(size * dpr); cv.height = Math.round(size * dpr);
      const g = cv.getContext("2d");
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      for (let n = 0; n < ds.train.x.length; n++) {
        const [x1, x2] = ds.train.x[n];
        g.beginPath(); g.arc(px(x1), size - px(x2), size > 260 ? 2.6 : 2, 0, 2 * Math.PI);
        g.fillStyle = color(ds.train.y[n]); g.fill();
        g.lineWidth = 0.8; g.strokeStyle = "#fff"; g.stroke();
      }
    }
  }

  /** For tests: the painted pixels of one map ("full" or "quant"). */
  pixels(kind) {
    const s = this.sides.find((x) => x.kind === kind);
    return Array.from(s.map.getContext("2d").getImageData(0, 0, this.n, this.n).data);
  }
}
