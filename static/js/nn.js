// The network's forward pass in the browser, from streamed weights. The server
// never sends pixels: every heatmap on the page is computed here.

/** Input features of a point (x1, x2) on the plane, spelled as in the protocol. */
export const FEATURES = {
  x1: (a, b) => a,
  x2: (a, b) => b,
  x1_sq: (a, b) => a * a,
  x2_sq: (a, b) => b * b,
  x1x2: (a, b) => a * b,
  sin_x1: (a, b) => Math.sin(a),
  sin_x2: (a, b) => Math.sin(b),
  cos_x1: (a, b) => Math.cos(a),
  cos_x2: (a, b) => Math.cos(b),
};

export const LEAKY_SLOPE = 0.01;

function sigmoid(z) {
  // exp only of -|z|, as the engine does, so it never overflows.
  const e = Math.exp(-Math.abs(z));
  return z >= 0 ? 1 / (1 + e) : e / (1 + e);
}

export const ACTIVATIONS = {
  linear: (z) => z,
  relu: (z) => (z > 0 ? z : 0),
  leaky_relu: (z) => (z > 0 ? z : LEAKY_SLOPE * z),
  tanh: Math.tanh,
  sigmoid,
};

/** Output function per task (softmax is applied across the output row). */
export const OUTPUT_FN = { playground: "tanh", binary: "sigmoid", multiclass: "softmax", regression: "linear", hinge: "linear" };

export const PLANE = 6;  // the input plane is [-PLANE, PLANE]^2

function softmaxInPlace(buf, off, k) {
  let m = -Infinity;
  for (let c = 0; c < k; c++) if (buf[off + c] > m) m = buf[off + c];
  let s = 0;
  for (let c = 0; c < k; c++) { const e = Math.exp(buf[off + c] - m); buf[off + c] = e; s += e; }
  for (let c = 0; c < k; c++) buf[off + c] /= s;
}

/**
 * One network: architecture + flattened parameters.
 * Layer l has W [nIn x nOut] stored row-major (W[i * nOut + j]) and b [nOut].
 */
export class Network {
  constructor(arch, features, plane = true) {
    this.arch = arch;
    this.features = features;           // feature names (plane) or input names (tabular)
    this.plane = plane;
    this.sizes = [arch.n_inputs, ...arch.hidden, arch.n_outputs];
    this.acts = [...arch.activations.map((n) => ACTIVATIONS[n]), null];
    this.task = arch.task;
    this.W = []; this.b = [];
    for (let l = 0; l + 1 < this.sizes.length; l++) {
      this.W.push(new Float64Array(this.sizes[l] * this.sizes[l + 1]));
      this.b.push(new Float64Array(this.sizes[l + 1]));
    }
    this.version = 0;
  }

  /** Copy the streamed nested-list parameters (frame.layers) into flat arrays. */
  setParams(layers) {
    for (let l = 0; l < this.W.length && l < layers.length; l++) {
      const W = layers[l].W, b = layers[l].b, out = this.W[l], n = this.sizes[l + 1];
      for (let i = 0; i < W.length; i++) {
        const row = W[i];
        for (let j = 0; j < n; j++) out[i * n + j] = row[j] === null ? NaN : row[j];
      }
      for (let j = 0; j < n; j++) this.b[l][j] = b[j] === null ? NaN : b[j];
    }
    this.version++;
  }

  /** Input feature vector of a raw point (x1, x2 on the plane, or a tabular row). */
  inputs(x) {
    if (!this.plane) return Array.from(x);
    return this.features.map((f) => FEATURES[f](x[0], x[1]));
  }

  /** Forward one raw point: {z: [per layer], a: [a0 = inputs, ...], out}. */
  forward(x) {
    let a = this.inputs(x);
    const zs = [], as = [a];
    for (let l = 0; l < this.W.length; l++) {
      const nIn = this.sizes[l], nOut = this.sizes[l + 1], W = this.W[l], b = this.b[l];
      const z = new Array(nOut);
      for (let j = 0; j < nOut; j++) {
        let s = b[j];
        for (let i = 0; i < nIn; i++) s += a[i] * W[i * nOut + j];
        z[j] = s;
      }
      zs.push(z);
      a = this.applyActivation(l, z.slice());
      as.push(a);
    }
    return { z: zs, a: as, out: a };
  }

  applyActivation(l, z) {
    const f = this.acts[l];
    if (f) return z.map(f);
    const o = OUTPUT_FN[this.task];
    if (o === "softmax") { const buf = Float64Array.from(z); softmaxInPlace(buf, 0, z.length); return Array.from(buf); }
    return z.map(o === "tanh" ? Math.tanh : o === "sigmoid" ? sigmoid : (v) => v);
  }

  /** Outputs for many raw points: array of output vectors. */
  predict(points) {
    return points.map((p) => this.forward(p).out);
  }
}

/**
 * Evaluates every neuron of a network over an n x n grid of the plane, with
 * buffers allocated once. acts[0] holds the input features, acts[l + 1] the
 * activations of layer l (the last one after the task's output function).
 * Row r of the grid is x2 = +6 at the top, column c is x1 = -6 at the left.
 *
 * A big network's grid costs more than one animation frame can spare, so it is
 * computed in sweeps: start() copies the network's parameters, advance(budget)
 * computes as many rows as `budget` multiply-adds allow, and when the last row
 * is done the finished buffers become `acts`. `acts` therefore always holds
 * one whole grid of one set of parameters (never rows of two frames).
 */
export class Grid {
  constructor(net, n) {
    this.net = net; this.n = n;
    const P = n * n;
    this.acts = net.sizes.map((k) => new Float64Array(P * k));
    const x0 = this.acts[0], D = net.sizes[0];
    for (let r = 0; r < n; r++) {
      const x2 = PLANE - ((r + 0.5) * 2 * PLANE) / n;
      for (let c = 0; c < n; c++) {
        const x1 = -PLANE + ((c + 0.5) * 2 * PLANE) / n;
        const p = r * n + c;
        for (let d = 0; d < D; d++) x0[p * D + d] = FEATURES[net.features[d]](x1, x2);
      }
    }
    this.back = this.acts.map((a, l) => (l === 0 ? a : new Float64Array(a.length)));   // the sweep in progress
    this.W = net.W.map((w) => new Float64Array(w.length));   // the parameters the sweep computes with
    this.b = net.b.map((b) => new Float64Array(b.length));
    let perPoint = 0;
    for (let l = 0; l < net.W.length; l++) perPoint += net.sizes[l] * net.sizes[l + 1];
    this.rowCost = n * perPoint;   // multiply-adds of one grid row through every layer
    this.cost = n * this.rowCost;  // ... and of the whole grid
    this.row = n;                  // next row of the sweep; n: no sweep running
    this.sweeps = 0;               // sweeps finished
    this.version = -1;             // net.version of the parameters `acts` was computed from
  }

  get sweeping() { return this.row < this.n; }

  /** Begin a sweep with the network's current parameters. */
  start() {
    const net = this.net;
    for (let l = 0; l < net.W.length; l++) { this.W[l].set(net.W[l]); this.b[l].set(net.b[l]); }
    this.sweepVersion = net.version;
    this.row = 0;
  }

  /**
   * Compute rows of the running sweep, as many as `budget` multiply-adds allow (at least one).
   * Returns the multiply-adds spent; when the sweep finishes, `acts` holds its result.
   */
  advance(budget) {
    if (!this.sweeping) return 0;
    const rows = Math.max(1, Math.floor(budget / this.rowCost));
    const r0 = this.row, r1 = Math.min(this.n, r0 + rows);
    this.runRows(r0, r1);
    this.row = r1;
    if (r1 === this.n) {
      [this.acts, this.back] = [this.back, this.acts];
      this.version = this.sweepVersion;
      this.sweeps++;
    }
    return (r1 - r0) * this.rowCost;
  }

  /** The whole grid now, from the network's current parameters. */
  run() {
    this.start();
    this.advance(Infinity);
  }

  runRows(r0, r1) {
    const net = this.net, n = this.n, p0 = r0 * n, p1 = r1 * n;
    for (let l = 0; l < net.W.length; l++) {
      const nIn = net.sizes[l], nOut = net.sizes[l + 1];
      const A = this.back[l], Z = this.back[l + 1], W = this.W[l], b = this.b[l];
      for (let p = p0; p < p1; p++) {
        const ai = p * nIn, zo = p * nOut;
        for (let j = 0; j < nOut; j++) {
          let s = b[j];
          for (let i = 0; i < nIn; i++) s += A[ai + i] * W[i * nOut + j];
          Z[zo + j] = s;
        }
      }
      const f = net.acts[l];
      const q0 = p0 * nOut, q1 = p1 * nOut;
      if (f === Math.tanh) { for (let q = q0; q < q1; q++) Z[q] = Math.tanh(Z[q]); }
      else if (f) { if (f !== ACTIVATIONS.linear) for (let q = q0; q < q1; q++) Z[q] = f(Z[q]); }
      else {
        const o = OUTPUT_FN[net.task];
        if (o === "softmax") for (let p = p0; p < p1; p++) softmaxInPlace(Z, p * nOut, nOut);
        else if (o === "tanh") for (let q = q0; q < q1; q++) Z[q] = Math.tanh(Z[q]);
        else if (o === "sigmoid") for (let q = q0; q < q1; q++) Z[q] = sigmoid(Z[q]);
      }
    }
  }
}
