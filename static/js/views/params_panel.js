// Parameters versus hyperparameters: what the network learns, counted per layer.
import { int } from "../format.js";
import { h, fill } from "../dom.js";

export class ParamsPanel {
  constructor(root) { this.root = root; }

  /** From the session's architecture: sizes [n_inputs, ...hidden, n_outputs]. */
  reset(arch) {
    const sizes = [arch.n_inputs, ...arch.hidden, arch.n_outputs];
    const rows = [];
    let total = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      const w = sizes[l] * sizes[l + 1], b = sizes[l + 1], n = arch.param_counts?.[l] ?? w + b;
      total += n;
      const name = l + 1 === sizes.length - 1 ? "Output" : `Layer ${l + 1}`;
      rows.push(h("tr", null, h("td", null, name), h("td", { title: `${sizes[l]} × ${sizes[l + 1]}` }, `${sizes[l]}×${sizes[l + 1]} = ${int(w)}`),
        h("td", null, int(b)), h("td", null, int(n))));
    }
    total = arch.total_params ?? total;
    const hyper = h("span", { class: "chip hyper" }, "hyperparameter");
    fill(this.root,
      h("h2", { id: "h-params" }, h("span", { class: "chip param" }, "parameters"), " learned by training"),
      h("table", null,
        h("thead", null, h("tr", null, ["Layer", "weights", "biases", "total"].map((c) => h("th", null, c)))),
        h("tbody", null, rows),
        h("tfoot", null, h("tr", null, h("td", null, "All layers"), h("td"), h("td"), h("td", { id: "total-params", title: total }, int(total))))),
      h("p", { class: "note" }, "Weights (edges) and biases (small squares) are the parameters: orange negative, blue positive. Everything tagged ",
        hyper, " is a choice you make."));
  }
}
