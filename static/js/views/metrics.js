// The loss and accuracy figures above the output view: short on screen, exact
// in their titles. A regression has no accuracy, so its figures are hidden.
// With a validation split the test set is held back: its figures say "hidden"
// until the user asks for the final score. The generalization gap (validation
// loss minus training loss; test minus training without a validation split)
// and, with a penalty, the training loss the optimizer minimizes are shown too.
import { setNum, pct } from "../format.js";

/** The generalization gap of a frame's metrics: {value, vs} ("validation" or "test"), value null when unknown. */
export function generalizationGap(m, testShown = true) {
  if (!m || m.train_loss === null || m.train_loss === undefined) return { value: null, vs: null };
  if (m.val_loss !== null && m.val_loss !== undefined) return { value: m.val_loss - m.train_loss, vs: "validation" };
  if (testShown && m.test_loss !== null && m.test_loss !== undefined) return { value: m.test_loss - m.train_loss, vs: "test" };
  return { value: null, vs: null };
}

/** Does a frame's training loss carry a penalty (L1/L2 on), so that both training losses are worth showing? */
export function hasPenalty(frame) {
  return !!frame?.hyper && frame.hyper.regularization !== "none" && frame.hyper.reg_rate > 0;
}

export class MetricsView {
  /** reveal: {test: boolean}, shared with the charts: whether the held-back test set is shown. */
  constructor(root, reveal = { test: true }) {
    this.root = root; this.reveal = reveal;
    const q = (s) => root.querySelector(s);
    this.trainLoss = q("#train-loss"); this.testLoss = q("#test-loss"); this.valLoss = q("#val-loss");
    this.trainAcc = q("#train-acc"); this.testAcc = q("#test-acc"); this.valAcc = q("#val-acc");
    this.gap = q("#gap"); this.gapName = q("#gap-name"); this.penalized = q("#train-loss-pen");
    this.task = null; this.last = null;
  }

  reset(task) {
    this.task = task;
    this.root.querySelectorAll(".acc").forEach((e) => (e.hidden = task === "regression"));
    this.last = null;
  }

  /** Is the test set held back now (a validation split, and no final score asked for)? */
  testHidden(m) { return !this.reveal.test && m && m.val_loss !== null && m.val_loss !== undefined; }

  update(frame) {
    const m = frame.metrics;
    this.last = frame;
    const hasVal = m.val_loss !== null && m.val_loss !== undefined;
    const hidden = this.testHidden(m);
    setNum(this.trainLoss, m.train_loss);
    this.trainAcc.textContent = pct(m.train_acc); this.trainAcc.title = String(m.train_acc);
    this.root.querySelectorAll(".val-only").forEach((e) => (e.hidden = !hasVal || (e.classList.contains("acc") && this.task === "regression")));
    if (hasVal) { setNum(this.valLoss, m.val_loss); this.valAcc.textContent = pct(m.val_acc); this.valAcc.title = String(m.val_acc); }
    if (hidden) {
      for (const el of [this.testLoss, this.testAcc]) { el.textContent = "hidden"; el.title = "held back until you ask for the final score"; }
    } else {
      setNum(this.testLoss, m.test_loss);
      this.testAcc.textContent = pct(m.test_acc); this.testAcc.title = String(m.test_acc);
    }
    const gap = generalizationGap(m, !hidden);
    const name = gap.vs === "test" ? "Generalization gap (test − training loss)" : "Generalization gap (validation − training loss)";
    if (this.gapName.textContent !== name) this.gapName.textContent = name;
    setNum(this.gap, gap.value);
    const pen = hasPenalty(frame);
    this.penalized.closest("div").hidden = !pen;
    if (pen) setNum(this.penalized, m.train_loss_penalized);
  }

  /** The final score was asked for (or hidden again): redraw the last frame's figures. */
  refresh() { if (this.last) this.update(this.last); }
}
