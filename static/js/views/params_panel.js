// Parameters versus hyperparameters: what the network learns, counted per layer,
// with each layer's weight norm ‖W‖ (the square root of the sum of its squared
// weights) updated with every frame drawn: L2 regularization visibly shrinks it,
// and the count of weights exactly 0 shows what L1 does. Freezing isolates
// parameters: each layer counts its frozen ones (training leaves them as they
// are), and the foot of the table says how many are trainable and how many frozen.
// Parameters differ by model type: with no hidden layer a regression network is
// linear regression, and a small table sets its weights beside the least-squares
// (and, under L2, the ridge) solution the server computed (the frame's `least_squares`).
import { int, setNum } from "../format.js";
import { h, fill } from "../dom.js";
import { ModelScale } from "./model_scale.js";

export class ParamsPanel {
  constructor(root) {
    this.root = root; this.normCells = []; this.zeroCells = []; this.frozenCells = []; this.counts = null;
    this.lsq = null; this.lsqKey = ""; this.lsqCells = []; this.inputNames = null;
    this.scale = null;
  }

  /** The network's input names (the dataset message's `features`), to label the coefficients. */
  setInputNames(names) { this.inputNames = names; this.lsqKey = ""; }

  /** From the session's architecture: sizes [n_inputs, ...hidden, n_outputs]. */
  reset(arch) {
    const sizes = [arch.n_inputs, ...arch.hidden, arch.n_outputs];
    const rows = [];
    this.normCells = []; this.zeroCells = []; this.frozenCells = []; this.counts = null;
    let total = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      const w = sizes[l] * sizes[l + 1], b = sizes[l + 1], n = arch.param_counts?.[l] ?? w + b;
      total += n;
      const name = l + 1 === sizes.length - 1 ? "Output" : `Layer ${l + 1}`;
      const norm = h("td", { class: "num w-norm", dataset: { layer: l } }, "—"), zeros = h("td", { class: "num w-zeros" }, "—");
      const frozen = h("td", { class: "num w-frozen" }, "0");
      this.normCells[l] = norm; this.zeroCells[l] = zeros; this.frozenCells[l] = frozen;
      rows.push(h("tr", null, h("td", null, name), h("td", { title: `${sizes[l]} × ${sizes[l + 1]}` }, `${sizes[l]}×${sizes[l + 1]} = ${int(w)}`),
        h("td", null, int(b)), h("td", null, int(n)), norm, zeros, frozen));
    }
    total = arch.total_params ?? total;
    const hyper = h("span", { class: "chip hyper" }, "hyperparameter");
    fill(this.root,
      h("h2", { id: "h-params" }, h("span", { class: "chip param" }, "parameters"), " learned by training"),
      h("table", null,
        h("thead", null, h("tr", null, [["Layer"], ["weights"], ["biases"], ["total"],
          ["‖W‖", "the size of the layer's weights: the square root of the sum of their squares (L2 shrinks it)"],
          ["w = 0", "weights exactly zero (L1 sets weights to exactly 0; they are drawn as absent)"],
          ["frozen", "weights and biases frozen: training leaves them as they are (click a weight, a neuron or a layer to freeze it)", true]]
          .map(([c, t, lock]) => h("th", { title: t }, lock ? h("span", { class: "lock-icon", "aria-hidden": "true" }) : null, lock ? " " : null, c)))),
        h("tbody", null, rows),
        h("tfoot", null, h("tr", null, h("td", null, "All layers"), h("td"), h("td"), h("td", { id: "total-params", title: total }, int(total)), h("td"), h("td"),
          h("td", { id: "frozen-params", class: "num" }, "0")))),
      this.isolation = h("p", { id: "trainable-params", class: "note params-isolation", "aria-live": "polite" }),
      h("p", { class: "note" }, "Weights (edges) and biases (small squares) are the parameters: orange negative, blue positive. Everything tagged ",
        hyper, " is a choice you make."),
      this.lsq = h("div", { id: "least-squares", class: "least-squares", hidden: true }),
      h("div", { id: "model-scale", class: "model-scale" }));
    this.lsqKey = ""; this.lsqCells = [];
    this.scale = new ModelScale(this.root.querySelector("#model-scale"));
    this.scale.reset({ ...arch, total_params: total });
  }

  /** Linear regression: the learned weights beside the least-squares (and ridge) solution; hidden otherwise. */
  showLeastSquares(frame) {
    const ls = frame.least_squares ?? null, box = this.lsq;
    if (!box) return;
    if (box.hidden !== !ls) box.hidden = !ls;
    if (!ls || frame.layers.length !== 1) { this.lsqKey = ""; return; }
    const L = frame.layers[0], nIn = L.W.length, nOut = L.b.length;
    const key = `${nIn}x${nOut}/${ls.ridge ? "ridge" : ""}/${ls.note}`;
    if (key !== this.lsqKey) { this.lsqKey = key; this.buildLeastSquares(ls, nIn, nOut); }
    // A binary frame's rows are typed arrays (flatMap would keep them whole): copied out as numbers.
    const values = (W, b) => [...W.flatMap((row) => Array.from(row)), ...Array.from(b)];
    const columns = [values(L.W, L.b), values(ls.ordinary.W, ls.ordinary.b), ...(ls.ridge ? [values(ls.ridge.W, ls.ridge.b)] : [])];
    this.lsqCells.forEach((row, r) => row.forEach((cell, c) => setNum(cell, columns[c][r], 4)));
  }

  buildLeastSquares(ls, nIn, nOut) {
    const name = (i) => this.inputNames?.[i] ?? `input ${i + 1}`;
    const out = (k) => (nOut > 1 ? ` → output ${k + 1}` : "");
    const labels = [];
    for (let i = 0; i < nIn; i++) for (let k = 0; k < nOut; k++) labels.push(`weight of ${name(i)}${out(k)}`);
    for (let k = 0; k < nOut; k++) labels.push(`bias${out(k)}`);
    const heads = [["learned", "the weights gradient descent has found so far"],
      ["least squares", "the exact minimum of the training loss without a penalty: np.linalg.lstsq of the inputs and a column of ones"],
      ...(ls.ridge ? [["ridge", `the exact minimum with the L2 penalty (rate ${ls.rate}) the training uses: the bias is not penalized`]] : [])];
    this.lsqCells = labels.map(() => heads.map(() => h("td", { class: "num" }, "—")));
    fill(this.lsq,
      h("h3", null, "Linear regression: the weights are its coefficients"),
      h("table", { class: "lsq-table" },
        h("thead", null, h("tr", null, h("th", null, "parameter"), heads.map(([c, t]) => h("th", { title: t }, c)))),
        h("tbody", null, labels.map((label, r) => h("tr", null, h("td", null, label), this.lsqCells[r])))),
      h("p", { class: "note lsq-note" }, ls.note));
  }

  /** Per frame: each layer's ‖W‖, its weights exactly 0 and its frozen parameters. */
  update(frame) {
    this.scale?.update(frame);
    this.countFrozen(frame);
    this.showLeastSquares(frame);
    frame.layers.forEach((L, l) => {
      const cell = this.normCells[l];
      if (!cell || !L.W) return;
      let sq = 0, zeros = 0;
      for (const row of L.W) for (const w of row) { sq += w * w; if (w === 0) zeros++; }
      setNum(cell, Math.sqrt(sq), 4);
      const z = int(zeros);
      if (this.zeroCells[l].textContent !== z) this.zeroCells[l].textContent = z;
    });
  }

  /** Each layer's frozen weights and biases (the frame's masks), and the trainable and frozen totals. */
  countFrozen(frame) {
    let frozen = 0, total = 0;
    const perLayer = frame.layers.map((L, l) => {
      let n = 0, all = 0;
      for (const row of L.frozenW || []) for (const f of row) { all++; if (f) n++; }
      for (const f of L.frozenb || []) { all++; if (f) n++; }
      frozen += n; total += all;
      const cell = this.frozenCells[l];
      if (cell) {
        const text = int(n);
        if (cell.textContent !== text) cell.textContent = text;
        cell.classList.toggle("some-frozen", n > 0);
      }
      return n;
    });
    const key = `${frozen}/${total}`;
    if (this.counts?.key === key) return;
    this.counts = { key, frozen, trainable: total - frozen, perLayer };
    const foot = this.root.querySelector("#frozen-params");
    if (foot) foot.textContent = int(frozen);
    if (this.isolation) {
      this.isolation.textContent = frozen ? `${int(total - frozen)} trainable, ${int(frozen)} frozen (locked: training leaves them as they are).`
        : `${int(total)} trainable, none frozen.`;
    }
  }

  /** The norms shown now, per layer (tests compare them with the frame's weights). */
  norms() { return this.normCells.map((c) => Number(c.title)); }
}
