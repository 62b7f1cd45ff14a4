// The binary frame (docs/protocol.md, "Binary frames") decoded into the shape of
// the JSON frame the views read: frame.layers[l].W[i][j], .b[j], .dW, ... Rows
// are typed-array views of the message's own buffer (no copy): index them, read
// their length, iterate them; do not expect Array methods that build strings.
// Numbers are float32 while training (`frame.float32` is then true: not exact,
// the tooltip asks the server for exact ones) and float64 in step-by-step mode.
// The frozen masks are sent only when something is frozen: absent, they decode
// as all zeros, so every frame has frozenW and frozenb as the JSON frame does.

const MAGIC = "PLF1";
const TYPES = { f8: Float64Array, f4: Float32Array, u4: Uint32Array, u1: Uint8Array };
const decoder = new TextDecoder();

/** True when `buffer` (an ArrayBuffer) starts as a binary frame does. */
export function isBinaryFrame(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < 8) return false;
  const b = new Uint8Array(buffer, 0, 4);
  return String.fromCharCode(b[0], b[1], b[2], b[3]) === MAGIC;
}

/** Split one layer-ordered flat block (W0, b0, W1, b1, ...; each W row-major) into rows and vectors. */
function splitLayers(flat, sizes, layers, [wKey, bKey]) {
  let o = 0;
  for (let l = 0; l < layers.length; l++) {
    const nIn = sizes[l], nOut = sizes[l + 1], rows = new Array(nIn);
    for (let i = 0; i < nIn; i++, o += nOut) rows[i] = flat.subarray(o, o + nOut);
    layers[l][wKey] = rows;
    layers[l][bKey] = flat.subarray(o, o + nOut);
    o += nOut;
  }
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
    splitLayers(new Type(buffer, start + a.offset, a.count), sizes, layers, a.keys);
    if (a.dtype === "f4") frame.float32 = true;
  }
  if (layers.length && !layers[0].frozenW) {
    const total = sizes.slice(1).reduce((n, out, l) => n + (sizes[l] + 1) * out, 0);
    splitLayers(new Uint8Array(total), sizes, layers, ["frozenW", "frozenb"]);
  }
  delete frame.arrays; delete frame.sizes;
  frame.layers = layers;
  return frame;
}
