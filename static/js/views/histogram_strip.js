// One layer's histograms over time, as the server counted them (a `histograms`
// message's layer: {scale, edges, steps, counts[step][bin], below, above}):
// a heat strip (x = recorded step, y = bin, colour = count) and, below it,
// the histogram at one step as bars. Hovering either says the step, the bin's
// edges and its count exactly as the server sent them (the colours and bar
// heights are only pictures of those counts).
import { h, fill } from "../dom.js";
import { fmt, int } from "../format.js";

// A sequential palette (light to dark blue-violet) for counts: an empty bin stays the page's background.
const STOPS = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107], [63, 0, 125]];
const EMPTY = [250, 250, 247];

/** The colour of a share t in [0, 1] of the largest count (square-rooted, so a few values still show). */
export function countColor(t) {
  if (!(t > 0)) return EMPTY;
  const x = Math.sqrt(Math.min(1, t)) * (STOPS.length - 1), i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
  return STOPS[i].map((a, k) => Math.round(a + (STOPS[i + 1][k] - a) * f));
}

/** The words for bin b of a layer: its range (in |dW| for the log bins) and what its end bins also hold. */
export function binRange(layer, b) {
  const lo = layer.edges[b], hi = layer.edges[b + 1], last = b === layer.edges.length - 2;
  const close = last ? "]" : ")";   // the last bin also holds its upper edge
  if (layer.scale === "log10_abs") return { text: `|dW| from ${fmt(10 ** lo, 3)} to ${fmt(10 ** hi, 3)}`, exact: `log10 |dW| in [${lo}, ${hi}${close}` };
  return { text: `from ${fmt(lo, 4)} to ${fmt(hi, 4)}`, exact: `[${lo}, ${hi}${close}` };
}

/** The column of `steps` (sorted) to show for `step`: the last recorded at or before it (the first if none). */
export function columnAt(steps, step) {
  let lo = 0, hi = steps.length - 1, best = 0;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (steps[mid] <= step) { best = mid; lo = mid + 1; } else hi = mid - 1; }
  return best;
}

/** The spread of one histogram row: the values' lowest and highest bin edges, and the bin of the middle value
 * (its edges, and its centre as `median`). */
export function spread(layer, row) {
  const counts = layer.counts[row] || [], total = counts.reduce((a, b) => a + b, 0);
  let first = -1, last = -1, seen = 0, mid = -1;
  counts.forEach((n, b) => {
    if (!n) return;
    if (first < 0) first = b;
    last = b;
    seen += n;
    if (mid < 0 && seen >= total / 2) mid = b;
  });
  if (first < 0) return null;
  const [midLow, midHigh] = [layer.edges[mid], layer.edges[mid + 1]];
  return { low: layer.edges[first], high: layer.edges[last + 1], median: (midLow + midHigh) / 2, midLow, midHigh, total };
}

/**
 * The bins worth drawing for these layers (sharing their edges, or each its own: pass one): from the first to the
 * last bin any of them fills at any step, with a bin to spare each side; [first, end) bin indices, or null if empty.
 */
export function occupied(layers) {
  let lo = Infinity, hi = -Infinity;
  for (const L of layers) {
    for (const row of L.counts) row.forEach((n, k) => { if (n) { if (k < lo) lo = k; if (k > hi) hi = k; } });
  }
  if (lo > hi) return null;
  const nb = Math.min(...layers.map((L) => L.edges.length - 1));
  return [Math.max(0, lo - 1), Math.min(nb, hi + 2)];
}

export class HistogramStrip {
  /** root: where the strip, the bars and the readout go; tooltip: the page's Tooltip. */
  constructor(root, tooltip, what) {
    this.root = root; this.tooltip = tooltip; this.what = what;
    this.layer = null; this.column = null; this.override = null; this.hover = null; this.win = [0, 1];
    // The strip is one Tab stop: arrow keys walk its columns (steps) and rows (bins), the readout says each.
    this.strip = h("canvas", { class: "hs-strip", role: "img", tabindex: "0", "aria-label": "Counts over time", "aria-describedby": "hs-readout" });
    this.bars = h("canvas", { class: "hs-bars", role: "img", "aria-label": "Counts at the step shown" });
    this.axis = h("div", { class: "hs-axis muted" });
    this.barAxis = h("div", { class: "hs-axis muted" });
    this.readout = h("p", { id: "hs-readout", class: "hs-readout", "aria-live": "polite" });
    this.barTitle = h("h4", { class: "hs-bar-title" });
    fill(root, h("div", { class: "hs-strip-box" }, this.strip), this.axis,
      this.barTitle, h("div", { class: "hs-bars-box" }, this.bars), this.barAxis, this.readout);
    for (const [cv, kind] of [[this.strip, "strip"], [this.bars, "bars"]]) {
      cv.addEventListener("pointermove", (ev) => this.pointAt(kind, ev));
      cv.addEventListener("pointerdown", (ev) => this.pointAt(kind, ev));
      cv.addEventListener("pointerleave", () => { this.hover = null; this.tooltip.hide(); this.paintStrip(); });
    }
    this.strip.addEventListener("keydown", (ev) => this.key(ev));
    new ResizeObserver(() => this.draw()).observe(root);
  }

  /**
   * layer: the server's histograms of one layer over time; step: the step shown as bars (null: the last
   * recorded); at: that step's own counts ({edges, counts, step}) when the server sent them (a rewind), else null;
   * win: the bins drawn, [first, end) (null: all of them): the rest are empty, and far from the values.
   */
  show(layer, step = null, at = null, win = null) {
    this.layer = layer;
    const nb = layer ? layer.edges.length - 1 : 0;
    this.win = win && win[0] >= 0 && win[1] <= nb && win[1] > win[0] ? win : [0, Math.max(1, nb)];
    this.column = layer && layer.steps.length ? (step === null ? layer.steps.length - 1 : columnAt(layer.steps, step)) : null;
    this.override = at;
    this.draw();
  }

  /** The counts drawn as bars: {step, edges, counts, below, above, scale} or null. */
  current() {
    const L = this.layer;
    if (this.override) return { scale: L?.scale ?? this.override.scale ?? "linear", ...this.override };
    return L && this.column !== null ? this.columnCounts(this.column) : null;
  }

  /** Column c of the strip as one step's counts: {step, edges, counts, below, above, scale}. */
  columnCounts(c) {
    const L = this.layer;
    return { scale: L.scale, step: L.steps[c], edges: L.edges, counts: L.counts[c], below: L.below?.[c] ?? 0, above: L.above?.[c] ?? 0 };
  }

  size(cv, cssH) {
    const w = cv.parentElement.clientWidth, dpr = window.devicePixelRatio || 1;
    if (!w) return null;
    const W = Math.round(w * dpr), H = Math.round(cssH * dpr);
    if (cv.width !== W || cv.height !== H) { cv.width = W; cv.height = H; }
    cv.style.height = `${cssH}px`;
    return { w, h: cssH, dpr };
  }

  draw() {
    const L = this.layer;
    const big = document.documentElement.classList.contains("presenter");
    const s = this.size(this.strip, big ? 190 : 140), b = this.size(this.bars, big ? 130 : 96);
    if (!s || !b) return;
    const gs = this.strip.getContext("2d"), gb = this.bars.getContext("2d");
    gs.setTransform(s.dpr, 0, 0, s.dpr, 0, 0); gs.clearRect(0, 0, s.w, s.h);
    gb.setTransform(b.dpr, 0, 0, b.dpr, 0, 0); gb.clearRect(0, 0, b.w, b.h);
    if (!L || !L.steps.length || L.edges.length < 2) {
      fill(this.axis); fill(this.barAxis); this.barTitle.textContent = ""; this.readout.textContent = L ? "Nothing recorded yet: train a few steps." : "";
      return;
    }
    this.drawStrip(s);
    this.paintStrip();
    this.drawBars(gb, b.w, b.h);
    const lo = L.edges[this.win[0]], hi = L.edges[this.win[1]], log = L.scale === "log10_abs";
    const ends = log ? [`|dW| ${fmt(10 ** lo, 2)}`, `${fmt(10 ** hi, 2)}`] : [fmt(lo, 3), fmt(hi, 3)];
    const most = Math.max(0, ...L.counts.map((row) => Math.max(...row)));
    const key = h("span", { class: "hs-key" }, h("span", { class: "hs-key-bar", "aria-hidden": "true" }), ` darker: more (most in a bin: ${int(most)})`);
    fill(this.axis, h("span", null, `step ${int(L.steps[0])}`), h("span", null, `bins: ${ends[0]} (bottom) to ${ends[1]} (top) · `, key),
      h("span", null, `step ${int(L.steps[L.steps.length - 1])}`));
    fill(this.barAxis, h("span", null, ends[0]), h("span", null, log ? "log scale" : ""), h("span", null, ends[1]));
    const cur = this.current();
    this.barTitle.textContent = cur ? `At step ${int(cur.step)}` : "";
    this.strip.setAttribute("aria-label", `${this.what}: counts in ${L.edges.length - 1} bins at ${L.steps.length} recorded steps, ` +
      `from step ${L.steps[0]} to ${L.steps[L.steps.length - 1]}`);
    if (this.hover) this.describe(this.hover.kind, this.hover.col, this.hover.bin, null);
  }

  /** Column c's x range on a strip w wide: from its step to the next recorded one (the last gets one slot). */
  colX(c, w) {
    const st = this.layer.steps, n = st.length, first = st[0], span = st[n - 1] - first;
    if (!span) return [0, w];
    const slot = span / Math.max(1, n - 1), x = (v) => ((v - first) / (span + slot)) * w;
    return [x(st[c]), c + 1 < n ? x(st[c + 1]) : w];
  }

  /** The cells of the strip, into a canvas of its own (the marks over them are redrawn alone: paintStrip). */
  drawStrip({ w, h: hgt, dpr }) {
    this.base = this.base || document.createElement("canvas");
    this.base.width = this.strip.width; this.base.height = this.strip.height;
    const g = this.base.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const L = this.layer, [b0, b1] = this.win, bh = hgt / (b1 - b0);
    let top = 1;
    for (const row of L.counts) for (const v of row) if (v > top) top = v;
    for (let c = 0; c < L.steps.length; c++) {
      const [x0, x1] = this.colX(c, w), row = L.counts[c];
      for (let k = b0; k < b1; k++) {
        const col = countColor(row[k] / top);
        g.fillStyle = `rgb(${col[0]},${col[1]},${col[2]})`;
        g.fillRect(x0, hgt - (k - b0 + 1) * bh, Math.max(1, x1 - x0 + 0.5), bh + 0.5);
      }
    }
  }

  /** The cells, the column shown as bars (outlined), |dW| = 1 (dashed), and the cell pointed at or walked to. */
  paintStrip() {
    const L = this.layer, cv = this.strip;
    if (!L || !this.base || !L.steps.length) return;
    const dpr = window.devicePixelRatio || 1, w = cv.width / dpr, hgt = cv.height / dpr, [b0, b1] = this.win, bh = hgt / (b1 - b0);
    const g = cv.getContext("2d");
    g.setTransform(1, 0, 0, 1, 0, 0); g.clearRect(0, 0, cv.width, cv.height); g.drawImage(this.base, 0, 0);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (this.column !== null) {
      const [x0, x1] = this.colX(this.column, w);
      g.strokeStyle = "#c2410c"; g.lineWidth = 2;
      g.strokeRect(x0 + 1, 1, Math.max(2, x1 - x0 - 2), hgt - 2);
    }
    if (L.scale === "log10_abs") {
      // |dW| = 1 marked: gradients far below it vanish, far above it explode.
      const y = hgt - ((0 - L.edges[b0]) / (L.edges[b1] - L.edges[b0])) * hgt;
      g.strokeStyle = "rgba(0,0,0,.35)"; g.setLineDash([4, 4]); g.lineWidth = 1;
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke(); g.setLineDash([]);
    }
    const hv = this.hover;
    if (hv && hv.kind === "strip" && hv.col < L.steps.length) {
      const [x0, x1] = this.colX(hv.col, w);
      g.strokeStyle = "#111"; g.lineWidth = 1.5;
      g.strokeRect(x0 - 1, hgt - (hv.bin - b0 + 1) * bh - 1, Math.max(3, x1 - x0) + 2, bh + 2);
    }
  }

  drawBars(g, w, hgt) {
    const cur = this.current();
    if (!cur) return;
    const [b0, b1] = this.win, bw = w / (b1 - b0), top = Math.max(1, ...cur.counts);
    g.clearRect(0, 0, w, hgt);
    for (let k = b0; k < b1; k++) {
      const n = cur.counts[k];
      if (!n) continue;
      const bar = Math.max(2, (n / top) * (hgt - 4));
      g.fillStyle = this.hover && this.hover.kind === "bars" && this.hover.bin === k ? "#c2410c" : "#3f6fb0";
      g.fillRect((k - b0) * bw + (bw > 4 ? 0.5 : 0), hgt - bar, Math.max(1, bw - (bw > 4 ? 1 : 0)), bar);
    }
    g.strokeStyle = "#999"; g.lineWidth = 1; g.beginPath(); g.moveTo(0, hgt - 0.5); g.lineTo(w, hgt - 0.5); g.stroke();
  }

  /** The pointer over a canvas: the column and bin under it, said in the readout and the tooltip. */
  pointAt(kind, ev) {
    const L = this.layer;
    if (!L || !L.steps.length || L.edges.length < 2) return;
    const cv = kind === "strip" ? this.strip : this.bars, r = cv.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    let col = this.column, bin;
    if (kind === "strip") {
      const [b0, b1] = this.win;
      bin = Math.min(b1 - 1, Math.max(b0, b0 + Math.floor(((r.height - y) / r.height) * (b1 - b0))));
      col = 0;
      for (let c = 0; c < L.steps.length; c++) if (this.colX(c, r.width)[0] <= x) col = c;
    } else {
      const cur = this.current();
      if (!cur) return;
      const [b0, b1] = this.win;
      bin = Math.min(b1 - 1, Math.max(b0, b0 + Math.floor((x / r.width) * (b1 - b0))));
    }
    const changed = !this.hover || this.hover.kind !== kind || this.hover.col !== col || this.hover.bin !== bin;
    this.hover = { kind, col, bin };
    this.describe(kind, col, bin, ev);
    if (changed && kind === "bars") this.drawBars(this.bars.getContext("2d"), r.width, r.height);
    if (changed) this.paintStrip();
  }

  /** Arrow keys on the strip: left and right walk the steps, up and down the bins. */
  key(ev) {
    const L = this.layer;
    if (!L || !L.steps.length || L.edges.length < 2) return;
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1], Home: [-Infinity, 0], End: [Infinity, 0] };
    const m = moves[ev.key];
    if (!m) return;
    ev.preventDefault();
    const start = this.column ?? L.steps.length - 1;
    // The first key lands on the fullest bin of the column shown as bars; the next ones move from there.
    let { col, bin } = this.hover?.kind === "strip" ? this.hover : { col: start, bin: this.peak(start) };
    if (this.hover?.kind === "strip") { col += m[0]; bin += m[1]; }
    col = Math.max(0, Math.min(L.steps.length - 1, col)); bin = Math.max(this.win[0], Math.min(this.win[1] - 1, bin));
    this.hover = { kind: "strip", col, bin };
    this.describe("strip", col, bin, null);
    this.paintStrip();
  }

  /** The fullest bin of column c. */
  peak(c) {
    const row = this.layer.counts[c] || [];
    return row.reduce((best, n, k) => (n > row[best] ? k : best), 0);
  }

  /** Say one bin's count (strip: at column col; bars: at the step shown); readout always, tooltip when pointed. */
  describe(kind, col, bin, ev) {
    const L = this.layer;
    const src = kind === "strip" ? this.columnCounts(col) : this.current();
    if (!src || bin >= src.edges.length - 1) return;
    const n = src.counts[bin], total = src.counts.reduce((a, b) => a + b, 0);
    const range = binRange(src, bin), last = bin === src.edges.length - 2;
    let beyond = "";
    if (bin === 0 && src.below) beyond = ` (${int(src.below)} of them below the first edge)`;
    else if (last && src.above) beyond = ` (${int(src.above)} of them above the last edge)`;
    const text = `Step ${int(src.step)}, ${range.text}: ${int(n)} of ${int(total)}${beyond}`;
    this.readout.textContent = text;
    this.readout.dataset.count = String(n); this.readout.dataset.bin = String(bin); this.readout.dataset.step = String(src.step);
    if (!ev) return;
    const content = h("div", null,
      h("div", { class: "tt-head" }, this.what, " at step ", h("b", { class: "num" }, String(src.step))),
      h("table", { class: "tt-table" }, h("tbody", null,
        h("tr", null, h("th", { scope: "row" }, "bin"), h("td", { class: "num" }, range.exact)),
        h("tr", null, h("th", { scope: "row" }, "count"), h("td", { class: "num" }, `${n} of ${total}`)))),
      beyond ? h("div", { class: "tt-note" }, `The end bins also hold the values beyond the edges${beyond}.`) : null);
    this.tooltip.show(content, `hist:${kind}:${col}:${bin}`);
    this.tooltip.moveTo(ev.clientX, ev.clientY);
  }
}
