// A lesson's conditions and `then` texts, read on the page exactly as
// app/lessons/conditions.py and format.py read them (the reference; a browser
// test compares the two on the same frames). The server sends each condition
// parsed (`notice.tree`), so the page only evaluates: compile() turns a tree
// into one closure that reads the frame and the session directly, with nothing
// allocated per frame (frames come at 60 per second).
import { formatSpec, intStr, repr } from "./pyformat.js";

const EMPTY = Object.freeze({});

/** obj.key as Python's dict.get gives it: null when absent. */
const get = (obj, key) => {
  const v = obj === null || obj === undefined ? undefined : obj[key];
  return v === undefined ? null : v;
};

// The names whose value is read some other way than `frame.<root>.<field>` / `session.config.<field>`
// (conditions.values_from's own list).
const SPECIAL = {
  step: (f) => get(f, "step"),
  epoch: (f) => get(f, "epoch"),
  playing: (f) => get(f, "playing"),
  phase: (f) => get(f, "phase"),
  diverged: (f) => get(f, "diverged") !== null,
  trouble: (f) => { const t = get(f, "trouble"); return t ? get(t, "kind") : null; },
  "config.task": (f, s) => get(get(s, "architecture") || EMPTY, "task"),
  params: (f, s) => get(get(s, "architecture") || EMPTY, "total_params"),
  layers: (f, s) => (get(get(s, "architecture") || EMPTY, "hidden") || []).length,
  tasks: (f, s) => (get(s, "tasks") || []).length || 1,
  // From the frame, as conditions.py: the server does not resend the session message after `quantize`.
  "quantized.bits": (f) => { const q = get(f, "quantized") || EMPTY; return q.bits === undefined ? 0 : q.bits; },
  "quantized.test_acc": (f) => get(get(f, "quantized") || EMPTY, "test_acc"),
  "quantized.train_acc": (f) => get(get(f, "quantized") || EMPTY, "train_acc"),
  "early_stopping.stopped_epoch": (f) => get(get(f, "early_stopping") || EMPTY, "stopped_epoch"),
  "early_stopping.best_epoch": (f) => get(get(f, "early_stopping") || EMPTY, "best_epoch"),
};

// Names the server keeps as integers: Python's str() writes them without ".0", a float with it ("3.0"),
// and JSON leaves the page no other way to tell 3 from 3.0.
const INTEGERS = new Set(["step", "epoch", "hyper.batch_size", "config.n_points", "config.seed", "params", "layers",
  "tasks", "quantized.bits", "early_stopping.stopped_epoch", "early_stopping.best_epoch"]);

/** The function (frame, session) -> value of one condition name, or null for a name it does not know. */
export function reader(name) {
  if (Object.hasOwn(SPECIAL, name)) return SPECIAL[name];
  const dot = name.indexOf("."), root = name.slice(0, dot), field = name.slice(dot + 1);
  if (dot < 0 || !field) return null;
  if (root === "metrics" || root === "hyper") return (f) => get(get(f, root) || EMPTY, field);
  if (root === "config") return (f, s) => get(get(s, "config") || EMPTY, field);
  return null;
}

/** Every name's value from a frame and the session message (conditions.values_from); names: the vocabulary's. */
export function valuesFrom(frame, session, names) {
  const out = {};
  for (const name of names) {
    const read = reader(name);
    out[name] = read ? read(frame || EMPTY, session || EMPTY) : null;
  }
  return out;
}

// Python's truth and equality for the values a condition meets (numbers, strings, booleans, null).
const finite = (v) => (typeof v === "number" && !Number.isFinite(v) ? null : v);
const truthy = (v) => !!v;
const numeric = (v) => typeof v === "number" || typeof v === "boolean";
const pyEq = (a, b) => (numeric(a) && numeric(b) ? Number(a) === Number(b) : a === b);
const ORDERS = { "<": (a, b) => a < b, "<=": (a, b) => a <= b, ">": (a, b) => a > b, ">=": (a, b) => a >= b };

/** A tree as a closure over (a, b): readVar(name) gives the function (a, b) -> that name's value. */
function build(node, readVar) {
  if (!Array.isArray(node) || node.length < 2) throw new Error(`not a condition node: ${JSON.stringify(node)}`);
  const [op, ...args] = node;
  switch (op) {
    case "const": { const v = args[0]; return () => v; }
    case "var": {
      const read = readVar(args[0]);
      if (!read) throw new Error(`unknown name in a condition: ${args[0]}`);
      return (a, b) => finite(read(a, b));
    }
    case "not": { const x = build(args[0], readVar); return (a, b) => !truthy(x(a, b)); }
    case "and": case "or": {
      const xs = args.map((n) => build(n, readVar)), all = op === "and";
      return (a, b) => {
        for (const x of xs) if (truthy(x(a, b)) !== all) return !all;
        return all;
      };
    }
    case "==": case "!=": {
      const left = build(args[0], readVar), right = build(args[1], readVar), same = op === "==";
      return (a, b) => pyEq(left(a, b), right(a, b)) === same;
    }
  }
  const order = ORDERS[op];
  if (!order) throw new Error(`unknown operator in a condition: ${op}`);
  const left = build(args[0], readVar), right = build(args[1], readVar);
  return (a, b) => {
    const l = left(a, b), r = right(a, b);
    return l !== null && r !== null && order(l, r);
  };
}

/** A tree as `(frame, session) -> true/false`, reading the two messages as valuesFrom does. Throws on a bad tree. */
export function compile(tree) {
  const test = build(tree, reader);
  return (frame, session) => truthy(test(frame || EMPTY, session || EMPTY));
}

/** Whether a tree holds for `values` (name -> value; a missing one is null): conditions.evaluate. */
export function evaluate(tree, values) {
  return truthy(build(tree, (name) => () => get(values, name))());
}

/**
 * A `then` text cut into its parts, as Python's string.Formatter().parse cuts it: literal text ({{ and }} are
 * braces) and placeholders {name} or {name:spec}.
 */
export function templateParts(text) {
  const parts = [];
  let literal = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c === "{" || c === "}") && text[i + 1] === c) { literal += c; i++; continue; }
    const end = c === "{" ? text.indexOf("}", i) : -1;
    if (end < 0) { literal += c; continue; }   // the server refuses such a text; shown as it is
    const field = text.slice(i + 1, end), colon = field.indexOf(":");
    parts.push({ literal });
    literal = "";
    parts.push({ name: colon < 0 ? field : field.slice(0, colon), spec: colon < 0 ? "" : field.slice(colon + 1) });
    i = end;
  }
  if (literal) parts.push({ literal });
  return parts;
}

/** One value as fill_then writes it: a dash for none, format(value, spec) for a number, str() otherwise. */
export function show(name, value, spec) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") return spec ? formatSpec(value, spec) : INTEGERS.has(name) ? intStr(value) : repr(value);
  return String(value);
}

/** A `then` text filled from `values` (format.fill_then), as [{text}] and [{text, name, value}] parts. */
export function fillParts(text, values) {
  return templateParts(text).map((p) => (p.name === undefined ? { text: p.literal }
    : { text: show(p.name, get(values, p.name), p.spec), name: p.name, value: get(values, p.name) }));
}

/** A `then` text filled from `values`, as one string. */
export function fillThen(text, values) {
  return fillParts(text, values).map((p) => p.text).join("");
}
