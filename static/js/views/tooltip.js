// One floating tooltip for the whole page (numbers of a weight, a bias, a
// neuron), and the small editor that opens on click: type a new value, freeze.
export class Tooltip {
  constructor(el) {
    this.el = el;
    this.key = null; this.editing = false;
    document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && this.editing) this.closeEditor(); });
    document.addEventListener("pointerdown", (ev) => { if (this.editing && !this.el.contains(ev.target)) this.closeEditor(false); });
  }

  show(html, key) {
    if (this.editing) return;
    if (this.html !== html) { this.el.innerHTML = html; this.html = html; }
    this.key = key;
    this.el.hidden = false;
  }

  hide() {
    if (this.editing) return;
    this.el.hidden = true; this.key = null; this.html = null;
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
    this.html = null;
    this.el.innerHTML = `<form class="editor" role="dialog" aria-label="Edit ${opts.title}">
      <div class="tt-head"><span class="chip param">parameter</span> ${opts.title}</div>
      <label class="ed-row">New value <input name="value" type="text" inputmode="decimal" size="14" value="${opts.value}"></label>
      <div class="ed-row"><button type="submit" class="primary">Set</button>
      <label class="check"><input name="frozen" type="checkbox" ${opts.frozen ? "checked" : ""}> ${opts.freezeLabel}</label>
      ${opts.layer ? `<label class="check"><input name="layerFrozen" type="checkbox" ${opts.layer.frozen ? "checked" : ""}> ${opts.layer.label}</label>` : ""}
      <button type="button" class="close">Close</button></div>
      <div class="ed-err" role="alert"></div></form>`;
    this.editing = true;
    this.returnFocus = opts.returnFocus;
    const form = this.el.querySelector("form"), input = form.elements.value, err = form.querySelector(".ed-err");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = Number(input.value);
      if (input.value.trim() === "" || !Number.isFinite(v)) { err.textContent = "Type a finite number, e.g. 0.5 or -1e-3"; return; }
      opts.onSet(v);
      this.closeEditor();
    });
    form.elements.frozen.addEventListener("change", (ev) => opts.onFreeze(ev.target.checked));
    if (opts.layer) form.elements.layerFrozen.addEventListener("change", (ev) => opts.layer.onFreeze(ev.target.checked));
    form.querySelector(".close").addEventListener("click", () => this.closeEditor());
    this.anchor(opts.anchor);
    input.focus(); input.select();
  }

  closeEditor(refocus = true) {
    if (!this.editing) return;
    this.editing = false;
    this.el.hidden = true; this.html = null;
    if (refocus && this.returnFocus) this.returnFocus.focus();
  }
}
