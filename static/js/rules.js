// The update rule of each optimizer, written out with the numbers of one
// parameter. The engine uses PyTorch's forms (docs/optimizers.md):
//   sgd       w ← w − lr·g
//   momentum  v ← μ·v + g ;  w ← w − lr·v
//   nesterov  v ← μ·v + g ;  w ← w − lr·(g + μ·v)
//   adam      m ← β₁m + (1−β₁)g ; s ← β₂s + (1−β₂)g² ; w ← w − lr·m̂/(√ŝ + ε)
//   rmsprop   s ← ρ·s + (1−ρ)g² ;  w ← w − lr·g/(√s + ε)
import { fmt } from "./format.js";

const n = (x) => (x === null || x === undefined ? "?" : x < 0 ? `(${fmt(x)})` : fmt(x));

/**
 * Lines {rule, filled, result} of the last update of one parameter.
 * p: {w, g, v, s, delta, t, prev: {w, v, s} | null}; `prev` holds the exact values
 * before the update when the page saw them, otherwise they are derived (marked ≈).
 */
export function ruleLines(optimizer, hyper, p, sym = "w") {
  const lr = hyper.lr, mu = hyper.momentum, eps = hyper.eps ?? 1e-8;
  const wPrev = p.prev ? p.prev.w : p.w - p.delta;
  const approx = p.prev ? "" : "≈ ";
  const lines = [];
  const push = (rule, filled, result) => lines.push({ rule, filled, result });
  switch (optimizer) {
    case "sgd":
      push(`${sym} ← ${sym} − lr·dL/d${sym}`, `${n(wPrev)} − ${fmt(lr)} · ${n(p.g)}`, wPrev - lr * p.g);
      break;
    case "momentum": case "nesterov": {
      const vPrev = p.prev ? p.prev.v : mu > 0 ? (p.v - p.g) / mu : 0;
      push(`v ← μ·v + dL/d${sym}`, `${fmt(mu)} · ${approx}${n(vPrev)} + ${n(p.g)}`, p.v);
      if (optimizer === "momentum") push(`${sym} ← ${sym} − lr·v`, `${n(wPrev)} − ${fmt(lr)} · ${n(p.v)}`, wPrev - lr * p.v);
      else push(`${sym} ← ${sym} − lr·(dL/d${sym} + μ·v)`, `${n(wPrev)} − ${fmt(lr)} · (${n(p.g)} + ${fmt(mu)} · ${n(p.v)})`, wPrev - lr * (p.g + mu * p.v));
      break;
    }
    case "adam": {
      const b1 = hyper.beta1, b2 = hyper.beta2, t = Math.max(1, p.t || 1);
      const mPrev = p.prev ? p.prev.v : b1 < 1 ? (p.v - (1 - b1) * p.g) / b1 : 0;
      push(`m ← β₁·m + (1−β₁)·dL/d${sym}`, `${fmt(b1)} · ${approx}${n(mPrev)} + ${fmt(1 - b1)} · ${n(p.g)}`, p.v);
      const mHat = p.v / (1 - b1 ** t);
      push(`m̂ ← m / (1 − β₁ᵗ), t = ${t}`, `${n(p.v)} / ${fmt(1 - b1 ** t)}`, mHat);
      if (p.s !== undefined && p.s !== null) {
        const sHat = p.s / (1 - b2 ** t);
        const sPrev = p.prev && p.prev.s !== undefined ? p.prev.s : b2 > 0 ? (p.s - (1 - b2) * p.g * p.g) / b2 : 0;
        const sApprox = p.prev && p.prev.s !== undefined ? "" : "≈ ";
        push(`s ← β₂·s + (1−β₂)·(dL/d${sym})²`, `${fmt(b2)} · ${sApprox}${n(sPrev)} + ${fmt(1 - b2)} · ${n(p.g)}²`, p.s);
        push(`${sym} ← ${sym} − lr·m̂ / (√ŝ + ε)`, `${n(wPrev)} − ${fmt(lr)} · ${n(mHat)} / (√${n(sHat)} + ${fmt(eps)})`, wPrev - (lr * mHat) / (Math.sqrt(sHat) + eps));
      } else {
        push(`${sym} ← ${sym} − lr·m̂ / (√ŝ + ε)`, `${n(wPrev)} + ${n(p.delta)} (s is not streamed)`, p.w);
      }
      break;
    }
    case "rmsprop": {
      const rho = hyper.rho;
      const sPrev = p.prev ? p.prev.v : rho > 0 ? (p.v - (1 - rho) * p.g * p.g) / rho : 0;
      push(`s ← ρ·s + (1−ρ)·(dL/d${sym})²`, `${fmt(rho)} · ${approx}${n(sPrev)} + ${fmt(1 - rho)} · ${n(p.g)}²`, p.v);
      push(`${sym} ← ${sym} − lr·dL/d${sym} / (√s + ε)`, `${n(wPrev)} − ${fmt(lr)} · ${n(p.g)} / (√${n(p.v)} + ${fmt(eps)})`, wPrev - (lr * p.g) / (Math.sqrt(p.v) + eps));
      break;
    }
  }
  return lines;
}

/** The buffer name shown for vW/vb per optimizer. */
export function bufferName(optimizer) {
  return { sgd: "velocity (unused by SGD)", momentum: "velocity v", nesterov: "velocity v", adam: "first moment m", rmsprop: "mean square s" }[optimizer] || "velocity";
}
