// Numbers written exactly as Python writes them, for a lesson's `then` text:
// app/lessons/format.py fills it with str() and format(value, spec), and the
// page must show the same characters. JS's own toFixed/toExponential round a
// tie away from zero where Python rounds it to even (0.125 -> "0.12"), and
// String() switches to exponents at other sizes than Python's repr, so the
// digits come from the double's exact decimal expansion (BigInt) instead.

const TEN = 10n;

/** A finite double as an exact decimal: |x| = int / 10^scale, and its sign (-0 counts as negative, as in Python). */
function exactDecimal(x) {
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  if (a === 0) return { neg, int: 0n, scale: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const hi = view.getUint32(0), lo = view.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp = -1074;   // subnormal
  if (expBits !== 0) { mantissa |= 1n << 52n; exp = expBits - 1075; }
  if (exp >= 0) return { neg, int: mantissa << BigInt(exp), scale: 0 };
  return { neg, int: mantissa * 5n ** BigInt(-exp), scale: -exp };   // m / 2^k = m * 5^k / 10^k
}

/** n / d rounded half to even (n, d non-negative BigInts). */
function roundHalfEven(n, d) {
  const q = n / d, twice = 2n * (n % d);
  return twice > d || (twice === d && (q & 1n) === 1n) ? q + 1n : q;
}

const special = (x) => (Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf");

/** format(x, ".{prec}f") */
export function fixed(x, prec) {
  if (!Number.isFinite(x)) return special(x);
  const { neg, int, scale } = exactDecimal(x);
  const q = scale > prec ? roundHalfEven(int, TEN ** BigInt(scale - prec)) : int * TEN ** BigInt(prec - scale);
  let s = q.toString();
  if (prec > 0) { s = s.padStart(prec + 1, "0"); s = `${s.slice(0, -prec)}.${s.slice(-prec)}`; }
  return (neg ? "-" : "") + s;
}

/** The digits of |x| rounded to `digits` significant ones, and the decimal exponent of the first. */
function significant(x, digits) {
  const { neg, int, scale } = exactDecimal(x);
  if (int === 0n) return { neg, digits: "0".repeat(digits), exp: 0 };
  const length = int.toString().length;
  let exp = length - 1 - scale;
  let q = length > digits ? roundHalfEven(int, TEN ** BigInt(length - digits)) : int * TEN ** BigInt(digits - length);
  if (q.toString().length > digits) { q /= TEN; exp += 1; }   // 9.99 rounded up to 10.0: exactly a power of ten
  return { neg, digits: q.toString(), exp };
}

const exponent = (exp) => `e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;

/** format(x, ".{prec}e") */
export function scientific(x, prec) {
  if (!Number.isFinite(x)) return special(x);
  const { neg, digits, exp } = significant(x, prec + 1);
  return `${neg ? "-" : ""}${digits[0]}${prec > 0 ? `.${digits.slice(1)}` : ""}${exponent(exp)}`;
}

/** format(x, ".{prec}g"); "g" alone is precision 6, ".0g" is 1. */
export function general(x, prec = 6) {
  if (!Number.isFinite(x)) return special(x);
  const p = Math.max(1, prec);
  const { exp } = significant(x, p);
  const text = exp >= -4 && exp < p ? fixed(x, p - 1 - exp) : scientific(x, p - 1);
  // Python drops insignificant trailing zeros, and the point when nothing follows it.
  return text.replace(/(\.\d*?)0+(?=e|$)/, "$1").replace(/\.(?=e|$)/, "");
}

/** format(x, ".{prec}%"): times 100 (one float multiplication, as Python does), fixed, then "%". */
export function percent(x, prec) {
  return `${fixed(x * 100, prec)}%`;
}

/** format(x, spec) for the specs a lesson may write: "", "g", ".Nf", ".Ng", ".Ne", ".N%" (N 0 to 6). */
export function formatSpec(x, spec) {
  if (spec === "g") return general(x);
  const m = /^\.(\d)([fge%])$/.exec(spec);
  if (!m) return repr(x);
  const prec = Number(m[1]);
  return { f: fixed, g: general, e: scientific, "%": percent }[m[2]](x, prec);
}

/** repr(x) of a Python float: the shortest digits that read back as x; an exponent below 1e-4 or from 1e16 on. */
export function repr(x) {
  if (!Number.isFinite(x)) return special(x);
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  // toExponential() without an argument gives the shortest digits that round-trip, as Python's repr does.
  const [mantissa, e] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", ""), exp = Number(e), sign = x < 0 ? "-" : "";
  if (exp < -4 || exp >= 16) return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ""}${exponent(exp)}`;
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0"), frac = digits.slice(exp + 1);
  return `${sign}${whole}.${frac || "0"}`;
}

/** str(n) of a Python int. */
export function intStr(n) {
  return Number.isInteger(n) ? BigInt(n).toString() : repr(n);
}
