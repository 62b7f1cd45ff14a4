// Replay against forgetting: a share of every batch drawn from remembered
// samples of the previous task (the buffer). The server keeps the setting
// (`session.replay`); with no comparable previous task there is nothing to
// replay, and the controls say so instead of sending.
import { h, fill } from "../dom.js";
import { int } from "../format.js";

export const SHARE = { min: 0, max: 0.9, step: 0.05 };
const NONE = "Replay needs a previous task with the same inputs and classes: fine-tune from one first (Next task above).";

/** A buffer size typed in the field: {value} or {error} saying what is allowed. */
export function parseBuffer(text, max) {
  const t = String(text).trim();
  const allowed = `type a whole number from 1 to ${int(max)}`;
  if (!/^[0-9]+$/.test(t)) return { error: `Buffer: “${t}” is not a whole number: ${allowed}.` };
  const v = Number(t);
  if (v < 1 || v > max) return { error: `Buffer: ${int(v)} is out of range: ${allowed}.` };
  return { value: v };
}

export class ReplayPanel extends EventTarget {
  /** root: an element to fill; maxPoints: the server's limit on a buffer. Asks with "intent" events (replay). */
  constructor(root, maxPoints) {
    super();
    this.root = root; this.maxPoints = maxPoints; this.available = 0;
    this.share = h("input", { id: "rp-share", type: "range", min: SHARE.min, max: SHARE.max, step: SHARE.step, value: 0, "aria-describedby": "rp-why" });
    this.shareOut = h("output", { id: "rp-share-out", for: "rp-share", class: "num" }, "0%");
    this.buffer = h("input", { id: "rp-buffer", type: "text", inputmode: "numeric", autocomplete: "off", value: "100", "aria-describedby": "rp-err rp-why" });
    this.apply = h("button", { type: "button", id: "rp-apply" }, "Apply");
    this.why = h("p", { id: "rp-why", class: "note rp-why" });
    this.err = h("p", { id: "rp-err", class: "fit-err", role: "alert" });
    this.now = h("p", { id: "rp-now", class: "note", role: "status" });
    fill(root,
      h("h3", { id: "h-rp" }, "Replay"),
      h("p", { class: "note" }, "Mix remembered points of the previous task into every batch of the new one: the share of each batch, and how many points are remembered."),
      h("div", { class: "fit-fields" },
        h("div", { class: "fit-field rp-share" }, h("label", { for: "rp-share" }, "Share of each batch"), h("div", { class: "rp-slider" }, this.share, this.shareOut)),
        h("div", { class: "fit-field" }, h("label", { for: "rp-buffer" }, "Buffer (points)"), this.buffer)),
      this.err, h("div", { class: "row" }, this.apply), this.why, this.now);
    this.share.addEventListener("input", () => this.showShare());
    this.share.addEventListener("change", () => this.send());
    this.apply.addEventListener("click", () => this.send());
    this.buffer.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); this.send(); } });
    this.setSession({});
  }

  showShare() {
    const v = Number(this.share.value);
    this.shareOut.textContent = `${Math.round(100 * v)}%`;
    this.shareOut.title = String(v);
  }

  /** Send the setting the controls show; a buffer the field refuses is not sent (the reason shows). */
  send() {
    if (!this.available) return;
    const b = parseBuffer(this.buffer.value, this.maxPoints);
    if (b.error) { this.err.textContent = b.error; this.buffer.setAttribute("aria-invalid", "true"); return; }
    this.err.textContent = ""; this.buffer.removeAttribute("aria-invalid");
    const share = Math.round(Number(this.share.value) / SHARE.step) * SHARE.step;
    this.dispatchEvent(new CustomEvent("intent", { detail: { type: "replay", share: Number(share.toFixed(2)), buffer: b.value } }));
  }

  /** The error the server gave the last replay message, as text. */
  refused(message) { this.err.textContent = message; }

  /** The server's replay setting (session.replay): enabled only with a previous task to replay. */
  setSession(msg) {
    const r = msg.replay ?? null;
    this.available = r?.available ?? 0;
    this.setting = r ? { share: r.share ?? 0, buffer: r.buffer ?? 1 } : null;
    const off = !this.available;
    for (const el of [this.share, this.buffer, this.apply]) el.disabled = off;
    this.root.classList.toggle("rp-off", off);
    this.why.textContent = off ? NONE : `${int(this.available)} training points of the previous task can be remembered.`;
    this.showSetting(true);
  }

  /** A change the server logged (history `replay_share` or `replay_buffer`): the setting it has now. */
  changed(field, value) {
    if (!this.setting) return;
    this.setting[field === "replay_share" ? "share" : "buffer"] = value;
    this.showSetting(false);
  }

  /** The setting the server has, in words; `controls`: the slider and the field follow it too (unless in use). */
  showSetting(controls) {
    const r = this.setting, off = !this.available;
    if (r && controls && document.activeElement !== this.share) { this.share.value = String(r.share); this.showShare(); }
    if (r && controls && document.activeElement !== this.buffer) this.buffer.value = String(r.buffer);
    this.now.textContent = r && !off ? (r.share > 0 ? `Replaying: ${Math.round(100 * r.share)}% of each batch from ${int(Math.min(r.buffer, this.available))} remembered points.` : "Replay is off.") : "";
    this.now.title = r ? `share ${r.share}, buffer ${r.buffer}` : "";
  }
}
