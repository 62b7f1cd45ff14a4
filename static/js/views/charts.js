// Loss and accuracy over time (uPlot), with a marker and a label at every
// hyperparameter change. Points are appended to plain arrays as frames arrive;
// the charts' setData runs at most a few times a second, on a decimated copy
// once a series is long, so long runs stay smooth.
import uPlot from "../../vendor/uPlot-1.6.32.esm.js";
import { fmt } from "../format.js";
import { generalizationGap } from "./metrics.js";

const MAX_POINTS = 2000;
const C_TRAIN = "#0072B2", C_TEST = "#D55E00", C_VAL = "#009E73", C_GAP = "#CC79A7", C_PEN = "#56B4E9", C_CMP = "#6b4f00", C_SAVED = "#333333";
// The loss chart's series after x: the run's own three, the gap, the penalized training loss (shown
// once a penalty makes it differ from the plain one), the compared run's two and a saved run's two.
const LOSS_SERIES = ["Training loss", "Test loss", "Validation loss", "Generalization gap", "Training loss + penalty",
  "Compared run: training loss", "Compared run: held-out loss", "Saved run: training loss", "Saved run: held-out loss"];
const S = { train: 1, test: 2, val: 3, gap: 4, pen: 5, cmpTrain: 6, cmpHeld: 7, ovTrain: 8, ovHeld: 9 };
const ACC_SERIES = ["Training accuracy", "Test accuracy", "Validation accuracy"];
// Markers closer than MARKER_MERGE (CSS px) merge into one; the markers within LABEL_MERGE share one
// label; labels stack in at most LABEL_ROWS rows.
const MARKER_MERGE = 6;
const LABEL_MERGE = 40;
const LABEL_ROWS = 3;
const FIELD_LABEL = { lr: "lr", momentum: "μ", batch_size: "batch", optimizer: "optimizer", regularization: "reg", reg_rate: "reg rate", dropout: "dropout", beta1: "β₁", beta2: "β₂", rho: "ρ",
  replay_share: "replay", replay_buffer: "replay buffer" };

/** A setting sent as an object (the session's quantization): "off", "4 bits per neuron, aware". */
function settingText(v) {
  if ("bits" in v) return v.bits ? `${v.bits} bit${v.bits === 1 ? "" : "s"}${v.granularity === "neuron" ? " per neuron" : ""}${v.aware ? ", aware" : ""}` : "off";
  return Object.entries(v).map(([k, x]) => `${k} ${x}`).join(", ");
}

export function changeLabel(field, a, b) {
  if (field === "fork_at") return `went back from step ${a} to step ${b}`;   // the rewind lab's "Go on from here"
  const f = (v) => (typeof v === "number" ? fmt(v, 3) : v && typeof v === "object" ? settingText(v) : String(v));
  return `${FIELD_LABEL[field] || field} ${f(a)} → ${f(b)}`;
}

/** The label of a group of changes: the one change; one field's first old and last new value; or a count. */
export function groupLabel(list) {
  const first = list[0], last = list[list.length - 1];
  if (list.length === 1) return changeLabel(first.field, first.old, first.new);
  if (list.every((ch) => ch.field === first.field)) return `${changeLabel(first.field, first.old, last.new)} (${list.length} changes)`;
  return `${list.length} changes`;
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
  constructor(root, hyperFields, reveal = { test: true }) {
    this.reveal = reveal;   // {test}: is the held-back test set shown (see MetricsView)
    this.compare = null; this.overlay = null; this.stopping = null;
    this.root = root;
    this.lossEl = root.querySelector(".chart-loss");
    this.accEl = root.querySelector(".chart-acc");
    this.logEl = root.querySelector(".changes-log");
    this.editsEl = root.querySelector(".edits-log");
    this.editsHead = root.querySelector(".edits-head");
    // Replay's share and buffer are settings chosen like hyperparameters, not parameters typed by hand.
    // A fork back to a recorded step is logged (and marked on the chart) with them: a choice, not a weight typed.
    this.hyperFields = new Set([...hyperFields, "replay_share", "replay_buffer", "quantization", "fork_at"]);
    this.cols = null; this.changes = []; this.live = null;
    this.dirty = false; this.lastFlush = 0; this.flushes = 0;
    this.lossPlot = this.makePlot(this.lossEl, "loss", LOSS_SERIES);
    this.accPlot = this.makePlot(this.accEl, "accuracy", ACC_SERIES);
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
        { label: names[2], stroke: C_VAL, width: 1.5, dash: [2, 3], value: exactValue, spanGaps: true, show: false },
        ...(names.length > 3 ? [
          { label: names[3], stroke: C_GAP, width: 1.5, fill: "rgba(204,121,167,0.12)", value: exactValue, spanGaps: true, show: false },
          { label: names[4], stroke: C_PEN, width: 1.5, dash: [1, 3], value: exactValue, spanGaps: true, show: false },
          { label: names[5], stroke: C_CMP, width: 2, dash: [10, 4], value: exactValue, spanGaps: true, show: false },
          { label: names[6], stroke: C_CMP, width: 1.5, dash: [2, 2, 8, 2], value: exactValue, spanGaps: true, show: false },
          { label: names[7], stroke: C_SAVED, width: 2, dash: [4, 4], value: exactValue, spanGaps: true, show: false },
          { label: names[8], stroke: C_SAVED, width: 1.5, dash: [1, 3], value: exactValue, spanGaps: true, show: false }] : [])],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      hooks: { draw: [(u) => this.drawMarkers(u), (u) => this.drawFitMarks(u)], setCursor: [(u) => this.markerTitle(u)] },
    };
    return new uPlot(opts, Array.from({ length: names.length + 1 }, () => []), el);
  }

  reset() {
    this.cols = { step: [], trainLoss: [], testLoss: [], valLoss: [], trainAcc: [], testAcc: [], valAcc: [], trainPen: [] };
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
        c.valAcc.push(e.val_acc?.[r] ?? null); c.trainPen.push(e.train_loss_penalized?.[r] ?? null);
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
      const exactOf = (v) => (v && typeof v === "object" ? JSON.stringify(v) : v);   // a setting object, field by field
      li.title = `${ch.field}: ${exactOf(ch.old)} → ${exactOf(ch.new)} at step ${ch.step}`;
      frag.appendChild(li);
    }
    ul.prepend(...Array.from(frag.childNodes).reverse());
    while (ul.children.length > 60) ul.lastChild.remove();
  }

  /** The current metrics as a live point after the last epoch row. */
  update(frame) {
    const m = frame.metrics;
    if (m) { this.live = { step: frame.step, m }; this.dirty = true; }
    const es = frame.early_stopping ?? null;
    if (JSON.stringify(es) !== JSON.stringify(this.stopping)) { this.stopping = es; this.dirty = true; }
  }

  /**
   * The compared run's loss curves ({label, step, train, held, heldName}), or none (null): drawn over
   * this run's, labelled with the changed value. Kept across this run's resets (the comparison decides).
   */
  setCompare(cmp) {
    this.compare = cmp;
    this.dirty = true;
  }

  /**
   * A saved run's loss curves ({label, step, train, held, heldName}), or none (null): a second slot
   * beside the compared run's, so a live comparison and a saved run can be shown together.
   */
  setOverlay(ov) {
    this.overlay = ov;
    this.dirty = true;
  }

  /** The held-back test set was revealed (or hidden again). */
  revealChanged() { this.dirty = true; this.flush(); }

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
    const cols = [c.step, c.trainLoss, c.testLoss, c.valLoss, c.trainAcc, c.testAcc, c.valAcc, c.trainPen];
    const data = decimate(cols, n);
    const lv = this.live;
    if (lv && (n === 0 || lv.step > c.step[n - 1])) {
      const m = lv.m;
      [lv.step, m.train_loss, m.test_loss, m.val_loss, m.train_acc, m.test_acc, m.val_acc, m.train_loss_penalized].forEach((v, k) => data[k].push(v ?? null));
    }
    const hasVal = data[3].some((v) => v !== null);
    // With a validation split the test set is held back until the final score is asked for.
    const testHidden = hasVal && !this.reveal.test;
    if (testHidden) { data[2] = data[2].map(() => null); data[5] = data[5].map(() => null); }
    const gap = data[0].map((_, r) => generalizationGap({ train_loss: data[1][r], val_loss: data[3][r], test_loss: data[2][r] }).value);
    const u = this.lossPlot;
    // The penalized loss only where a penalty makes it differ (without one it is the training loss again).
    const pen = data[7].map((v, r) => (v !== null && v !== data[1][r] ? v : null));
    const tables = [[data[0], data[1], data[2], data[3], gap, pen]];
    const cmp = this.compare;
    const ov = this.overlay;
    tables.push(cmp ? [cmp.step, cmp.train, cmp.held] : [[], [], []]);
    tables.push(ov ? [ov.step, ov.train, ov.held] : [[], [], []]);
    const joined = uPlot.join(tables);
    const show = { [S.val]: hasVal, [S.gap]: gap.some((v) => v !== null), [S.pen]: pen.some((v) => v !== null), [S.cmpTrain]: !!cmp, [S.cmpHeld]: !!cmp && cmp.held.some((v) => v !== null),
      [S.ovTrain]: !!ov, [S.ovHeld]: !!ov && ov.held.some((v) => v !== null) };
    for (const [i, on] of Object.entries(show)) {
      if (u.series[i].show !== on) u.setSeries(Number(i), { show: on });
      showLegend(u, Number(i), on);   // a series this run does not have (no penalty, no comparison) leaves the legend
    }
    if (this.accPlot.series[3].show !== hasVal) this.accPlot.setSeries(3, { show: hasVal });
    showLegend(this.accPlot, 3, hasVal);
    setLegend(u, S.test, testHidden ? "Test loss (hidden)" : "Test loss");
    setLegend(this.accPlot, 2, testHidden ? "Test accuracy (hidden)" : "Test accuracy");
    setLegend(u, S.gap, hasVal ? "Gap (validation − training)" : "Gap (test − training)");
    setLegend(u, S.cmpTrain, cmp ? `${cmp.label}: training loss` : LOSS_SERIES[5]);
    setLegend(u, S.cmpHeld, cmp ? `${cmp.label}: ${cmp.heldName} loss` : LOSS_SERIES[6]);
    setLegend(u, S.ovTrain, ov ? `${ov.label}: training loss` : LOSS_SERIES[7]);
    setLegend(u, S.ovHeld, ov ? `${ov.label}: ${ov.heldName} loss` : LOSS_SERIES[8]);
    this.root.classList.toggle("no-val", !hasVal);
    this.gapNow = lv ? generalizationGap(lv.m, !testHidden) : null;
    u.setData(joined);
    const hasAcc = data[4].some((v) => v !== null);
    this.accEl.hidden = !hasAcc && data[0].length > 0;
    this.accPlot.setData([data[0], data[4], data[5], data[6]]);
  }

  /**
   * On the loss chart: the generalization gap at the newest point, a bracket from the training loss
   * to the validation (or test) loss, named with its value; and early stopping's best epoch and stop,
   * vertical lines with their labels (hovering one gives its exact epoch, step and value).
   * What was drawn stays in `u.gapMark` and `u.fitMarks` (CSS px, plot-relative) for tests.
   */
  drawFitMarks(u) {
    u.gapMark = null; u.fitMarks = [];
    if (u !== this.lossPlot) return;
    const g = u.ctx, dpr = uPlot.pxRatio || 1, { left, top, width, height } = u.bbox;
    const fs = document.documentElement.classList.contains("presenter") ? 16 : 11;
    g.save();
    g.font = `${fs * dpr}px system-ui, sans-serif`; g.textBaseline = "top"; g.textAlign = "left";
    const gap = this.gapNow, lv = this.live;
    if (gap && gap.value !== null && lv) {
      const other = gap.vs === "validation" ? lv.m.val_loss : lv.m.test_loss;
      const x = u.valToPos(lv.step, "x", true), y0 = u.valToPos(lv.m.train_loss, "y", true), y1 = u.valToPos(other, "y", true);
      if ([x, y0, y1].every(Number.isFinite)) {
        const bx = Math.min(x, left + width) - 4 * dpr;
        g.strokeStyle = C_GAP; g.lineWidth = 2 * dpr; g.setLineDash([]);
        g.beginPath(); g.moveTo(bx - 5 * dpr, y0); g.lineTo(bx, y0); g.lineTo(bx, y1); g.lineTo(bx - 5 * dpr, y1); g.stroke();
        const text = `gap ${fmt(gap.value, 3)}`, tw = g.measureText(text).width + 4 * dpr;
        const tx = Math.max(left, bx - 8 * dpr - tw), ty = Math.max(top, Math.min((y0 + y1) / 2 - (fs * dpr) / 2, top + height - (fs + 4) * dpr));
        g.fillStyle = "rgba(255,255,255,0.92)"; g.fillRect(tx, ty, tw, (fs + 3) * dpr);
        g.fillStyle = "#8a3a6a"; g.fillText(text, tx + 2 * dpr, ty + dpr);
        u.gapMark = { step: lv.step, value: gap.value, vs: gap.vs, text };
      }
    }
    const es = this.stopping, marks = [];
    if (es && es.best_step !== null && es.best_step !== undefined) {
      marks.push({ kind: "best", step: es.best_step, color: "#1b7a3a", text: `best: epoch ${es.best_epoch}`,
        title: `best epoch ${es.best_epoch} (step ${es.best_step}): ${es.metric} = ${es.best_value}` });
    }
    if (es && es.stopped_step !== null && es.stopped_step !== undefined) {
      const why = es.reason === "max_epochs" ? "epoch budget reached" : `no improvement for ${es.patience} epochs`;
      marks.push({ kind: "stop", step: es.stopped_step, color: "#a4281b", text: `stopped: epoch ${es.stopped_epoch}`,
        title: `stopped at epoch ${es.stopped_epoch} (step ${es.stopped_step}): ${why}` });
    }
    let row = 0;
    for (const mk of marks) {
      const x = u.valToPos(mk.step, "x", true);
      if (!Number.isFinite(x) || x < left - 1 || x > left + width + 1) continue;
      g.strokeStyle = mk.color; g.lineWidth = 2 * dpr; g.setLineDash([]);
      g.beginPath(); g.moveTo(Math.round(x), top); g.lineTo(Math.round(x), top + height); g.stroke();
      const tw = g.measureText(mk.text).width + 4 * dpr, tx = Math.max(left, Math.min(x + 3 * dpr, left + width - tw));
      const ty = top + height - (row + 1) * (fs + 5) * dpr;
      g.fillStyle = "rgba(255,255,255,0.92)"; g.fillRect(tx, ty, tw, (fs + 3) * dpr);
      g.fillStyle = mk.color; g.fillText(mk.text, tx + 2 * dpr, ty + dpr);
      u.fitMarks.push({ kind: mk.kind, step: mk.step, x: (x - left) / dpr, text: mk.text, title: mk.title });
      row++;
    }
    g.restore();
  }

  /**
   * One dashed marker per group of changes whose markers would touch (a slider drag logs many), and one
   * label per cluster of markers within LABEL_MERGE px (the one change, one field's first → last value,
   * or a count), in the first of LABEL_ROWS rows where it keeps clear of the labels already placed,
   * inside the plot. A label that fits nowhere is left out; its markers stay, hovering a marker shows
   * every change it stands for exactly, and the log lists each one.
   * The labels drawn stay in `u.markerLabels` (CSS px, plot-relative), the groups in `u.markerGroups`.
   */
  drawMarkers(u) {
    u.markerLabels = []; u.markerGroups = [];
    if (!this.changes.length) return;
    const g = u.ctx, dpr = uPlot.pxRatio || 1;
    const { left, top, width, height } = u.bbox;
    const groups = [];
    for (const ch of this.changes) {
      const x = u.valToPos(ch.step, "x", true);
      if (!Number.isFinite(x) || x < left - 1 || x > left + width + 1) continue;
      const last = groups[groups.length - 1];
      if (last && x - last.x1 < MARKER_MERGE * dpr) { last.list.push(ch); last.x2 = x; } else groups.push({ list: [ch], x1: x, x2: x });
    }
    g.save();
    const fs = document.documentElement.classList.contains("presenter") ? 16 : 11;
    g.font = `${fs * dpr}px system-ui, sans-serif`;
    g.textBaseline = "top";
    g.textAlign = "left";   // uPlot leaves the axes' alignment ("right" after the y axis) in the context
    const lineH = (fs + 4) * dpr, gap = 6 * dpr, placed = [];
    const rows = Math.max(1, Math.min(LABEL_ROWS, Math.floor(height / lineH)));
    g.strokeStyle = "rgba(110, 60, 160, 0.75)"; g.lineWidth = 1.5 * dpr; g.setLineDash([4 * dpr, 3 * dpr]);
    for (const gr of groups) {
      const x = Math.round(gr.x2);
      g.beginPath(); g.moveTo(x, top); g.lineTo(x, top + height); g.stroke();
      if (gr.x2 - gr.x1 >= 2 * dpr) {   // a run of changes (a drag): a light band from its first to its last
        g.fillStyle = "rgba(110, 60, 160, 0.12)"; g.fillRect(gr.x1, top, gr.x2 - gr.x1, height);
      }
      u.markerGroups.push({ x1: (gr.x1 - left) / dpr, x2: (gr.x2 - left) / dpr, changes: gr.list });
    }
    // Labels over the markers: one per cluster of nearby markers, so a drag reads as one change.
    const clusters = [];
    for (const gr of groups) {
      const last = clusters[clusters.length - 1];
      if (last && gr.x1 - last.x1 < LABEL_MERGE * dpr) { last.list.push(...gr.list); last.x2 = gr.x2; } else clusters.push({ list: [...gr.list], x1: gr.x1, x2: gr.x2 });
    }
    for (const cl of clusters) {
      const text = groupLabel(cl.list), tw = g.measureText(text).width + 4 * dpr;
      if (tw > width) continue;
      // Right of its last marker, or left of it at the plot's right edge: never past the plot on either side.
      const tx = Math.max(left, Math.min(Math.round(cl.x2) + 3 * dpr, left + width - tw));
      for (let r = 0; r < rows; r++) {
        const box = { x: tx, y: top + 2 * dpr + r * lineH, w: tw, h: lineH - 2 * dpr };
        if (placed.some((q) => box.x < q.x + q.w + gap && q.x < box.x + box.w + gap && box.y < q.y + q.h && q.y < box.y + box.h)) continue;
        placed.push(box);
        g.fillStyle = "rgba(255,255,255,0.92)"; g.fillRect(box.x, box.y, box.w, box.h);
        g.fillStyle = "#5b2d8e"; g.fillText(text, box.x + 2 * dpr, box.y + 1 * dpr);
        u.markerLabels.push({ x: (box.x - left) / dpr, y: (box.y - top) / dpr, w: box.w / dpr, h: box.h / dpr, text, plotWidth: width / dpr, plotHeight: height / dpr });
        break;
      }
    }
    g.restore();
  }

  /** Hovering a marker: the plot's title lists every change it stands for, with its exact numbers. */
  markerTitle(u) {
    const cx = u.cursor.left;
    const near = cx === undefined || cx < 0 ? null : (u.markerGroups || []).find((gr) => cx >= gr.x1 - 5 && cx <= gr.x2 + 5);
    const fit = cx === undefined || cx < 0 ? [] : (u.fitMarks || []).filter((mk) => Math.abs(cx - mk.x) <= 5);
    const lines = [...fit.map((mk) => mk.title), ...(near ? near.changes.map((ch) => `step ${ch.step}: ${ch.field} ${ch.old} → ${ch.new}`) : [])];
    const title = lines.join("\n");
    if (u.over.title !== title) u.over.title = title;
  }

  /** Presenter mode: rebuild the charts with larger type. */
  setPresenter() {
    this.lossPlot.destroy(); this.accPlot.destroy();
    this.lossPlot = this.makePlot(this.lossEl, "loss", LOSS_SERIES);
    this.accPlot = this.makePlot(this.accEl, "accuracy", ACC_SERIES);
    this.flush();
  }

  resize() {
    const w = Math.max(200, this.lossEl.clientWidth);
    const h = document.documentElement.classList.contains("presenter") ? 200 : 150;
    if (this.lossPlot.width !== w || this.lossPlot.height !== h) { this.lossPlot.setSize({ width: w, height: h }); this.accPlot.setSize({ width: w, height: h }); }
  }
}

/** Rename series i in a plot's legend (uPlot fixes labels at creation). */
function setLegend(u, i, text) {
  if (u.series[i].label === text) return;
  u.series[i].label = text;
  const el = u.root.querySelectorAll(".u-legend .u-series")[i]?.querySelector(".u-label");
  if (el) el.textContent = text;
}

/** Show or leave out series i's entry in a plot's legend. */
function showLegend(u, i, on) {
  const el = u.root.querySelectorAll(".u-legend .u-series")[i];
  if (el && el.hidden === on) el.hidden = !on;
}
