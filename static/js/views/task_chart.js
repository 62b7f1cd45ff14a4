// The transfer lab's two charts, one class: "Learning task B" (this run's
// held-out accuracy beside the compared run's: fine-tuned against from
// scratch, or two ways from the same start) and "Forgetting task A" (the
// accuracy on the previous task's test points while training on B). Regression
// has no accuracy: the charts then draw the loss. Hovering gives the exact
// values in the legend.
import uPlot from "../../vendor/uPlot-1.6.32.esm.js";

const C_OWN = "#0072B2", C_OTHER = "#6b4f00";
const MAX_POINTS = 2000;

/** Every other row past MAX_POINTS (the last kept): a long run stays quick to draw. */
function thin(cols) {
  const n = cols[0].length;
  if (n <= MAX_POINTS) return cols;
  const stride = Math.ceil(n / MAX_POINTS);
  return cols.map((c) => c.filter((_, i) => i % stride === 0 || i === n - 1));
}

export class TaskChart {
  /** el: where the chart goes (the series' labels come with the data, see set). */
  constructor(el) {
    this.el = el;
    this.labels = ["This run", "Compared run"];
    this.yName = "accuracy";
    this.dirty = true; this.last = 0;
    this.data = { own: [[], []], other: [[], []] };
    this.plot = this.make();
    new ResizeObserver(() => this.resize()).observe(el);
  }

  make() {
    const exactValue = (u, v, si, idx) => (idx === null || idx === undefined ? "" : v === null || v === undefined ? "—" : String(v));
    const big = document.documentElement.classList.contains("presenter");
    const font = `${big ? 15 : 11}px system-ui, sans-serif`;
    const axis = (label) => ({ label, size: big ? 56 : 44, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } });
    const acc = () => this.yName === "accuracy";
    this.el.textContent = "";
    return new uPlot({
      width: Math.max(200, this.el.clientWidth || 300), height: big ? 200 : 150,
      scales: { x: { time: false }, y: { range: (u, lo, hi) => (acc() ? [0, 1] : [0, Math.max(hi ?? 1, 1e-9) * 1.05]) } },
      axes: [axis("step"), axis(this.yName)],
      series: [{ label: "step", value: exactValue },
        { label: this.labels[0], stroke: C_OWN, width: 2.5, value: exactValue, spanGaps: true },
        { label: this.labels[1], stroke: C_OTHER, width: 2, dash: [10, 4], value: exactValue, spanGaps: true }],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    }, [[], [], []], this.el);
  }

  /**
   * own, other: {step: [...], y: [...]} (other may be null: no comparison); labels: the two series' names;
   * yName: "accuracy" or "loss".
   */
  set(own, other, labels, yName) {
    this.data = { own: [own.step, own.y], other: other ? [other.step, other.y] : [[], []] };
    if (yName !== this.yName) { this.yName = yName; this.plot.destroy(); this.plot = this.make(); }
    labels.forEach((text, k) => this.rename(k + 1, text));
    this.dirty = true;
  }

  rename(i, text) {
    const u = this.plot;
    if (u.series[i].label === text) return;
    u.series[i].label = text;
    const el = u.root.querySelectorAll(".u-legend .u-series")[i]?.querySelector(".u-label");
    if (el) el.textContent = text;
  }

  /** Called once per animation frame: data to uPlot at most ~5 times a second. */
  tick(now) {
    if (!this.dirty || now - this.last < 200) return;
    this.flush();
    this.last = now;
  }

  flush() {
    this.dirty = false;
    const d = this.data;
    const joined = uPlot.join([thin(d.own), thin(d.other)]);
    const u = this.plot;
    const hasOther = d.other[1].some((v) => v !== null && v !== undefined);   // a run with nothing to show leaves the legend
    if (u.series[2].show !== hasOther) u.setSeries(2, { show: hasOther });
    const entry = u.root.querySelectorAll(".u-legend .u-series")[2];
    if (entry) entry.hidden = !hasOther;
    u.setData(joined);
  }

  /** The values drawn now, per series ({label, pts: [[step, y]...]}): tests read them. */
  drawn() {
    const u = this.plot;
    return u.series.slice(1).map((s, k) => ({ label: s.label, show: s.show,
      pts: u.data[0].map((x, r) => [x, u.data[k + 1][r]]).filter((p) => p[1] !== null && p[1] !== undefined) }));
  }

  setPresenter() { this.plot.destroy(); this.plot = this.make(); this.dirty = true; this.flush(); }

  resize() {
    const w = Math.max(200, this.el.clientWidth);
    if (this.plot.width !== w) this.plot.setSize({ width: w, height: this.plot.height });
  }
}
