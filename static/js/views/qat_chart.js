// The quantized model beside the full-precision one over training: from the
// epoch rows (`test_acc` and `quant_test_acc`, the losses for a regression),
// so quantization-aware fine-tuning shows as the quantized curve climbing back.
// While a validation split holds the test set back, the training accuracies
// (`train_acc`, `quant_train_acc`) stand in for the test ones.
import uPlot from "../../vendor/uPlot-1.6.32.esm.js";

const MAX_POINTS = 1000;
const FLUSH_MS = 250;
const C_FULL = "#0072B2", C_QUANT = "#D55E00", C_QTRAIN = "#CC79A7";

export class QatChart {
  /** reveal: {test}, shared with the metrics: whether the held-back test set is shown. */
  constructor(root, reveal = { test: true }) {
    this.root = root; this.reveal = reveal;
    this.task = null; this.held = false;
    this.reset();
    this.plot = null;
    this.lastFlush = -Infinity; this.flushes = 0;
    new ResizeObserver(() => { if (this.plot) this.plot.setSize(this.size()); }).observe(root);
  }

  size() {
    const big = document.documentElement.classList.contains("presenter");
    return { width: Math.max(220, this.root.clientWidth || 320), height: big ? 220 : 170 };
  }

  /** The plot for a task: accuracy (classification) or loss (regression), made again when that changes. */
  build(task, held = this.held) {
    const acc = task !== "regression";
    if (this.plot && this.task === task && this.held === held) return;
    this.task = task; this.held = held;
    if (this.plot) this.plot.destroy();
    const exactValue = (u, v, si, idx) => (idx === null || idx === undefined ? "" : v === null || v === undefined ? "—" : String(v));
    const big = document.documentElement.classList.contains("presenter");
    const font = `${big ? 15 : 11}px system-ui, sans-serif`;
    const what = acc ? "accuracy" : "loss";
    this.names = held ? ["Full precision: training accuracy", "Quantized: training accuracy", "(the test set is held back)"]
      : acc ? ["Full precision: test accuracy", "Quantized: test accuracy", "Quantized: training accuracy"]
        : ["Full precision: test loss", "Quantized: test loss", "(no accuracy for a regression)"];
    this.plot = new uPlot({
      ...this.size(),
      scales: { x: { time: false }, y: { range: (u, lo, hi) => (acc ? [Math.min(0.4, lo ?? 0), 1] : [0, Math.max(hi ?? 1, 1e-9) * 1.05]) } },
      axes: [{ label: "step", size: big ? 44 : 36, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } },
        { label: what, size: big ? 64 : 52, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } }],
      series: [{ label: "step", value: exactValue },
        { label: this.names[0], stroke: C_FULL, width: 2, value: exactValue, spanGaps: true },
        { label: this.names[1], stroke: C_QUANT, width: 2.5, value: exactValue, spanGaps: false },
        { label: this.names[2], stroke: C_QTRAIN, width: 1.5, dash: [4, 3], value: exactValue, spanGaps: false, show: acc && !held }],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    }, [[], [], [], []], this.root);
  }

  reset() { this.rows = { step: [], full: [], quant: [], qtrain: [], ftrain: [] }; this.hasVal = false; this.dirty = true; }

  /** Epoch rows of a `history` message (replacing) or a frame's history (appended). */
  append(h, task) {
    this.build(task);
    const e = h?.epochs;
    if (!e || !e.step) return;
    const acc = task !== "regression", r = this.rows;
    for (let i = 0; i < e.step.length; i++) {
      r.step.push(e.step[i]);
      r.full.push((acc ? e.test_acc : e.test_loss)?.[i] ?? null);
      r.quant.push((acc ? e.quant_test_acc : e.quant_test_loss)?.[i] ?? null);
      r.qtrain.push(acc ? e.quant_train_acc?.[i] ?? null : null);
      r.ftrain.push(acc ? e.train_acc?.[i] ?? null : null);
      if (e.val_loss?.[i] !== null && e.val_loss?.[i] !== undefined) this.hasVal = true;
    }
    if (e.step.length) this.dirty = true;
  }

  /** Quantized rows so far (tests read them). */
  quantRows() { return this.rows.quant.filter((v) => v !== null).length; }

  /** Once per animation frame: hand the rows to the plot a few times a second. */
  tick(now) {
    const held = this.hasVal && !this.reveal.test && this.task !== "regression";
    if (held !== this.held) { this.build(this.task, held); this.dirty = true; }
    if (!this.dirty || !this.plot || now - this.lastFlush < FLUSH_MS) return;
    this.dirty = false; this.lastFlush = now; this.flushes++;
    const r = this.rows, n = r.step.length, none = r.step.map(() => null);
    const cols = held ? [r.step, r.ftrain, r.qtrain, none] : [r.step, r.full, r.quant, r.qtrain];
    if (n <= MAX_POINTS) { this.plot.setData(cols.map((c) => c.slice())); return; }
    const stride = n / MAX_POINTS, idx = [];
    for (let k = 0; k < MAX_POINTS - 1; k++) idx.push(Math.floor(k * stride));
    idx.push(n - 1);
    this.plot.setData(cols.map((c) => idx.map((i) => c[i])));
  }
}
