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

  /** An error's explanation is put away once what it explained is set right (a good upload after a bad one). */
  clearError() {
    clearTimeout(this.errTimer);
    this.err.hidden = true;
  }
}

/** Plain words for a divergence record {step, cause, rollback_step, advice}. */
export function explain(d, frame) {
  const cause = d.cause || d.message || "a number became infinite or not a number (NaN)";
  const lr = frame.hyper?.lr;
  const back = d.rollback_step !== undefined && d.rollback_step !== null ? ` Roll back returns to step ${d.rollback_step}, the last state where every number was finite.` : "";
  return `Training diverged: ${cause}. The weights grew until the arithmetic overflowed — usually because the learning rate ` +
    `(now ${fmt(lr)}) is too large for this problem. Training paused itself.${back} Then ${d.advice ? d.advice.replace(", then roll back", "") : "lower the learning rate"} and press Play.`;
}
