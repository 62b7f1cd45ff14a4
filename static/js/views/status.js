// Banners: connection lost (the page keeps what it shows), trouble (a run that
// diverged, is stuck, oscillates or grows: what happened and what to try, with
// "Lower the learning rate" and "Roll back"), and the server's error messages.
import { fmt } from "../format.js";
import { h } from "../dom.js";

// The banner's title per kind of trouble: words first, so colour is never the only sign.
// How long a trouble stays on the banner after the server last said it (see StatusView.steady).
const HOLD_MS = 4000;
const TITLES = { diverged: "Training diverged", stuck: "Training is stuck", dead: "Units have died",
  oscillating: "The loss oscillates", growing: "The loss keeps growing" };

export class StatusView extends EventTarget {
  constructor() {
    super();
    this.conn = document.getElementById("banner-conn");
    this.div = document.getElementById("banner-div");
    this.err = document.getElementById("banner-err");
    // The divergence banner grows into the trouble banner: a title, the message, the advice, and the buttons.
    this.msg = this.div.querySelector(".msg");
    this.title = h("p", { class: "trouble-title" });
    this.advice = h("p", { class: "trouble-advice" });
    this.msg.before(this.title);
    this.msg.after(this.advice);
    this.rollbackButton = document.getElementById("rollback");
    this.lowerButton = h("button", { type: "button", id: "lower-lr" }, "Lower the learning rate");
    this.rollbackButton.before(this.lowerButton);
    const text = h("div", { class: "trouble-text" });
    this.title.before(text);
    text.append(this.title, this.msg, this.advice);
    // The message counts the updates the trouble has lasted, so it changes with every frame: the banner is
    // not a live region itself; a hidden one says the trouble once, when it begins or changes kind.
    this.div.setAttribute("role", "region");
    this.div.setAttribute("aria-label", "Trouble");
    this.announce = h("p", { class: "sr-only", role: "alert" });
    this.div.append(this.announce);
    this.said = null; this.held = null;
    // A divergence rolls back to its rollback point (`rollback`); other trouble to a recorded step before it
    // began, through the rewind lab ("rollback_to": it finds the recorded step and goes on from there).
    this.rollbackButton.addEventListener("click", () => {
      if (this.rollback?.type === "rollback") this.intent(this.rollback);
      else if (this.rollback) this.dispatchEvent(new CustomEvent("rollback_to", { detail: { step: this.rollback.step } }));
    });
    this.lowerButton.addEventListener("click", () => { if (this.lower) this.intent(this.lower); });
    this.errTimer = null;
    this.shown = null;
    this.rollback = null; this.lower = null;
  }

  intent(detail) { this.dispatchEvent(new CustomEvent("intent", { detail })); }

  setConnected(ok) { this.conn.hidden = ok; }

  reset() { this.div.hidden = true; this.shown = this.said = this.held = null; }

  /**
   * The frame with its trouble held for HOLD_MS after the server stops saying it: its verdict on a noisy loss comes
   * and goes from one update to the next, and a banner blinking several times a second cannot be read. Not held
   * across anything that answers it: a lower learning rate, a step back (roll back, go on from an earlier step).
   */
  steady(frame) {
    const t = frame.trouble, lr = frame.hyper?.lr, now = performance.now();
    if (t && t.kind !== "diverged") { this.held = { trouble: t, at: now, step: frame.step, lr }; return frame; }
    const h = this.held;
    if (t || frame.diverged || !h || now - h.at > HOLD_MS || frame.step < h.step || lr !== h.lr) { this.held = null; return frame; }
    return { ...frame, trouble: h.trouble };
  }

  update(frame) {
    const words = troubleWords(this.steady(frame));
    if (!words) { if (!this.div.hidden) this.div.hidden = true; this.shown = this.said = null; this.rollback = this.lower = null; return; }
    this.rollback = words.rollback; this.lower = words.lower;
    const key = JSON.stringify([words.kind, words.title, words.message, words.advice, !!words.rollback, words.lower?.lr ?? null]);
    if (key === this.shown) return;
    this.shown = key;
    this.div.dataset.kind = words.kind;
    if (this.said !== words.kind) { this.said = words.kind; this.announce.textContent = `${words.title}. ${words.message} ${words.advice}`; }
    this.title.textContent = `⚠ ${words.title}`;
    this.msg.textContent = words.message;
    this.advice.textContent = words.advice;
    this.advice.hidden = !words.advice;
    this.rollbackButton.hidden = !words.rollback;
    this.rollbackButton.title = words.rollbackTitle || "";
    this.lowerButton.hidden = !words.lower;
    this.lowerButton.title = words.lower ? `Set the learning rate from ${frame.hyper.lr} to ${words.lower.lr}` : "";
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

/**
 * What the trouble banner says about a frame, or null when all is well: {kind, title, message, advice,
 * lower: the set_hyper that divides the learning rate by 10 (or null), rollback: {type: "rollback"} for a divergence,
 * {type: "rollback_to", step} for other trouble (the step before it began), or null when there is none}. A divergence (`diverged`) comes first; else `trouble`.
 */
export function troubleWords(frame) {
  const d = frame.diverged, t = frame.trouble;
  const lr = frame.hyper?.lr;
  const lower = typeof lr === "number" && lr > 0 ? { type: "set_hyper", lr: lr / 10 } : null;
  if (d) {
    return { kind: "diverged", title: TITLES.diverged, message: explain(d, frame), advice: "",   // explain() says what to try
      lower, rollback: d.rollback_step !== undefined && d.rollback_step !== null ? { type: "rollback" } : null,
      rollbackTitle: `Return to step ${d.rollback_step}` };
  }
  if (!t) return null;
  const back = rollbackStep(t);
  return {
    kind: t.kind, title: `${TITLES[t.kind] || "Trouble"} (since step ${t.since_step})`,
    message: `${capital(t.message)}.`.replace(/\.\.$/, "."), advice: t.advice ? `What to try: ${t.advice}`.replace(/\.?$/, ".") : "",
    lower, rollback: back === null ? null : { type: "rollback_to", step: back },
    rollbackTitle: back === null ? "" : `Go back to step ${back}, before the trouble began, and go on from there`,
  };
}

/** The step before a trouble began (the record keeps a step at or before it), or null when it began at the start. */
function rollbackStep(t) {
  const s = t.since_step;
  return Number.isInteger(s) && s > 0 ? s - 1 : null;
}

const capital = (s) => (s ? s[0].toUpperCase() + s.slice(1) : "");

/** Plain words for a divergence record {step, cause, rollback_step, advice}. */
export function explain(d, frame) {
  const cause = d.cause || d.message || "a number became infinite or not a number (NaN)";
  const lr = frame.hyper?.lr;
  const back = d.rollback_step !== undefined && d.rollback_step !== null ? ` Roll back returns to step ${d.rollback_step}, the last state where every number was finite.` : "";
  return `Training diverged: ${cause}. The weights grew until the arithmetic overflowed — usually because the learning rate ` +
    `(now ${fmt(lr)}) is too large for this problem. Training paused itself.${back} Then ${d.advice ? d.advice.replace(", then roll back", "") : "lower the learning rate"} and press Play.`;
}
