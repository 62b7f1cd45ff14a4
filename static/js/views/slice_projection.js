// Where the live weights sit on a landscape's slice. A frame's parameters are
// laid out flat as the server lays out a landscape's `origin` (layer by layer,
// W row-major, then b), and projected on the slice's two directions by least
// squares: the (a, b) that make origin + a d1 + b d2 closest to them.

/** A frame's (or a rewound record's) layers as one flat vector: layer by layer, W row-major, then b. */
export function flatParams(layers) {
  let n = 0;
  for (const L of layers) n += L.W.length * (L.W[0]?.length ?? 0) + L.b.length;
  const out = new Float64Array(n);
  let at = 0;
  for (const L of layers) {
    for (const row of L.W) for (let j = 0; j < row.length; j++) out[at++] = row[j];
    for (let j = 0; j < L.b.length; j++) out[at++] = L.b[j];
  }
  return out;
}

/**
 * The least-squares coordinates [a, b] of theta - origin on (d1, d2): the 2x2 normal equations
 * [d1.d1 d1.d2; d1.d2 d2.d2] [a b]' = [d1.r d2.r]' solved by Cramer's rule. For two unit vectors
 * on different parameters the Gram matrix is the identity and (a, b) are those parameters' offsets
 * exactly. null when the lengths differ (another network) or the directions are parallel.
 */
export function project(theta, origin, d1, d2) {
  const n = origin.length;
  if (theta.length !== n || d1.length !== n || d2.length !== n) return null;
  let g11 = 0, g12 = 0, g22 = 0, r1 = 0, r2 = 0;
  for (let k = 0; k < n; k++) {
    const r = theta[k] - origin[k], u = d1[k], v = d2[k];
    g11 += u * u; g12 += u * v; g22 += v * v; r1 += u * r; r2 += v * r;
  }
  const det = g11 * g22 - g12 * g12;
  if (!(det > 0)) return null;
  return [(g22 * r1 - g12 * r2) / det, (g11 * r2 - g12 * r1) / det];
}
