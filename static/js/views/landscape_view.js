// The loss landscape on a canvas: the training loss over the slice's grid,
// shaded (viridis, log scale when the loss spans a decade or more) with contour
// lines, a colour-scale legend, and over it the paths: the live weights'
// projected path with the current point, and the paths of a race's contenders.
// The shading and the contours are drawn once per landscape (and per size) on a
// canvas of their own; a frame redraws only the paths on the canvas above it.
// Hovering gives the nearest grid point's a, b and its loss exactly.
import { h, fill } from "../dom.js";
import { fmt } from "../format.js";
import { scaleColor, niceTicks } from "./job_heatmap.js";

const PAD = { left: 52, right: 12, top: 10, bottom: 44 };
const LEVELS = 12;
const NO_VALUE = "#c9c9c9";   // a grid point whose loss is not finite

/** The scale's ends and how a loss maps to [0, 1] on it: log when the finite losses span a decade or more. */
export function lossScale(loss) {
  let lo = Infinity, hi = -Infinity;
  for (const row of loss) for (const v of row) if (v !== null && Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!(lo <= hi)) return null;
  const log = lo > 0 && hi / lo >= 10;
  const f = log ? Math.log : (x) => x, a = f(lo), b = f(hi);
  return { lo, hi, log, t: (v) => (b > a ? (f(v) - a) / (b - a) : 0.5), at: (t) => (log ? Math.exp(a + t * (b - a)) : a + t * (b - a)) };
}

/**
 * Contour segments of the grid (`loss[k][m]` at (xs[m], ys[k])) at `level`, by marching squares:
 * [[x0, y0, x1, y1], ...] in data coordinates. A cell with a corner that is not finite has none.
 */
export function contourSegments(loss, xs, ys, level) {
  const out = [];
  const cut = (x0, y0, v0, x1, y1, v1) => { const t = (level - v0) / (v1 - v0); return [x0 + t * (x1 - x0), y0 + t * (y1 - y0)]; };
  for (let k = 0; k + 1 < ys.length; k++) {
    for (let m = 0; m + 1 < xs.length; m++) {
      const a = loss[k][m], b = loss[k][m + 1], c = loss[k + 1][m + 1], d = loss[k + 1][m];
      if (![a, b, c, d].every((v) => v !== null && Number.isFinite(v))) continue;
      const x0 = xs[m], x1 = xs[m + 1], y0 = ys[k], y1 = ys[k + 1];
      // The cell's edges the level crosses (bottom, right, top, left), each cut once.
      const pts = [];
      if ((a < level) !== (b < level)) pts.push(cut(x0, y0, a, x1, y0, b));
      if ((b < level) !== (c < level)) pts.push(cut(x1, y0, b, x1, y1, c));
      if ((d < level) !== (c < level)) pts.push(cut(x0, y1, d, x1, y1, c));
      if ((a < level) !== (d < level)) pts.push(cut(x0, y0, a, x0, y1, d));
      if (pts.length === 2) out.push([...pts[0], ...pts[1]]);
      else if (pts.length === 4) {
        // A saddle: the centre's value says which corners join.
        const centre = (a + b + c + d) / 4, join = (centre < level) === (a < level);
        if (join) { out.push([...pts[0], ...pts[1]], [...pts[2], ...pts[3]]); } else { out.push([...pts[0], ...pts[3]], [...pts[1], ...pts[2]]); }
      }
    }
  }
  return out;
}

export class LandscapeView {
  /** root: an empty element; onHover({a, b, loss, m, k} | null): the grid point under the pointer. */
  constructor(root, { onHover = () => {} } = {}) {
    this.onHover = onHover;
    this.base = h("canvas", { class: "ls-base", "aria-hidden": "true" });
    this.over = h("canvas", { class: "ls-over", role: "img", tabindex: "0", "aria-label": "No landscape yet" });
    this.stage = h("div", { class: "ls-stage" }, this.base, this.over);
    this.legend = h("div", { class: "ls-legend" });
    fill(root, this.stage, this.legend);
    this.landscape = null; this.scale = null; this.segments = [];
    this.paths = [];          // [{key, label, color, points: [[a, b], ...]}]: the live path first
    this.hovered = null;      // {m, k}
    this.box = null;
    this.baseDraws = 0; this.overDraws = 0;   // what was drawn (tests read them)
    this.over.addEventListener("pointermove", (ev) => this.hover(ev));
    this.over.addEventListener("pointerdown", (ev) => this.hover(ev));   // a tap on a phone reads a point too
    this.over.addEventListener("pointerleave", () => { this.hovered = null; this.onHover(null); this.drawPaths(); });
    // The keyboard walks the grid as the pointer does: arrow keys from the centre, each point's numbers read out.
    this.over.addEventListener("keydown", (ev) => this.key(ev));
    this.over.addEventListener("blur", () => { if (this.hovered) { this.hovered = null; this.onHover(null); this.drawPaths(); } });
    new ResizeObserver(() => this.draw()).observe(this.stage);
  }

  /** A new landscape (the server's result): shading and contours are computed and drawn now, once. */
  setLandscape(ls, axisNames = ["a (direction 1)", "b (direction 2)"]) {
    this.landscape = ls; this.axisNames = axisNames;
    this.scale = ls ? lossScale(ls.loss) : null;
    this.segments = [];
    if (ls && this.scale) {
      for (let i = 1; i < LEVELS; i++) {
        const level = this.scale.at(i / LEVELS);
        this.segments.push({ t: i / LEVELS, level, list: contourSegments(ls.loss, ls.alphas, ls.betas, level) });
      }
    }
    this.image = ls ? this.shade(ls) : null;
    this.hovered = null;
    this.draw();
  }

  /** The grid as an r x r picture, one pixel per grid point (beta grows upwards). */
  shade(ls) {
    const r = ls.alphas.length, rows = ls.betas.length, cv = document.createElement("canvas");
    cv.width = r; cv.height = rows;
    const g = cv.getContext("2d"), img = g.createImageData(r, rows);
    for (let k = 0; k < rows; k++) {
      for (let m = 0; m < r; m++) {
        const v = ls.loss[k][m], ok = v !== null && Number.isFinite(v);
        const c = (ok && this.scale ? scaleColor(this.scale.t(v)) : NO_VALUE).match(/\d+/g) || [201, 201, 201];
        const p = ((rows - 1 - k) * r + m) * 4;
        img.data[p] = Number(c[0]); img.data[p + 1] = Number(c[1]); img.data[p + 2] = Number(c[2]); img.data[p + 3] = 255;
      }
    }
    g.putImageData(img, 0, 0);
    return cv;
  }

  /** The paths drawn over the landscape: [{key, label, color, points}], the live one first. */
  setPaths(paths) {
    const keys = paths.map((p) => `${p.key}|${p.label}|${p.color}`).join();
    this.paths = paths;
    if (keys !== this.pathKeys) { this.pathKeys = keys; this.drawLegend(); }
    this.drawPaths();
  }

  /** Data extent: half a grid step beyond the first and last grid points, so each point's pixel is centred on it. */
  extent() {
    const { alphas: xs, betas: ys } = this.landscape;
    const dx = xs.length > 1 ? (xs[1] - xs[0]) / 2 : 0.5, dy = ys.length > 1 ? (ys[1] - ys[0]) / 2 : 0.5;
    return { x0: xs[0] - dx, x1: xs[xs.length - 1] + dx, y0: ys[0] - dy, y1: ys[ys.length - 1] + dy };
  }

  px(a) { const e = this.ext; return this.box.x + ((a - e.x0) / (e.x1 - e.x0)) * this.box.w; }
  py(b) { const e = this.ext; return this.box.y + this.box.h - ((b - e.y0) / (e.y1 - e.y0)) * this.box.h; }

  big() { return document.documentElement.classList.contains("presenter"); }

  /** Size both canvases and draw the base (shading, contours, axes) and the paths. */
  draw() {
    const w = this.stage.clientWidth;
    this.stage.hidden = !this.landscape;
    if (!w || !this.landscape) { this.drawLegend(); return; }
    const big = this.big(), pad = big ? { ...PAD, left: 68, bottom: 56 } : PAD;
    // As large as the column allows, up to most of the window's height (a projector's picture stays whole on screen).
    const side = Math.max(120, Math.min(w - pad.left - pad.right, big ? 760 : 520, Math.round(window.innerHeight * 0.72)));
    const hgt = side + pad.top + pad.bottom;
    const dpr = window.devicePixelRatio || 1;
    for (const cv of [this.base, this.over]) {
      cv.width = Math.round(w * dpr); cv.height = Math.round(hgt * dpr); cv.style.height = `${hgt}px`;
    }
    this.stage.style.height = `${hgt}px`;
    this.box = { x: pad.left, y: pad.top, w: side, h: side };
    this.ext = this.extent();
    this.w = w; this.h = hgt; this.dpr = dpr;
    const g = this.base.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.imageSmoothingEnabled = true; g.imageSmoothingQuality = "high";
    const { x, y, w: bw, h: bh } = this.box;
    g.drawImage(this.image, x, y, bw, bh);
    // Contour lines: dark over the bright end of the scale, light over the dark end.
    g.lineWidth = big ? 1.4 : 1;
    for (const s of this.segments) {
      g.strokeStyle = s.t > 0.6 ? "rgba(20,20,30,0.55)" : "rgba(255,255,255,0.55)";
      g.beginPath();
      for (const [a0, b0, a1, b1] of s.list) { g.moveTo(this.px(a0), this.py(b0)); g.lineTo(this.px(a1), this.py(b1)); }
      g.stroke();
    }
    g.strokeStyle = "#888"; g.lineWidth = 1; g.strokeRect(x + 0.5, y + 0.5, bw - 1, bh - 1);
    // The slice's centre: where the weights were when it was computed.
    const cx = this.px(0), cy = this.py(0);
    g.strokeStyle = "rgba(255,255,255,0.9)"; g.lineWidth = 1.5;
    g.beginPath(); g.moveTo(cx - 6, cy); g.lineTo(cx + 6, cy); g.moveTo(cx, cy - 6); g.lineTo(cx, cy + 6); g.stroke();
    // Axes.
    const fs = big ? 16 : 11;
    g.font = `${fs}px system-ui, sans-serif`; g.fillStyle = "#333";
    const e = this.ext, ls = this.landscape;
    const xt = niceTicks(ls.alphas[0], ls.alphas[ls.alphas.length - 1]), yt = niceTicks(ls.betas[0], ls.betas[ls.betas.length - 1]);
    g.textAlign = "center"; g.textBaseline = "top";
    for (const t of xt) if (t >= e.x0 && t <= e.x1) { const X = this.px(t); g.fillRect(X, y + bh, 1, 4); g.fillText(fmt(t, 3), X, y + bh + 5); }
    g.textAlign = "right"; g.textBaseline = "middle";
    for (const t of yt) if (t >= e.y0 && t <= e.y1) { const Y = this.py(t); g.fillRect(x - 4, Y, 4, 1); g.fillText(fmt(t, 3), x - 6, Y); }
    g.textAlign = "center"; g.textBaseline = "bottom";
    g.fillText(this.axisNames[0], x + bw / 2, hgt - 2);
    g.save(); g.translate(fs * 0.8, y + bh / 2); g.rotate(-Math.PI / 2); g.textBaseline = "middle"; g.fillText(this.axisNames[1], 0, 0); g.restore();
    this.baseDraws++;
    this.drawLegend();
    this.drawPaths();
  }

  /** The paths, the current point and the hovered grid point: the only drawing a frame does. */
  drawPaths() {
    if (!this.landscape || !this.box) return;
    const g = this.over.getContext("2d"), { x, y, w: bw, h: bh } = this.box, big = this.big();
    g.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    g.clearRect(0, 0, this.w, this.h);
    g.save();
    g.beginPath(); g.rect(x, y, bw, bh); g.clip();
    g.lineJoin = "round"; g.lineCap = "round";
    this.outside = [];
    // The race's paths under the live one, each cased so it reads over any colour.
    for (const p of [...this.paths].reverse()) {
      const pts = p.points.filter((q) => q && Number.isFinite(q[0]) && Number.isFinite(q[1]));
      if (!pts.length) continue;
      const width = (p.key === "live" ? 2.5 : 2) * (big ? 1.4 : 1);
      for (const [stroke, lw] of [[p.casing || "rgba(0,0,0,0.75)", width + 2.5], [p.color, width]]) {
        g.strokeStyle = stroke; g.lineWidth = lw;
        g.beginPath();
        pts.forEach(([a, b], i) => (i ? g.lineTo(this.px(a), this.py(b)) : g.moveTo(this.px(a), this.py(b))));
        g.stroke();
      }
      const [a, b] = pts[pts.length - 1], X = this.px(a), Y = this.py(b), r = (p.key === "live" ? 6 : 4.5) * (big ? 1.3 : 1);
      g.fillStyle = p.color; g.strokeStyle = p.casing || "#111"; g.lineWidth = 2;
      g.beginPath(); g.arc(X, Y, r, 0, 2 * Math.PI); g.fill(); g.stroke();
      if (X < x || X > x + bw || Y < y || Y > y + bh) this.outside.push(p.key);
    }
    if (this.hovered) {
      const { m, k } = this.hovered, X = this.px(this.landscape.alphas[m]), Y = this.py(this.landscape.betas[k]);
      g.strokeStyle = "#fff"; g.lineWidth = 2; g.strokeRect(X - 5, Y - 5, 10, 10);
      g.strokeStyle = "#111"; g.lineWidth = 1; g.strokeRect(X - 6.5, Y - 6.5, 13, 13);
    }
    g.restore();
    // A path that has left the slice: an arrow on the frame's edge, pointing where it went.
    for (const p of this.paths) {
      if (!this.outside.includes(p.key)) continue;
      const last = p.points[p.points.length - 1];
      const X = Math.max(x, Math.min(x + bw, this.px(last[0]))), Y = Math.max(y, Math.min(y + bh, this.py(last[1])));
      const ang = Math.atan2(this.py(last[1]) - (y + bh / 2), this.px(last[0]) - (x + bw / 2));
      g.fillStyle = p.color; g.strokeStyle = "#111"; g.lineWidth = 1.5;
      g.beginPath();
      g.moveTo(X + 9 * Math.cos(ang), Y + 9 * Math.sin(ang));
      g.lineTo(X + 9 * Math.cos(ang + 2.5), Y + 9 * Math.sin(ang + 2.5));
      g.lineTo(X + 9 * Math.cos(ang - 2.5), Y + 9 * Math.sin(ang - 2.5));
      g.closePath(); g.fill(); g.stroke();
    }
    this.overDraws++;
    const live = this.paths.find((p) => p.key === "live");
    const now = live?.points[live.points.length - 1];
    this.over.setAttribute("aria-label", `Loss landscape, ${this.landscape.alphas.length} by ${this.landscape.betas.length} points`
      + (now ? `; the weights now at a = ${fmt(now[0], 4)}, b = ${fmt(now[1], 4)}` : ""));
  }

  /** The grid point nearest the pointer. */
  hover(ev) {
    if (!this.landscape || !this.box) return;
    const r = this.over.getBoundingClientRect(), X = ev.clientX - r.left, Y = ev.clientY - r.top;
    const { x, y, w: bw, h: bh } = this.box;
    if (X < x || X > x + bw || Y < y || Y > y + bh) { if (this.hovered) { this.hovered = null; this.onHover(null); this.drawPaths(); } return; }
    const ls = this.landscape, e = this.ext;
    const a = e.x0 + ((X - x) / bw) * (e.x1 - e.x0), b = e.y0 + ((y + bh - Y) / bh) * (e.y1 - e.y0);
    const near = (vals, v) => { let best = 0; vals.forEach((u, i) => { if (Math.abs(u - v) < Math.abs(vals[best] - v)) best = i; }); return best; };
    const m = near(ls.alphas, a), k = near(ls.betas, b);
    if (this.hovered && this.hovered.m === m && this.hovered.k === k) return;
    this.hovered = { m, k };
    this.onHover(this.pointAt(m, k));
    this.drawPaths();
  }

  key(ev) {
    const d = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[ev.key];
    if (!d || !this.landscape) return;
    ev.preventDefault();
    const r = this.landscape.alphas.length, rows = this.landscape.betas.length;
    const at = this.hovered ?? { m: Math.floor(r / 2) - d[0], k: Math.floor(rows / 2) - d[1] };
    this.hoverAt(Math.max(0, Math.min(r - 1, at.m + d[0])), Math.max(0, Math.min(rows - 1, at.k + d[1])));
  }

  /** Grid point (column m, row k): its coordinates and loss as the server sent them. */
  pointAt(m, k) {
    const ls = this.landscape;
    return { m, k, a: ls.alphas[m], b: ls.betas[k], loss: ls.loss[k][m] };
  }

  /** Hover grid point (m, k) as a pointer there would (tests, and the keyboard readout). */
  hoverAt(m, k) {
    this.hovered = { m, k };
    this.onHover(this.pointAt(m, k));
    this.drawPaths();
    const X = this.px(this.landscape.alphas[m]), Y = this.py(this.landscape.betas[k]);
    return { x: X, y: Y };
  }

  drawLegend() {
    const s = this.scale;
    if (!this.landscape || !s) { fill(this.legend, this.landscape ? h("span", { class: "muted" }, "Every loss on this slice is infinite or not a number.") : null); return; }
    const bar = h("canvas", { class: "ls-bar", width: "160", height: "12", "aria-hidden": "true" });
    const g = bar.getContext("2d");
    for (let i = 0; i < 160; i++) { g.fillStyle = scaleColor(i / 159); g.fillRect(i, 0, 1, 12); }
    const keys = this.paths.map((p) => h("span", { class: "ls-key" }, h("span", { class: "ls-swatch", dataset: { key: p.key } }), p.label));
    keys.forEach((k, i) => { k.firstChild.style.backgroundColor = this.paths[i].color; });
    fill(this.legend,
      h("span", { class: "ls-scale" },
        h("span", { class: "num", title: String(s.lo) }, fmt(s.lo, 4)), bar, h("span", { class: "num", title: String(s.hi) }, fmt(s.hi, 4))),
      h("span", { class: "muted" }, `training loss${s.log ? ", log scale" : ""}; lines: ${LEVELS - 1} levels; +: the slice's centre`),
      this.landscape.loss.some((row) => row.some((v) => v === null || !Number.isFinite(v))) ? h("span", { class: "ls-nan" }, "grey: not finite") : null,
      keys);
  }
}
