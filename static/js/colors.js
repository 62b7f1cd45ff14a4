// Colour-blind-safe palette: Playground's orange/blue diverging scale for
// values (weights, activations) and for two classes, Okabe-Ito for more.

export const NEG = [245, 147, 34];    // orange  (#f59322): negative, class 0
export const MID = [232, 234, 235];   // light grey (#e8eaeb): zero
export const POS = [8, 119, 189];     // blue    (#0877bd): positive, class 1

// Three or more classes: Okabe and Ito's eight colours (told apart with every common colour-vision
// deficiency), ordered so that the first three avoid the orange and blue that mean a weight's sign on
// the same screen: bluish green, reddish purple and near-black. Yellow follows (light: weak on a light
// map); sky blue, vermillion, orange and blue, which read as a sign, come only past five classes.
export const CLASS_COLORS = [
  [0, 158, 115], [204, 121, 167], [60, 60, 60], [240, 228, 66],
  [86, 180, 233], [213, 94, 0], [230, 159, 0], [0, 114, 178],
];

export const rgb = (c, a = 1) => (a === 1 ? `rgb(${c[0]},${c[1]},${c[2]})` : `rgba(${c[0]},${c[1]},${c[2]},${a})`);

function mix(a, b, t) {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** Colour of a value in [-1, 1] on the diverging scale. */
export function diverging(v) {
  const t = Math.max(-1, Math.min(1, v));
  return t < 0 ? mix(MID, NEG, -t) : mix(MID, POS, t);
}

export const LUT_SIZE = 256;

/** 256 RGBA colours packed as little-endian uint32 (ImageData byte order) for v in [-1, 1]. */
export function divergingLUT() {
  const lut = new Uint32Array(LUT_SIZE);
  for (let i = 0; i < LUT_SIZE; i++) {
    const c = diverging((i / (LUT_SIZE - 1)) * 2 - 1);
    lut[i] = (255 << 24) | (Math.round(c[2]) << 16) | (Math.round(c[1]) << 8) | Math.round(c[0]);
  }
  return lut;
}

/** LUT index of v in [-1, 1]. */
export function lutIndex(v) {
  if (!(v === v)) return (LUT_SIZE - 1) >> 1;   // NaN -> middle
  const i = Math.round((v + 1) * 0.5 * (LUT_SIZE - 1));
  return i < 0 ? 0 : i > LUT_SIZE - 1 ? LUT_SIZE - 1 : i;
}

/** Per-class packed colours blended with the background by confidence (multiclass maps). */
export function classLUT(k) {
  const lut = new Uint32Array(k * 16);
  for (let c = 0; c < k; c++) {
    for (let s = 0; s < 16; s++) {
      const col = mix(MID, CLASS_COLORS[c % CLASS_COLORS.length], 0.15 + 0.75 * (s / 15));
      lut[c * 16 + s] = (255 << 24) | (Math.round(col[2]) << 16) | (Math.round(col[1]) << 8) | Math.round(col[0]);
    }
  }
  return lut;
}

/** Colour of class `c` among `k` classes (2 classes use orange/blue like the maps). */
export function classColor(c, k) {
  if (k <= 2) return c === 0 ? NEG : POS;
  return CLASS_COLORS[c % CLASS_COLORS.length];
}
