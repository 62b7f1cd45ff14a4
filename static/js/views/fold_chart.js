// Cross-validation's curves: one validation-loss curve per fold over its epochs
// (uPlot), a fold added as it finishes. The legend shows every fold's exact value
// at the hovered epoch; hovering near a curve focuses it and tells onFocus(fold),
// so the card can ring that fold's points on the data view.
import uPlot from "../../vendor/uPlot-1.6.32.esm.js";

// Ten colours told apart with common colour-vision deficiencies (Okabe-Ito, then Tol's muted set).
export const FOLD_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#332288", "#882255", "#117733", "#6b6b6b"];

export class FoldChart {
  /** el: the element the plot goes in; onFocus(fold | null): a fold's curve was hovered (null: none). */
  constructor(el, onFocus = () => {}) {
    this.el = el;
    this.onFocus = onFocus;
    this.folds = [];   // {fold, curve: [val_loss per epoch]} in the order they finished
    this.plot = null;
    this.focused = null;
    new ResizeObserver(() => this.resize()).observe(el);
  }

  clear() { this.folds = []; this.build(); }

  /** A fold ended: its validation-loss curve joins the plot. */
  add(fold, valLoss) { this.folds.push({ fold, curve: valLoss }); this.build(); }

  /** The plot's rows: epoch 1..longest curve, one column per fold (null past a fold's last epoch). */
  data() {
    const n = Math.max(0, ...this.folds.map((f) => f.curve.length));
    const x = Array.from({ length: n }, (_, i) => i + 1);
    return [x, ...this.folds.map((f) => x.map((_, i) => (i < f.curve.length ? f.curve[i] : null)))];
  }

  build() {
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    this.el.textContent = "";
    const big = document.documentElement.classList.contains("presenter");
    const font = `${big ? 15 : 11}px system-ui, sans-serif`;
    const exactValue = (u, v, si, idx) => (idx === null || idx === undefined ? "" : v === null || v === undefined ? "—" : String(v));
    const axis = (label, size) => ({ label, size, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } });
    const opts = {
      width: this.width(), height: big ? 220 : 170,
      scales: { x: { time: false }, y: { range: (u, lo, hi) => [Math.min(0, lo ?? 0), (hi ?? 1) * 1.05 || 1] } },
      axes: [{ ...axis("epoch", big ? 44 : 36), incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, axis("validation loss", big ? 64 : 52)],
      series: [{ label: "epoch", value: exactValue },
        ...this.folds.map((f) => ({ label: `Fold ${f.fold + 1}`, stroke: FOLD_COLORS[f.fold % FOLD_COLORS.length], width: 2, value: exactValue, spanGaps: false }))],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, focus: { prox: 24 } },
      focus: { alpha: 0.35 },
      hooks: { setSeries: [(u, si) => this.focusSeries(si)] },
    };
    this.plot = new uPlot(opts, this.data(), this.el);
    this.plot.over.addEventListener("mouseleave", () => this.focusSeries(null));
  }

  focusSeries(si) {
    const fold = si === null || si === undefined || si < 1 ? null : this.folds[si - 1]?.fold ?? null;
    if (fold === this.focused) return;
    this.focused = fold;
    this.onFocus(fold);
  }

  width() { return Math.max(200, this.el.clientWidth || 300); }

  resize() {
    if (!this.plot) return;
    const w = this.width(), big = document.documentElement.classList.contains("presenter");
    const hgt = big ? 220 : 170;
    if (this.plot.width !== w || this.plot.height !== hgt) this.plot.setSize({ width: w, height: hgt });
  }

  /** The number of fold curves drawn. */
  get curves() { return this.plot ? this.plot.series.length - 1 : 0; }
}
