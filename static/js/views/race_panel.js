// The optimizer race: any two to five of SGD, momentum, Nesterov, Adam and
// RMSprop, each with its own hyperparameters, train copies of the network from
// the live weights on the same batches (a background job, kind "race"). Their
// loss curves share one chart; their paths go on the landscape (projected like
// the live weights), so what momentum does to the trajectory is seen side by side.
import uPlot from "../../vendor/uPlot-1.6.32.esm.js";
import { h, fill } from "../dom.js";
import { fmt } from "../format.js";
import { JobPart } from "./job_part.js";
import { parseNumber, parseCount, checked } from "./optimizer_inputs.js";

export const RACERS = ["sgd", "momentum", "nesterov", "adam", "rmsprop"];
// Okabe-Ito: told apart with colour-vision deficiencies, and away from the landscape's viridis.
export const RACE_COLORS = { sgd: "#E69F00", momentum: "#56B4E9", nesterov: "#009E73", adam: "#D55E00", rmsprop: "#CC79A7" };
const DEFAULT_ON = ["sgd", "momentum", "adam"];
const FIELD_LABELS = { lr: "lr", momentum: "μ", beta1: "β₁", beta2: "β₂", rho: "ρ" };
const FIELD_NAMES = { lr: "learning rate", momentum: "momentum", beta1: "beta1", beta2: "beta2", rho: "rho" };
const MAX_UPDATES = 5000;

export class RacePanel extends JobPart {
  /** send(msg); vocab: the server's vocabulary (labels, bounds, which hyperparameters each optimizer reads). */
  constructor({ send, vocab }) {
    super({ kind: "race", request: "race", title: "Optimizer race", id: "ol-race", send, what: "race" });
    this.vocab = vocab;
    this.run.textContent = "Start the race";
    this.onPaths = () => {};
    this.racers = [];          // [{name, optimizer, losses, flat: [Float64Array...], final_loss, train_acc}]
    this.rows = {};
    const names = vocab.values("optimizer").filter((n) => RACERS.includes(n));
    const list = h("div", { class: "ol-racers" });
    for (const name of names) {
      const fields = vocab.hyperOf(name).filter((f) => f in FIELD_LABELS);
      const box = h("input", { type: "checkbox", id: `ol-r-${name}`, checked: DEFAULT_ON.includes(name) });
      const inputs = {};
      const cells = fields.map((f) => {
        const id = `ol-r-${name}-${f}`;
        inputs[f] = h("input", { type: "text", id, inputmode: "decimal", spellcheck: "false", autocomplete: "off", class: "ol-hp", value: String(vocab.defaults.hyper[f]),
          oninput: (ev) => { ev.target.dataset.typed = "1"; } });
        return h("label", { class: "ol-hp-field", for: id, title: FIELD_NAMES[f] }, h("span", null, FIELD_LABELS[f]), inputs[f]);
      });
      const swatch = h("span", { class: "ol-swatch", "aria-hidden": "true" });
      swatch.style.backgroundColor = RACE_COLORS[name];
      list.append(h("div", { class: "ol-racer" }, h("label", { class: "ol-racer-name", for: box.id }, box, swatch, vocab.label("optimizer", name)), h("div", { class: "ol-hps" }, cells)));
      this.rows[name] = { box, inputs, fields };
    }
    this.updates = h("input", { type: "text", id: "ol-r-updates", value: "200", inputmode: "numeric", autocomplete: "off" });
    this.chartEl = h("div", { class: "ol-race-chart" });
    this.table = h("div", { class: "ol-race-table" });
    this.pathNote = h("p", { class: "muted ol-note" }, "Their paths are drawn on the landscape above once one is computed.");
    this.root = h("div", { class: "lj-part ol-part", role: "group", "aria-labelledby": "h-ol-race" },
      this.heading,
      h("p", { class: "muted lj-help" }, "Each optimizer trains its own copy from the live weights, with its state at zero, on the same mini-batches in the same order; the live run is not touched."),
      this.form([list, h("div", { class: "lj-fields" },
        h("label", { for: "ol-r-updates" }, "Updates (1 to 5000)"), h("div", { class: "lj-pair" }, this.updates))], "Race settings"),
      this.status, this.progress, this.chartEl, this.table, this.pathNote);
    this.plot = null;
    new ResizeObserver(() => { if (this.plot) this.plot.setSize(this.size()); }).observe(this.chartEl);
  }

  /** The live session's hyperparameters become each row's starting values (until the user types their own). */
  setHyper(hyper) {
    for (const { inputs } of Object.values(this.rows)) {
      for (const [f, el] of Object.entries(inputs)) if (!el.dataset.typed && hyper[f] !== undefined) el.value = String(hyper[f]);
    }
  }

  message() {
    for (const el of [this.updates, ...Object.values(this.rows).flatMap((r) => Object.values(r.inputs))]) el.removeAttribute("aria-invalid");
    const contenders = [];
    for (const [name, row] of Object.entries(this.rows)) {
      if (!row.box.checked) continue;
      const c = { optimizer: name };
      for (const f of row.fields) {
        const b = this.vocab.bounds(f), el = row.inputs[f], label = `${this.vocab.label("optimizer", name)}: ${FIELD_NAMES[f]}`;
        c[f] = checked([el], () => parseNumber(el.value, label, { min: b.min, max: b.max, openMin: f === "lr" && b.min === 0 }));
      }
      contenders.push(c);
    }
    if (contenders.length < 2) throw new Error(`Tick at least two optimizers to race (${contenders.length} ticked).`);
    const updates = checked([this.updates], () => parseCount(this.updates.value, "Updates", { min: 1, max: MAX_UPDATES }));
    return { type: "race", contenders, updates };
  }

  begin(msg) {
    this.plan = msg;
    this.racers = msg.contenders.map((c) => ({ ...c, name: this.vocab.label("optimizer", c.optimizer), losses: [], flat: [], proj: [], final_loss: null, train_acc: null }));
    this.build();
    fill(this.table);
    this.setProgress(0, msg.updates * this.racers.length, `0 of ${msg.updates} updates`);
    this.onPaths();
  }

  event(ev) {
    if (!("contender" in ev)) return;
    const r = this.racers[ev.contender];
    if (!r) return;
    if (ev.losses) r.losses.push(...ev.losses);
    if (ev.path) for (const p of ev.path) r.flat.push(Float64Array.from(p));
    const done = this.racers.reduce((a, x) => a + x.losses.length, 0);
    this.setProgress(done, this.plan.updates * this.racers.length, `${this.vocab.label("optimizer", r.optimizer)}: ${ev.done ?? r.losses.length} of ${this.plan.updates} updates`);
    this.flush();
    this.onPaths();
  }

  done(result) {
    result.contenders.forEach((c, i) => {
      const r = this.racers[i];
      if (!r) return;
      r.losses = c.losses; r.flat = (c.path || []).map((p) => Float64Array.from(p));
      r.final_loss = c.final_loss; r.train_acc = c.train_acc ?? null;
    });
    this.setProgress(1, 1, `${this.plan.updates} updates each`);
    this.flush();
    this.showTable();
    this.onPaths();
  }

  size() {
    const big = document.documentElement.classList.contains("presenter");
    return { width: Math.max(220, this.chartEl.clientWidth || 320), height: big ? 260 : 190 };
  }

  /** One chart: a loss curve per contender over the updates. */
  build() {
    if (this.plot) this.plot.destroy();
    const exactValue = (u, v, si, idx) => (idx === null || idx === undefined ? "" : v === null || v === undefined ? "—" : String(v));
    const big = document.documentElement.classList.contains("presenter");
    const font = `${big ? 15 : 11}px system-ui, sans-serif`;
    this.plot = new uPlot({
      ...this.size(),
      scales: { x: { time: false }, y: { range: (u, lo, hi) => [0, Math.max(hi ?? 1, 1e-9) * 1.05] } },
      axes: [{ label: "update", size: big ? 44 : 36, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } },
        { label: "batch loss", size: big ? 64 : 52, labelSize: big ? 18 : 14, font, labelFont: `bold ${font}`, stroke: "#555", grid: { stroke: "#eee" } }],
      series: [{ label: "update", value: exactValue },
        ...this.racers.map((r) => ({ label: r.name, stroke: RACE_COLORS[r.optimizer], width: 2, value: exactValue, spanGaps: true }))],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    }, [[], ...this.racers.map(() => [])], this.chartEl);
  }

  /** The curves as they are now (a few times a second at most: events come thinned). */
  flush() {
    if (!this.plot) return;
    const n = Math.max(0, ...this.racers.map((r) => r.losses.length));
    const xs = Array.from({ length: n }, (_, k) => k + 1);
    this.plot.setData([xs, ...this.racers.map((r) => xs.map((_, k) => (Number.isFinite(r.losses[k]) ? r.losses[k] : null)))]);
  }

  /** How many curves the chart has with at least one point (tests read it). */
  get curves() { return this.racers.filter((r) => r.losses.some((v) => Number.isFinite(v))).length; }

  showTable() {
    const num = (x, d = 5) => (x === null || x === undefined ? h("span", { class: "lj-diverged" }, "diverged") : h("span", { class: "num", title: String(x) }, fmt(x, d)));
    fill(this.table, h("table", { class: "lj-folds" },
      h("caption", null, "After the race: on the whole training set"),
      h("thead", null, h("tr", null, h("th", null, "Optimizer"), h("th", null, "Final loss"), h("th", null, "Training accuracy"))),
      h("tbody", null, this.racers.map((r, i) => {
        const sw = h("span", { class: "lj-swatch" }); sw.style.backgroundColor = RACE_COLORS[r.optimizer];
        return h("tr", { dataset: { i: String(i) } }, h("td", null, sw, r.name), h("td", null, num(r.final_loss)), h("td", null, r.train_acc === null ? "—" : num(r.train_acc, 4)));
      }))));
  }

  /**
   * The contenders' paths projected by `proj(flat) -> [a, b] | null` onto `slice` (the server's first point is the
   * start). Each point is projected once per slice: a frame redraws the paths without projecting them again.
   */
  paths(proj, slice) {
    return this.racers.map((r) => {
      if (r.projSlice !== slice || r.projFlat !== r.flat || r.proj.length > r.flat.length) { r.projSlice = slice; r.projFlat = r.flat; r.proj = []; }
      for (let k = r.proj.length; k < r.flat.length; k++) r.proj.push(proj(r.flat[k]));
      return { key: `race:${r.optimizer}`, label: r.name, color: RACE_COLORS[r.optimizer], casing: "rgba(0,0,0,0.8)", points: r.proj.filter(Boolean) };
    }).filter((p) => p.points.length > 1);
  }
}
