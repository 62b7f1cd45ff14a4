// Number formatting: short on screen, exact in the title (shortest round-trip repr).

/** Short display form of a number: 4 significant digits, exponent when tiny or huge. */
export function fmt(x, digits = 4) {
  if (x === null || x === undefined) return "—";
  if (typeof x !== "number") return String(x);
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const ax = Math.abs(x);
  if (ax >= 1e5 || ax < 1e-3) return x.toExponential(Math.max(0, digits - 2)).replace("e", "e");
  return String(Number(x.toPrecision(digits)));
}

/** Exact form: JS's String() is the shortest repr that round-trips to the same float64. */
export function exact(x) {
  if (x === null || x === undefined) return "not a finite number";
  return String(x);
}

/** Write a number into an element: short text, exact value in the title. */
export function setNum(el, x, digits = 4, suffix = "") {
  const text = fmt(x, digits) + suffix;
  if (el.textContent !== text) el.textContent = text;
  const title = exact(x);
  if (el.title !== title) el.title = title;
}

export function pct(x) {
  return x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)}%`;
}

/** Integer with thin-space thousands separators. */
export function int(n) {
  return n === null || n === undefined ? "—" : n.toLocaleString("en-US");
}
