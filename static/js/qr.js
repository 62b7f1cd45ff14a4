// A QR code drawn by the page itself (no network): the room's join link on the
// projector. The encoder is qrcode-generator (MIT), vendored in static/vendor/.
import qrcode from "../vendor/qrcode-generator-2.0.4.esm.js";

export const QUIET = 4;   // the white border, in modules, that scanners expect

/** Encode `text` (error correction M, the smallest version that fits) as a module matrix. */
export function encodeQR(text) {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  return qr;
}

/**
 * Draw `text` on `canvas`, `cell` device pixels per module, black on white with the
 * quiet zone. CSS scales the canvas (image-rendering: pixelated keeps the edges sharp).
 * Returns {text, moduleCount, cell, quiet}.
 */
export function drawQR(canvas, text, cell = 8) {
  const qr = encodeQR(text), n = qr.getModuleCount(), size = (n + 2 * QUIET) * cell;
  canvas.width = size; canvas.height = size;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff"; g.fillRect(0, 0, size, size);
  g.fillStyle = "#000";
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) if (qr.isDark(r, c)) g.fillRect((c + QUIET) * cell, (r + QUIET) * cell, cell, cell);
  }
  return { text, moduleCount: n, cell, quiet: QUIET };
}
