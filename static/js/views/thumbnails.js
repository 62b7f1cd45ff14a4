// Small pictures of each dataset for the dataset buttons. They are drawn here
// from the same shapes as the server's generators, with a fixed seed: an
// illustration, not the data (the data comes from the server).
import { classColor, diverging, rgb, MID } from "../colors.js";

function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

function points(name, r) {
  const pts = [], u = (a, b) => a + (b - a) * r(), gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const N = 90;
  switch (name) {
    case "circle":
      for (let n = 0; n < N; n++) { const inner = n % 2, rad = inner ? u(0, 2.5) : u(3.5, 5), a = u(0, 2 * Math.PI); pts.push([rad * Math.sin(a), rad * Math.cos(a), inner]); }
      break;
    case "xor":
      for (let n = 0; n < N; n++) { let x = u(-5, 5), y = u(-5, 5); x += x > 0 ? 0.3 : -0.3; y += y > 0 ? 0.3 : -0.3; pts.push([x, y, x * y >= 0 ? 1 : 0]); }
      break;
    case "gauss":
      for (let n = 0; n < N; n++) { const c = n % 2, m = c ? 2 : -2; pts.push([m + gauss(), m + gauss(), c]); }
      break;
    case "spiral": case "spiral3": {
      const K = name === "spiral" ? 2 : 3;
      for (let n = 0; n < N; n++) { const c = n % K, t = (n / N) * 1.75 * 2 * Math.PI, rad = (n / N) * 5, d = (c * 2 * Math.PI) / K; pts.push([rad * Math.sin(t + d), rad * Math.cos(t + d), c]); }
      break;
    }
    case "moons":
      for (let n = 0; n < N; n++) { const c = n % 2, t = u(0, Math.PI); pts.push(c ? [3 * Math.cos(t) - 1.5, 3 * Math.sin(t) - 0.8, 0] : [1.5 - 3 * Math.cos(t), -3 * Math.sin(t) + 0.8, 1]); }
      break;
    case "plane":
      for (let n = 0; n < N; n++) { const x = u(-6, 6), y = u(-6, 6); pts.push([x, y, (x + y) / 12]); }
      break;
    case "multigauss":
      for (let n = 0; n < N; n++) { const x = u(-6, 6), y = u(-6, 6); pts.push([x, y, Math.exp(-((x - 2) ** 2 + (y - 2) ** 2) / 6) - Math.exp(-((x + 2) ** 2 + (y + 2) ** 2) / 6)]); }
      break;
  }
  return pts;
}

/** Draw dataset `name` into canvas `cv` (its pixel size is set here). */
export function drawThumbnail(cv, name) {
  const S = 56, dpr = window.devicePixelRatio || 1;
  cv.width = S * dpr; cv.height = S * dpr;
  const g = cv.getContext("2d");
  g.scale(dpr, dpr);
  g.fillStyle = rgb(MID); g.fillRect(0, 0, S, S);
  if (name === "csv") {   // a table with an arrow up: bring your own
    g.fillStyle = "#9aa0a6";
    for (let r = 0; r < 5; r++) for (let c = 0; c < 4; c++) g.fillRect(6 + c * 11.5, 8 + r * 8.5, 9, 5);
    g.fillStyle = "#3b3f45";
    g.beginPath(); g.moveTo(28, 14); g.lineTo(40, 27); g.lineTo(32, 27); g.lineTo(32, 42); g.lineTo(24, 42); g.lineTo(24, 27); g.lineTo(16, 27); g.closePath(); g.fill();
    return;
  }
  if (name === "mammals") {
    g.fillStyle = "#9aa0a6";
    for (let r = 0; r < 5; r++) for (let c = 0; c < 3; c++) g.fillRect(8 + c * 14, 8 + r * 8.5, 11, 5);
    g.fillStyle = rgb(classColor(0, 2)); g.fillRect(48, 8, 4, 5); g.fillRect(48, 25, 4, 5);
    g.fillStyle = rgb(classColor(1, 2)); g.fillRect(48, 16.5, 4, 5); g.fillRect(48, 33.5, 4, 5); g.fillRect(48, 42, 4, 5);
    return;
  }
  const regression = name === "plane" || name === "multigauss";
  const k = name === "spiral3" ? 3 : 2;
  for (const [x, y, c] of points(name, rng(7))) {
    const px = ((x + 6) / 12) * S, py = S - ((y + 6) / 12) * S;
    g.beginPath(); g.arc(px, py, 1.9, 0, 2 * Math.PI);
    g.fillStyle = regression ? rgb(diverging(c * 2)) : rgb(classColor(c, k));
    g.fill();
  }
}
