// What a lesson step does to the page: the messages of its setup (sent by the
// player, only on a tab that drives its own session), and its decor: panels
// hidden, controls locked, one control highlighted. The decor is undone when
// the step changes or the lesson closes; the page's views re-enable some
// controls on their own (after a session, a frame), so locks are re-applied
// then (relock), writing only what differs.

const HIDDEN = "lesson-hidden", LOCKED = "lesson-locked", LOCK_BOX = "lesson-lock-box", HIGHLIGHT = "lesson-highlight";
export const LOCK_NOTE = "Locked by the lesson";
const FORM_CONTROLS = "button, input, select, textarea";

/**
 * The messages a step's setup sends, in order: configure, set_hyper, the lab's messages, play or pause.
 * state: the page's State (a configure that changes the layers or the activation drops per-layer
 * activations, as the page's own configure does).
 */
export function setupMessages(setup, state) {
  const out = [];
  if (!setup) return out;
  if (setup.config && Object.keys(setup.config).length) {
    const config = { ...setup.config };
    if ((config.hidden || config.activation) && state?.activations && !("activations" in config)) config.activations = null;
    out.push({ type: "configure", config });
  }
  if (setup.hyper && Object.keys(setup.hyper).length) out.push({ type: "set_hyper", ...setup.hyper });
  for (const name of ["quantize", "early_stopping"]) {
    const msg = setup.lab?.[name];
    if (msg) out.push({ ...msg, type: name });
  }
  if (typeof setup.playing === "boolean") out.push({ type: setup.playing ? "play" : "pause" });
  return out;
}

/**
 * The setup that brings the page to step `k` of a lesson opened there (a link, a room): the steps up to it
 * applied one after the other, as one setup (what a later step leaves out, an earlier one decided), over a
 * lab with quantization and early stopping off.
 */
// What a lesson opened afresh starts from in the lab, unless its steps say otherwise: quantization and early
// stopping outlive a new configuration, and a lesson opened after another must not inherit them.
const LAB_AT_START = { quantize: { bits: 0 }, early_stopping: { rule: null } };

export function setupAt(steps, k) {
  const out = { lab: { ...LAB_AT_START } };
  for (const step of steps.slice(0, k + 1)) {
    const s = step.setup || {};
    if (s.config) out.config = { ...out.config, ...s.config };
    if (s.hyper) out.hyper = { ...out.hyper, ...s.hyper };
    if (s.lab) out.lab = { ...out.lab, ...Object.fromEntries(Object.entries(s.lab).filter(([, v]) => v)) };
    for (const key of ["playing", "step_unit"]) if (s[key] !== null && s[key] !== undefined) out[key] = s[key];
  }
  return out;
}

/** The panels shown (true) or hidden (false) at step `k`: each step's show/hide on top of the steps before it. */
export function panelsAt(steps, k) {
  const shown = new Map();
  for (const step of steps.slice(0, k + 1)) {
    for (const name of step.panels?.show || []) shown.set(name, true);
    for (const name of step.panels?.hide || []) shown.set(name, false);
  }
  return shown;
}

/** Panels, locks and the highlight of the step shown, on the page's elements (selectors from the vocabulary). */
export class StepDecor {
  /** vocabulary: GET /api/lessons' `vocabulary` ({panels, controls}: name -> CSS selector). */
  constructor(vocabulary) {
    this.panels = vocabulary.panels;
    this.controls = vocabulary.controls;
    this.locked = [];      // names locked now
    this.elements = null;  // their form controls, found again after the views rebuild (forget)
    this.highlight = null;
  }

  /**
   * Show step `k` of `steps`: its panels (as the steps up to it leave them), its locks, its highlight
   * (scrolled into view when `scroll`). The previous step's locks must be off first (unlock), so the
   * views can restore their own limits.
   */
  show(steps, k, scroll = true) {
    const step = steps[k];
    for (const [name, shown] of panelsAt(steps, k)) {
      for (const el of this.all(this.panels[name])) el.classList.toggle(HIDDEN, !shown);
    }
    this.locked = [...(step.locked || [])];
    this.forget();
    this.relock();
    this.unhighlight();
    this.highlight = step.highlight || null;
    const target = this.target();
    target?.classList.add(HIGHLIGHT);
    if (scroll) this.locate();
  }

  /** The highlighted control's element, or null. */
  target() {
    return this.highlight ? this.all(this.controls[this.highlight])[0] ?? null : null;
  }

  /** Scroll the highlighted control to the middle of the window, unless it is in sight already. */
  locate() {
    const el = this.target();
    if (!el) return;
    const r = el.getBoundingClientRect();
    if (r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth) return;
    el.scrollIntoView({ block: "center", inline: "nearest", behavior: "smooth" });
  }

  /** Every element `selector` finds (none for a name the page does not have). */
  all(selector) {
    if (!selector) return [];
    try { return [...document.querySelectorAll(selector)]; } catch { return []; }
  }

  /** The form controls a locked name stands for: the element itself, or those inside it (a group of buttons). */
  lockedElements() {
    const out = [];
    for (const name of this.locked) {
      for (const el of this.all(this.controls[name])) {
        if (el.matches(FORM_CONTROLS)) out.push(el);
        else out.push(...el.querySelectorAll(FORM_CONTROLS));
      }
    }
    return out;
  }

  /** The views rebuilt controls (a session, a dataset): the locked elements are looked up again. */
  forget() { this.elements = null; }

  /** Lock again what a view re-enabled since (after a session or a frame); writes only what differs. */
  relock() {
    if (!this.elements) this.elements = this.lockedElements();
    for (const el of this.elements) {
      if (!el.classList.contains(LOCKED)) {
        el.classList.add(LOCKED);
        el.dataset.lessonTitle = el.getAttribute("title") ?? "";
        const box = el.closest(".hp, .field, label") || (el.matches("button") ? el : el.parentElement);
        box?.classList.add(LOCK_BOX);
      }
      if (!el.disabled) el.disabled = true;
      // A follower's read-only lock (views/read_only.js) says why in the title already: left to it.
      if (!("ro" in el.dataset) && el.title !== LOCK_NOTE) el.title = LOCK_NOTE;
      if (el.getAttribute("aria-disabled") !== "true") el.setAttribute("aria-disabled", "true");
    }
  }

  /** Undo the locks; returns true when there were any (the caller lets the views restore their own limits). */
  unlock() {
    const els = [...document.querySelectorAll(`.${LOCKED}`)];
    for (const el of els) {
      el.classList.remove(LOCKED);
      el.disabled = false;
      el.removeAttribute("aria-disabled");
      if (el.dataset.lessonTitle) el.title = el.dataset.lessonTitle; else el.removeAttribute("title");
      delete el.dataset.lessonTitle;
    }
    for (const box of document.querySelectorAll(`.${LOCK_BOX}`)) box.classList.remove(LOCK_BOX);
    this.locked = [];
    this.elements = [];
    return els.length > 0;
  }

  unhighlight() {
    for (const el of document.querySelectorAll(`.${HIGHLIGHT}`)) el.classList.remove(HIGHLIGHT);
    this.highlight = null;
  }

  /** The lesson closed: every panel back, every lock off, no highlight. Returns true when locks were undone. */
  clear() {
    for (const el of document.querySelectorAll(`.${HIDDEN}`)) el.classList.remove(HIDDEN);
    this.unhighlight();
    return this.unlock();
  }
}
