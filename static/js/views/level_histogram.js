// The levels in use: for each layer, how many of its weights take each code
// (-L .. L) once snapped (quant_levels.js), as a row of bars. Hovering a bar
// says the code, its count and, with one scale per layer, the weight value it
// stands for. The frame's own count of distinct codes (`levels`) is named too.
import { h, fill } from "../dom.js";
import { fmt, int } from "../format.js";
import { levelCounts, maxCode } from "./quant_levels.js";

export class LevelHistogram {
  constructor(root) {
    this.root = root;
    this.key = null;
    this.inUse = [];   // per layer, the codes drawn with a bar above 0 (tests read them)
  }

  /** frame: the frame drawn; q: its `quantized` (null: off). */
  update(frame, q) {
    this.frame = frame;   // the frame drawn (tests wait on it)
    if (!q) { this.key = null; this.inUse = []; fill(this.root, h("p", { class: "note" }, "Choose a number of bits: each layer's weights then take a few levels, counted here.")); return; }
    const counts = levelCounts(frame.layers, q);
    const key = JSON.stringify([q.bits, q.granularity, q.scales, q.levels, counts.map((m) => [...m])]);
    if (key === this.key) return;
    this.key = key;
    const L = maxCode(q.bits), codes = [];
    for (let c = -L; c <= L; c++) if (q.bits >= 2 || c !== 0) codes.push(c);
    this.inUse = counts.map((m) => codes.filter((c) => (m.get(c) || 0) > 0));
    fill(this.root, counts.map((m, l) => this.layerRow(l, m, codes, q)));
  }

  layerRow(l, counts, codes, q) {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const top = Math.max(1, ...counts.values());
    const used = this.inUse[l].length, server = q.levels?.[l];
    const perTensor = q.scales[l].length === 1;
    const bars = codes.map((c) => {
      const n = counts.get(c) || 0;
      const value = perTensor ? c * q.scales[l][0] : null;   // a code stands for code x scale (1 bit: ±scale)
      const title = `code ${c}: ${int(n)} weight${n === 1 ? "" : "s"}` + (value === null ? " (each neuron has its own scale)" : `, level ${value}`);
      const bar = h("span", { class: `lh-bar${n ? "" : " empty"}${c === 0 ? " zero" : ""}`, title, dataset: { code: c, count: n } });
      bar.style.height = `${n ? Math.max(6, (100 * n) / top) : 2}%`;
      return bar;
    });
    const scale = perTensor ? h("span", { class: "num", title: String(q.scales[l][0]) }, `scale ${fmt(q.scales[l][0], 3)}`) : `${q.scales[l].length} scales`;
    return h("div", { class: "lh-layer" },
      h("div", { class: "lh-head" }, h("b", null, l === q.scales.length - 1 ? "Weights into the output" : `Weights into layer ${l + 1}`), " ",
        h("span", { class: "muted" }, `${int(used)} of ${int(codes.length)} levels in use`,
          server !== undefined && server !== used ? ` (server counts ${int(server)})` : "", " · ", scale, " · ", `${int(total)} weights`)),
      h("div", { class: `lh-bars${codes.length > 40 ? " dense" : ""}`, role: "img",
        "aria-label": `Weights into ${l === q.scales.length - 1 ? "the output" : `layer ${l + 1}`}: ${used} of ${codes.length} levels in use` }, bars),
      h("div", { class: "lh-axis muted" }, h("span", null, String(codes[0])), h("span", null, q.bits === 1 ? "" : "0"), h("span", null, String(codes[codes.length - 1]))));
  }
}
