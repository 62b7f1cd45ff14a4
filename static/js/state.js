// The UI state: one object with a declared property table, serialized to and
// from location.hash (as TF Playground's state.ts). The hash holds the whole
// configuration, the seed, the hyperparameters and play/pause, so a copied link
// reproduces the same data and initial weights. Weights never live here.

export const DATASETS = ["circle", "xor", "gauss", "spiral", "moons", "spiral3", "plane", "multigauss", "mammals"];
/** The name the server gives an uploaded CSV file (a hash of its text). */
export const UPLOADED = /^csv-[0-9a-f]{12}$/;
export const FEATURE_NAMES = ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2", "cos_x1", "cos_x2"];
export const ACTIVATION_NAMES = ["linear", "relu", "leaky_relu", "tanh", "sigmoid"];
export const TASKS = ["playground", "binary", "multiclass", "regression"];
export const INITS = ["glorot", "he", "uniform", "zeros"];
export const OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "rmsprop"];
export const REGULARIZATIONS = ["none", "l1", "l2"];
export const EDGE_MODES = ["weights", "gradients", "velocity", "updates"];

/** name, type, group (config | hyper | ui), default, and the allowed values or range. */
export const PROPS = [
  { name: "dataset", type: "enum", group: "config", def: "circle", values: DATASETS, pattern: UPLOADED },
  { name: "noise", type: "number", group: "config", def: 0, min: 0, max: 50 },
  { name: "train_ratio", type: "number", group: "config", def: 50, min: 10, max: 90 },
  { name: "val_ratio", type: "number", group: "config", def: 0, min: 0, max: 40 },
  { name: "n_points", type: "int", group: "config", def: 500, min: 20, max: 2000 },
  { name: "features", type: "list", group: "config", def: ["x1", "x2"], values: FEATURE_NAMES },
  { name: "hidden", type: "intlist", group: "config", def: [4, 2], min: 1, max: 32, maxLen: 8 },
  { name: "activation", type: "enum", group: "config", def: "tanh", values: ACTIVATION_NAMES },
  // Per hidden layer; null: every layer has `activation`.
  { name: "activations", type: "list", group: "config", def: null, values: ACTIVATION_NAMES, minLen: 0, maxLen: 8 },
  { name: "task", type: "enum", group: "config", def: null, values: TASKS },
  { name: "init", type: "enum", group: "config", def: "uniform", values: INITS },
  { name: "seed", type: "int", group: "config", def: 1, min: 0, max: 2 ** 31 - 1 },
  // The initial weights' own seed ("New weights" draws another); null: the same as `seed`.
  { name: "init_seed", type: "int", group: "config", def: null, min: 0, max: 2 ** 31 - 1 },
  { name: "lr", type: "number", group: "hyper", def: 0.03, min: 1e-5, max: 10 },
  { name: "momentum", type: "number", group: "hyper", def: 0.9, min: 0, max: 0.999 },
  { name: "batch_size", type: "int", group: "hyper", def: 10, min: 1, max: 2000 },
  { name: "optimizer", type: "enum", group: "hyper", def: "momentum", values: OPTIMIZERS },
  { name: "regularization", type: "enum", group: "hyper", def: "none", values: REGULARIZATIONS },
  { name: "reg_rate", type: "number", group: "hyper", def: 0, min: 0, max: 10 },
  { name: "dropout", type: "number", group: "hyper", def: 0, min: 0, max: 0.9 },
  { name: "beta1", type: "number", group: "hyper", def: 0.9, min: 0, max: 0.999 },
  { name: "beta2", type: "number", group: "hyper", def: 0.999, min: 0, max: 0.9999 },
  { name: "rho", type: "number", group: "hyper", def: 0.99, min: 0, max: 0.9999 },
  { name: "playing", type: "bool", group: "ui", def: true },
  { name: "show_test", type: "bool", group: "ui", def: false },
  { name: "edges", type: "enum", group: "ui", def: "weights", values: EDGE_MODES },
  { name: "presenter", type: "bool", group: "ui", def: false },
];

function parseValue(prop, text) {
  const inRange = (v) => (prop.min === undefined || v >= prop.min) && (prop.max === undefined || v <= prop.max);
  switch (prop.type) {
    case "enum": return prop.values.includes(text) || prop.pattern?.test(text) ? text : undefined;
    case "bool": return text === "true" ? true : text === "false" ? false : undefined;
    case "number": case "int": {
      if (text.trim() === "") return undefined;
      const v = Number(text);
      if (!Number.isFinite(v) || !inRange(v) || (prop.type === "int" && !Number.isInteger(v))) return undefined;
      return v;
    }
    case "list": {
      const items = text === "" ? [] : text.split(",");
      const ok = items.length >= (prop.minLen ?? 1) && items.length <= (prop.maxLen ?? Infinity);
      return ok && items.every((f) => prop.values.includes(f)) ? items : undefined;
    }
    case "intlist": {
      const items = text === "" ? [] : text.split(",").map(Number);
      const ok = items.length <= prop.maxLen && items.every((n) => Number.isInteger(n) && n >= prop.min && n <= prop.max);
      return ok ? items : undefined;
    }
  }
  return undefined;
}

function formatValue(prop, v) {
  if (Array.isArray(v)) return v.join(",");
  return String(v);
}

export class State {
  /** props: the property table (name, type, group, def, values or range); see PROPS. */
  constructor(props = PROPS) {
    Object.defineProperty(this, "props", { value: props });   // not enumerable: Object.assign copies values only
    for (const p of props) this[p.name] = Array.isArray(p.def) ? [...p.def] : p.def;
  }

  /** The hash string ("dataset=circle&...") of every set property. */
  serialize() {
    const parts = [];
    for (const p of this.props) {
      const v = this[p.name];
      if (v === null || v === undefined) continue;
      parts.push(`${p.name}=${encodeURIComponent(formatValue(p, v)).replace(/%2C/g, ",")}`);
    }
    return parts.join("&");
  }

  /** A State from a hash; unknown keys and invalid values fall back to defaults. */
  static deserialize(hash, props = PROPS) {
    const s = new State(props), byName = Object.fromEntries(props.map((p) => [p.name, p]));
    const text = hash.startsWith("#") ? hash.slice(1) : hash;
    for (const pair of text.split("&")) {
      if (!pair) continue;
      const eq = pair.indexOf("=");
      const key = eq < 0 ? pair : pair.slice(0, eq);
      const prop = Object.hasOwn(byName, key) ? byName[key] : null;
      if (!prop) continue;
      const v = parseValue(prop, decodeURIComponent(eq < 0 ? "" : pair.slice(eq + 1)));
      if (v !== undefined) s[key] = v;
    }
    if (s.activations && s.activations.length !== s.hidden.length) s.activations = null;   // one name per hidden layer
    return s;
  }

  group(name) {
    const out = {};
    for (const p of this.props) if (p.group === name && this[p.name] !== null) out[p.name] = this[p.name];
    return out;
  }

  config() { return this.group("config"); }
  hyper() { return this.group("hyper"); }

  /**
   * The configuration fields in which this state differs from `old`, with their
   * values; null included (the default, for the fields that may be null).
   */
  configChanges(old) {
    const out = {};
    for (const p of this.props) {
      if (p.group === "config" && JSON.stringify(this[p.name]) !== JSON.stringify(old[p.name])) out[p.name] = this[p.name];
    }
    return out;
  }

  /** Take the server's word for config, hyperparameters and playing (after `session`). */
  applySession(msg) {
    for (const p of this.props) {
      if (p.group === "config" && msg.config && p.name in msg.config) this[p.name] = msg.config[p.name];
      if (p.group === "hyper" && msg.hyper && p.name in msg.hyper) this[p.name] = msg.hyper[p.name];
    }
    if (typeof msg.playing === "boolean") this.playing = msg.playing;
  }

  /** Write the hash without adding a history entry or firing hashchange. */
  writeHash() {
    const h = "#" + this.serialize();
    if (location.hash !== h) history.replaceState(null, "", h);
  }
}
