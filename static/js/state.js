// The UI state: one object with a declared property table, serialized to and
// from location.hash (as TF Playground's state.ts). The hash holds the whole
// configuration, the seed, the hyperparameters and play/pause, so a copied link
// reproduces the same data and initial weights. Weights never live here.

const EDGE_MODES = ["weights", "gradients", "velocity", "updates"];   // what the page draws, not the server's

/**
 * The property table: name, type, group (config | hyper | ui), default, and the
 * allowed values or range. The names, bounds and the defaults of config and hyper
 * are the server's vocabulary's (a Vocabulary). A hash value outside them is ignored.
 */
export function stateProps(vocab) {
  const L = vocab.limits;
  const names = (key) => vocab.values(key);
  const def = (group, name) => vocab.defaults[group][name];
  const num = (name, group, type = "number", bounds = name) => ({ name, type, group, def: def(group, name), ...vocab.bounds(bounds) });
  const choice = (name, group) => ({ name, type: "enum", group, def: def(group, name), values: names(name) });
  return [
    { ...choice("dataset", "config"), pattern: vocab.uploaded },
    num("noise", "config"),
    num("train_ratio", "config"),
    num("val_ratio", "config"),
    num("n_points", "config", "int"),
    { name: "features", type: "list", group: "config", def: def("config", "features"), values: names("features"), maxLen: L.max_features },
    { name: "hidden", type: "intlist", group: "config", def: def("config", "hidden"), min: 1, max: L.max_neurons, maxLen: L.max_layers },
    choice("activation", "config"),
    // Per hidden layer; null: every layer has `activation`.
    { name: "activations", type: "list", group: "config", def: def("config", "activations"), values: names("activation"), minLen: 0, maxLen: L.max_layers },
    choice("task", "config"),
    choice("init", "config"),
    num("seed", "config", "int"),
    // The initial weights' own seed ("New weights" draws another); null: the same as `seed`.
    num("init_seed", "config", "int", "seed"),
    num("lr", "hyper"),
    num("momentum", "hyper"),
    num("batch_size", "hyper", "int"),
    choice("optimizer", "hyper"),
    choice("regularization", "hyper"),
    num("reg_rate", "hyper"),
    num("dropout", "hyper"),
    num("beta1", "hyper"),
    num("beta2", "hyper"),
    num("rho", "hyper"),
    // Tabular data: the columns the network takes in (null: all); any names, the server checks them.
    { name: "columns", type: "names", group: "config", def: null, maxLen: L.max_features },
    // Quantization (quant_lab.js; the session's `quantization`, sent as a `quantize` message): bits 0 is off.
    { name: "quant_bits", type: "int", group: "quant", def: 0, min: 0, max: 8 },
    { name: "quant_granularity", type: "enum", group: "quant", def: "tensor", values: ["tensor", "neuron"] },
    { name: "quant_aware", type: "bool", group: "quant", def: false },
    { name: "playing", type: "bool", group: "ui", def: false },  // opens paused: the class sees the untrained network
    { name: "show_test", type: "bool", group: "ui", def: false },
    { name: "edges", type: "enum", group: "ui", def: "weights", values: EDGE_MODES },
    { name: "presenter", type: "bool", group: "ui", def: false },
  ];
}

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
    case "names": {
      // Each name was encoded on its own (formatValue), so a comma inside a name survives.
      const items = text === "" ? [] : text.split(",").map((t) => { try { return decodeURIComponent(t); } catch { return ""; } });
      const ok = items.length >= 1 && items.length <= prop.maxLen && items.every((t) => t !== "") && new Set(items).size === items.length;
      return ok ? items : undefined;
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
  if (prop.type === "names") return v.map(encodeURIComponent).join(",");
  if (Array.isArray(v)) return v.join(",");
  return String(v);
}

export class State {
  /** props: the property table (see stateProps). */
  constructor(props) {
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
  static deserialize(hash, props) {
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
    if (s.quant_bits === 0) s.quant_aware = false;   // quantization-aware training needs a number of bits
    return s;
  }

  group(name) {
    const out = {};
    for (const p of this.props) if (p.group === name && this[p.name] !== null) out[p.name] = this[p.name];
    return out;
  }

  config() { return this.group("config"); }
  /** The quantization asked for, as a `quantize` message carries it. */
  quantization() { return { bits: this.quant_bits, granularity: this.quant_granularity, aware: this.quant_aware }; }
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
    const q = msg.quantization;
    if (q) { this.quant_bits = q.bits; this.quant_granularity = q.granularity; this.quant_aware = !!q.aware; }
  }

  /** Write the hash without adding a history entry or firing hashchange. */
  writeHash() {
    const h = "#" + this.serialize();
    if (location.hash !== h) history.replaceState(null, "", h);
  }
}
