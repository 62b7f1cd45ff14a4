// A search's trials over learning rate x momentum: a heatmap for a grid, a
// scatter (log lr x momentum) for random draws, both on a canvas coloured by the
// validation loss. Over the canvas sits one button per cell or point, so every
// one can be hovered, reached with Tab (arrow keys move within a grid), read by a
// screen reader (its label has the exact values and score) and clicked or
// activated with Enter to load its configuration.
import { h, fill } from "../dom.js";
import { fmt } from "../format.js";

// Viridis' stops: perceptually even, told apart in greyscale and with colour-vision deficiencies.
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const PAD = { left: 56, right: 10, top: 8, bottom: 42 };

/** The colour at t in [0, 1] on the scale (0 dark, 1 bright). */
export function scaleColor(t) {
  const x = Math.max(0, Math.min(1, t)) * (STOPS.length - 1), i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
  const c = STOPS[i].map((v, j) => Math.round(v + (STOPS[i + 1][j] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Round ticks (multiples of 1, 2 or 5 times a power of ten) from lo to hi, about four of them. */
export function niceTicks(lo, hi) {
  const raw = (hi - lo) / 4, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

const FIELD_NAMES = { lr: "learning rate", momentum: "momentum", batch_size: "batch size", reg_rate: "regularization rate", dropout: "dropout" };
const describe = (values) => Object.entries(values).map(([k, v]) => `${FIELD_NAMES[k] || k} ${v}`).join(", ");

export class JobHeatmap {
  /**
   * root: an empty element; onPick(values): a cell was clicked (its configuration);
   * onHover(text | null): a cell was hovered or focused (its description), or left.
   */
  constructor(root, { onPick = () => {}, onHover = () => {} } = {}) {
    this.onPick = onPick; this.onHover = onHover;
    this.canvas = h("canvas", { class: "hm-canvas", role: "img", "aria-label": "Validation loss of every trial over learning rate and momentum" });
    this.layer = h("div", { class: "hm-cells" });
    this.legend = h("div", { class: "hm-legend" });
    fill(root, h("div", { class: "hm-stage" }, this.canvas, this.layer), this.legend);
    this.stage = this.canvas.parentElement;
    this.mode = "grid"; this.trials = []; this.scores = []; this.best = null; this.cells = []; this.xs = []; this.ys = [];
    new ResizeObserver(() => this.draw()).observe(this.stage);
  }

  /** A new search: its trials ([{field: value}]) in order, none run yet. */
  setTrials(mode, trials) {
    this.mode = mode; this.trials = trials;
    this.scores = trials.map(() => null);   // {score, diverged} once run
    this.best = null;
    this.layout();
    this.draw();
  }

  /** Trial i ended: its score (null when it diverged). */
  setScore(i, score, diverged) {
    this.scores[i] = { score, diverged: diverged || score === null };
    this.draw();
  }

  /** The best trial (the server's `best`), outlined. */
  setBest(i) { this.best = i; this.draw(); }

  clear() { this.setTrials("grid", []); }

  /** Cells: a grid's distinct (lr, momentum) pairs (several trials share one when batch size is searched too), or one per random draw. */
  layout() {
    const lrOf = (t) => t.lr ?? null, mOf = (t) => t.momentum ?? null;
    this.cells = [];
    if (this.mode === "grid") {
      this.xs = [...new Set(this.trials.map(lrOf))].sort((a, b) => a - b);
      this.ys = [...new Set(this.trials.map(mOf))].sort((a, b) => a - b);
      const at = new Map();
      this.trials.forEach((t, i) => {
        const key = `${lrOf(t)}|${mOf(t)}`;
        if (!at.has(key)) { at.set(key, { col: this.xs.indexOf(lrOf(t)), row: this.ys.indexOf(mOf(t)), lr: lrOf(t), momentum: mOf(t), trials: [] }); this.cells.push(at.get(key)); }
        at.get(key).trials.push(i);
      });
    } else {
      this.trials.forEach((t, i) => this.cells.push({ lr: lrOf(t), momentum: mOf(t), trials: [i] }));
      const lx = this.trials.map((t) => Math.log10(lrOf(t) ?? 1)), my = this.trials.map((t) => mOf(t) ?? 0);
      const span = (v, pad) => { const lo = Math.min(...v), hi = Math.max(...v); return lo === hi ? [lo - pad, hi + pad] : [lo - (hi - lo) * 0.06, hi + (hi - lo) * 0.06]; };
      this.xRange = this.trials.length ? span(lx, 0.5) : [-3, 0];
      this.yRange = this.trials.length ? span(my, 0.05) : [0, 1];
    }
  }

  /** A cell's result: the best finite score among its trials, or diverged when every one ran and none has one. */
  cellScore(cell) {
    let best = null, ran = 0, trial = null;
    for (const i of cell.trials) {
      const s = this.scores[i];
      if (!s) continue;
      ran++;
      if (s.score !== null && (best === null || s.score < best)) { best = s.score; trial = i; }
    }
    return { score: best, trial: trial ?? cell.trials[0], ran, diverged: ran === cell.trials.length && best === null };
  }

  /** The colour scale's ends: the finite scores so far, on a log scale (a loss spans decades). */
  range() {
    const finite = this.scores.filter((s) => s && s.score !== null && s.score > 0).map((s) => s.score);
    if (!finite.length) return null;
    return [Math.min(...finite), Math.max(...finite)];
  }

  /** Low loss (better) bright, high loss dark. */
  colorOf(score, range) {
    const [lo, hi] = range;
    const t = hi > lo ? (Math.log(score) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) : 0;
    return scaleColor(1 - t);
  }

  /** A cell's text: its configuration, its exact score (or why there is none) and its trial. */
  cellText(cell) {
    const r = this.cellScore(cell), values = this.trials[r.trial] || {};
    const what = describe(values) || "the session's own values";
    const result = r.score !== null ? `validation loss ${r.score}` : r.diverged ? "diverged (no score)" : r.ran ? "still running" : "not run yet";
    const many = cell.trials.length > 1 ? ` (best of ${cell.trials.length} trials here)` : "";
    const best = this.best !== null && cell.trials.includes(this.best) ? ", the best trial" : "";
    return `Trial ${r.trial + 1}: ${what}: ${result}${many}${best}`;
  }

  draw() {
    this.stage.hidden = !this.trials.length;   // nothing to draw before a search lists its trials
    const w = this.stage.clientWidth;
    if (!w) return;
    const big = document.documentElement.classList.contains("presenter");
    const rows = this.mode === "grid" ? Math.max(1, this.ys.length) : 8;
    const hgt = Math.round(Math.min(Math.max(220, w * 0.7), PAD.top + PAD.bottom + rows * (big ? 64 : 48)));
    const dpr = window.devicePixelRatio || 1, cv = this.canvas;
    cv.width = Math.round(w * dpr); cv.height = Math.round(hgt * dpr);
    cv.style.height = `${hgt}px`;
    this.layer.style.height = `${hgt}px`;
    const g = cv.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const fs = big ? 16 : 11;
    g.font = `${fs}px system-ui, sans-serif`;
    const box = { x: PAD.left, y: PAD.top, w: w - PAD.left - PAD.right, h: hgt - PAD.top - PAD.bottom };
    const range = this.range();
    const places = this.mode === "grid" ? this.drawGrid(g, box, range, fs) : this.drawScatter(g, box, range, fs);
    // Axis titles.
    g.fillStyle = "#333"; g.textAlign = "center"; g.textBaseline = "bottom";
    g.fillText(this.mode === "grid" ? "learning rate" : "learning rate (log scale)", box.x + box.w / 2, hgt - 2);
    g.save(); g.translate(12, box.y + box.h / 2); g.rotate(-Math.PI / 2); g.textBaseline = "middle"; g.fillText("momentum", 0, 0); g.restore();
    this.placeButtons(places);
    this.drawLegend(range);
    cv.setAttribute("aria-label", this.trials.length
      ? `${this.mode === "grid" ? "Heatmap" : "Scatter"} of the validation loss of ${this.trials.length} trials over learning rate and momentum; each is a button below`
      : "No search yet");
  }

  drawGrid(g, box, range, fs) {
    const nx = Math.max(1, this.xs.length), ny = Math.max(1, this.ys.length);
    const cw = box.w / nx, ch = box.h / ny, places = [];
    g.textAlign = "center"; g.textBaseline = "middle";
    for (const cell of this.cells) {
      const x = box.x + cell.col * cw, y = box.y + (ny - 1 - cell.row) * ch;   // momentum grows upwards
      const r = this.cellScore(cell);
      g.fillStyle = r.score !== null && range ? this.colorOf(r.score, range) : r.diverged ? "#d9d9d9" : "#f3f3f0";
      g.fillRect(x + 1, y + 1, cw - 2, ch - 2);
      if (r.diverged) {   // a cross: diverged, no score
        g.strokeStyle = "#8a1c1c"; g.lineWidth = 2;
        g.beginPath(); g.moveTo(x + 6, y + 6); g.lineTo(x + cw - 6, y + ch - 6); g.moveTo(x + cw - 6, y + 6); g.lineTo(x + 6, y + ch - 6); g.stroke();
      }
      if (r.score !== null && cw > 3.2 * fs) {
        const t = range ? 1 - (range[1] > range[0] ? (Math.log(r.score) - Math.log(range[0])) / (Math.log(range[1]) - Math.log(range[0])) : 0) : 0;
        g.fillStyle = t > 0.55 ? "#111" : "#fff";
        g.fillText(fmt(r.score, 3), x + cw / 2, y + ch / 2);
      }
      places.push({ cell, x, y, w: cw, h: ch });
    }
    g.fillStyle = "#333";
    g.textBaseline = "top";
    this.xs.forEach((v, i) => g.fillText(v === null ? "session's" : fmt(v, 3), box.x + (i + 0.5) * cw, box.y + box.h + 4));
    g.textAlign = "right"; g.textBaseline = "middle";
    this.ys.forEach((v, i) => g.fillText(v === null ? "session's" : fmt(v, 3), box.x - 4, box.y + (ny - 1 - i + 0.5) * ch));
    this.outlineBest(g, places);
    return places;
  }

  drawScatter(g, box, range, fs) {
    const [x0, x1] = this.xRange, [y0, y1] = this.yRange;
    const px = (lr) => box.x + ((Math.log10(lr ?? 1) - x0) / (x1 - x0)) * box.w;
    const py = (m) => box.y + box.h - (((m ?? 0) - y0) / (y1 - y0)) * box.h;
    g.strokeStyle = "#ccc"; g.lineWidth = 1; g.strokeRect(box.x, box.y, box.w, box.h);
    g.fillStyle = "#333"; g.textAlign = "center"; g.textBaseline = "top";
    for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) g.fillText(fmt(10 ** e, 3), box.x + ((e - x0) / (x1 - x0)) * box.w, box.y + box.h + 4);
    g.textAlign = "right"; g.textBaseline = "middle";
    for (const m of niceTicks(y0, y1)) g.fillText(fmt(m, 3), box.x - 4, py(m));
    const rad = fs * 0.75, places = [];
    for (const cell of this.cells) {
      const r = this.cellScore(cell), x = px(cell.lr), y = py(cell.momentum);
      g.beginPath(); g.arc(x, y, rad, 0, 2 * Math.PI);
      g.fillStyle = r.score !== null && range ? this.colorOf(r.score, range) : "#f3f3f0"; g.fill();
      g.strokeStyle = r.diverged ? "#8a1c1c" : "#555"; g.lineWidth = 1; g.stroke();
      if (r.diverged) { g.beginPath(); g.moveTo(x - rad, y - rad); g.lineTo(x + rad, y + rad); g.moveTo(x + rad, y - rad); g.lineTo(x - rad, y + rad); g.lineWidth = 2; g.stroke(); }
      places.push({ cell, x: x - rad - 2, y: y - rad - 2, w: 2 * rad + 4, h: 2 * rad + 4 });
    }
    this.outlineBest(g, places);
    return places;
  }

  outlineBest(g, places) {
    const hit = this.best === null ? null : places.find((p) => p.cell.trials.includes(this.best));
    if (!hit) return;
    g.lineWidth = 4; g.strokeStyle = "#111"; g.strokeRect(hit.x + 2, hit.y + 2, hit.w - 4, hit.h - 4);
    g.lineWidth = 1.5; g.strokeStyle = "#fff"; g.strokeRect(hit.x + 4.5, hit.y + 4.5, hit.w - 9, hit.h - 9);
  }

  /** One button over each cell or point; rebuilt only when the cells change, moved on every draw. */
  placeButtons(places) {
    if (this.layer.children.length !== places.length || this.builtFor !== this.cells) {
      this.builtFor = this.cells;
      fill(this.layer, places.map((p, i) => {
        const b = h("button", { type: "button", class: "hm-cell", dataset: { i: String(i) } });
        const show = () => this.onHover(this.cellText(p.cell));
        b.addEventListener("mouseenter", show);
        b.addEventListener("focus", show);
        b.addEventListener("mouseleave", () => this.onHover(null));
        b.addEventListener("blur", () => this.onHover(null));
        b.addEventListener("click", () => this.pick(p.cell));
        b.addEventListener("keydown", (ev) => this.arrow(ev, p.cell));
        return b;
      }));
    }
    places.forEach((p, i) => {
      const b = this.layer.children[i], text = this.cellText(p.cell);
      Object.assign(b.style, { left: `${p.x}px`, top: `${p.y}px`, width: `${p.w}px`, height: `${p.h}px` });
      b.setAttribute("aria-label", `${text}. Activate to load this configuration into the live session.`);
      b.title = text;
      b.dataset.text = text;
      b.classList.toggle("hm-best", this.best !== null && p.cell.trials.includes(this.best));
    });
  }

  /** The configuration of a cell's best trial (a grid cell may hold several batch sizes). */
  pick(cell) { this.onPick({ ...this.trials[this.cellScore(cell).trial] }); }

  /** Arrow keys move between a grid's cells (momentum up, learning rate right). */
  arrow(ev, cell) {
    if (this.mode !== "grid") return;
    const d = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[ev.key];
    if (!d) return;
    const j = this.cells.findIndex((c) => c.col === cell.col + d[0] && c.row === cell.row + d[1]);
    if (j >= 0) { ev.preventDefault(); this.layer.children[j].focus(); }
  }

  drawLegend(range) {
    if (!range) { fill(this.legend, this.trials.length ? h("span", { class: "muted" }, "Colours appear as trials finish.") : null); return; }
    const bar = h("canvas", { class: "hm-bar", width: "160", height: "12", "aria-hidden": "true" });
    const g = bar.getContext("2d");
    for (let i = 0; i < 160; i++) { g.fillStyle = scaleColor(i / 159); g.fillRect(i, 0, 1, 12); }
    fill(this.legend,
      h("span", { class: "num", title: String(range[1]) }, `${fmt(range[1], 3)} (worse)`), bar,
      h("span", { class: "num", title: String(range[0]) }, `${fmt(range[0], 3)} (better)`),
      h("span", { class: "muted" }, " validation loss, log scale; ", h("span", { class: "hm-key-div" }, "×"), " diverged; outlined: best"));
  }
}
