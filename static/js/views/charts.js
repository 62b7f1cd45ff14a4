// Loss and accuracy over time (uPlot), with a marker and a label at every
// hyperparameter change. Points are appended to plain arrays as frames arrive;
// the charts' setData runs at most a few times a second, on a decimated copy
// once a series is long, so long runs stay smooth.
import uPlot from "../../vendor/uPlot-1.6.32.esm.js";
import { fmt } from "../format.js";

const MAX_POINTS = 2000;
const C_TRAIN = "#0072B2", C_TEST = "#D55E00", C_VAL = "#009E73";
const FIELD_LABEL = { lr: "lr", momentum: "μ", batch_size: "batch", optimizer: "optimizer", regularization: "reg", reg_rate: "reg rate", dropout: "dropout", beta1: "β₁", beta2: "β₂", rho: "ρ" };

export function changeLabel(field, a, b) {
  const f = (v) => (typeof v === "number" ? fmt(v, 3) : String(v));
  return `${FIELD_LABEL[field] || field} ${f(a)} → ${f(b)}`;
}

function decimate(cols, n) {
  if (n <= MAX_POINTS) return cols.map((c) => c.slice(0, n));
  const stride = n / MAX_POINTS, idx = [];
  for (let k = 0; k < MAX_POINTS - 1; k++) idx.push(Math.floor(k * stride));
  idx.push(n - 1);
  return cols.map((c) => idx.map((i) => c[i]));
}

export class ChartsView {
  /** hyperFields: the names of the hyperparameters (the vocabulary's); any other change is a parameter edit. */
  constructor(root, hyperFields) {
    this.root = root;
    this.lossEl = root.querySelector(".chart-loss");
    this.accEl = root.querySelector(".chart-acc");
    this.logEl = root.querySelector(".changes-log");
    this.editsEl = root.querySelector(".edits-log");
    this.editsHead = root.querySelector(".edits-head");
    this.hyperFields = new Set(hyperFields);
    this.cols = null; this.changes = []; this.live = null;
    this.dirty = false; this.lastFlush = 0; this.flushes = 0;
    this.lossPlot = this.makePlot(this.lossEl, "loss", ["Training loss", "Test loss", "Validation loss"]);
    this.accPlot = this.makePlot(this.accEl, "accuracy", ["Training accuracy", "Test accuracy", "Validation accuracy"]);
    this.reset();
    new ResizeObserver(() => this.resize()).observe(root);
  }

  makePlot(el, yLabel, names) {
    // Nothing hovered (idx null): the legend shows names only, not a column of dashes.
    const exactValue = (u, v, si, idx) => (idx === null || idx === undefined ? "" : v === null || v === undefined ? "—" : String(v));
    const big = document.documentElement.classList.contains("presenter");
    const font = `${big ? 15 : 11}px system-ui, sans-serif`;
    el.textContent = "";
    const opts = {
      width: Math.max(200, el.clientWidth || 300), height: big ? 200 : 150,
      scales: { x: { time: false }, y: { range: (u, lo, hi) => [Math.min(0, lo ?? 0), Math.max(hi ?? 1, yLabel === "accuracy" ? 1 : 1e-9) * (yLabel === "accuracy" ? 1 : 1.05)] } },
      axes: [{ label: "step", size: big ? 44 : 36, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } },
        { label: yLabel, size: big ? 64 : 52, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } }],
      series: [{ label: "step", value: exactValue },
        { label: names[0], stroke: C_TRAIN, width: 2, value: exactValue, spanGaps: true },
        { label: names[1], stroke: C_TEST, width: 2, dash: [6, 3], value: exactValue, spanGaps: true },
        { label: names[2], stroke: C_VAL, width: 1.5, dash: [2, 3], value: exactValue, spanGaps: true, show: false }],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      hooks: { draw: [(u) => this.drawMarkers(u)] },
    };
    return new uPlot(opts, [[], [], [], []], el);
  }

  reset() {
    this.cols = { step: [], trainLoss: [], testLoss: [], valLoss: [], trainAcc: [], testAcc: [], valAcc: [] };
    this.changes = []; this.live = null; this.dirty = true;
    this.logEl.textContent = ""; this.editsEl.textContent = "";
    this.editsEl.hidden = this.editsHead.hidden = true;
    this.flush(true);
  }

  /** Replace everything with a `history` message. */
  setHistory(h) {
    this.reset();
    this.append(h);
  }

  /** Append the rows of a frame's (or history's) history. */
  append(h) {
    if (!h) return;
    const e = h.epochs, c = this.cols;
    if (e && e.step) {
      for (let r = 0; r < e.step.length; r++) {
        c.step.push(e.step[r]); c.trainLoss.push(e.train_loss[r]); c.testLoss.push(e.test_loss[r]);
        c.valLoss.push(e.val_loss?.[r] ?? null); c.trainAcc.push(e.train_acc[r]); c.testAcc.push(e.test_acc[r]);
        c.valAcc.push(e.val_acc?.[r] ?? null);
      }
      if (e.step.length) this.dirty = true;
    }
    if (h.changes && h.changes.length) {
      for (const ch of h.changes) this.changes.push(ch);
      this.logChanges(h.changes);
      this.dirty = true;
    }
  }

  /** A hyperparameter change goes to its log; a weight or bias typed by hand to the parameter edits. */
  logChanges(list) {
    const hyper = list.filter((ch) => this.hyperFields.has(ch.field));
    const edits = list.filter((ch) => !this.hyperFields.has(ch.field));
    this.prependTo(this.logEl, hyper);
    this.prependTo(this.editsEl, edits);
    if (edits.length) this.editsEl.hidden = this.editsHead.hidden = false;
  }

  prependTo(ul, list) {
    if (!list.length) return;
    const frag = document.createDocumentFragment();
    for (const ch of list) {
      const li = document.createElement("li");
      li.textContent = `step ${ch.step}: ${changeLabel(ch.field, ch.old, ch.new)}`;
      li.title = `${ch.field}: ${ch.old} → ${ch.new} at step ${ch.step}`;
      frag.appendChild(li);
    }
    ul.prepend(...Array.from(frag.childNodes).reverse());
    while (ul.children.length > 60) ul.lastChild.remove();
  }

  /** The current metrics as a live point after the last epoch row. */
  update(frame) {
    const m = frame.metrics;
    if (m) { this.live = { step: frame.step, m }; this.dirty = true; }
  }

  /** Called once per animation frame: pushes data to uPlot at most ~10/s (~3/s for long series). */
  tick(now) {
    if (!this.dirty) return;
    const n = this.cols.step.length;
    const every = n > MAX_POINTS ? 300 : 100;
    if (now - this.lastFlush < every) return;
    this.flush();
    this.lastFlush = now;
  }

  flush() {
    this.dirty = false; this.flushes++;
    const c = this.cols;
    let n = c.step.length;
    const cols = [c.step, c.trainLoss, c.testLoss, c.valLoss, c.trainAcc, c.testAcc, c.valAcc];
    const data = decimate(cols, n);
    const lv = this.live;
    if (lv && (n === 0 || lv.step > c.step[n - 1])) {
      const m = lv.m;
      [lv.step, m.train_loss, m.test_loss, m.val_loss, m.train_acc, m.test_acc, m.val_acc].forEach((v, k) => data[k].push(v ?? null));
    }
    const hasVal = data[3].some((v) => v !== null);
    if (this.lossPlot.series[3].show !== hasVal) { this.lossPlot.setSeries(3, { show: hasVal }); this.accPlot.setSeries(3, { show: hasVal }); }
    this.root.classList.toggle("no-val", !hasVal);
    this.lossPlot.setData([data[0], data[1], data[2], data[3]]);
    const hasAcc = data[4].some((v) => v !== null);
    this.accEl.hidden = !hasAcc && data[0].length > 0;
    this.accPlot.setData([data[0], data[4], data[5], data[6]]);
  }

  /** Vertical marker and label per change; nearby changes of one field merge into one label. */
  drawMarkers(u) {
    if (!this.changes.length) return;
    const g = u.ctx, dpr = uPlot.pxRatio || 1;
    const top = u.bbox.top, h = u.bbox.height;
    const groups = [];
    for (const ch of this.changes) {
      const x = u.valToPos(ch.step, "x", true);
      if (!Number.isFinite(x)) continue;
      const last = groups[groups.length - 1];
      if (last && last.field === ch.field && Math.abs(x - last.x) < 40 * dpr) { last.new = ch.new; last.x2 = x; }
      else groups.push({ field: ch.field, old: ch.old, new: ch.new, x, x2: x });
    }
    g.save();
    const fs = document.documentElement.classList.contains("presenter") ? 14 : 11;
    g.font = `${fs * dpr}px system-ui, sans-serif`;
    g.textBaseline = "top";
    g.textAlign = "left";   // uPlot leaves the axes' alignment ("right" after the y axis) in the context
    groups.forEach((gr, n) => {
      const x = Math.round(gr.x2);
      if (x < u.bbox.left - 1 || x > u.bbox.left + u.bbox.width + 1) return;
      g.strokeStyle = "rgba(110, 60, 160, 0.75)"; g.lineWidth = 1.5 * dpr; g.setLineDash([4 * dpr, 3 * dpr]);
      g.beginPath(); g.moveTo(x, top); g.lineTo(x, top + h); g.stroke();
      const text = changeLabel(gr.field, gr.old, gr.new);
      const tw = g.measureText(text).width;
      // Right of its marker where it fits, else left of the plot's right edge, and never
      // left of the plot: a label is read whole, not cut at the canvas edge.
      const tx = Math.max(u.bbox.left + 2, Math.min(x + 3 * dpr, u.bbox.left + u.bbox.width - tw - 2));
      const ty = top + 2 * dpr + (n % 3) * (fs + 3) * dpr;
      g.fillStyle = "rgba(255,255,255,0.85)"; g.fillRect(tx - 2, ty - 1, tw + 4, (fs + 2) * dpr);
      g.fillStyle = "#5b2d8e"; g.fillText(text, tx, ty);
    });
    g.restore();
  }

  /** Presenter mode: rebuild the charts with larger type. */
  setPresenter() {
    this.lossPlot.destroy(); this.accPlot.destroy();
    this.lossPlot = this.makePlot(this.lossEl, "loss", ["Training loss", "Test loss", "Validation loss"]);
    this.accPlot = this.makePlot(this.accEl, "accuracy", ["Training accuracy", "Test accuracy", "Validation accuracy"]);
    this.flush();
  }

  resize() {
    const w = Math.max(200, this.lossEl.clientWidth);
    const h = document.documentElement.classList.contains("presenter") ? 200 : 150;
    if (this.lossPlot.width !== w || this.lossPlot.height !== h) { this.lossPlot.setSize({ width: w, height: h }); this.accPlot.setSize({ width: w, height: h }); }
  }
}
