// Background experiments on the live run: k-fold cross-validation and hyperparameter
// search, run by the server in a process of its own (`job` messages report them).
// This module mounts the card's two parts, routes the socket's job messages and
// errors to them, and says when the session lacks the validation split they need.
import { h, fill } from "../dom.js";
import { downloadLinks } from "../http.js";
import { CrossValidationPanel } from "./cv_panel.js";
import { SearchPanel } from "./search_panel.js";

const DEFAULT_VAL_RATIO = 20;   // percent, when the vocabulary's default has no validation split

/** root: the #lab-jobs section; ctx: {socket, intent, state, vocab, output}. */
export function mountJobsLab(root, ctx) {
  const { socket, intent, vocab, output } = ctx;
  const send = (msg) => intent(msg);
  const cv = new CrossValidationPanel({ send, highlight: (valIndex) => output.setFold(valIndex) });
  const search = new SearchPanel({ send });
  const parts = { cross_validation: cv, search };
  const byRequest = { cross_validate: cv, search };

  const defaultRatio = vocab.defaults.config.val_ratio > 0 ? vocab.defaults.config.val_ratio : DEFAULT_VAL_RATIO;
  const needVal = h("div", { class: "lj-need-val", role: "note", hidden: true },
    h("p", null, "Cross-validation pools the training and validation points, and a search is scored on the validation split: this session has no validation split."),
    h("button", { type: "button", onclick: () => intent({ type: "configure", config: { val_ratio: defaultRatio } }) },
      `Give the validation split ${defaultRatio} % of the data`));
  const following = h("p", { class: "lj-need-val", hidden: true },
    "Following the teacher: background jobs run on your own session only (fork to experiment).");
  fill(root, h("h2", { id: "h-lab-jobs" }, "Cross-validation and tuning"), needVal, following,
    h("div", { class: "lj-parts" }, cv.root, search.root));

  const lab = { root, cv, search, sessionId: null, nVal: null, nTrain: null };

  /** Run is refused while the session has no validation split or is someone else's. */
  function block() {
    const noVal = lab.nVal === 0, follower = lab.sessionId === null;
    needVal.hidden = !noVal || follower;
    following.hidden = !follower;
    const why = follower ? following.textContent : noVal ? "There is no validation split: give it a share first (the button above)." : null;
    for (const part of [cv, search]) part.blocked = why;
  }

  socket.addEventListener("session", ({ detail: msg }) => {
    const id = msg.session_id ?? null;
    if (id !== lab.sessionId) { cv.setCsv(null); search.setCsv(null); }   // the CSVs belong to the session they ran on
    lab.sessionId = id;
    block();
  });
  socket.addEventListener("dataset", ({ detail: msg }) => {
    lab.nTrain = msg.train.x.length; lab.nVal = msg.val ? msg.val.x.length : 0;
    cv.forgetPoints();
    block();
  });
  socket.addEventListener("job", ({ detail: msg }) => {
    const part = parts[msg.kind];
    if (!part) return;
    part.receive(msg);
    if (msg.state === "done" && part.job?.id === msg.job_id && lab.sessionId) {
      part.setCsv(downloadLinks(lab.sessionId).lab(msg.kind));
    }
  });
  socket.addEventListener("error", ({ detail: msg }) => {
    const part = byRequest[msg.request];
    if (part) { part.refused(msg); return; }
    if (msg.request === "cancel_job") {
      const owner = [cv, search].find((p) => p.job && p.job.id === msg.value) || [cv, search].find((p) => p.busy());
      if (owner) owner.refused(msg);
    }
  });
  socket.addEventListener("status", ({ detail }) => { if (!detail.connected) { cv.disconnected(); search.disconnected(); } });

  // Presenter mode (a class on <html>) changes the type size: the chart and the heatmap draw again with it.
  let presenter = document.documentElement.classList.contains("presenter");
  new MutationObserver(() => {
    const now = document.documentElement.classList.contains("presenter");
    if (now === presenter) return;
    presenter = now;
    if (cv.chart.plot) cv.chart.build();
    search.heatmap.draw();
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });

  return lab;
}
