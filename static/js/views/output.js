// The output view: the decision boundary (or regression surface) large, with
// the training and test points; hovering a neuron shows that neuron's map here
// instead. Clicking a training point picks the sample traced step by step.
import { PLANE } from "../nn.js";
import { classColor, diverging, rgb } from "../colors.js";
import { fmt } from "../format.js";
import { HeatMap, heatScale } from "./heatmap.js";
import { nodeName } from "./inspect.js";

export class OutputView extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    this.stage = root.querySelector(".out-stage");
    this.mapCanvas = root.querySelector("canvas.out-map");
    this.pointsCanvas = root.querySelector("canvas.out-points");
    this.caption = root.querySelector(".out-caption");
    this.noPlane = root.querySelector(".out-noplane");
    this.heat = null;
    this.showTest = false;
    this.inspect = null; this.traceIndex = null;
    this.dataset = null; this.net = null; this.frame = null;
    this.fold = null; this.foldRings = 0;   // a cross-validation fold's held-out points, ringed (the lab card sets them)
    // A hinge network's support vectors (the frame's `support`: training points on or inside the margin), ringed.
    this.support = null; this.supportKey = ""; this.supportRings = 0;
    this.pointsCanvas.addEventListener("click", (ev) => this.pick(ev));
    new ResizeObserver(() => this.drawPoints()).observe(this.stage);
  }

  /** grid: the Grid the caller runs once per frame (shared with the network view). */
  reset(net, ctx, dataset, grid) {
    this.net = net; this.ctxInfo = ctx; this.dataset = dataset; this.frame = null;
    this.inspect = null; this.traceIndex = null;
    this.support = null; this.supportKey = "";
    this.grid = grid;
    if (grid && (!this.heat || this.heat.n !== grid.n)) this.heat = new HeatMap(this.mapCanvas, grid.n);
    this.mapCanvas.hidden = !ctx.plane;
    this.stage.classList.toggle("strip", !ctx.plane);
    this.noPlane.hidden = ctx.plane;
    if (!ctx.plane) this.noPlane.textContent = `This dataset has ${ctx.sizes[0]} features (${ctx.inputNames.join(", ")}): it does not live on the plane, so there is no map. Above, every point sits at the network's output for it (left: class ${ctx.classNames?.[0] ?? 0}, right: class ${ctx.classNames?.[1] ?? 1}), coloured by its true class.`;
    this.setCaption();
    this.drawPoints();
  }

  /**
   * Ring a cross-validation fold's held-out points: indices into the pool (the training points, then the
   * validation points, as the dataset message lists them); null rings none.
   */
  setFold(valIndex) { this.fold = valIndex; this.drawPoints(); }

  setShowTest(on) { this.showTest = on; this.drawPoints(); if (this.frame && this.dataset && !this.dataset.plane) this.drawStrip(); }

  /** Show neuron (c, k)'s map instead of the output; null goes back to the output. */
  setInspect(sel) {
    this.inspect = sel && sel.c > 0 ? sel : null;
    this.setCaption();
    if (this.frame) this.drawMap();
  }

  setCaption() {
    if (!this.ctxInfo) return;
    const t = this.ctxInfo.task;
    let text = t === "regression" ? "Output: the regression surface" : "Output: the decision boundary";
    if (!this.ctxInfo.plane) text = "Output: where the network puts each point";
    if (t === "hinge") text += "; ringed: the support vectors (on or inside the margin)";
    if (this.inspect) text = `Map of ${nodeName(this.ctxInfo, this.inspect.c, this.inspect.k)} (hovered)`;
    this.caption.textContent = text;
  }

  /** A frame; the map itself is drawn when the grid finishes a sweep (the frame loop calls drawMap). */
  update(frame) {
    this.frame = frame;
    if (!this.grid && this.dataset && !this.dataset.plane) this.drawStrip();
    const ti = frame.trace ? frame.trace.index : null;
    const support = frame.support ?? null, key = support ? support.join(",") : "";
    const supportChanged = key !== this.supportKey;
    if (supportChanged) { this.support = support; this.supportKey = key; }
    if (ti !== this.traceIndex || supportChanged) { this.traceIndex = ti; this.drawPoints(); }
  }

  drawMap() {
    if (!this.grid) return;
    const sizes = this.ctxInfo.sizes, last = sizes.length - 1;
    const c = this.inspect ? this.inspect.c : last;
    const acts = this.grid.acts[c];
    if (!this.inspect && this.ctxInfo.task === "multiclass") { this.heat.paintClasses(acts, sizes[last]); return; }
    const k = this.inspect ? this.inspect.k : 0;
    const [shift, scale] = heatScale(this.ctxInfo, c);
    this.heat.paint(acts, k, sizes[c], shift, scale);
  }

  /** Tabular data: each point at the network's output for it (x), spread by index (y). */
  drawStrip() {
    const ds = this.dataset, size = this.stage.clientWidth;
    if (!size) return;
    const dpr = window.devicePixelRatio || 1, cv = this.pointsCanvas;
    if (cv.width !== Math.round(size * dpr)) { cv.width = Math.round(size * dpr); cv.height = Math.round(size * dpr); }
    const g = cv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, size, size);
    g.fillStyle = "#fafaf7"; g.fillRect(0, 0, size, size);
    g.strokeStyle = "#ccc"; g.beginPath(); g.moveTo(size / 2, 0); g.lineTo(size / 2, size); g.stroke();
    const task = this.ctxInfo.task, k = ds.n_classes || 2;
    // hinge: the score f from -2 to 2, so the margin (f = -1, 1) lies at a quarter and three quarters
    const pos = (out) => (task === "multiclass" ? Math.max(...out) : task === "playground" ? (out[0] + 1) / 2
      : task === "hinge" ? (Math.max(-2, Math.min(2, out[0])) + 2) / 4 : out[0]);
    const sets = this.showTest ? [[ds.train, false], [ds.test, true]] : [[ds.train, false]];
    let n = 0;
    const total = sets.reduce((a, [set]) => a + set.x.length, 0);
    const ringed = new Set(this.support || []);   // a hinge network's support vectors (training points)
    this.supportRings = 0;
    for (const [set, test] of sets) {
      for (let q = 0; q < set.x.length; q++, n++) {
        const out = this.net.forward(set.x[q]).out;
        const px = 8 + pos(out) * (size - 16), py = 8 + ((n + 0.5) / total) * (size - 16);
        g.beginPath(); g.arc(px, py, 2.6, 0, 2 * Math.PI);
        g.fillStyle = rgb(classColor(set.y[q], k)); g.fill();
        g.lineWidth = 1; g.strokeStyle = test ? "#111" : "#fff"; g.stroke();
        if (!test && ringed.has(q)) {
          g.beginPath(); g.arc(px, py, 5.2, 0, 2 * Math.PI);
          g.lineWidth = 1.6; g.strokeStyle = "#111"; g.stroke();
          this.supportRings++;
        }
      }
    }
  }

  toPx(x, size) { return ((x + PLANE) / (2 * PLANE)) * size; }

  drawPoints() {
    const ds = this.dataset;
    if (!ds) return;
    if (!ds.plane) { if (this.frame) this.drawStrip(); return; }
    const size = this.stage.clientWidth;
    if (!size) return;
    const dpr = window.devicePixelRatio || 1, cv = this.pointsCanvas;
    cv.width = Math.round(size * dpr); cv.height = Math.round(size * dpr);
    const g = cv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, size, size);
    const r = document.documentElement.classList.contains("presenter") ? 4.5 : size > 300 ? 3.2 : 2.6;
    const k = ds.n_classes || 2;
    const [lo, hi] = this.ctxInfo.yRange || [-1, 1];
    // Regression targets: the map's scale, but never paler than 40% so every point stays visible.
    const satur = (t) => Math.sign(t) * (0.4 + 0.6 * Math.min(1, Math.abs(t)));
    const colorOf = (y) => (ds.task === "regression" ? rgb(diverging(satur(((y - lo) / ((hi - lo) || 1)) * 2 - 1))) : rgb(classColor(y, k)));
    const draw = (set, test) => {
      for (let n = 0; n < set.x.length; n++) {
        const [x1, x2] = set.x[n];
        const px = this.toPx(x1, size), py = size - this.toPx(x2, size);
        g.beginPath(); g.arc(px, py, r, 0, 2 * Math.PI);
        g.fillStyle = colorOf(set.y[n]); g.fill();
        g.lineWidth = test ? 1.6 : 1; g.strokeStyle = test ? "#111" : "#fff"; g.stroke();
      }
    };
    draw(ds.train, false);
    if (this.showTest) draw(ds.test, true);
    this.drawFold(g, size, r, colorOf);
    this.drawSupport(g, size, r);
    if (this.traceIndex !== null && ds.train.x[this.traceIndex]) {
      const [x1, x2] = ds.train.x[this.traceIndex];
      const px = this.toPx(x1, size), py = size - this.toPx(x2, size);
      g.beginPath(); g.arc(px, py, r + 5, 0, 2 * Math.PI);
      g.lineWidth = 2.5; g.strokeStyle = "#111"; g.stroke();
      g.beginPath(); g.arc(px, py, r + 7, 0, 2 * Math.PI);
      g.lineWidth = 1.5; g.strokeStyle = "#ffbe28"; g.stroke();
    }
  }

  /** The fold's points: a validation point (not drawn otherwise) filled, every one ringed in dark violet. */
  drawFold(g, size, r, colorOf) {
    this.foldRings = 0;
    const ds = this.dataset, nTrain = ds.train.x.length, val = ds.val || { x: [], y: [] };
    if (!this.fold) return;
    g.save();
    for (const i of this.fold) {
      const inVal = i >= nTrain, x = inVal ? val.x[i - nTrain] : ds.train.x[i];
      if (!x) continue;   // an index of another dataset (the data changed since the fold ran)
      const px = this.toPx(x[0], size), py = size - this.toPx(x[1], size);
      if (inVal) { g.beginPath(); g.arc(px, py, r, 0, 2 * Math.PI); g.fillStyle = colorOf(val.y[i - nTrain]); g.fill(); }
      g.beginPath(); g.arc(px, py, r + 3, 0, 2 * Math.PI);
      g.lineWidth = 2; g.strokeStyle = "#5b2d8e"; g.stroke();
      this.foldRings++;
    }
    g.restore();
  }

  /** The support vectors: each a double ring (dark, then white) around its training point. */
  drawSupport(g, size, r) {
    this.supportRings = 0;
    if (!this.support) return;
    const train = this.dataset.train.x;
    g.save();
    for (const i of this.support) {
      const x = train[i];
      if (!x) continue;   // an index of another dataset (the data changed since the frame was sent)
      const px = this.toPx(x[0], size), py = size - this.toPx(x[1], size);
      g.beginPath(); g.arc(px, py, r + 3, 0, 2 * Math.PI);
      g.lineWidth = 2; g.strokeStyle = "#111"; g.stroke();
      g.beginPath(); g.arc(px, py, r + 4.6, 0, 2 * Math.PI);
      g.lineWidth = 1; g.strokeStyle = "#fff"; g.stroke();
      this.supportRings++;
    }
    g.restore();
  }

  /** Click: trace the nearest training point (within 12 px). */
  pick(ev) {
    const ds = this.dataset;
    if (!ds || !ds.plane) return;
    const rect = this.pointsCanvas.getBoundingClientRect(), size = rect.width;
    const mx = ev.clientX - rect.left, my = ev.clientY - rect.top;
    let best = -1, bd = 144;
    ds.train.x.forEach(([x1, x2], n) => {
      const dx = this.toPx(x1, size) - mx, dy = size - this.toPx(x2, size) - my, d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = n; }
    });
    if (best >= 0) this.dispatchEvent(new CustomEvent("intent", { detail: { type: "trace", index: best } }));
  }

  /** Paint the map and the points into a 2-D context (PNG export). */
  paintInto(g, x, y, size) {
    g.imageSmoothingEnabled = true;
    if (!this.mapCanvas.hidden) { g.globalAlpha = 0.72; g.drawImage(this.mapCanvas, x, y, size, size); g.globalAlpha = 1; }  // as on screen
    g.drawImage(this.pointsCanvas, x, y, size, size);
  }
}

export { fmt };
