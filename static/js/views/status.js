// Banners: connection lost (the page keeps what it shows), divergence (with
// Roll back), and the server's error messages.
import { fmt } from "../format.js";

export class StatusView extends EventTarget {
  constructor() {
    super();
    this.conn = document.getElementById("banner-conn");
    this.div = document.getElementById("banner-div");
    this.err = document.getElementById("banner-err");
    document.getElementById("rollback").addEventListener("click", () =>
      this.dispatchEvent(new CustomEvent("intent", { detail: { type: "rollback" } })));
    this.errTimer = null;
  }

  setConnected(ok) { this.conn.hidden = ok; }

  reset() { this.div.hidden = true; this.lastDiv = null; }

  update(frame) {
    const d = frame.diverged;
    if (!d) { if (!this.div.hidden) this.div.hidden = true; this.lastDiv = null; return; }
    const key = JSON.stringify(d);
    if (key === this.lastDiv) return;
    this.lastDiv = key;
    this.div.querySelector(".msg").textContent = explain(d, frame);
    this.div.hidden = false;
  }

  error(msg) {
    this.err.textContent = msg.message || `${msg.code}: ${msg.field ?? ""}`;
    this.err.hidden = false;
    clearTimeout(this.errTimer);
    this.errTimer = setTimeout(() => (this.err.hidden = true), 6000);
  }
}

/** Plain words for a divergence record (its fields are read loosely). */
export function explain(d, frame) {
  const step = d.step ?? frame.step;
  const what = d.what || d.reason || d.kind || "a number";
  const base = `Training diverged at step ${step}: ${typeof what === "string" ? what.replace(/_/g, " ") : "a value"} became ${d.value === null || d.value === undefined ? "infinite or not a number (NaN)" : fmt(d.value)}.`;
  const lr = frame.hyper?.lr;
  const advice = ` The weights grew until the arithmetic overflowed — usually the learning rate (now ${fmt(lr)}) is too large. Training paused itself. Roll back to the last finite state, then lower the learning rate.`;
  return (d.message ? `${d.message}` : base) + advice;
}
