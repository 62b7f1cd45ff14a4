// Every control the user chooses with: transport (play, step, reset, speed),
// hyperparameters, data and features, layers. Controls never talk to the
// server: they dispatch "intent" events (protocol-shaped messages) and "ui"
// events (view-only settings), and update() reflects what frames say. Their
// menus, labels and slider ranges come from the server's vocabulary.
import { fmt, int } from "../format.js";
import { h, fill } from "../dom.js";
import { drawThumbnail } from "./thumbnails.js";

const $ = (id) => document.getElementById(id);

/** The log slider's value as a learning rate, rounded to 2 significant digits (0.0301 -> 0.03). */
export const lrFromSlider = (v) => Number((10 ** Number(v)).toPrecision(2));

/** Each menu of the page (element id) and the vocabulary's list it offers. */
const MENUS = { "step-unit": "step_unit", optimizer: "optimizer", activation: "activation", regularization: "regularization",
  reg_rate: "regularization_rate", task: "task", init: "init" };
/** The share of the data (percent) the test set always keeps. */
const MIN_TEST_SHARE = 10;
/** Each slider or number field of the page (element id = the vocabulary's range name). */
const SLIDERS = ["speed", "lr", "momentum", "beta1", "beta2", "rho", "batch_size", "dropout", "train_ratio", "val_ratio", "noise", "seed"];

export class ControlsView extends EventTarget {
  /** state: the page's State; vocab: the server's Vocabulary. */
  constructor(state, vocab) {
    super();
    this.state = state;
    this.vocab = vocab;
    this.speeds = vocab.values("speed");   // the speed slider's stops, updates per second (null: as fast as possible)
    this.playing = state.playing;
    this.buildMenus();
    this.buildDatasets();
    this.buildFeatures();
    this.buildPresets();
    this.bind();
  }

  intent(detail) { this.dispatchEvent(new CustomEvent("intent", { detail })); }
  ui(detail) { this.dispatchEvent(new CustomEvent("ui", { detail })); }

  /** Options and slider ranges, as the vocabulary has them (a slider starts at its default). */
  buildMenus() {
    for (const [id, key] of Object.entries(MENUS)) {
      fill($(id), this.vocab.choices(key).map((c) => h("option", { value: c.value }, c.label)));
    }
    for (const id of SLIDERS) {
      const el = $(id), r = this.vocab.range(id);
      el.min = r.min; el.max = r.max; el.step = r.step; el.value = r.default;
    }
    this.showSpeed(this.speeds[this.vocab.range("speed").default]);
    $("csv-max-rows").textContent = int(this.vocab.limits.max_points);
    $("csv-max-features").textContent = int(this.vocab.limits.max_features);
  }

  buildDatasets() {
    const box = $("datasets");
    for (const { value: name, label } of this.vocab.choices("dataset")) {
      const b = document.createElement("button");
      b.type = "button"; b.dataset.name = name; b.setAttribute("aria-pressed", "false");
      const cv = document.createElement("canvas");
      cv.setAttribute("aria-hidden", "true");
      drawThumbnail(cv, name);
      const span = document.createElement("span"); span.textContent = label;
      b.append(cv, span);
      b.addEventListener("click", () => this.intent({ type: "configure", config: { dataset: name } }));
      box.appendChild(b);
    }
    // Your own data: the file goes to the server (main.js), which names it.
    const b = document.createElement("button"), input = $("csv-file");
    b.type = "button"; b.id = "csv-upload"; b.dataset.name = "csv"; b.setAttribute("aria-pressed", "false");
    b.setAttribute("aria-describedby", "csv-rules");
    const cv = document.createElement("canvas");
    cv.setAttribute("aria-hidden", "true");
    drawThumbnail(cv, "csv");
    const span = document.createElement("span"); span.textContent = this.vocab.uploadedLabel;
    b.append(cv, span);
    b.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      const file = input.files[0];
      input.value = "";   // choosing the same file again is a new upload
      if (file) this.dispatchEvent(new CustomEvent("upload", { detail: file }));
    });
    box.appendChild(b);
  }

  /** Show the uploaded file's name on its button. */
  uploaded(fileName) {
    $("csv-upload").querySelector("span").textContent = fileName;
    $("csv-upload").title = `${fileName}: your data. Click to upload another CSV file.`;
  }

  buildFeatures() {
    const box = $("features");
    for (const { value: f, label: text } of this.vocab.choices("features")) {
      const input = h("input", { type: "checkbox", value: f }), label = h("label", null, input, " ", text);
      input.addEventListener("change", () => {
        const chosen = [...box.querySelectorAll("input:checked")].map((i) => i.value);
        if (!chosen.length) { input.checked = true; return; }
        this.intent({ type: "configure", config: { features: chosen } });
      });
      box.appendChild(label);
    }
  }

  /**
   * Quick network sizes: a menu beside the layer buttons. Each preset is one configure; the ones
   * past the vocabulary's limits are left out, and the largest allowed network is always offered.
   */
  buildPresets() {
    const { max_layers: maxL, max_neurons: maxN } = this.vocab.limits;
    const named = [
      ["Small", [4, 4]], ["Default", this.vocab.defaults.config.hidden], ["Wide", [8, 8, 8, 8, 8, 8]],
      ["Deep", Array(8).fill(16)], ["Largest", Array(maxL).fill(maxN)],
    ];
    this.presets = named.filter(([, hidden]) => hidden.length <= maxL && hidden.every((n) => n >= 1 && n <= maxN))
      .map(([name, hidden]) => ({ name, hidden, text: `${name}: ${describeLayers(hidden)}` }));
    const select = h("select", { id: "size-preset", "aria-describedby": "layer-count" },
      h("option", { value: "" }, "Custom"), this.presets.map((p, i) => h("option", { value: String(i) }, p.text)));
    select.addEventListener("change", () => {
      const p = this.presets[Number(select.value)];
      if (select.value !== "" && p) this.intent({ type: "configure", config: this.layers([...p.hidden]) });
    });
    $("layer-count").after(h("label", { class: "muted", for: "size-preset" }, "Size"), select);
  }

  bind() {
    $("play").addEventListener("click", () => this.togglePlay());
    $("step").addEventListener("click", () => this.step());
    $("reset").addEventListener("click", () => this.intent({ type: "reset", same_weights: true }));
    $("reset-new").addEventListener("click", () => this.intent({ type: "reset", same_weights: false }));
    $("step-unit").addEventListener("change", (ev) => this.ui({ step_unit: ev.target.value }));
    $("speed").addEventListener("input", (ev) => {
      const ups = this.speeds[+ev.target.value];
      this.showSpeed(ups);
      this.intent({ type: "set_speed", updates_per_second: ups });
    });
    // Live hyperparameters: every input event becomes a set_hyper (main coalesces them per frame).
    const live = (id, parse, show) => {
      const el = $(id);
      el.addEventListener("input", () => { const v = parse(el.value); show(v); this.intent({ type: "set_hyper", [id]: v }); });
    };
    live("lr", lrFromSlider, (v) => this.out("lr", v));
    live("momentum", Number, (v) => this.out("momentum", v));
    live("beta1", Number, (v) => this.out("beta1", v));
    live("beta2", Number, (v) => this.out("beta2", v));
    live("rho", Number, (v) => this.out("rho", v));
    live("dropout", Number, (v) => this.out("dropout", v));
    live("batch_size", (v) => Math.round(Number(v)), (v) => this.out("batch_size", v));
    for (const id of ["optimizer", "regularization"]) $(id).addEventListener("change", (ev) => { this.intent({ type: "set_hyper", [id]: ev.target.value }); this.showOptimizerFields(); });
    $("reg_rate").addEventListener("change", (ev) => this.intent({ type: "set_hyper", reg_rate: Number(ev.target.value) }));
    for (const id of ["task", "init"]) $(id).addEventListener("change", (ev) => this.intent({ type: "configure", config: { [id]: ev.target.value } }));
    // One activation for every layer: per-layer ones (a session made through the API may have them) give way.
    $("activation").addEventListener("change", (ev) => this.intent({ type: "configure",
      config: { activation: ev.target.value, ...(this.state.activations ? { activations: null } : {}) } }));
    for (const id of ["noise", "train_ratio", "val_ratio"]) {
      $(id).addEventListener("input", (ev) => { this.out(id, Number(ev.target.value), "%"); this.showSplit(); });
      $(id).addEventListener("change", (ev) => this.intent({ type: "configure", config: this.splitChange(id, Number(ev.target.value)) }));
    }
    const seeds = this.vocab.bounds("seed");
    $("seed").addEventListener("change", (ev) => {
      const v = Math.round(Number(ev.target.value));
      if (Number.isInteger(v) && v >= seeds.min && v <= seeds.max) this.intent({ type: "configure", config: { seed: v } });
    });
    $("regenerate").addEventListener("click", () => this.intent({ type: "configure", config: { seed: (this.state.seed + 1) % (seeds.max + 1) } }));
    $("show_test").addEventListener("change", (ev) => this.ui({ show_test: ev.target.checked }));
    document.querySelectorAll("input[name=edges]").forEach((r) => r.addEventListener("change", (ev) => this.ui({ edges: ev.target.value })));
    $("add-layer").addEventListener("click", () => {
      const h = this.state.hidden;
      if (h.length < this.vocab.limits.max_layers) this.intent({ type: "configure", config: this.layers([...h, h.length ? h[h.length - 1] : 4]) });
    });
    $("remove-layer").addEventListener("click", () => {
      const h = this.state.hidden;
      if (h.length > 0) this.intent({ type: "configure", config: this.layers(h.slice(0, -1)) });
    });
    $("presenter").addEventListener("click", (ev) => {
      const on = ev.currentTarget.getAttribute("aria-pressed") !== "true";
      ev.currentTarget.setAttribute("aria-pressed", String(on));
      this.ui({ presenter: on });
    });
  }

  /**
   * A share of the data changed: the configure to send. Training and validation together leave at
   * least MIN_TEST_SHARE percent for the test set, so a larger training share takes from validation.
   */
  splitChange(id, v) {
    if (id === "noise") return { noise: v };
    const train = id === "train_ratio" ? v : Number($("train_ratio").value);
    let val = id === "val_ratio" ? v : Number($("val_ratio").value);
    const room = Math.max(0, 100 - MIN_TEST_SHARE - train);
    if (val > room) { val = room - (room % (this.vocab.range("val_ratio").step || 1)); $("val_ratio").value = String(val); this.out("val_ratio", val, "%"); }
    const out = { [id]: v };
    if (val !== this.state.val_ratio) out.val_ratio = val;
    if (id === "val_ratio") out.val_ratio = val;
    this.showSplit();
    return out;
  }

  /** "Training 50 % · validation 20 % · test 30 %" under the sliders, as they stand now. */
  showSplit() {
    const train = Number($("train_ratio").value), val = Number($("val_ratio").value);
    const test = Math.max(0, 100 - train - val);
    $("split-summary").textContent = val > 0
      ? `Training ${train} % · validation ${val} % · test ${test} %: the network learns from training, you tune on validation, the test set scores it once at the end.`
      : `Training ${train} % · test ${test} %: no validation split (give it a share to tune and stop early without looking at the test set).`;
  }

  /** New hidden layers; per-layer activations, when the session has them, kept one per layer (a new layer repeats the last). */
  layers(hidden) {
    const a = this.state.activations;
    if (!a) return { hidden };
    return { hidden, activations: hidden.map((_, l) => a[l] ?? a[a.length - 1] ?? this.state.activation) };
  }

  // After a click the button answers at once; frames already in flight must not flip it back.
  togglePlay() { this.intent({ type: this.playing ? "pause" : "play" }); this.asked(!this.playing); }

  step() { this.intent({ type: "step", unit: $("step-unit").value, count: 1 }); this.asked(false); }

  /** The page asked to play or pause (a click, a key, a lesson's step): shown at once, and held against frames
   * already in flight, whose word from before the ask would flip it back (a pending hold's timer included). */
  asked(on) {
    clearTimeout(this.holdTimer);
    this.setPlaying(on);
    this.holdUntil = performance.now() + 500;
  }

  setPlaying(on) {
    this.playing = on;
    const b = $("play");
    b.querySelector(".label").textContent = on ? "Pause" : "Play";
    b.querySelector(".icon").textContent = on ? "❚❚" : "▶";
  }

  out(id, v, suffix = "") {
    const o = $(`${id}-out`);
    if (!o) return;
    o.textContent = `${typeof v === "number" ? fmt(v, 4) : v}${suffix}`;
    o.title = String(v);
  }

  /** The edge-mode radios show `mode` (stepping through phases switches it for the user). */
  showEdgeMode(mode) {
    document.querySelectorAll("input[name=edges]").forEach((r) => (r.checked = r.value === mode));
  }

  showSpeed(ups) {
    const listed = this.speeds.includes(ups);   // a session's own speed may be between two stops
    $("speed-out").textContent = listed ? this.vocab.label("speed", ups) : `${int(ups)} updates/s`;
  }

  /** Show the sliders of the hyperparameters the chosen optimizer reads; hide the other optimizers'. */
  showOptimizerFields() {
    const reads = this.vocab.hyperOf($("optimizer").value);
    for (const id of this.vocab.optimizerFields) {
      const box = $(id)?.closest(".hp");
      if (box) box.hidden = !reads.includes(id);
    }
    $("reg_rate").disabled = $("regularization").value === "none";
  }

  /** Reflect a value unless the user is holding that control right now. */
  setValue(id, v, display = v) {
    const el = $(id);
    if (!el) return;
    if (el.type === "checkbox") el.checked = !!v;
    else if (String(el.value) !== String(v)) el.value = v;
    this.out(id, display);
  }

  /** After `session`: every control from the state. */
  reset(session) {
    const s = this.state;
    this.setValue("lr", Math.log10(s.lr), s.lr);
    for (const id of ["momentum", "beta1", "beta2", "rho", "dropout", "batch_size"]) this.setValue(id, s[id]);
    const maxBatch = Math.max(1, Math.round((s.n_points * s.train_ratio) / 100));
    $("batch_size").max = String(Math.min(maxBatch, this.vocab.bounds("batch_size").max));
    for (const id of ["optimizer", "regularization", "activation", "init"]) $(id).value = s[id];
    $("reg_rate").value = String(s.reg_rate);
    if ($("reg_rate").value !== String(s.reg_rate)) { const o = new Option(String(s.reg_rate), String(s.reg_rate)); $("reg_rate").add(o); $("reg_rate").value = String(s.reg_rate); }
    $("task").value = session?.architecture?.task ?? s.task ?? "playground";
    $("noise").value = s.noise; this.out("noise", s.noise, "%");
    $("train_ratio").value = s.train_ratio; this.out("train_ratio", s.train_ratio, "%");
    $("val_ratio").value = s.val_ratio; this.out("val_ratio", s.val_ratio, "%");
    this.showSplit();
    $("seed").value = s.seed;
    $("show_test").checked = s.show_test;
    this.showEdgeMode(s.edges);
    const uploaded = this.vocab.isUploaded(s.dataset);
    document.querySelectorAll("#datasets button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.name === (uploaded ? "csv" : s.dataset))));
    const plane = this.vocab.onPlane(s.dataset);   // other data (the tabular set, a CSV) brings its own features
    document.querySelectorAll("#features input").forEach((i) => { i.checked = s.features.includes(i.value); i.disabled = !plane; });
    // The 2-D features apply to data on the plane only; tabular data shows its columns instead (setDataset).
    for (const id of ["h-features", "features"]) $(id).hidden = !plane;
    document.querySelector(".features-note").hidden = !plane;
    if (plane) this.showColumns(null);
    $("layer-count").textContent = `${s.hidden.length} hidden layer${s.hidden.length === 1 ? "" : "s"}`;
    $("add-layer").disabled = s.hidden.length >= this.vocab.limits.max_layers;
    $("remove-layer").disabled = s.hidden.length === 0;
    const preset = this.presets.findIndex((p) => p.hidden.length === s.hidden.length && p.hidden.every((n, l) => n === s.hidden[l]));
    $("size-preset").value = preset < 0 ? "" : String(preset);
    if (session && "updates_per_second" in session) this.setSpeed(session.updates_per_second);
    // A session message written before the page's newest play or pause (a lesson step's pause just after its
    // configure) must not undo it: while that ask is held, the page's word stands.
    if (this.holdUntil > performance.now()) s.playing = this.playing; else this.setPlaying(s.playing);
    this.showOptimizerFields();
  }

  /**
   * A dataset: tabular data (no plane) gets a switch per column, on for the columns the network takes in.
   * The dataset message names the columns in use (`input_names`) and every column of the data (`columns`;
   * without it, the widest list seen for this data).
   */
  setDataset(msg) {
    if (msg.plane) { this.showColumns(null); return; }
    const used = msg.input_names || msg.features || [];
    this.columnsSeen = this.columnsSeen || new Map();
    const name = this.state.dataset, seen = this.columnsSeen.get(name) || [];
    const all = msg.columns || [...seen, ...used.filter((c) => !seen.includes(c))];
    this.columnsSeen.set(name, all);
    this.showColumns(all, used);
  }

  /** Switches for the columns `all` (null: none, hidden), those in `used` on. */
  showColumns(all, used = []) {
    const box = $("columns");
    for (const id of ["h-columns", "columns", "columns-note"]) $(id).hidden = !all;
    if (!all) { box.replaceChildren(); return; }
    fill(box, all.map((c) => {
      const input = h("input", { type: "checkbox", value: c, checked: used.includes(c) });
      input.addEventListener("change", () => {
        const chosen = [...box.querySelectorAll("input:checked")].map((i) => i.value);
        if (!chosen.length) { input.checked = true; return; }   // the network needs an input
        this.intent({ type: "configure", config: { columns: chosen.length === all.length ? null : chosen } });
      });
      return h("label", null, input, " ", c);   // a CSV header as typed: text, never markup
    }));
  }

  setSpeed(ups) {
    const speeds = this.speeds;
    let idx = speeds.indexOf(ups);
    if (idx < 0) idx = ups === null ? speeds.length - 1 : speeds.findIndex((v) => v !== null && v >= ups);
    if (document.activeElement !== $("speed")) $("speed").value = String(idx < 0 ? speeds.length - 2 : idx);
    this.showSpeed(ups);
  }

  /** Per frame: counters, play state, hyperparameters (another tab may have changed them). */
  update(frame) {
    const sc = $("step-count"), ec = $("epoch-count");
    const st = int(frame.step), ep = int(frame.epoch);
    if (sc.textContent !== st) { sc.textContent = st; sc.title = String(frame.step); }
    if (ec.textContent !== ep) { ec.textContent = ep; ec.title = String(frame.epoch); }
    this.framePlaying = frame.playing;
    if (frame.playing !== this.playing) {
      const wait = this.holdUntil - performance.now();
      if (!(wait > 0)) this.setPlaying(frame.playing);
      // Held after a click: if no frame comes after the hold (the run paused itself: early stopping, a
      // divergence), the last frame's word still counts once the hold is over.
      else { clearTimeout(this.holdTimer); this.holdTimer = setTimeout(() => { if (this.framePlaying !== this.playing) this.setPlaying(this.framePlaying); }, wait + 10); }
    }
    const h = frame.hyper;
    if (!h) return;
    const active = document.activeElement;
    if (active !== $("lr") && lrFromSlider($("lr").value) !== h.lr) { $("lr").value = String(Math.log10(h.lr)); this.out("lr", h.lr); }
    for (const id of ["momentum", "beta1", "beta2", "rho", "dropout", "batch_size"]) {
      if (active !== $(id) && Number($(id).value) !== h[id]) { $(id).value = String(h[id]); this.out(id, h[id]); }
    }
    for (const id of ["optimizer", "regularization"]) if (active !== $(id) && $(id).value !== h[id]) { $(id).value = h[id]; this.showOptimizerFields(); }
  }
}

/** "2 layers of 4", "4, 2", "no hidden layer": hidden sizes as a menu says them. */
function describeLayers(hidden) {
  if (!hidden.length) return "no hidden layer";
  if (hidden.length > 1 && hidden.every((n) => n === hidden[0])) return `${hidden.length} layers of ${hidden[0]}`;
  return hidden.length === 1 ? `1 layer of ${hidden[0]}` : hidden.join(", ");
}
