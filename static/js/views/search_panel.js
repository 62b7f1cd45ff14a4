// The hyperparameter-tuning part of the lab card: a grid (lists of learning
// rates, momenta and, optionally, batch sizes) or random draws (n trials over
// ranges), epochs, Run and Cancel, progress, and the heatmap (grid) or scatter
// (random) of every trial's validation loss. Clicking a cell loads its
// configuration into the live session (an ordinary set_hyper).
import { h } from "../dom.js";
import { JobPart } from "./job_part.js";
import { JobHeatmap } from "./job_heatmap.js";
import { EPOCHS_RANGE, MAX_TRIALS, parseList, parseSpan, parseWhole, logSteps } from "./lab_inputs.js";

const HINT = "Hover or focus a cell for its exact values and score; click it (or press Enter) to load that configuration into the live session.";

export class SearchPanel extends JobPart {
  constructor({ send, load }) {
    super({ kind: "search", request: "search", title: "Hyperparameter search", id: "lj-search", send, what: "search" });
    this.load = load;
    this.run.textContent = "Run search";
    const text = (id, value, extra = {}) => h("input", { type: "text", id, value, spellcheck: "false", autocomplete: "off", ...extra });
    const whole = (id, value, min, max) => h("input", { type: "number", id, value, min: String(min), max: String(max), step: "1", inputmode: "numeric" });
    this.inputs = {
      lrList: text("lj-s-lr", logSteps(0.001, 1, 6).join(", ")),
      momList: text("lj-s-mom", "0, 0.5, 0.8, 0.9, 0.95, 0.99"),
      batchList: text("lj-s-batch", "", { placeholder: "unchanged" }),
      trials: whole("lj-s-trials", "20", 1, MAX_TRIALS),
      lrLo: text("lj-s-lr-lo", "0.001", { inputmode: "decimal" }), lrHi: text("lj-s-lr-hi", "1", { inputmode: "decimal" }),
      momLo: text("lj-s-mom-lo", "0", { inputmode: "decimal" }), momHi: text("lj-s-mom-hi", "0.99", { inputmode: "decimal" }),
      batchLo: text("lj-s-batch-lo", "", { inputmode: "numeric", placeholder: "unchanged" }),
      batchHi: text("lj-s-batch-hi", "", { inputmode: "numeric", placeholder: "unchanged" }),
      epochs: whole("lj-s-epochs", "20", EPOCHS_RANGE.min, EPOCHS_RANGE.max),
    };
    const i = this.inputs;
    const radio = (value, label, checked) => h("label", { class: "lj-radio" },
      h("input", { type: "radio", name: "lj-s-mode", value, checked, onchange: () => this.showMode() }), label);
    this.modeBox = h("fieldset", { class: "lj-mode" }, h("legend", null, "Search"), radio("grid", "Grid: every combination", true), radio("random", "Random draws", false));
    const row = (id, label, ...inputs) => [h("label", { for: id }, label), h("div", { class: "lj-pair" }, inputs)];
    this.gridBox = h("div", { class: "lj-fields" },
      row("lj-s-lr", "Learning rates", i.lrList), row("lj-s-mom", "Momenta", i.momList), row("lj-s-batch", "Batch sizes (optional)", i.batchList));
    this.randomBox = h("div", { class: "lj-fields", hidden: true },
      row("lj-s-trials", "Trials (1 to 100)", i.trials),
      row("lj-s-lr-lo", "Learning rate from … to (log scale)", i.lrLo, h("span", { "aria-hidden": "true" }, "to"), i.lrHi),
      row("lj-s-mom-lo", "Momentum from … to", i.momLo, h("span", { "aria-hidden": "true" }, "to"), i.momHi),
      row("lj-s-batch-lo", "Batch size from … to (optional)", i.batchLo, h("span", { "aria-hidden": "true" }, "to"), i.batchHi));
    i.lrHi.setAttribute("aria-label", "Learning rate, high end"); i.momHi.setAttribute("aria-label", "Momentum, high end");
    i.batchHi.setAttribute("aria-label", "Batch size, high end");
    this.readout = h("p", { class: "lj-readout", hidden: true }, HINT);   // shown with the trials
    this.loaded = h("p", { class: "lj-loaded", role: "status", "aria-live": "polite" });
    this.mapEl = h("div", { class: "lj-heatmap" });
    this.heatmap = new JobHeatmap(this.mapEl, {
      onPick: (values) => this.pick(values),
      onHover: (text) => { this.readout.textContent = text ?? HINT; this.hoverText = text; },
    });
    this.root = h("div", { class: "lj-part", role: "group", "aria-labelledby": "h-lj-search" },
      this.heading,
      h("p", { class: "muted lj-help" }, "Every trial trains a copy of the network from the live run's initial weights, so the comparison is fair, and is scored on the validation split."),
      this.form([this.modeBox, this.gridBox, this.randomBox, h("div", { class: "lj-fields" }, row("lj-s-epochs", "Epochs per trial (1 to 2000)", i.epochs))], "Search settings"),
      this.status, this.progress, this.mapEl, this.readout, this.loaded, this.csv);
  }

  get mode() { return this.modeBox.querySelector("input:checked").value; }

  showMode() {
    this.gridBox.hidden = this.mode !== "grid";
    this.randomBox.hidden = this.mode !== "random";
  }

  message() {
    for (const el of Object.values(this.inputs)) el.removeAttribute("aria-invalid");
    const i = this.inputs;
    const check = (inputs, read) => {
      try { return read(); } catch (err) { for (const el of inputs) el.setAttribute("aria-invalid", "true"); inputs[0].focus(); throw err; }
    };
    const space = {};
    let trials;
    if (this.mode === "grid") {
      space.lr = check([i.lrList], () => parseList(i.lrList.value, "lr"));
      space.momentum = check([i.momList], () => parseList(i.momList.value, "momentum"));
      const batch = check([i.batchList], () => parseList(i.batchList.value, "batch_size", true));
      if (batch) space.batch_size = batch;
      const n = Object.values(space).reduce((a, v) => a * v.length, 1);
      if (n > MAX_TRIALS) check([i.lrList, i.momList], () => { throw new Error(`The grid has ${n} combinations; at most ${MAX_TRIALS} are allowed: list fewer values.`); });
    } else {
      trials = check([i.trials], () => parseWhole(i.trials.value, "Trials", { min: 1, max: MAX_TRIALS }));
      space.lr = check([i.lrLo, i.lrHi], () => parseSpan(i.lrLo.value, i.lrHi.value, "lr"));
      space.momentum = check([i.momLo, i.momHi], () => parseSpan(i.momLo.value, i.momHi.value, "momentum"));
      const batch = check([i.batchLo, i.batchHi], () => parseSpan(i.batchLo.value, i.batchHi.value, "batch_size", true));
      if (batch) space.batch_size = batch;
    }
    const epochs = check([i.epochs], () => parseWhole(i.epochs.value, "Epochs", EPOCHS_RANGE));
    return { type: "search", mode: this.mode, space, ...(trials !== undefined ? { trials } : {}), epochs };
  }

  begin(msg) {
    this.plan = { ...msg, n: msg.mode === "grid" ? Object.values(msg.space).reduce((a, v) => a * v.length, 1) : msg.trials };
    this.done_ = 0;
    this.heatmap.clear();
    this.loaded.textContent = "";
    this.setProgress(0, this.plan.n * msg.epochs, `0 of ${this.plan.n} trials`);
  }

  event(ev) {
    const { n, epochs } = this.plan;
    if (ev.trials) {
      this.plan.n = ev.trials.length;
      this.heatmap.setTrials(this.plan.mode, ev.trials);
      this.readout.hidden = false;
      this.setProgress(0, this.plan.n * epochs, `0 of ${this.plan.n} trials`);
    } else if ("trial" in ev && "epoch" in ev) {
      this.setProgress(ev.trial * epochs + ev.epoch, n * epochs, `Trial ${ev.trial + 1} of ${n}, epoch ${ev.epoch} of ${epochs}`);
    } else if (ev.trial_done) {
      const t = ev.trial_done;
      this.done_++;
      this.heatmap.setScore(t.trial, t.score, t.diverged);
      this.setProgress(this.done_ * epochs, n * epochs, `${this.done_} of ${n} trials done`);
    }
  }

  done(result) {
    result.trials.forEach((t, k) => { this.heatmap.scores[k] = { score: t.score, diverged: t.score === null }; });
    this.heatmap.setBest(result.best);
    this.setProgress(1, 1, `${result.trials.length} of ${result.trials.length} trials done`);
    if (result.best === null) this.loaded.textContent = "Every trial diverged: try smaller learning rates.";
  }

  /** Load a cell's configuration into the live session. */
  pick(values) {
    const fields = {};
    for (const name of ["lr", "momentum", "batch_size"]) if (name in values) fields[name] = values[name];
    if (!Object.keys(fields).length) return;
    this.send({ type: "set_hyper", ...fields });
    this.loaded.textContent = `Loaded into the live session: ${Object.entries(fields).map(([k, v]) => `${k === "lr" ? "learning rate" : k.replace("_", " ")} ${v}`).join(", ")}.`;
  }
}
