// Parameters versus hyperparameters: what the network learns, counted per layer.
import { int } from "../format.js";

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
      rows.push(`<tr><td>${name}</td><td title="${sizes[l]} × ${sizes[l + 1]}">${sizes[l]}×${sizes[l + 1]} = ${int(w)}</td><td>${int(b)}</td><td>${int(n)}</td></tr>`);
    }
    total = arch.total_params ?? total;
    this.root.innerHTML = `<h2 id="h-params"><span class="chip param">parameters</span> learned by training</h2>
      <table><thead><tr><th>Layer</th><th>weights</th><th>biases</th><th>total</th></tr></thead>
      <tbody>${rows.join("")}</tbody>
      <tfoot><tr><td>All layers</td><td></td><td></td><td id="total-params" title="${total}">${int(total)}</td></tr></tfoot></table>
      <p class="note">Weights (edges) and biases (small squares) are the parameters: orange negative, blue positive.
      Everything tagged <span class="chip hyper">hyperparameter</span> is a choice you make.</p>`;
  }
}
