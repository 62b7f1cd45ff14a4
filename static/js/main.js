// Wiring: state <-> socket <-> views. Data flows down by method calls (update,
// reset); intent flows up as CustomEvents and only socket.js sends it, as only
// http.js makes HTTP requests. The frame loop draws (frame_loop.js), the hash
// follows the state (hash.js); this module only connects them, once the
// server's vocabulary (every name, label and range) is here to build with.
import { State, stateProps } from "./state.js";
import { Vocabulary } from "./vocabulary.js";
import { Socket } from "./socket.js";
import { Http, downloadLinks } from "./http.js";
import { HashSync } from "./hash.js";
import { FrameLoop } from "./frame_loop.js";
import { exportPng } from "./export_png.js";
import { bindShortcuts } from "./shortcuts.js";
import { installDebugHandle } from "./debug.js";
import { Tooltip } from "./views/tooltip.js";
import { ControlsView } from "./views/controls.js";
import { NetworkView } from "./views/network.js";
import { OutputView } from "./views/output.js";
import { ChartsView } from "./views/charts.js";
import { PhasesView } from "./views/phases.js";
import { ParamsPanel } from "./views/params_panel.js";
import { StatusView } from "./views/status.js";
import { MetricsView } from "./views/metrics.js";
import { RoomStore } from "./views/room_store.js";
import { ClassroomView } from "./views/classroom.js";
import { mountJobsLab } from "./views/jobs_lab.js";
import { FitLab } from "./views/fit_lab.js";
import { CompareRuns } from "./views/compare.js";
import { mountQuantLab } from "./views/quant_lab.js";
import { TransferLab } from "./views/transfer_lab.js";
import { mountOptimizerLab } from "./views/optimizer_lab.js";
import { RewindLab } from "./views/rewind_lab.js";
import { lessonPlayer } from "./lesson/player.js";

const $ = (id) => document.getElementById(id);
const FPS = 60;
// The optional frame parts each edge mode draws (W and b always come; step-by-step frames carry every part).
const EDGE_PARTS = { weights: [], gradients: ["gradient"], velocity: ["velocity"], updates: ["update"] };
// Parts a lab asks for besides the edge mode's (the optimizer lab's velocity marks).
const extraParts = new Set();
const partsFor = (edges) => [...new Set([...(EDGE_PARTS[edges] || []), ...extraParts])];

// The socket says hello (with the state and the room below) only at connect(), at the end.
// A student's own first session waits paused while they follow the teacher.
const socket = new Socket(() => ({ fps: FPS, config: state.config(), hyper: state.hyper(), playing: state.playing && !room.joining, run_id: room.runId }));
const http = new Http(() => socket.teacherKey());
const status = new StatusView();
const vocab = new Vocabulary(await http.vocabulary((waiting) => status.setConnected(!waiting)));

const state = State.deserialize(location.hash, stateProps(vocab));
state.writeHash();

// A teacher's link may open straight in presenter mode.
document.documentElement.classList.toggle("presenter", state.presenter);
$("presenter").setAttribute("aria-pressed", String(state.presenter));

const room = new RoomStore();
const tooltip = new Tooltip($("tooltip"));
// Whether the test set held back by a validation split is shown (the "Final score"), for the figures and the charts.
const reveal = { test: false };
const metricsView = new MetricsView(document.querySelector(".metrics"), reveal);
const views = {
  controls: new ControlsView(state, vocab),
  network: new NetworkView($("network"), tooltip),
  output: new OutputView($("output")),
  charts: new ChartsView($("charts"), Object.keys(vocab.defaults.hyper), reveal),
  phases: new PhasesView($("phases")),
  params: new ParamsPanel($("params")),
  status,
  // The frame loop hands each frame it draws to the views it lists; the weight norms and the early
  // stopping card ride along with the metrics (their own figures of the same frame).
  metrics: { reset: (task) => metricsView.reset(task), update: (frame) => { metricsView.update(frame); params.update(frame); fitLab.update(frame); optimizerLab.update(frame); } },
  room,   // the frame loop hands it each frame too: the read-only lock follows rebuilt controls
};
const { controls, network, output, charts, params } = views;
const fitLab = new FitLab($("lab-fit"), { reveal, onReveal: () => { metricsView.refresh(); charts.revealChanged(); } });
const compare = new CompareRuns($("lab-compare"), { state, vocab, charts, intent: (msg) => intent({ detail: msg }), stoppingRule: () => fitLab.rule() });
// The transfer lab listens to the socket itself (session, history, frames); it asks through intent like the views.
const transferLab = new TransferLab($("lab-transfer"), { vocab, socket, http, compare, state, sessionId: () => loop.session?.session_id ?? null });
const classroom = new ClassroomView($("classroom"), room, state.props, { toggle: $("classroom-toggle"), chip: $("room-chip"), banner: $("banner-room"), toast: $("toast") });

socket.afterHello = () => room.rejoin();
if (room.freshRun) socket.forgetSession();
const hash = new HashSync(state, { send: (msg) => socket.send(msg), readOnly: () => room.readOnly });
const loop = new FrameLoop({ socket, hash, state, vocab, views });
// Rewind and histograms over time: it listens to the socket itself and asks through intent like the views.
const rewindLab = new RewindLab($("lab-rewind"), { socket, loop, network, tooltip, room, state });

// ---- server -> views ----------------------------------------------------------------

socket.addEventListener("session", ({ detail: msg }) => {
  hash.adoptQuantization(msg);   // a link's quantization, asked for once the first session is here
  state.applySession(msg);
  hash.write();
  controls.reset(msg);
  params.reset(msg.architecture);
  charts.reset();
  status.reset();
  const links = msg.session_id ? downloadLinks(msg.session_id) : null;   // a follower does not learn the teacher's session id
  for (const [id, key] of [["export-model", "model"], ["export-csv", "csv"]]) {
    if (links) $(id).href = links[key]; else $(id).removeAttribute("href");
  }
  loop.setSession(msg);
  room.reset(msg);
  fitLab.setSession(msg);
  compare.mainSession(msg);
});
socket.addEventListener("dataset", ({ detail: msg }) => { loop.setDataset(msg); fitLab.setDataset(msg); controls.setDataset(msg); params.setInputNames(msg.features); });
socket.addEventListener("history", ({ detail: msg }) => charts.setHistory(msg));
// While the rewind lab looks at a recorded step, frames are drawn with that step's weights (its lens).
socket.addEventListener("frame", ({ detail: msg }) => loop.push(rewindLab.lens(msg)));
socket.addEventListener("inspected", ({ detail: msg }) => network.focus.setExact(msg));
socket.addEventListener("error", ({ detail: msg }) => {
  status.error(room.explain(msg));
  if (loop.session) controls.reset(loop.session);
  room.receive(msg);
  if (msg.request === "hello" && msg.field === "run_id") socket.sayHello(null);   // a dead run link: a new session
  // "unavailable" (the shared store is down, or the session is busy elsewhere) is said and retried by the
  // socket with the same session: it is not the link's fault, so nothing below drops what the link asked for.
  const refused = msg.request === "hello" && !loop.session && msg.code !== "unavailable";
  if (refused && state.columns && !vocab.isUploaded(state.dataset)) {
    // A link whose choice of columns this data does not have: say so, and take every column.
    status.error({ message: `${msg.message.replace(/\.?$/, ".")} The link's choice of columns was dropped: every column is used.` });
    state.columns = null; state.writeHash();
    socket.sayHello(null);
  }
  if (refused && vocab.isUploaded(state.dataset)) {
    // A link to data uploaded on another server: say so, and start on the default data.
    const fallback = vocab.defaults.config.dataset;
    status.error({ message: `${msg.message} This link names an uploaded CSV file this server does not have; showing the ${vocab.label("dataset", fallback).toLowerCase()} data instead.` });
    state.dataset = fallback; state.writeHash();
    socket.sayHello(null);
  }
});
for (const type of ["room", "room_status", "room_lesson", "room_closed", "saved", "notice"]) socket.addEventListener(type, ({ detail }) => room.receive(detail));
socket.addEventListener("status", ({ detail }) => status.setConnected(detail.connected));

// ---- views -> server ----------------------------------------------------------------

function intent({ detail }) {
  const msg = { ...detail };
  if (!room.allows(msg.type)) { status.error({ message: room.explain({ code: "forbidden", request: msg.type }).message }); return; }
  switch (msg.type) {
    case "set_hyper": {
      // Coalesced: at most one set_hyper per animation frame.
      const { type, ...fields } = msg;
      loop.sendHyper(fields);
      Object.assign(state, fields); hash.touch();
      return;
    }
    case "play": case "pause": state.playing = msg.type === "play"; hash.touch(); break;
    case "step": state.playing = false; hash.touch(); break;
    case "set_param": if (msg.i === undefined) delete msg.i; break;
  }
  if (!socket.send(msg)) { status.error({ message: "Not connected: the change was not sent. Reconnecting…" }); return; }
  compare.mirror(msg);   // a compared run plays, pauses and steps with this one
}

for (const v of [controls, network, output, views.phases, status, room, fitLab, transferLab, rewindLab]) v.addEventListener("intent", intent);
status.addEventListener("rollback_to", ({ detail }) => rewindLab.rollBackTo(detail.step));   // trouble: back to before it began
const jobsLab = mountJobsLab($("lab-jobs"), { socket, intent: (msg) => intent({ detail: msg }), state, vocab, output });
// Compression and relevance: it listens to the socket itself and asks through intent like the views.
const quantLab = mountQuantLab($("lab-quant"), { socket, loop, network, reveal, intent: (msg) => intent({ detail: msg }) });
// The optimizer lab: landscape, race, learning-rate explorer (background jobs), and velocity marks on the network.
const optimizerLab = mountOptimizerLab($("lab-optimizer"), { socket, vocab, network, velocityToggle: $("velocity-marks"), intent: (msg) => intent({ detail: msg }),
  wantParts: (name, on) => { if (on) extraParts.add(name); else extraParts.delete(name); socket.setParts(partsFor(state.edges)); } });

// Your own data: the server parses the file and names it; the name configures the session.
controls.addEventListener("upload", async ({ detail: file }) => {
  let dataset;
  try { dataset = await http.uploadDataset(file); } catch (err) { status.error({ message: err.message }); return; }
  status.clearError();
  controls.uploaded(file.name);
  intent({ detail: { type: "configure", config: { dataset } } });
});
room.addEventListener("readonly", ({ detail }) => {
  network.readOnly = detail.on;
  if (!detail.on && loop.session) controls.reset(loop.session);   // the controls' own limits come back
});
room.addEventListener("leave", () => socket.sayHello(socket.sessionId));
network.addEventListener("neurons", ({ detail }) => {
  const h = [...state.hidden];
  h[detail.layer] = Math.max(1, Math.min(vocab.limits.max_neurons, h[detail.layer] + detail.delta));
  intent({ detail: { type: "configure", config: { hidden: h } } });
});
network.addEventListener("inspect", ({ detail }) => output.setInspect(detail));
network.addEventListener("exact", ({ detail }) => socket.inspect(detail));

controls.addEventListener("ui", ({ detail }) => {
  if ("show_test" in detail) { state.show_test = detail.show_test; output.setShowTest(detail.show_test); hash.touch(); }
  if ("edges" in detail) { state.edges = detail.edges; socket.setParts(partsFor(detail.edges)); network.setEdgeMode(detail.edges); hash.touch(); }
  if ("presenter" in detail) {
    state.presenter = detail.presenter; hash.touch();
    document.documentElement.classList.toggle("presenter", detail.presenter);
    requestAnimationFrame(() => { network.layout(); network.draw(); output.drawPoints(); charts.setPresenter(); });
  }
});

// ---- lessons ---------------------------------------------------------------------------

// A lesson step's setup goes through the page's own state (sliders, play button, link follow it), sent at once.
function lessonSend(msg) {
  if (msg.type === "set_hyper") { const { type, ...fields } = msg; Object.assign(state, fields); hash.touch(); }
  if (msg.type === "play" || msg.type === "pause") { state.playing = msg.type === "play"; controls.asked(state.playing); hash.touch(); }
  return socket.send(msg);
}
lessonPlayer.mount({
  socket, state, send: lessonSend, request: (path, init) => http.request(path, init), frame: () => loop.frame,
  setStepUnit: (unit) => { $("step-unit").value = unit; },
  readOnly: () => room.readOnly,
  // The lesson's locks are off: a follower's lock stays, else the controls take back their own limits.
  unlocked: () => { if (room.readOnly) room.lock.apply(); else if (loop.session) controls.reset(loop.session); },
  error: (message) => status.error({ message }),
  card: $("lesson-card"), list: $("lessons"), toggle: $("lessons-toggle"),
});

// ---- keyboard, export ----------------------------------------------------------------

bindShortcuts(controls, () => tooltip.editing || room.readOnly);
$("export-png").addEventListener("click", () => exportPng(network, output, loop.frame));

installDebugHandle({ state, vocab, socket, loop, room, views: { charts, network, output, classroom, jobsLab } });
Object.assign(window.paramlab, { fitLab, compare, params });   // the generalization lab's views, for tests too
window.paramlab.quantLab = quantLab;   // the compression and relevance lab, for tests too
window.paramlab.transferLab = transferLab;   // the transfer lab, for tests too
window.paramlab.optimizerLab = optimizerLab;   // the optimizer lab, for tests too
window.paramlab.rewindLab = rewindLab;   // rewind and histograms over time, for tests too

socket.setParts(partsFor(state.edges));   // said in the hello
socket.connect();
loop.start();
