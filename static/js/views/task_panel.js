// The "Next task" panel of the transfer lab: choose task B (another dataset,
// the same data rotated or shifted, or a dataset with other classes), then
// either fine-tune from the current weights or start from scratch (the same
// fresh draw the re-initialized layers of a fine-tune get). The server says
// which layers kept their weights (`note`) and lists the tasks so far.
import { h, fill } from "../dom.js";
import { fmt, int } from "../format.js";

export const ROTATE = { min: -180, max: 180 };
export const SHIFT = { min: -3, max: 3 };
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** A number typed in a field, within [min, max]: {value} or {error} saying what is allowed. */
export function parseBounded(text, { min, max }, what) {
  const t = String(text).trim();
  const allowed = `type a number from ${min} to ${max}`;
  if (t === "") return { value: 0 };   // an empty field is the default: no change
  if (!NUMBER.test(t)) return { error: `${what}: “${t}” is not a number: ${allowed}.` };
  const v = Number(t);
  if (!Number.isFinite(v) || v < min || v > max) return { error: `${what}: ${t} is out of range: ${allowed}.` };
  return { value: v };
}

/** One task of the session's list, in words: "2. Spiral (3 classes), rotated 30°, fine-tuned". */
export function taskWords(vocab, t) {
  const parts = [`${vocab.label("dataset", t.dataset)} (${t.n_classes ? `${t.n_classes} classes` : "regression"})`];
  if (t.rotate) parts.push(`rotated ${fmt(t.rotate, 4)}°`);
  if (t.shift && (t.shift[0] || t.shift[1])) parts.push(`shifted by (${fmt(t.shift[0], 3)}, ${fmt(t.shift[1], 3)})`);
  parts.push({ new: "new network", current: "fine-tuned from the previous task", scratch: "from scratch" }[t.start] ?? t.start);
  return parts.join(", ");
}

export class TaskPanel extends EventTarget {
  /** root: an element to fill; vocab: the page's vocabulary. Asks with "next" events ({config, start, compare}). */
  constructor(root, vocab) {
    super();
    this.root = root; this.vocab = vocab; this.session = null;
    const field = (id, label, input) => h("div", { class: "fit-field" }, h("label", { for: id }, label), input);
    const text = (id, desc) => h("input", { id, type: "text", inputmode: "decimal", autocomplete: "off", value: "0", "aria-describedby": desc });
    this.dataset = h("select", { id: "tl-dataset" }, vocab.choices("dataset").map((c) => h("option", { value: c.value }, c.label)));
    this.rotate = text("tl-rotate", "tl-err tl-plane");
    this.dx = text("tl-dx", "tl-err tl-plane");
    this.dy = text("tl-dy", "tl-err tl-plane");
    this.planeNote = h("p", { id: "tl-plane", class: "note" });
    this.err = h("p", { id: "tl-err", class: "fit-err", role: "alert" });
    this.compare = h("input", { type: "checkbox", id: "tl-compare", checked: true });
    this.fineTune = h("button", { type: "button", id: "tl-fine-tune", class: "primary" }, "Fine-tune from these weights");
    this.scratch = h("button", { type: "button", id: "tl-scratch" }, "Start from scratch");
    this.note = h("p", { id: "tl-note", class: "tl-note", role: "status" });
    this.list = h("ol", { id: "tl-tasks", class: "tl-tasks", "aria-labelledby": "h-tl-tasks" });
    fill(root,
      h("h3", { id: "h-tl-next" }, "Next task"),
      h("p", { class: "note" }, "Task B: other data, the same data turned or moved, or new classes. Fine-tuning keeps every layer whose shape still fits; from scratch starts from the fresh weights those layers would otherwise get."),
      h("div", { class: "fit-fields" },
        field("tl-dataset", "Data", this.dataset),
        field("tl-rotate", "Rotate (degrees)", this.rotate),
        field("tl-dx", "Shift x₁", this.dx),
        field("tl-dy", "Shift x₂", this.dy)),
      this.planeNote, this.err,
      h("label", { class: "check" }, this.compare, " Also run task B from scratch beside it (the transfer chart)"),
      h("div", { class: "row" }, this.fineTune, this.scratch),
      this.note,
      h("h3", { id: "h-tl-tasks" }, "Tasks so far"),
      this.list);
    this.dataset.addEventListener("change", () => this.showPlane());
    this.fineTune.addEventListener("click", () => this.ask("current"));
    this.scratch.addEventListener("click", () => this.ask("scratch"));
    for (const el of [this.rotate, this.dx, this.dy]) {
      el.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); this.ask("current"); } });
    }
    this.showPlane();
  }

  /** Rotation and shift move points of the plane: other data (tabular, CSV) has none to move. */
  showPlane() {
    const plane = this.vocab.onPlane(this.dataset.value);
    for (const el of [this.rotate, this.dx, this.dy]) el.disabled = !plane;
    this.planeNote.textContent = plane ? "Points live in [−6, 6]²: rotation about the origin, then the shift."
      : `${this.vocab.label("dataset", this.dataset.value)} has no points on the plane: rotation and shift do not apply.`;
  }

  /** The configuration change the fields say, or null with the reason shown. */
  patch() {
    const dataset = this.dataset.value, plane = this.vocab.onPlane(dataset);
    const config = { dataset };
    if (plane) {
      const r = parseBounded(this.rotate.value, ROTATE, "Rotate");
      const x = parseBounded(this.dx.value, SHIFT, "Shift x₁");
      const y = parseBounded(this.dy.value, SHIFT, "Shift x₂");
      const bad = [[this.rotate, r], [this.dx, x], [this.dy, y]];
      for (const [el, p] of bad) { if (p.error) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid"); }
      const error = r.error || x.error || y.error;
      if (error) { this.err.textContent = error; return null; }
      Object.assign(config, { rotate: r.value, shift: [x.value, y.value] });
    } else {
      Object.assign(config, { rotate: 0, shift: [0, 0] });
    }
    this.err.textContent = "";
    return config;
  }

  ask(start) {
    const config = this.patch();
    if (!config) return;
    this.dispatchEvent(new CustomEvent("next", { detail: { config, start, compare: start === "current" && this.compare.checked } }));
  }

  /** The error the server gave the last fine_tune, as text. */
  refused(message) { this.err.textContent = message; }

  /** A new session message: the current task's note and the list of tasks. */
  setSession(msg) {
    this.session = msg;
    // The fields start from the task the network is on now; the teacher changes what B changes.
    const cfg = msg.config ?? {}, busy = this.root.contains(document.activeElement);
    if (!busy && cfg.dataset && [...this.dataset.options].some((o) => o.value === cfg.dataset)) {
      this.dataset.value = cfg.dataset;
      this.rotate.value = String(cfg.rotate ?? 0);
      this.dx.value = String(cfg.shift?.[0] ?? 0); this.dy.value = String(cfg.shift?.[1] ?? 0);
      this.showPlane();
    }
    const tasks = msg.tasks ?? [];
    const cur = tasks[tasks.length - 1];
    this.note.textContent = cur && cur.start !== "new"
      ? `${cur.start === "scratch" ? "From scratch" : "Fine-tuned"}: ${cur.note}.` : "";
    this.note.hidden = !this.note.textContent;
    this.note.classList.toggle("tl-reinit", !!cur && (cur.reinitialized ?? []).length > 0);
    fill(this.list, tasks.map((t, k) => h("li", { class: k === tasks.length - 1 ? "tl-current" : null },
      // Hovering a task gives its exact numbers and what its start kept.
      h("span", { class: "tl-task", title: `${t.dataset}: rotate ${t.rotate}°, shift (${t.shift?.[0]}, ${t.shift?.[1]}), `
        + `${t.n_classes} classes; kept layers [${(t.kept ?? []).map((l) => l + 1).join(", ")}], new weights in `
        + `[${(t.reinitialized ?? []).map((l) => l + 1).join(", ")}]: ${t.note}` }, taskWords(this.vocab, t)),
      k === tasks.length - 1 ? h("span", { class: "chip tl-now" }, "now")
        : h("span", { class: "num muted", title: `${t.trained_steps} steps` }, ` · trained ${int(t.trained_steps)} steps`),
      t.start !== "new" && (t.reinitialized ?? []).length
        ? h("span", { class: "tl-layers muted" }, ` · new weights: ${t.reinitialized.map((l) => `layer ${l + 1}`).join(", ")}`) : null)));
    if (!tasks.length) this.list.append(h("li", { class: "muted" }, "One task: the data chosen above."));
  }
}
