// The loss and accuracy figures above the output view: short on screen, exact
// in their titles. A regression has no accuracy, so its figures are hidden.
import { setNum, pct } from "../format.js";

export class MetricsView {
  constructor(root) {
    this.root = root;
    const q = (s) => root.querySelector(s);
    this.trainLoss = q("#train-loss"); this.testLoss = q("#test-loss");
    this.trainAcc = q("#train-acc"); this.testAcc = q("#test-acc");
  }

  reset(task) {
    this.root.querySelectorAll(".acc").forEach((e) => (e.hidden = task === "regression"));
  }

  update(frame) {
    const m = frame.metrics;
    setNum(this.trainLoss, m.train_loss); setNum(this.testLoss, m.test_loss);
    this.trainAcc.textContent = pct(m.train_acc); this.trainAcc.title = String(m.train_acc);
    this.testAcc.textContent = pct(m.test_acc); this.testAcc.title = String(m.test_acc);
  }
}
