// The learning-rate explorer: from the live weights, copies train a few updates
// at each of a few learning rates spread over decades (a background job, kind
// "lr_sweep"), and the final training loss is plotted against the rate on a log
// axis: too small crawls, right converges, too large oscillates or diverges.
// Diverged rates are marked (a cross along the top), the live rate is a line
// that follows the session, and a click on the chart sets the live rate there.
import uPlot from "../../vendor/uPlot-1.6.32.esm.js";
import { h } from "../dom.js";
import { fmt } from "../format.js";
import { JobPart } from "./job_part.js";
import { parseNumber, parseCount, checked } from "./optimizer_inputs.js";

const LR_MIN = 1e-5, LR_MAX = 10;
const C_LOSS = "#0072B2", C_NOW = "#6a3d9a", C_BEST = "#1b7a3a", C_DIV = "#a4281b";

/** A rate picked on the chart: 3 significant digits, within what the server accepts. */
export function roundRate(lr) {
  return Math.min(LR_MAX, Math.max(LR_MIN, Number(lr.toPrecision(3))));
}

/**
 * Ticks of a log axis from lo to hi: powers of ten between them, every k-th so at most `most` (a range inside
 * one decade: its ends and middle).
 */
export function decades(lo, hi, most = 7) {
  const first = Math.ceil(Math.log10(lo) - 1e-9), last = Math.floor(Math.log10(hi) + 1e-9);
  if (!(last > first)) return [lo, Math.sqrt(lo * hi), hi];
  const every = Math.ceil((last - first + 1) / most), out = [];
  for (let e = first; e <= last; e += every) out.push(10 ** e);
  return out;
}

/** The y range of positive losses on a log axis, with a little room above and below. */
function lossRange(lo, hi) {
  if (!(lo > 0) || !(hi > 0)) return [0.01, 10];
  return lo === hi ? [lo / 2, hi * 2] : [lo / 1.6, hi * 1.6];
}

export class LrExplorer extends JobPart {
  constructor({ send }) {
    super({ kind: "lr_sweep", request: "lr_sweep", title: "Learning-rate explorer", id: "ol-lr", send, what: "sweep" });
    this.run.textContent = "Sweep the learning rate";
    const text = (id, value, mode = "decimal") => h("input", { type: "text", id, value, inputmode: mode, spellcheck: "false", autocomplete: "off" });
    this.inputs = { low: text("ol-lr-low", "0.0001"), high: text("ol-lr-high", "10"), points: text("ol-lr-points", "16", "numeric"), updates: text("ol-lr-updates", "50", "numeric") };
    this.result = null; this.currentLr = null; this.partial = [];
    this.chartEl = h("div", { class: "ol-lr-chart" });
    this.readout = h("p", { class: "lj-readout ol-readout", "aria-live": "polite" }, "Click the chart to set the live learning rate there.");
    this.loaded = h("p", { class: "lj-loaded", role: "status", "aria-live": "polite" });
    this.keyNote = h("p", { class: "muted ol-note ol-lr-keys" });
    const i = this.inputs;
    const row = (id, label, ...inputs) => [h("label", { for: id }, label), h("div", { class: "lj-pair" }, inputs)];
    i.high.setAttribute("aria-label", "Learning rate, high end");
    this.root = h("div", { class: "lj-part ol-part", role: "group", "aria-labelledby": "h-ol-lr" },
      this.heading,
      h("p", { class: "muted lj-help" }, "Each rate trains its own copy from the live weights on the same batches; the live run is not touched."),
      this.form(h("div", { class: "lj-fields" },
        row("ol-lr-low", "Learning rate from … to", i.low, h("span", { "aria-hidden": "true" }, "to"), i.high),
        row("ol-lr-points", "Rates (3 to 41, log-spaced)", i.points),
        row("ol-lr-updates", "Updates at each (1 to 500)", i.updates)), "Learning-rate sweep settings"),
      this.status, this.progress, this.chartEl, this.keyNote, this.readout, this.loaded);
    this.plot = null;
    new ResizeObserver(() => { if (this.plot) this.plot.setSize(this.size()); }).observe(this.chartEl);
  }

  message() {
    for (const el of Object.values(this.inputs)) el.removeAttribute("aria-invalid");
    const i = this.inputs;
    const low = checked([i.low], () => parseNumber(i.low.value, "Low learning rate", { min: LR_MIN, max: LR_MAX }));
    const high = checked([i.high], () => parseNumber(i.high.value, "High learning rate", { min: LR_MIN, max: LR_MAX }));
    if (!(high > low)) checked([i.low, i.high], () => { throw new Error(`The high end (${high}) must be above the low end (${low}).`); });
    const points = checked([i.points], () => parseCount(i.points.value, "Rates", { min: 3, max: 41 }));
    const updates = checked([i.updates], () => parseCount(i.updates.value, "Updates", { min: 1, max: 500 }));
    return { type: "lr_sweep", low, high, points, updates };
  }

  begin(msg) {
    this.plan = msg; this.result = null; this.partial = [];
    this.loaded.textContent = "";
    this.setProgress(0, msg.points, `0 of ${msg.points} rates`);
    this.build();
  }

  /** Progress: a rate done ({lr, loss, diverged}) or a count ({done} / {points_done}). */
  event(ev) {
    if ("lr" in ev) this.partial.push({ lr: ev.lr, loss: ev.loss ?? null, diverged: !!ev.diverged || ev.loss === null });
    const n = ev.done ?? ev.points_done ?? this.partial.length;
    this.setProgress(n, this.plan.points, `${n} of ${this.plan.points} rates`);
    this.flush();
  }

  done(result) {
    this.result = result;
    if (result.current_lr !== undefined && result.current_lr !== null && this.currentLr === null) this.currentLr = result.current_lr;
    this.setProgress(1, 1, `${result.lrs.length} rates`);
    this.flush();
    if (result.best_lr === null || result.best_lr === undefined) this.loaded.textContent = "Every rate diverged: try a lower range.";
  }

  /** The points: the result's, or the ones reported so far. */
  points() {
    const r = this.result;
    if (r) return r.lrs.map((lr, k) => ({ lr, loss: r.losses[k], diverged: !!r.diverged[k] || r.losses[k] === null }));
    return [...this.partial].sort((a, b) => a.lr - b.lr);
  }

  size() {
    const big = document.documentElement.classList.contains("presenter");
    return { width: Math.max(220, this.chartEl.clientWidth || 320), height: big ? 280 : 210 };
  }

  build() {
    if (this.plot) this.plot.destroy();
    const exactValue = (u, v, si, idx) => (idx === null || idx === undefined ? "" : v === null || v === undefined ? "—" : String(v));
    const big = document.documentElement.classList.contains("presenter");
    const font = `${big ? 15 : 11}px system-ui, sans-serif`;
    this.plot = new uPlot({
      ...this.size(),
      scales: { x: { time: false, distr: 3, range: () => this.xRange() }, y: { distr: 3, range: (u, lo, hi) => lossRange(lo, hi) } },
      axes: [{ label: "learning rate (log scale)", size: big ? 44 : 36, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" },
        splits: (u) => decades(u.scales.x.min, u.scales.x.max), filter: (u, splits) => splits, values: (u, ticks) => ticks.map((t) => fmt(t, 2)) },
      { label: "training loss after (log)", splits: (u) => decades(u.scales.y.min, u.scales.y.max, 5), filter: (u, splits) => splits, values: (u, ticks) => ticks.map((t) => fmt(t, 2)), size: big ? 64 : 52, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } }],
      series: [{ label: "learning rate", value: exactValue },
        { label: "training loss", stroke: C_LOSS, width: 2, value: (u, v, si, idx) => this.lossText(idx), spanGaps: false, points: { show: true, size: big ? 9 : 7, fill: C_LOSS } }],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      hooks: { draw: [(u) => this.marks(u)] },
    }, [[], []], this.chartEl);
    this.plot.over.classList.add("ol-clickable");
    this.plot.over.addEventListener("click", () => this.pick());
    this.plot.over.title = "Click to set the live learning rate here";
  }

  /** The hovered rate's loss exactly, whether on the axis or not. */
  lossText(idx) {
    const p = idx === null || idx === undefined ? null : this.points()[idx];
    if (!p) return "";
    return p.diverged || p.loss === null ? "diverged" : String(p.loss);
  }

  xRange() {
    const p = this.plan ?? { low: 1e-4, high: 10 };
    return [p.low / 1.5, p.high * 1.5];
  }

  /** The highest loss drawn on the axis: 100 times the loss before (a rate that blew the loss up past it is marked at the top). */
  cap() {
    const start = this.result?.start_loss;
    return Number.isFinite(start) && start > 0 ? start * 100 : Infinity;
  }

  /** A point on the axis: a finite positive loss up to the cap (the others are marked along the top). */
  onAxis(p) { return !p.diverged && Number.isFinite(p.loss) && p.loss > 0 && p.loss <= this.cap(); }

  flush() {
    if (!this.plot) return;
    const pts = this.points();
    this.plot.setData([pts.map((p) => p.lr), pts.map((p) => (this.onAxis(p) ? p.loss : null))]);
  }

  /** Diverged rates as crosses along the top, the best rate ringed, the live rate as a line. */
  marks(u) {
    const g = u.ctx, dpr = uPlot.pxRatio || 1, { left, top, width, height } = u.bbox;
    const fs = (document.documentElement.classList.contains("presenter") ? 16 : 11) * dpr;
    g.save();
    g.font = `${fs}px system-ui, sans-serif`; g.textBaseline = "top"; g.textAlign = "left";
    g.globalAlpha = 1;   // uPlot leaves the last series' alpha in the context
    this.drawn = { diverged: [], offScale: [], now: null, best: null, start: null };
    const pts = this.points();
    g.strokeStyle = C_DIV; g.lineWidth = 2.5 * dpr;
    for (const p of pts) {
      if (!p.diverged) continue;
      const x = u.valToPos(p.lr, "x", true), y = top + 10 * dpr, r = 5 * dpr;
      g.beginPath(); g.moveTo(x - r, y - r); g.lineTo(x + r, y + r); g.moveTo(x + r, y - r); g.lineTo(x - r, y + r); g.stroke();
      this.drawn.diverged.push(p.lr);
    }
    g.fillStyle = C_DIV;
    for (const p of pts) {
      if (p.diverged || this.onAxis(p) || !Number.isFinite(p.loss)) continue;
      const x = u.valToPos(p.lr, "x", true), y = top + 4 * dpr, r = 6 * dpr;
      g.beginPath(); g.moveTo(x, y); g.lineTo(x + r, y + 1.6 * r); g.lineTo(x - r, y + 1.6 * r); g.closePath(); g.fill();
      this.drawn.offScale.push(p.lr);
    }
    const best = this.result?.best_lr;
    if (best !== null && best !== undefined) {
      const p = pts.find((q) => q.lr === best);
      if (p && Number.isFinite(p.loss)) {
        const x = u.valToPos(best, "x", true), y = u.valToPos(p.loss, "y", true);
        g.strokeStyle = C_BEST; g.lineWidth = 2.5 * dpr; g.beginPath(); g.arc(x, y, 8 * dpr, 0, 2 * Math.PI); g.stroke();
        this.drawn.best = best;
      }
    }
    const start = this.result?.start_loss;
    if (Number.isFinite(start) && start > 0) {
      const y = u.valToPos(start, "y", true);
      if (y >= top && y <= top + height) {
        g.strokeStyle = "#777"; g.lineWidth = 1.5 * dpr; g.setLineDash([2 * dpr, 3 * dpr]);
        g.beginPath(); g.moveTo(left, y); g.lineTo(left + width, y); g.stroke(); g.setLineDash([]);
        this.drawn.start = start;
      }
    }
    const keys = [this.drawn.start !== null ? `dotted line: the loss before, ${fmt(start, 4)}` : null,
      this.drawn.diverged.length ? "× along the top: diverged (the loss became infinite)" : null,
      this.drawn.offScale.length ? "▲ along the top: the loss grew past 100 × the loss before" : null].filter(Boolean);
    const text = keys.length ? `${keys.join("; ")}.` : "";
    if (this.keyNote.textContent !== text) { this.keyNote.textContent = text; this.keyNote.title = Number.isFinite(start) ? `loss before: ${start}` : ""; }
    const now = this.currentLr;
    if (now !== null) {
      const x = u.valToPos(now, "x", true);
      if (x >= left && x <= left + width) {
        g.strokeStyle = C_NOW; g.lineWidth = 2 * dpr; g.setLineDash([6 * dpr, 4 * dpr]);
        g.beginPath(); g.moveTo(x, top); g.lineTo(x, top + height); g.stroke(); g.setLineDash([]);
        const text = `now: ${fmt(now, 3)}`, tw = g.measureText(text).width + 6 * dpr;
        const tx = Math.min(x + 4 * dpr, left + width - tw), ty = top + height - fs - 8 * dpr;
        g.fillStyle = "rgba(255,255,255,0.92)"; g.fillRect(tx, ty, tw, fs + 4 * dpr);
        g.fillStyle = C_NOW; g.fillText(text, tx + 3 * dpr, ty + 2 * dpr);
        this.drawn.now = now;
      }
    }
    g.restore();
  }

  /** The session's learning rate (from each frame): the line follows it. */
  setCurrent(lr) {
    if (lr === undefined || lr === null || lr === this.currentLr) return;
    this.currentLr = lr;
    if (this.plot) this.plot.redraw(false, false);
  }

  /** The rate under the pointer becomes the live one (an ordinary set_hyper). */
  pick() {
    const u = this.plot, x = u.cursor.left;
    if (x === undefined || x === null || x < 0) return;
    const lr = roundRate(u.posToVal(x, "x"));
    this.send({ type: "set_hyper", lr });
    this.loaded.textContent = `Live learning rate set to ${lr}.`;
    this.picked = lr;
  }
}
