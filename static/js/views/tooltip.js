// One floating tooltip for the whole page (numbers of a weight, a bias, a
// neuron), and the small editor that opens on click: type a new value, freeze.
// Content comes as DOM nodes (see dom.js), never as an HTML string.
import { h } from "../dom.js";

export class Tooltip {
  constructor(el) {
    this.el = el;
    this.key = null; this.editing = false;
    document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && this.editing) this.closeEditor(); });
    document.addEventListener("pointerdown", (ev) => { if (this.editing && !this.el.contains(ev.target)) this.closeEditor(false); });
  }

  /** content: a node or fragment; redrawn only when it differs from what is shown. */
  show(content, key) {
    if (this.editing) return;
    if (!this.shown || !this.shown.isEqualNode(content)) {
      this.shown = content.cloneNode(true);
      this.el.replaceChildren(content);
    }
    this.key = key;
    this.el.hidden = false;
  }

  hide() {
    if (this.editing) return;
    this.el.hidden = true; this.key = null; this.shown = null;
  }

  place(x, y) {
    const r = this.el.getBoundingClientRect(), W = window.innerWidth, H = window.innerHeight;
    let left = x + 16, top = y + 16;
    if (left + r.width > W - 8) left = Math.max(8, x - r.width - 16);
    if (top + r.height > H - 8) top = Math.max(8, y - r.height - 16);
    this.el.style.left = `${left}px`; this.el.style.top = `${top}px`;
  }

  moveTo(x, y) { this.place(x, y); }
  anchor(rect) { this.place(rect.right, rect.top + rect.height / 2); }

  /** opts: {title, value, frozen, anchor, returnFocus, freezeLabel, onSet(v), onFreeze(bool), layer?: {label, frozen, onFreeze(bool)}} */
  openEditor(opts) {
    this.editing = false;
    this.el.hidden = false;
    this.shown = null;
    const check = (name, on, label) => h("label", { class: "check" }, h("input", { name, type: "checkbox", checked: on }), " ", label);
    const input = h("input", { name: "value", type: "text", inputmode: "decimal", size: 14 });
    input.value = String(opts.value);
    const err = h("div", { class: "ed-err", role: "alert" });
    const close = h("button", { type: "button", class: "close" }, "Close");
    const form = h("form", { class: "editor", role: "dialog", "aria-label": `Edit ${opts.title}` },
      h("div", { class: "tt-head" }, h("span", { class: "chip param" }, "parameter"), " ", opts.title),
      h("label", { class: "ed-row" }, "New value ", input),
      h("div", { class: "ed-row" }, h("button", { type: "submit", class: "primary" }, "Set"),
        check("frozen", opts.frozen, opts.freezeLabel),
        opts.layer ? check("layerFrozen", opts.layer.frozen, opts.layer.label) : null,
        close),
      err);
    this.el.replaceChildren(form);
    this.editing = true;
    this.returnFocus = opts.returnFocus;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = Number(input.value);
      if (input.value.trim() === "" || !Number.isFinite(v)) { err.textContent = "Type a finite number, e.g. 0.5 or -1e-3"; return; }
      opts.onSet(v);
      this.closeEditor();
    });
    form.elements.frozen.addEventListener("change", (ev) => opts.onFreeze(ev.target.checked));
    if (opts.layer) form.elements.layerFrozen.addEventListener("change", (ev) => opts.layer.onFreeze(ev.target.checked));
    close.addEventListener("click", () => this.closeEditor());
    this.anchor(opts.anchor);
    input.focus(); input.select();
  }

  closeEditor(refocus = true) {
    if (!this.editing) return;
    this.editing = false;
    this.el.hidden = true; this.shown = null;
    if (refocus && this.returnFocus) this.returnFocus.focus();
  }
}
