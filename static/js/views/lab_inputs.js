// What the lab's forms accept, checked in the page before anything is sent:
// whole numbers in a range, lists of numbers, [low, high] ranges. Each parser
// returns the value or throws an Error whose message says what was wrong and
// what is allowed (the card shows it; nothing goes to the server).

// A number as typed: digits, an optional fraction and exponent. Number("") is 0 and
// Number("0x10") is 16, so Number() alone would take text that is not a number.
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** The limits the server puts on a search (docs/protocol.md, `search`). */
export const SEARCH_LIMITS = {
  lr: { min: 1e-5, max: 10, label: "learning rate" },
  momentum: { min: 0, max: 0.999, label: "momentum" },
  batch_size: { min: 1, max: 500, label: "batch size", int: true },
};
export const MAX_VALUES = 12;     // values a grid field may list
export const MAX_TRIALS = 100;    // trials a search may have
export const K_RANGE = { min: 2, max: 10 };
export const EPOCHS_RANGE = { min: 1, max: 2000 };

const range = (lo, hi) => `from ${lo} to ${hi}`;

function number(text, label) {
  const t = String(text).trim();
  if (!NUMBER.test(t)) throw new Error(`${label}: "${t}" is not a number.`);
  const v = Number(t);
  if (!Number.isFinite(v)) throw new Error(`${label}: "${t}" is too large.`);
  return v;
}

/** A whole number from lo to hi. */
export function parseWhole(text, label, { min, max }) {
  const t = String(text).trim();
  if (t === "") throw new Error(`${label}: give a whole number ${range(min, max)}.`);
  const v = number(t, label);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${label}: ${t} is not allowed; give a whole number ${range(min, max)}.`);
  return v;
}

/** One value of a searched field, in its limits. */
function fieldValue(text, field) {
  const lim = SEARCH_LIMITS[field], v = number(text, lim.label);
  if (lim.int && !Number.isInteger(v)) throw new Error(`${lim.label}: ${text} is not a whole number.`);
  if (v < lim.min || v > lim.max) throw new Error(`${lim.label}: ${text} is out of range; allowed ${range(lim.min, lim.max)}.`);
  return v;
}

/** "0.001, 0.01 0.1": 1 to 12 distinct values of a field, sorted; an empty text is null when optional. */
export function parseList(text, field, optional = false) {
  const lim = SEARCH_LIMITS[field];
  const parts = String(text).split(/[\s,;]+/).filter((s) => s !== "");
  if (!parts.length) {
    if (optional) return null;
    throw new Error(`${lim.label}: list 1 to ${MAX_VALUES} values ${range(lim.min, lim.max)}, separated by commas.`);
  }
  const values = [...new Set(parts.map((s) => fieldValue(s, field)))].sort((a, b) => a - b);
  if (values.length > MAX_VALUES) throw new Error(`${lim.label}: ${values.length} values; at most ${MAX_VALUES} are allowed.`);
  return values;
}

/** [low, high] of a field from two texts (both empty: null when optional). */
export function parseSpan(lowText, highText, field, optional = false) {
  const lim = SEARCH_LIMITS[field];
  if (optional && String(lowText).trim() === "" && String(highText).trim() === "") return null;
  const lo = fieldValue(lowText, field), hi = fieldValue(highText, field);
  if (lo > hi) throw new Error(`${lim.label}: the low end (${lo}) is above the high end (${hi}).`);
  return [lo, hi];
}

/** n values from lo to hi evenly on a log scale, rounded to 3 significant digits (a grid's default learning rates). */
export function logSteps(lo, hi, n) {
  return Array.from({ length: n }, (_, i) => Number((lo * (hi / lo) ** (i / (n - 1))).toPrecision(i === 0 || i === n - 1 ? 15 : 2)));
}

/** The sample standard deviation (n - 1), null below two values. */
export function sampleStd(xs) {
  if (xs.length < 2) return null;
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}
