// Background experiments on the live run: k-fold cross-validation and hyperparameter
// search, run by the server in a process of its own (`job` messages report them).
import { h, fill } from "../dom.js";

/** root: the #lab-jobs section; ctx: {socket, intent, state, vocab, output}. */
export function mountJobsLab(root, ctx) {
  fill(root, h("h2", { id: "h-lab-jobs" }, "Cross-validation and tuning"));
  return { root, ctx };
}
