// The binary frame (docs/protocol.md, "Binary frames") decoded into the shape of
// the JSON frame the views read: frame.layers[l].W[i][j], .b[j], .dW, ... Rows
// are typed-array views of the message's own buffer (no copy): index them, read
// their length, iterate them; do not expect Array methods that build strings.
// Numbers are float32 while training (`frame.float32` is then true: not exact,
// the tooltip asks the server for exact ones) and float64 when paused or in
// step-by-step mode. The frozen masks (bytes, sent only when something is
// frozen) decode as booleans, all false when absent, as in the JSON frame.

const MAGIC = "PLF1";
const TYPES = { f8: Float64Array, f4: Float32Array, u4: Uint32Array, u1: Uint8Array };
const decoder = new TextDecoder();

/** True when `buffer` (an ArrayBuffer) starts as a binary frame does. */
export function isBinaryFrame(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < 8) return false;
  const b = new Uint8Array(buffer, 0, 4);
  return String.fromCharCode(b[0], b[1], b[2], b[3]) === MAGIC;
}

/** A view of a typed array's range (no copy), or a plain array's slice. */
const part = (flat, from, to) => (Array.isArray(flat) ? flat.slice(from, to) : flat.subarray(from, to));

/** Split one layer-ordered flat block (W0, b0, W1, b1, ...; each W row-major) into rows and vectors. */
function splitLayers(flat, sizes, layers, [wKey, bKey]) {
  let o = 0;
  for (let l = 0; l < layers.length; l++) {
    const nIn = sizes[l], nOut = sizes[l + 1], rows = new Array(nIn);
    for (let i = 0; i < nIn; i++, o += nOut) rows[i] = part(flat, o, o + nOut);
    layers[l][wKey] = rows;
    layers[l][bKey] = part(flat, o, o + nOut);
    o += nOut;
  }
}

/** Arrays of booleans shaped like the layers of `sizes`, all false: shared by frames without masks (read-only). */
const unfrozen = new Map();
function noneFrozen(sizes) {
  const key = sizes.join();
  if (!unfrozen.has(key)) {
    if (unfrozen.size > 16) unfrozen.clear();
    unfrozen.set(key, sizes.slice(1).map((nOut, l) => ({
      frozenW: Array.from({ length: sizes[l] }, () => new Array(nOut).fill(false)), frozenb: new Array(nOut).fill(false) })));
  }
  return unfrozen.get(key);
}

/** The frame a binary message carries, as the JSON frame's object; throws on a malformed one. */
export function decodeFrame(buffer) {
  if (!isBinaryFrame(buffer)) throw new Error("not a binary frame: the magic bytes are not PLF1");
  const length = new DataView(buffer).getUint32(4, true);
  const frame = JSON.parse(decoder.decode(new Uint8Array(buffer, 8, length)));
  const start = 8 + length, sizes = frame.sizes;
  const layers = Array.from({ length: Math.max(0, sizes.length - 1) }, () => ({}));
  for (const a of frame.arrays) {
    const Type = TYPES[a.dtype];
    if (!Type) throw new Error(`unknown dtype ${a.dtype} in a binary frame`);
    const flat = new Type(buffer, start + a.offset, a.count);
    splitLayers(a.dtype === "u1" ? Array.from(flat, Boolean) : flat, sizes, layers, a.keys);
    if (a.dtype === "f4") frame.float32 = true;
  }
  if (layers.length && !layers[0].frozenW) {
    noneFrozen(sizes).forEach((masks, l) => Object.assign(layers[l], masks));
  }
  delete frame.arrays; delete frame.sizes;
  frame.layers = layers;
  return frame;
}
