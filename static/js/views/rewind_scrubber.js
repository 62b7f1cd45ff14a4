// The rewind scrubber: a range over the run's recorded steps. Moving it asks to
// look at a step ("look"); the page then shows the network, the boundary and
// the histograms as they were there, marked "looking at step N (live: M)".
// "Go on from here" asks to continue from that step ("fork"); "Back to live"
// returns to the running session ("live"). It only says what was asked: the
// lab (rewind_lab.js) talks to the server and decides what is shown.
import { h, fill } from "../dom.js";
import { int } from "../format.js";

export class RewindScrubber extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    this.first = 0; this.live = 0; this.looking = null; this.asked = null;
    this.range = h("input", { type: "range", id: "rw-range", min: "0", max: "0", step: "1", value: "0", "aria-describedby": "rw-where" });
    this.where = h("p", { id: "rw-where", class: "rw-where", role: "status" });
    this.fork = h("button", { type: "button", id: "rw-fork", class: "primary", disabled: true }, "Go on from here");
    this.back = h("button", { type: "button", id: "rw-live", disabled: true }, "Back to live");
    this.err = h("p", { class: "rw-err", role: "alert" });
    // On a phone the network is far above: one tap brings it (no link: the page's hash holds its settings).
    this.see = h("button", { type: "button", class: "rw-see", hidden: true }, "See the network");
    fill(root,
      h("label", { for: "rw-range", class: "rw-label" }, "Recorded step"),
      h("div", { class: "rw-track" }, h("span", { class: "rw-end num", "aria-hidden": "true" }), this.range, h("span", { class: "rw-end num", "aria-hidden": "true" })),
      this.where,
      h("div", { class: "row" }, this.fork, this.back, this.see),
      this.err);
    this.range.addEventListener("input", () => this.ask());
    this.range.addEventListener("change", () => this.ask());
    this.fork.addEventListener("click", () => this.dispatchEvent(new CustomEvent("fork")));
    this.back.addEventListener("click", () => this.dispatchEvent(new CustomEvent("live")));
    this.see.addEventListener("click", () => document.getElementById("h-net")?.scrollIntoView({ block: "start" }));
    this.say();
  }

  ask() {
    const step = Number(this.range.value);
    if (!this.looking && step >= this.live) return;   // the live end of the range is the live run
    this.asked = step;
    this.say();
    this.dispatchEvent(new CustomEvent("look", { detail: { step } }));
  }

  /** The steps the record covers: from `first` to the live step. */
  setSpan(first, live) {
    this.first = Math.min(first, live); this.live = live;
    this.range.min = String(this.first); this.range.max = String(live);
    const [lo, hi] = this.root.querySelectorAll(".rw-end");
    lo.textContent = int(this.first); hi.textContent = int(live);
    if (!this.looking && this.asked === null) this.range.value = String(live);
    this.say();
  }

  /** What is shown: a recorded step (null: the live run). */
  show(step) {
    this.looking = step;
    if (step === null) { this.asked = null; this.range.value = String(this.live); }
    else if (document.activeElement !== this.range) this.range.value = String(step);
    this.fork.disabled = this.back.disabled = step === null;
    this.see.hidden = step === null;
    this.say();
  }

  failed(message) { this.err.textContent = message || ""; }

  say() {
    const live = int(this.live);
    let text;
    if (this.looking !== null) text = `Looking at step ${int(this.looking)} (live: ${live})`;
    else if (this.asked !== null) text = `Asking for step ${int(this.asked)}… (live: ${live})`;
    else text = `Live: step ${live}. Drag back to look at an earlier step.`;
    if (this.where.textContent !== text) this.where.textContent = text;
    this.root.classList.toggle("rw-looking", this.looking !== null);
    this.range.setAttribute("aria-valuetext", this.looking !== null ? `step ${this.looking}` : `live, step ${this.live}`);
  }
}
