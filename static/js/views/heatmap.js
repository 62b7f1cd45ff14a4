// A heatmap of values over the plane on a small canvas, painted through a
// colour lookup table into one reused ImageData (no allocation per frame).
import { divergingLUT, classLUT, LUT_SIZE } from "../colors.js";

/**
 * [shift, scale] mapping the values of column c (1.. = layers) into [-1, 1]:
 * tanh and the other unbounded activations as they are (clamped), sigmoid and
 * probabilities around 0.5, regression outputs over the targets' range.
 */
export function heatScale(ctx, c) {
  const last = ctx.sizes.length - 1;
  if (c === last) {
    if (ctx.task === "binary" || ctx.task === "multiclass") return [0.5, 2];
    if (ctx.task === "regression") {
      const [lo, hi] = ctx.yRange || [-1, 1];
      return [(lo + hi) / 2, 2 / ((hi - lo) || 1)];
    }
    return [0, 1];
  }
  return ctx.activations[c - 1] === "sigmoid" ? [0.5, 2] : [0, 1];
}

export class HeatMap {
  constructor(canvas, n) {
    this.canvas = canvas; this.n = n;
    canvas.width = n; canvas.height = n;
    this.g = canvas.getContext("2d");
    this.img = this.g.createImageData(n, n);
    this.u32 = new Uint32Array(this.img.data.buffer);
    this.lut = divergingLUT();
    this.classLut = null;
  }

  /** Paint values[p * stride + off] for the n*n grid points p. */
  paint(values, off, stride, shift, scale) {
    const u32 = this.u32, lut = this.lut, P = this.n * this.n, half = (LUT_SIZE - 1) / 2;
    for (let p = 0; p < P; p++) {
      const i = Math.round(((values[p * stride + off] - shift) * scale + 1) * half);
      u32[p] = lut[i < 0 ? 0 : i > 255 ? 255 : i === i ? i : 127];
    }
    this.g.putImageData(this.img, 0, 0);
  }

  /** Paint the most probable of k classes, lighter where the network is unsure. */
  paintClasses(probs, k) {
    if (!this.classLut || this.classK !== k) { this.classLut = classLUT(k); this.classK = k; }
    const u32 = this.u32, lut = this.classLut, P = this.n * this.n;
    for (let p = 0; p < P; p++) {
      let best = 0, bp = -1;
      for (let c = 0; c < k; c++) { const v = probs[p * k + c]; if (v > bp) { bp = v; best = c; } }
      const conf = k > 1 ? (bp - 1 / k) / (1 - 1 / k) : 1;
      const s = Math.max(0, Math.min(15, Math.round(conf * 15)));
      u32[p] = lut[best * 16 + s];
    }
    this.g.putImageData(this.img, 0, 0);
  }
}
