// Follow mode: a student watches the teacher's session and may not change it.
// Every control that would change the session is disabled, marked aria-disabled
// and says why in its tooltip; view-only controls (edge view, show test data,
// hover, presenter, PNG) stay live. Views rebuild some controls (the layer
// heads) and re-enable others (controls.reset), so apply() runs again after
// every session and frame; it only writes what differs.

export const WHY = "Following the teacher — read-only. Fork to experiment on your own copy.";

const SESSION_CONTROLS = [
  "#play", "#step", "#reset", "#reset-new", "#speed", ".hyperbar input", ".hyperbar select",
  "#datasets button", ".col-data input:not(#show_test)", ".col-data select", "#regenerate",
  "#add-layer", "#remove-layer", "#size-preset", ".net-head button", ".net-head input", "#next-phase", "#rollback",
  "#lower-lr",
  "#export-model", "#export-csv",   // links to the session's own id, which a follower never learns
];

export class ReadOnly {
  constructor() { this.on = false; }

  elements() { return SESSION_CONTROLS.flatMap((s) => [...document.querySelectorAll(s)]); }

  /** Turn read-only on or off; returns true when it changed. */
  set(on) {
    const changed = on !== this.on;
    this.on = on;
    if (on) this.apply(); else if (changed) this.release();
    return changed;
  }

  apply() {
    if (!this.on) return;
    for (const el of this.elements()) {
      if (!("ro" in el.dataset)) el.dataset.ro = el.getAttribute("title") ?? "";
      if ("disabled" in el && !el.disabled) el.disabled = true;
      if (el.tagName === "A" && el.tabIndex !== -1) el.tabIndex = -1;
      if (el.getAttribute("aria-disabled") !== "true") el.setAttribute("aria-disabled", "true");
      if (el.title !== WHY) el.title = WHY;
    }
  }

  /** Enable what apply() disabled; the caller then lets the views restore their own limits. */
  release() {
    for (const el of document.querySelectorAll("[data-ro]")) {
      if ("disabled" in el) el.disabled = false;
      if (el.tagName === "A") el.removeAttribute("tabindex");
      el.removeAttribute("aria-disabled");
      if (el.dataset.ro) el.title = el.dataset.ro; else el.removeAttribute("title");
      delete el.dataset.ro;
    }
  }
}
