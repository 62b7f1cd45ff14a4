// The transfer lab: the second half of a model's life. Task sequences (the
// "Next task" panel: fine-tune from these weights or start from scratch), the
// transfer chart (task B learned from the fine-tuned start against the same
// task from scratch, a second session played beside this one through the run
// comparison), the forgetting chart (the previous task's accuracy while
// training on B), replay, freezing against replay side by side from the same
// start (a fork of this session), and importing a model from the page.
// It listens to the page's socket for the session, history and frames, and
// asks through "intent" events like every other view.
import { h, fill, num } from "../dom.js";
import { int } from "../format.js";
import { TaskPanel } from "./task_panel.js";
import { ReplayPanel, SHARE } from "./replay_panel.js";
import { TaskChart } from "./task_chart.js";
import { ImportModel, serverError } from "./import_model.js";

const SCRATCH = "From scratch";   // the label of task B learned from scratch beside the fine-tuned run
const MAX_ROWS = 4000;   // epoch rows of this run kept for the two charts (every other one goes past it)
const emptyRows = () => ({ step: [], acc: [], loss: [], oldAcc: [], oldLoss: [] });

/** A curve ({step, y}) with the run's newest metrics (`live`: {step, m}) after its last epoch row. */
function withLive(curve, live, key) {
  if (!live || (curve.step.length && live.step <= curve.step[curve.step.length - 1])) return curve;
  return { step: [...curve.step, live.step], y: [...curve.y, live.m[key] ?? null] };
}

export class TransferLab extends EventTarget {
  /**
   * root: the #lab-transfer section; ctx: {vocab, socket: the page's, http: the page's Http,
   * compare: the CompareRuns card, sessionId(): the session shown (null for a follower), state}.
   */
  constructor(root, ctx) {
    super();
    Object.assign(this, ctx);
    this.root = root;
    this.session = null; this.rows = emptyRows(); this.live = null;
    this.pendingScratch = false;   // a fine-tune asked with "run from scratch beside it": opened on its session
    this.cmpStart = null;          // {id, m}: the compared run's metrics at its step 0
    this.sideBySide = null;        // {left, right, fork, step} of the freezing-versus-replay comparison opened last
    this.build();
    const s = this.socket;
    s.addEventListener("session", ({ detail }) => this.setSession(detail));
    s.addEventListener("history", ({ detail }) => { this.rows = emptyRows(); this.append(detail); });
    s.addEventListener("frame", ({ detail }) => {
      this.append(detail.history);
      if (detail.metrics) this.live = { step: detail.step, m: detail.metrics };
      this.redraw();
    });
    s.addEventListener("error", ({ detail }) => this.refused(detail));
    this.compare.addEventListener("rows", () => { this.noteStart(); this.redraw(); });
    // Presenter mode: the charts come back with larger type.
    let presenter = document.documentElement.classList.contains("presenter");
    new MutationObserver(() => {
      const now = document.documentElement.classList.contains("presenter");
      if (now !== presenter) { presenter = now; this.transfer.setPresenter(); this.forgetting.setPresenter(); }
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });
    const tick = (now) => { this.transfer.tick(now); this.forgetting.tick(now); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  }

  intent(detail) { this.dispatchEvent(new CustomEvent("intent", { detail })); }

  build() {
    const card = (cls, ...children) => h("section", { class: `tl-card ${cls}` }, ...children);
    this.taskRoot = card("tl-next");
    this.replayRoot = card("tl-replay");
    this.importRoot = card("tl-import");
    this.sideRoot = card("tl-side");
    this.transferEl = h("div", { class: "tl-chart", id: "tl-transfer-chart" });
    this.forgetEl = h("div", { class: "tl-chart", id: "tl-forget-chart" });
    this.transferNote = h("p", { class: "note", id: "tl-transfer-note" });
    this.forgetNote = h("p", { class: "note", id: "tl-forget-note" });
    this.forgetFigures = h("dl", { class: "fit-report tl-figures", id: "tl-forget-figures", "aria-live": "polite" });
    fill(this.root,
      h("h2", { id: "h-lab-transfer" }, "Transfer lab"),
      h("p", { class: "note tl-intro" }, "After the first training: move the network to a new task, see what it keeps, what it forgets, and what freezing or replay saves."),
      h("div", { class: "tl-grid" },
        this.taskRoot,
        card("tl-charts",
          h("h3", { id: "h-tl-transfer" }, "Learning task B"),
          this.transferNote, this.transferEl,
          h("h3", { id: "h-tl-forget" }, "Forgetting task A"),
          this.forgetNote, this.forgetEl, this.forgetFigures),
        this.replayRoot, this.sideRoot, this.importRoot));
    this.tasks = new TaskPanel(this.taskRoot, this.vocab);
    this.tasks.addEventListener("next", ({ detail }) => this.next(detail));
    this.replay = new ReplayPanel(this.replayRoot, this.vocab.limits.max_points);
    this.replay.addEventListener("intent", ({ detail }) => this.intent(detail));
    this.transfer = new TaskChart(this.transferEl);
    this.forgetting = new TaskChart(this.forgetEl);
    this.importer = new ImportModel(this.importRoot, { http: this.http, sessionId: this.sessionId, dropZone: document.body });
    this.buildSide();
  }

  // ---- task sequences -------------------------------------------------------------------

  /** The Next task panel asked: fine_tune, and (fine-tuning) the same task from scratch beside it. */
  next({ config, start, compare }) {
    this.pendingScratch = compare;
    if (this.compare.socket) this.compare.close("Comparison closed: a new task begins.");
    this.intent({ type: "fine_tune", config, start });
  }

  /** A session message of the page's own run. */
  setSession(msg) {
    this.session = msg;
    this.tasks.setSession(msg);
    this.replay.setSession(msg);
    this.showSide();
    const tasks = msg.tasks ?? [], cur = tasks[tasks.length - 1];
    if (this.pendingScratch && cur && cur.start === "current") {
      this.pendingScratch = false;
      // After the compare card has seen this session (it closes a comparison whose configuration changed).
      queueMicrotask(() => this.compare.openRun({ label: SCRATCH, config: msg.config, hyper: msg.hyper,
        phrase: "the same task learned from scratch (the transfer lab)" }));
    }
    this.redraw();
  }

  /** An error from the server about one of this lab's messages: shown where it was asked. */
  refused(err) {
    if (err.request === "fine_tune") { this.pendingScratch = false; this.tasks.refused(err.message); }
    else if (err.request === "replay") this.replay.refused(err.message);
  }

  // ---- the charts ---------------------------------------------------------------------------

  held() { return (this.session?.config?.val_ratio ?? 0) > 0 ? "val" : "test"; }

  append(hist) {
    for (const ch of hist?.changes ?? []) if (ch.field === "replay_share" || ch.field === "replay_buffer") this.replay.changed(ch.field, ch.new);
    const e = hist?.epochs, r = this.rows, k = this.held();
    if (!e || !e.step) return;
    for (let i = 0; i < e.step.length; i++) {
      if (r.step.length && e.step[i] <= r.step[r.step.length - 1]) continue;
      r.step.push(e.step[i]);
      r.acc.push(e[`${k}_acc`]?.[i] ?? null); r.loss.push(e[`${k}_loss`]?.[i] ?? null);
      r.oldAcc.push(e.old_task_acc?.[i] ?? null); r.oldLoss.push(e.old_task_loss?.[i] ?? null);
    }
    if (r.step.length > MAX_ROWS) for (const key of Object.keys(r)) r[key] = r[key].filter((_, i) => i % 2 === 0);
  }

  /** Both charts from this run's rows and the compared run's. */
  redraw() {
    const r = this.rows, c = this.compare.socket ? this.compare.rows : null;
    // Accuracy for classes, loss for regression (no accuracy): said by the task, or else by the rows.
    const classes = this.session?.tasks?.at(-1)?.n_classes;
    const isAcc = classes !== undefined ? !!classes : r.acc.some((v) => v !== null) || (c?.acc ?? []).some((v) => v !== null);
    const yName = isAcc ? "accuracy" : "loss";
    const tasks = this.session?.tasks ?? [], cur = tasks[tasks.length - 1];
    const side = c && this.sideBySide && this.compare.session?.session_id === this.sideBySide.fork ? this.sideBySide : null;
    const own = side ? `This run${side.left === null ? "" : `, layer ${side.left + 1} frozen`}`
      : cur?.start === "current" ? "Fine-tuned" : cur?.start === "scratch" ? "From scratch (this run)" : "This run";
    const other = this.compare.socket ? this.compare.label() : "Compared run";
    const heldName = this.held() === "val" ? "validation" : "test";
    // B's curves end at each run's newest metrics; the compared run's starts at its step 0 (a new session's
    // first epoch row comes only at the end of its first epoch; the fine-tuned run has a row at step 0).
    const key = `${this.held()}_${isAcc ? "acc" : "loss"}`;
    const start = c && this.cmpStart?.id === this.compare.session?.session_id && !(c.step[0] <= 0) ? this.cmpStart : null;
    const cmpB = c ? withLive({ step: [...(start ? [0] : []), ...c.step], y: [...(start ? [start.m[key] ?? null] : []), ...(isAcc ? c.acc : c.held)] },
      this.compare.live, key) : null;
    this.transfer.set(withLive({ step: r.step, y: isAcc ? r.acc : r.loss }, this.live, key), cmpB,
      [`${own}: ${heldName} ${yName} on B`, `${other}: ${heldName} ${yName} on B`], yName);
    const oldY = isAcc ? r.oldAcc : r.oldLoss;
    this.forgetting.set({ step: r.step, y: oldY }, c ? { step: c.step, y: isAcc ? c.oldAcc : c.oldLoss } : null,
      [`${own}: ${yName} on task A`, `${other}: ${yName} on task A`], yName);
    this.transferNote.textContent = side ? `${own} against a copy of it made at step ${int(side.step)}: the same weights, data and batches from there.`
      : c && this.compare.label() === SCRATCH ? `${own} against ${other.toLowerCase()}, on the same data and the same fresh weights where they differ.`
      : c ? `This run against the compared run (${other}).`
      : cur?.start === "current" ? "Tick “Also run task B from scratch” before fine-tuning to draw the from-scratch curve here too."
        : "Fine-tune to a next task to compare it with learning that task from scratch.";
    this.showForgetting(oldY, yName);
  }

  /** The compared run's metrics at its step 0 (its first frame), kept: its curve on B starts there. */
  noteStart() {
    const lv = this.compare.live, id = this.compare.session?.session_id;
    if (lv && lv.step === 0 && id && this.cmpStart?.id !== id) this.cmpStart = { id, m: lv.m };
  }

  /** The previous task's score at the switch and now, or why there is none. */
  showForgetting(oldY, yName) {
    const first = oldY.findIndex((v) => v !== null && v !== undefined);
    if (first < 0) {
      this.forgetNote.textContent = "No previous task with the same inputs and classes yet: fine-tune to one (rotated or shifted data, say) to watch the first task fade.";
      fill(this.forgetFigures);
      return;
    }
    this.forgetNote.textContent = `The network's ${yName} on the previous task's test points while it trains on this one.`;
    const last = oldY.length - 1 - [...oldY].reverse().findIndex((v) => v !== null && v !== undefined);
    const row = (dt, ...dd) => h("div", null, h("dt", null, dt), h("dd", null, ...dd));
    fill(this.forgetFigures,
      row("Task A at the switch", num(oldY[first], 4), ` (step ${int(this.rows.step[first])})`),
      row("Task A now", num(oldY[last], 4), ` (step ${int(this.rows.step[last])})`));
  }

  // ---- freezing versus replay, side by side ------------------------------------------------

  buildSide() {
    this.sideLayer = h("select", { id: "sb-layer" });
    this.sideShare = h("input", { id: "sb-share", type: "text", inputmode: "decimal", autocomplete: "off", value: "0.5", "aria-describedby": "sb-err" });
    this.sideErr = h("p", { id: "sb-err", class: "fit-err", role: "alert" });
    this.sideStart = h("button", { type: "button", id: "sb-start", class: "primary" }, "Fork and compare");
    this.sideStatus = h("p", { id: "sb-status", class: "note", role: "status" });
    this.sideWhy = h("p", { id: "sb-why", class: "note" });
    fill(this.sideRoot,
      h("h3", { id: "h-sb" }, "Freezing or replay?"),
      h("p", { class: "note" }, "From this very moment, two ways on: this run with a layer frozen, beside a copy of it (a fork: the same weights, optimizer state and tasks) that replays the previous task instead. Play drives both."),
      h("div", { class: "fit-fields" },
        h("div", { class: "fit-field" }, h("label", { for: "sb-layer" }, "This run: freeze"), this.sideLayer),
        h("div", { class: "fit-field" }, h("label", { for: "sb-share" }, "The copy: replay share (0 to 0.9)"), this.sideShare)),
      this.sideErr, this.sideWhy, h("div", { class: "row" }, this.sideStart), this.sideStatus);
    this.sideStart.addEventListener("click", () => this.startSide());
  }

  /** The layers to choose from, and whether the copy can replay at all. */
  showSide() {
    const arch = this.session?.architecture;
    if (!arch) return;
    const n = arch.hidden.length + 1, was = this.sideLayer.options.length ? this.sideLayer.value : "0";
    fill(this.sideLayer, h("option", { value: "" }, "nothing"),
      Array.from({ length: n }, (_, l) => h("option", { value: String(l) }, l === n - 1 ? `Output layer (${l + 1})` : `Layer ${l + 1}`)));
    this.sideLayer.value = [...this.sideLayer.options].some((o) => o.value === was) ? was : "0";
    const available = this.session.replay?.available ?? 0;
    this.sideShare.disabled = !available;
    this.sideWhy.textContent = available ? "" : "The copy replays nothing yet: replay needs a previous task with the same inputs and classes (fine-tune to one first).";
  }

  /** Fork this session (POST .../fork), open the copy beside this run, then freeze here and replay there. */
  async startSide() {
    const id = this.sessionId();
    if (!id) { this.sideErr.textContent = "This page shows a session it does not own (a room it follows): fork it in the classroom first."; return; }
    const available = this.session?.replay?.available ?? 0;
    let share = 0;
    if (available) {
      const t = this.sideShare.value.trim();
      share = Number(t);
      if (!/^(0(\.\d+)?|\.\d+)$/.test(t) || share > SHARE.max) { this.sideErr.textContent = `Replay share: “${t}” is not a number from 0 to ${SHARE.max}.`; return; }
    }
    const layer = this.sideLayer.value === "" ? null : Number(this.sideLayer.value);
    this.sideErr.textContent = "";
    this.sideStatus.textContent = "Forking this session…";
    let reply, body = null;
    try {
      reply = await this.http.request(`/api/sessions/${encodeURIComponent(id)}/fork`, { method: "POST" });
      body = await reply.json().catch(() => null);
    } catch {
      this.sideStatus.textContent = ""; this.sideErr.textContent = "The session was not forked: the server did not answer."; return;
    }
    if (!reply.ok || typeof body?.session_id !== "string") {
      this.sideStatus.textContent = ""; this.sideErr.textContent = `The session was not forked: ${serverError(body, reply.status)}`; return;
    }
    const buffer = Math.min(available || 1, this.vocab.limits.max_points);
    const pct = Math.round(100 * share);
    const label = share > 0 ? `Copy with replay ${pct}%` : "Copy without replay";
    const phrase = share > 0 ? `a copy of this run replaying ${pct}% of each batch` : "a copy of this run, without replay";
    this.compare.openRun({ label, phrase, config: this.session.config, sessionId: body.session_id,
      onSession: (msg, socket, first) => { if (first && share > 0) socket.send({ type: "replay", share, buffer }); } });
    if (layer !== null) this.intent({ type: "freeze", layer, target: "layer", frozen: true });
    this.sideBySide = { left: layer, right: share, fork: body.session_id, step: this.live?.step ?? 0 };
    this.sideStatus.textContent = `${layer === null ? "This run: nothing frozen" : `This run: layer ${layer + 1} frozen`}; ${label.toLowerCase()} (session ${body.session_id}). Press Play: both train together.`;
  }
}
