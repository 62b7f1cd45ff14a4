// More parameters or fewer: the model's size in bytes and the multiply-adds one update costs,
// next to its parameter count, on a logarithmic scale that runs from this network to the
// largest published language models. The reference models' counts are their published
// figures; the hover of each mark gives the exact number.
import { int } from "../format.js";
import { h, fill } from "../dom.js";

// [name, parameters, year, what it was]: published parameter counts.
export const REFERENCE_MODELS = [
  ["LeNet-5", 6.0e4, 1998, "a convolutional network that read handwritten digits on bank cheques"],
  ["AlexNet", 6.1e7, 2012, "the image classifier that started deep learning's boom"],
  ["GPT-2", 1.5e9, 2019, "a language model (its largest size)"],
  ["GPT-3", 1.75e11, 2020, "a language model"],
  ["largest published", 1.0e12, 2025, "the largest language models whose size is published have about a trillion "
    + "parameters (mixtures of experts, each token using a few percent of them)"],
];
const LOW = 1, HIGH = 13;   // the scale runs from 10 to 10^13 parameters

const SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹";
const power = (e) => `10${String(e).split("").map((d) => SUPERSCRIPT[Number(d)]).join("")}`;

/** Bytes in words: 800 B, 3.2 kB, 350 GB (powers of 1000). */
export function bytesText(n) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) { n /= 1000; u++; }
  return `${u === 0 ? int(n) : n.toPrecision(3).replace(/\.?0+$/, "")} ${units[u]}`;
}

/** Multiply-adds of the matrix products for one example: forward, and backward (the weights' gradients,
 * then the error sent back to each layer but the first, which has no layer before it). */
export function multiplyAdds(sizes) {
  let forward = 0;
  for (let l = 0; l + 1 < sizes.length; l++) forward += sizes[l] * sizes[l + 1];
  const backward = 2 * forward - (sizes.length > 1 ? sizes[0] * sizes[1] : 0);
  return { forward, backward };
}

/** Large counts in words: 175 billion, 1 trillion. */
function countText(n) {
  for (const [v, word] of [[1e12, "trillion"], [1e9, "billion"], [1e6, "million"], [1e3, "thousand"]]) {
    if (n >= v) return `${Number((n / v).toPrecision(3))} ${word}`;
  }
  return int(n);
}

export class ModelScale {
  constructor(root) { this.root = root; this.key = ""; this.sizes = null; this.params = 0; }

  /** From the session's architecture: sizes [n_inputs, ...hidden, n_outputs] and its parameter count. */
  reset(arch) {
    this.sizes = [arch.n_inputs, ...arch.hidden, arch.n_outputs];
    this.params = arch.total_params;
    this.key = "";
  }

  /** Per frame: redrawn only when the batch size or the network changed. */
  update(frame) {
    const batch = frame.hyper?.batch_size;
    if (!this.sizes || !Number.isFinite(batch)) return;
    const key = `${this.sizes.join("-")}/${batch}`;
    if (key === this.key) return;
    this.key = key;
    this.draw(batch);
  }

  draw(batch) {
    const n = this.params, { forward, backward } = multiplyAdds(this.sizes);
    const perExample = forward + backward, perUpdate = perExample * batch;
    const at = (count) => `${((Math.log10(Math.max(count, 10)) - LOW) / (HIGH - LOW)) * 100}%`;
    // The page's CSP refuses inline style attributes: positions are set on the element's style object.
    const placed = (el, count) => { el.style.left = at(count); return el; };
    const mark = (name, count, cls, title, below) => placed(h("div", { class: `scale-mark ${cls}${below ? " below" : ""}`, title },
      h("span", { class: "scale-dot" }), h("span", { class: "scale-label" }, name)), count);
    const largest = REFERENCE_MODELS[REFERENCE_MODELS.length - 1][1];
    fill(this.root,
      h("h3", null, "How big is it?"),
      h("dl", { class: "scale-figures" },
        h("div", null, h("dt", null, "size"),
          h("dd", { id: "model-bytes", class: "num", title: `${n} parameters × 8 bytes = ${n * 8} bytes (float64, as trained here); ${n * 4} bytes as float32` },
            `${bytesText(n * 8)}`, h("span", { class: "note" }, ` (${int(n)} × 8 bytes; ${bytesText(n * 4)} as float32)`))),
        h("div", null, h("dt", null, "multiply-adds per update"),
          h("dd", { id: "model-macs", class: "num", title: `${perUpdate} = batch ${batch} × (${forward} forward + ${backward} backward) per example; the matrix products only` },
            int(perUpdate), h("span", { class: "note" }, ` (batch ${int(batch)} × ${int(perExample)})`)))),
      h("div", { class: "scale-bar", role: "img", "aria-label": `This network's ${int(n)} parameters on a scale from 10 to 10 trillion` },
        h("div", { class: "scale-track" }),
        [4, 7, 10, 13].map((e) => placed(h("span", { class: "scale-tick" }, power(e)), 10 ** e)),
        REFERENCE_MODELS.map(([name, count, year, what], i) => mark(name, count, "ref",
          `${name} (${year}): ${count.toLocaleString("en")} parameters, ${bytesText(count * 2)} at 2 bytes each; ${what}`, i % 2 === 1)),
        mark("this network", n, "this", `this network: ${n} parameters, ${n * 8} bytes`, true)),
      h("p", { class: "note scale-note" },
        `The largest published language models have about ${countText(largest / n)} times as many parameters, `
        + "and do about one multiply-add per parameter for every word piece they read."));
  }
}
