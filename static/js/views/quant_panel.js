// The Quantize card: how many bits a weight keeps (off, 8 down to 1), one
// scale per layer or per neuron, quantization-aware fine-tuning, and whether
// the network view draws the weights snapped to their levels. It sends one
// `quantize` message per change and shows what the frames say the server has:
// the quantized model's losses and accuracies beside the full-precision ones,
// and the model's size before and after.
import { h, fill } from "../dom.js";
import { fmt, int, pct, setNum } from "../format.js";

const BITS = [0, 8, 7, 6, 5, 4, 3, 2, 1];
/** A choice the server has not confirmed yet is kept this long at most (frames in flight still show the old one). */
const HOLD_MS = 1500;

/** The frame's quantization as the controls hold it; off keeps the granularity chosen last. */
export function serverQuant(frame, granularity) {
  const q = frame?.quantized;
  return q ? { bits: q.bits, granularity: q.granularity, aware: !!q.aware } : { bits: 0, granularity, aware: false };
}

const same = (a, b) => a.bits === b.bits && a.aware === b.aware && (a.bits === 0 || a.granularity === b.granularity);

export class QuantPanel extends EventTarget {
  /** root: the card; reveal: {test} shared with the metrics (the held-back test set). */
  constructor(root, reveal) {
    super();
    Object.assign(this, { root, reveal });
    this.current = { bits: 0, granularity: "tensor", aware: false };
    this.asked = null; this.task = null;
    this.build();
  }

  intent(detail) { this.dispatchEvent(new CustomEvent("intent", { detail })); }

  build() {
    const radio = (name, value, label, aria) => {
      const input = h("input", { type: "radio", name, value: String(value), "aria-label": aria });
      return { input, label: h("label", { class: "seg" }, input, h("span", null, label)) };
    };
    this.bits = BITS.map((b) => radio("quant-bits", b, b ? String(b) : "Off", b ? `${b} bit${b === 1 ? "" : "s"}` : "Off: full precision"));
    this.gran = [["tensor", "One scale per layer"], ["neuron", "One scale per neuron"]].map(([v, t]) => radio("quant-granularity", v, t, t));
    this.aware = h("input", { type: "checkbox", id: "quant-aware", "aria-describedby": "quant-aware-note" });
    this.snap = h("input", { type: "checkbox", id: "quant-snap" });
    this.size = h("p", { class: "q-size", "aria-live": "polite" });
    this.err = h("p", { class: "fit-err", role: "alert" });
    this.cells = {};
    const row = (key, name, acc) => {
      const cells = [h("td", { class: "num" }), h("td", { class: "num q-quant" }), h("td", { class: "num q-delta" })];
      this.cells[key] = cells;
      return h("tr", { class: acc ? "q-acc" : null }, h("th", { scope: "row" }, name), cells);
    };
    this.table = h("table", { class: "q-table" },
      h("thead", null, h("tr", null, h("th", null, ""), h("th", { scope: "col" }, "Full precision"), h("th", { scope: "col" }, "Quantized"), h("th", { scope: "col" }, "Change"))),
      h("tbody", null, row("train_loss", "Training loss"), row("test_loss", "Test loss"), row("train_acc", "Training accuracy", true), row("test_acc", "Test accuracy", true)));
    fill(this.root,
      h("h3", { id: "h-quant" }, "Quantize"),
      h("p", { class: "note" }, "Keep each weight in fewer bits: every weight of a layer snaps to one of a few evenly spaced levels (a scale times a whole number). The model gets smaller; see what it costs."),
      h("fieldset", { class: "q-bits" }, h("legend", null, "Bits per weight"), h("div", { class: "segs" }, this.bits.map((b) => b.label))),
      h("fieldset", { class: "q-gran" }, h("legend", null, "Scales"), h("div", { class: "segs" }, this.gran.map((g) => g.label))),
      h("label", { class: "check" }, this.aware, " Quantization-aware fine-tuning"),
      h("p", { id: "quant-aware-note", class: "note" }, "Trains through the levels: the forward and backward passes use the snapped weights, each update goes to the full-precision ones (straight-through estimator). Play to watch the quantized accuracy climb back."),
      this.err,
      h("label", { class: "check" }, this.snap, " Network view: draw the weights snapped to their levels"),
      h("p", { class: "note" }, "Only the edges snap; the neurons' pictures and the output stay full precision (the quantized boundary has a card of its own)."),
      this.size,
      this.table);
    for (const b of this.bits) b.input.addEventListener("change", () => this.send());
    for (const g of this.gran) g.input.addEventListener("change", () => this.send());
    this.aware.addEventListener("change", () => this.send());
    this.snap.addEventListener("change", () => this.dispatchEvent(new CustomEvent("snap", { detail: this.snap.checked })));
    this.show(this.current);
  }

  /** What the controls say now, as a `quantize` message has it. */
  chosen() {
    const bits = Number(this.bits.find((b) => b.input.checked)?.input.value ?? 0);
    const granularity = this.gran.find((g) => g.input.checked)?.input.value ?? "tensor";
    return { bits, granularity, aware: bits > 0 && this.aware.checked };
  }

  /** The server refused the last choice: say why; the controls go back to what it has. */
  refused(message) {
    this.err.textContent = message;
    this.asked = null;
    this.show(this.server ?? this.current);
  }

  send() {
    this.err.textContent = "";
    const q = this.chosen();
    this.asked = { ...q, at: performance.now() };
    this.show(q);
    this.intent({ type: "quantize", ...q });
  }

  /** Reflect a quantization in the controls. */
  show(q) {
    this.current = q;
    for (const b of this.bits) b.input.checked = Number(b.input.value) === q.bits;
    for (const g of this.gran) { g.input.checked = g.input.value === q.granularity; g.input.disabled = q.bits === 0; }
    this.aware.checked = q.aware; this.aware.disabled = q.bits === 0;
    this.snap.disabled = q.bits === 0;
    this.root.classList.toggle("q-off", q.bits === 0);
  }

  setTask(task) {
    this.task = task;
    this.table.querySelectorAll(".q-acc").forEach((tr) => (tr.hidden = task === "regression"));
  }

  /** A session: its quantization, unless the user has just chosen another. */
  setSession(msg) {
    this.setTask(msg.architecture?.task ?? null);
    if (msg.quantization && !this.asked) this.show({ ...msg.quantization, aware: !!msg.quantization.aware });
  }

  /** Per frame: the server's quantization in the controls (once it took the last choice), the figures. */
  update(frame) {
    const server = serverQuant(frame, this.current.granularity);
    this.server = server;
    if (this.asked && (same(server, this.asked) || performance.now() - this.asked.at > HOLD_MS)) this.asked = null;
    if (!this.asked && !same(server, this.current)) this.show(server);
    this.showFigures(frame.metrics, frame.quantized);
  }

  showFigures(m, q) {
    const hidden = !this.reveal.test && m && m.val_loss !== null && m.val_loss !== undefined;
    for (const key of ["train_loss", "test_loss", "train_acc", "test_acc"]) {
      const [full, quant, delta] = this.cells[key], isAcc = key.endsWith("acc"), held = hidden && key.startsWith("test");
      const put = (el, v, diff = false) => {
        if (held) { el.textContent = "hidden"; el.title = "held back until you ask for the final score"; return; }
        if (v === null || v === undefined) { el.textContent = "—"; el.title = q ? "not measured" : "quantization is off"; return; }
        if (isAcc) {
          const text = diff ? `${v > 0 ? "+" : v < 0 ? "−" : "±"}${Math.abs(100 * v).toFixed(1)} pts` : pct(v);
          if (el.textContent !== text) el.textContent = text;
          el.title = String(v);
        } else if (diff) {
          const text = `${v > 0 ? "+" : v < 0 ? "−" : "±"}${fmt(Math.abs(v), 3)}`;
          if (el.textContent !== text) el.textContent = text;
          el.title = String(v);
        } else setNum(el, v, 4, "");
      };
      const a = m?.[key], b = q ? q[key] : null;
      put(full, a);
      put(quant, b);
      put(delta, typeof a === "number" && typeof b === "number" ? b - a : null, true);
      delta.classList.toggle("worse", typeof a === "number" && typeof b === "number" && (isAcc ? b < a : b > a));
    }
    if (!q) { fill(this.size, "Model size: ", h("span", { class: "muted" }, "choose a number of bits to compare")); return; }
    const ratio = q.bytes_after > 0 ? q.bytes_before / q.bytes_after : null;
    fill(this.size, "Model size: ",
      h("b", { class: "num", title: `${q.bytes_before} bytes` }, `${int(q.bytes_before)} bytes`), " (32-bit floats) → ",
      h("b", { class: "num q-after", title: `${q.bytes_after} bytes` }, `${int(q.bytes_after)} bytes`),
      ratio ? h("span", { class: "num muted", title: String(ratio) }, ` · ${fmt(ratio, 3)}× smaller`) : null);
  }
}
