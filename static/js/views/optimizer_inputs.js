// What the optimizer lab's forms accept, checked in the page before anything is
// sent: a number in a range (text such as "0x10" or "" is refused, not read as 16
// or 0), a whole number in a range. Each throws an Error saying what was wrong and
// what is allowed; the form marks the field and shows the message.

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A number from min to max (openMin: above min, not equal). */
export function parseNumber(text, label, { min, max, openMin = false }) {
  const t = String(text).trim();
  const allowed = openMin ? `give a number above ${min} and at most ${max}` : `give a number from ${min} to ${max}`;
  if (!NUMBER.test(t)) throw new Error(t ? `${label}: "${t}" is not a number; ${allowed}.` : `${label}: empty; ${allowed}.`);
  const v = Number(t);
  if (!Number.isFinite(v) || v > max || v < min || (openMin && v === min)) throw new Error(`${label}: ${t} is out of range; ${allowed}.`);
  return v;
}

/** A whole number from min to max. */
export function parseCount(text, label, { min, max }) {
  const t = String(text).trim();
  const allowed = `give a whole number from ${min} to ${max}`;
  if (!/^[0-9]+$/.test(t)) throw new Error(t ? `${label}: "${t}" is not a whole number; ${allowed}.` : `${label}: empty; ${allowed}.`);
  const v = Number(t);
  if (v < min || v > max) throw new Error(`${label}: ${t} is out of range; ${allowed}.`);
  return v;
}

/** Run read(); on an error mark the inputs invalid, focus the first, and throw it on. */
export function checked(inputs, read) {
  try { return read(); } catch (err) { for (const el of inputs) el.setAttribute("aria-invalid", "true"); inputs[0].focus(); throw err; }
}
