// The quantization rule on the page: a weight snapped to its level, as the
// server's engine does it (app/nn/quantization.py; the rule is written out in
// docs/protocol.md, "Transfer and compression lab"). The frame's `quantized`
// carries the scales; everything the page draws quantized comes through here.

/** Round to the nearest integer, a tie to the even one (numpy's rint), as the server rounds codes. */
export function roundHalfEven(x) {
  const r = Math.round(x);   // ties go up (towards +Infinity): 2.5 -> 3, -2.5 -> -2
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The largest code of `bits` bits: 2^(bits-1) - 1 (one level unused, so the grid is symmetric around 0); 1 bit: 1. */
export function maxCode(bits) { return bits === 1 ? 1 : 2 ** (bits - 1) - 1; }

/**
 * The integer code of weight w at `bits` bits with scale s: bits >= 2, clip(round_half_even(w / s), -L, L)
 * (s = 0 gives 0); 1 bit, +1 for w >= 0 and -1 otherwise (one bit has no room for a zero). null stays null.
 */
export function codeOf(w, bits, s) {
  if (w === null || w === undefined || Number.isNaN(w)) return null;
  if (bits === 1) return w >= 0 ? 1 : -1;
  if (!s) return 0;
  const L = maxCode(bits);
  return Math.min(L, Math.max(-L, roundHalfEven(w / s)));
}

/** The level weight w snaps to: code * s (bits >= 2), or ±s (1 bit). */
export function snapWeight(w, bits, s) {
  const q = codeOf(w, bits, s);
  return q === null ? null : q * s;
}

/** The scale of column j of layer l: one per tensor (scales[l][0]) or one per output neuron (scales[l][j]). */
export function scaleOf(q, l, j) {
  const s = q.scales[l];
  return s.length === 1 ? s[0] : s[j];
}

/**
 * A frame's layers with every weight snapped to its level (quantized: the frame's `quantized`);
 * each layer keeps its full-precision rows as Wfull. Biases stay as they are (the server keeps them in float32).
 */
export function snapLayers(layers, q) {
  return layers.map((L, l) => ({
    ...L, Wfull: L.W,
    W: Array.from(L.W, (row) => Array.from(row, (w, j) => snapWeight(w, q.bits, scaleOf(q, l, j)))),
  }));
}

/** How many weights of each layer take each code: one Map(code -> count) per layer. */
export function levelCounts(layers, q) {
  return layers.map((L, l) => {
    const counts = new Map();
    for (const row of L.W) {
      for (let j = 0; j < row.length; j++) {
        const c = codeOf(row[j], q.bits, scaleOf(q, l, j));
        if (c !== null) counts.set(c, (counts.get(c) || 0) + 1);
      }
    }
    return counts;
  });
}
