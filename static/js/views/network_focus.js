// Hover, focus and keyboard for the network view: the tooltip with a
// parameter's numbers, the editor (type a value, freeze), and a roving
// tabindex so the whole network is one Tab stop walked with the arrow keys.
// Hovering a weight, a bias or a neuron asks the server for that parameter's
// exact numbers (an "exact" event; main.js sends `inspect`): frames carry
// float32, the tooltip shows them as approximate until the exact ones arrive.
import { nodeName, paramView, nodeView, exactFor } from "./inspect.js";

/** The parameter an item shows: {layer, kind, i, j}, or null (an input neuron). */
function paramOf(it) {
  if (it.type === "edge") return { layer: it.l, kind: "W", i: it.i, j: it.j };
  if (it.type === "bias") return { layer: it.l, kind: "b", i: 0, j: it.j };
  if (it.type === "node" && it.c > 0) return { layer: it.c - 1, kind: "b", i: 0, j: it.k };
  return null;
}

export class NetworkFocus {
  constructor(view, tooltip) {
    this.view = view; this.tooltip = tooltip;
    this.items = []; this.byKey = new Map(); this.focusIndex = 0;
    this.hoverKey = null; this.tooltipItem = null;
    this.exact = null;   // the last `inspected` message
  }

  /** The server's exact numbers of a parameter (an `inspected` message): shown if it is the one hovered. */
  setExact(msg) {
    this.exact = msg;
    this.refreshTooltip();
  }

  /** The exact numbers of `it`'s parameter at the frame shown, from the frame or the last answer, or null. */
  exactOf(it) {
    const q = paramOf(it), f = this.view.frame;
    if (!q || !f) return null;
    return exactFor(f.inspected, f.step, q.layer, q.kind, q.i, q.j) || exactFor(this.exact, f.step, q.layer, q.kind, q.i, q.j);
  }

  /** items: [{key, el, type: node | bias | edge, ...}] in keyboard order. */
  attach(items) {
    this.items = items;
    this.byKey = new Map(items.map((it, idx) => [it.key, idx]));
    this.hoverKey = null; this.tooltipItem = null;
    for (const it of items) {
      it.el.addEventListener("pointerenter", (ev) => this.hover(it, ev));
      it.el.addEventListener("pointermove", (ev) => { if (this.hoverKey === it.key) this.tooltip.moveTo(ev.clientX, ev.clientY); });
      it.el.addEventListener("pointerleave", () => this.unhover(it));
      it.el.addEventListener("focus", () => { this.focusIndex = this.byKey.get(it.key); this.hover(it, null); });
      it.el.addEventListener("blur", () => this.unhover(it));
      it.el.addEventListener("click", (ev) => { ev.stopPropagation(); this.focusIndex = this.byKey.get(it.key); this.edit(it); });
    }
    this.focusIndex = Math.max(0, Math.min(this.focusIndex, items.length - 1));
    this.setRoving(this.focusIndex);
  }

  hover(it, ev) {
    this.hoverKey = it.key;
    this.tooltipItem = it;
    this.refreshTooltip();
    it.el.setAttribute("aria-describedby", "tooltip");
    if (ev) this.tooltip.moveTo(ev.clientX, ev.clientY); else this.tooltip.anchor(it.el.getBoundingClientRect());
    this.view.dispatchEvent(new CustomEvent("exact", { detail: paramOf(it) }));
    if (it.type === "node") this.view.dispatchEvent(new CustomEvent("inspect", { detail: { c: it.c, k: it.k } }));
    if (it.type === "bias") this.view.dispatchEvent(new CustomEvent("inspect", { detail: { c: it.l + 1, k: it.j } }));
  }

  unhover(it) {
    if (this.hoverKey !== it.key) return;
    if (it.el === document.activeElement) return;
    this.hoverKey = null; this.tooltipItem = null;
    this.tooltip.hide();
    this.view.dispatchEvent(new CustomEvent("exact", { detail: null }));
    this.view.dispatchEvent(new CustomEvent("inspect", { detail: null }));
  }

  refreshTooltip() {
    const it = this.tooltipItem;
    const v = this.view;
    if (!it || !v.frame || this.tooltip.editing) return;
    let content;
    const exact = this.exactOf(it);
    if (it.type === "edge") content = paramView(v.ctxInfo, v.frame, v.prevFrame, it.l, "W", it.i, it.j, exact);
    else if (it.type === "bias") content = paramView(v.ctxInfo, v.frame, v.prevFrame, it.l, "b", 0, it.j, exact);
    else content = nodeView(v.ctxInfo, v.frame, it.c, it.k, exact);
    this.tooltip.show(content, it.key);
  }

  edit(it) {
    const v = this.view;
    if (!v.frame || v.readOnly) return;   // following the teacher: look, do not touch
    let l, kind, i = 0, j;
    if (it.type === "edge") { l = it.l; kind = "W"; i = it.i; j = it.j; }
    else if (it.type === "bias") { l = it.l; kind = "b"; j = it.j; }
    else if (it.type === "node" && it.c > 0) { l = it.c - 1; kind = "b"; j = it.k; }
    else return;
    const L = v.frame.layers[l];
    // The exact value when the server sent it; a float32 one only to as many digits as it holds.
    const exact = this.exactOf(it), streamed = kind === "W" ? L.W[i][j] : L.b[j];
    const value = exact ? exact.value : v.frame.float32 && Number.isFinite(streamed) ? Number(streamed.toPrecision(7)) : streamed;
    const frozen = kind === "W" ? !!L.frozenW?.[i]?.[j] : !!L.frozenb?.[j];
    const title = kind === "W" ? `weight ${nodeName(v.ctxInfo, l, i)} → ${nodeName(v.ctxInfo, l + 1, j)}` : `bias of ${nodeName(v.ctxInfo, l + 1, j)}`;
    const target = it.type === "node" ? "neuron" : kind === "W" ? "weight" : "bias";
    this.tooltip.openEditor({
      title, value, frozen, anchor: it.el.getBoundingClientRect(), returnFocus: it.el,
      freezeLabel: target === "neuron" ? "Freeze neuron" : "Frozen",
      onSet: (x) => v.dispatchEvent(new CustomEvent("intent", { detail: { type: "set_param", layer: l, kind, i: kind === "W" ? i : undefined, j, value: x } })),
      layer: target === "neuron" ? {
        label: `Freeze layer ${l + 1 === v.ctxInfo.sizes.length - 1 ? "(output)" : l + 1}`,
        frozen: L.frozenb.every(Boolean) && L.frozenW.every((row) => row.every(Boolean)),
        onFreeze: (f) => v.dispatchEvent(new CustomEvent("intent", { detail: { type: "freeze", layer: l, target: "layer", frozen: f } })),
      } : null,
      onFreeze: (f) => v.dispatchEvent(new CustomEvent("intent", { detail: { type: "freeze", layer: l, target, ...(target === "weight" ? { i, j } : { j }), frozen: f } })),
    });
  }

  setRoving(idx) {
    this.items.forEach((it, n) => it.el.setAttribute("tabindex", n === idx ? "0" : "-1"));
  }

  /** Arrow keys, Home and End walk the items; Enter edits; Escape closes the tooltip. */
  bindKeys(stage) {
    stage.addEventListener("keydown", (ev) => {
      if (!this.items.length || !ev.target.dataset?.key) return;
      let idx = this.byKey.get(ev.target.dataset.key);
      if (["ArrowDown", "ArrowRight"].includes(ev.key)) idx = Math.min(this.items.length - 1, idx + 1);
      else if (["ArrowUp", "ArrowLeft"].includes(ev.key)) idx = Math.max(0, idx - 1);
      else if (ev.key === "Home") idx = 0;
      else if (ev.key === "End") idx = this.items.length - 1;
      else if (ev.key === "Enter") { ev.preventDefault(); this.edit(this.items[idx]); return; }
      else if (ev.key === "Escape") { this.tooltip.hide(); return; }
      else return;
      ev.preventDefault(); ev.stopPropagation();
      this.focusIndex = idx; this.setRoving(idx); this.items[idx].el.focus();
    });
  }
}
