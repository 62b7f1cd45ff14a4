// Wiring: state <-> socket <-> views. Data flows down by method calls (update,
// reset); intent flows up as CustomEvents and only socket.js sends it. Frames
// are drawn at most once per animation frame, newest first, then acknowledged.
import { State, UPLOADED } from "./state.js";
import { Socket } from "./socket.js";
import { Network, Grid, OUTPUT_FN } from "./nn.js";
import { setNum, pct } from "./format.js";
import { Tooltip } from "./views/tooltip.js";
import { ControlsView } from "./views/controls.js";
import { NetworkView } from "./views/network.js";
import { OutputView } from "./views/output.js";
import { ChartsView } from "./views/charts.js";
import { PhasesView } from "./views/phases.js";
import { ParamsPanel } from "./views/params_panel.js";
import { StatusView } from "./views/status.js";
import { ClassroomView } from "./views/classroom.js";

const $ = (id) => document.getElementById(id);
const FPS = 60;

const state = State.deserialize(location.hash);
state.writeHash();

// A teacher's link may open straight in presenter mode.
document.documentElement.classList.toggle("presenter", state.presenter);
$("presenter").setAttribute("aria-pressed", String(state.presenter));

const tooltip = new Tooltip($("tooltip"));
const controls = new ControlsView(state);
const network = new NetworkView($("network"), tooltip);
const output = new OutputView($("output"));
const charts = new ChartsView($("charts"));
const phases = new PhasesView($("phases"));
const params = new ParamsPanel($("params"));
const status = new StatusView();
const classroom = new ClassroomView($("classroom"), { toggle: $("classroom-toggle"), chip: $("room-chip"), banner: $("banner-room"), toast: $("toast") });

let session = null, dataset = null, net = null, grid = null, ctxInfo = null, lastFrame = null;
let queue = [], pendingHyper = null, hashDirty = false, phaseSeen = null;
const stats = { framesDrawn: 0, drawMs: 0, lastDrawMs: 0 };

const socket = new Socket(() => {
  const config = state.config();
  // A student's own first session waits paused while they follow the teacher.
  return { fps: FPS, config, hyper: state.hyper(), playing: state.playing && !classroom.joining, run_id: classroom.runId };
});
socket.afterHello = () => classroom.rejoin();
if (classroom.freshRun) socket.forgetSession();

// ---- server -> views ----------------------------------------------------------------

socket.addEventListener("session", ({ detail: msg }) => {
  session = msg;
  state.applySession(msg);
  state.writeHash();
  controls.reset(msg);
  params.reset(msg.architecture);
  charts.reset();
  status.reset();
  for (const a of ["export-model", "export-csv"]) {
    if (msg.session_id) $(a).href = `/api/sessions/${msg.session_id}/${a === "export-model" ? "model" : "history.csv"}`;
    else $(a).removeAttribute("href");   // a follower does not learn the teacher's session id
  }
  rebuild();
  classroom.reset(msg);
});

socket.addEventListener("dataset", ({ detail: msg }) => { dataset = msg; rebuild(); });
socket.addEventListener("history", ({ detail: msg }) => charts.setHistory(msg));
socket.addEventListener("frame", ({ detail: msg }) => {
  charts.append(msg.history);      // every frame's history counts, drawn or skipped
  queue.push(msg);
});
socket.addEventListener("error", ({ detail: msg }) => {
  status.error(classroom.explain(msg));
  if (session) controls.reset(session);
  classroom.receive(msg);
  if (msg.request === "hello" && msg.field === "run_id") socket.sayHello(null);   // a dead run link: a new session
  if (msg.request === "hello" && !session && UPLOADED.test(state.dataset)) {
    // A link to data uploaded on another server: say so, and start on the default data.
    status.error({ message: `${msg.message} This link names an uploaded CSV file this server does not have; showing the circle data instead.` });
    state.dataset = "circle"; state.writeHash();
    socket.sayHello(null);
  }
});
for (const type of ["room", "room_status", "room_closed", "saved", "notice"]) socket.addEventListener(type, ({ detail }) => classroom.receive(detail));
socket.addEventListener("status", ({ detail }) => status.setConnected(detail.connected));

function rebuild() {
  if (!session || !dataset) return;
  const arch = session.architecture;
  const plane = !!dataset.plane;
  const inputNames = plane ? session.config.features : dataset.input_names || dataset.features;
  if (inputNames.length !== arch.n_inputs) return;   // the dataset of an older configuration
  let yRange = null;
  if (arch.task === "regression") {
    const ys = dataset.train.y.concat(dataset.test.y);
    yRange = [Math.min(...ys), Math.max(...ys)];
  }
  ctxInfo = {
    sizes: [arch.n_inputs, ...arch.hidden, arch.n_outputs], inputNames, activations: arch.activations,
    outputFn: OUTPUT_FN[arch.task], classNames: dataset.class_names, plane, yRange, task: arch.task,
  };
  net = new Network(arch, inputNames, plane);
  grid = plane ? new Grid(net, gridSize(ctxInfo.sizes)) : null;
  network.reset(net, ctxInfo, grid);
  output.reset(net, ctxInfo, dataset, grid);
  output.setShowTest(state.show_test);
  network.setEdgeMode(state.edges);
  phases.reset(ctxInfo);
  lastFrame = null;
  document.querySelectorAll(".metrics .acc").forEach((e) => (e.hidden = arch.task === "regression"));
}

/** Grid resolution: 64 x 64 cells, 48 x 48 for big networks so a frame stays well under 16 ms. */
function gridSize(sizes) {
  let cost = 0;
  for (let l = 0; l + 1 < sizes.length; l++) cost += sizes[l] * sizes[l + 1] + 8 * sizes[l + 1];
  return cost <= 300 ? 64 : 48;
}

function fits(frame) {
  const s = ctxInfo.sizes;
  return frame.layers.length === s.length - 1 && frame.layers.every((L, l) => L.W.length === s[l] && L.b.length === s[l + 1]);
}

function draw(frame) {
  const t0 = performance.now();
  net.setParams(frame.layers);
  if (grid) grid.run();
  if (frame.phase !== phaseSeen) {
    phaseSeen = frame.phase;
    const mode = frame.phase === "backward" ? "gradients" : frame.phase ? "weights" : state.edges;
    network.setEdgeMode(mode);
    document.querySelectorAll("input[name=edges]").forEach((r) => (r.checked = r.value === mode));
  }
  network.update(frame);
  output.update(frame);
  charts.update(frame);
  controls.update(frame);
  phases.update(frame);
  status.update(frame);
  classroom.update(frame);
  const m = frame.metrics;
  setNum($("train-loss"), m.train_loss); setNum($("test-loss"), m.test_loss);
  $("train-acc").textContent = pct(m.train_acc); $("train-acc").title = String(m.train_acc);
  $("test-acc").textContent = pct(m.test_acc); $("test-acc").title = String(m.test_acc);
  syncState(frame);
  lastFrame = frame;
  stats.framesDrawn++;
  if (!stats.firstDrawAt) stats.firstDrawAt = performance.now();   // ms since navigation started
  stats.lastDrawMs = performance.now() - t0;
  stats.drawMs += stats.lastDrawMs;
}

/** The hash follows what the server says (hyperparameters, playing). */
function syncState(frame) {
  let changed = state.playing !== frame.playing;
  state.playing = frame.playing;
  for (const [k, v] of Object.entries(frame.hyper || {})) if (k in state && state[k] !== v) { state[k] = v; changed = true; }
  if (changed) hashDirty = true;
}

let lastHashWrite = 0;
function loop(now) {
  if (pendingHyper) { socket.send({ type: "set_hyper", ...pendingHyper }); pendingHyper = null; }
  // One new frame per animation frame, in order: the server keeps at most two in
  // flight, so a frame that arrives early waits one animation frame, never more.
  if (queue.length > 2) socket.ack(queue.splice(0, queue.length - 2).map((f) => f.seq));
  if (queue.length) {
    const f = queue.shift();
    if (net && fits(f)) draw(f);
    socket.ack([f.seq]);
  } else {
    network.animate(now);
  }
  charts.tick(now);
  if (hashDirty && now - lastHashWrite > 250) { state.writeHash(); hashDirty = false; lastHashWrite = now; }
  requestAnimationFrame(loop);
}

// ---- views -> server ----------------------------------------------------------------

function intent({ detail }) {
  const msg = { ...detail };
  if (!classroom.allows(msg.type)) { status.error({ message: classroom.explain({ code: "forbidden", request: msg.type }).message }); return; }
  switch (msg.type) {
    case "set_hyper": {
      // Coalesced: at most one set_hyper per animation frame.
      const { type, ...fields } = msg;
      pendingHyper = { ...(pendingHyper || {}), ...fields };
      Object.assign(state, fields); hashDirty = true;
      return;
    }
    case "play": case "pause": state.playing = msg.type === "play"; hashDirty = true; break;
    case "step": state.playing = false; hashDirty = true; break;
    case "set_param": if (msg.i === undefined) delete msg.i; break;
  }
  if (!socket.send(msg)) status.error({ message: "Not connected: the change was not sent. Reconnecting…" });
}

for (const v of [controls, network, output, phases, status, classroom]) v.addEventListener("intent", intent);

// Your own data: the server parses the file and names it; the name configures the session.
controls.addEventListener("upload", async ({ detail: file }) => {
  let reply, body = null;
  try {
    reply = await socket.api("/api/datasets", { method: "POST", headers: { "Content-Type": "text/csv" }, body: file });
    body = await reply.json();
  } catch {
    status.error({ message: `${file.name} was not uploaded: the server did not answer.` });
    return;
  }
  if (!reply.ok) { status.error({ message: `${file.name}: ${body?.message ?? reply.statusText}. Allowed: ${body?.allowed ?? "a CSV file"}.` }); return; }
  controls.uploaded(file.name);
  intent({ detail: { type: "configure", config: { dataset: body.dataset } } });
});
classroom.addEventListener("readonly", ({ detail }) => {
  network.readOnly = detail.on;
  if (!detail.on && session) controls.reset(session);   // the controls' own limits come back
});
classroom.addEventListener("leave", () => socket.sayHello(socket.sessionId));
network.addEventListener("neurons", ({ detail }) => {
  const h = [...state.hidden];
  h[detail.layer] = Math.max(1, Math.min(32, h[detail.layer] + detail.delta));
  intent({ detail: { type: "configure", config: { hidden: h } } });
});
network.addEventListener("inspect", ({ detail }) => output.setInspect(detail));

controls.addEventListener("ui", ({ detail }) => {
  if ("show_test" in detail) { state.show_test = detail.show_test; output.setShowTest(detail.show_test); hashDirty = true; }
  if ("edges" in detail) { state.edges = detail.edges; network.setEdgeMode(detail.edges); hashDirty = true; }
  if ("presenter" in detail) {
    state.presenter = detail.presenter; hashDirty = true;
    document.documentElement.classList.toggle("presenter", detail.presenter);
    requestAnimationFrame(() => { network.layout(); network.draw(); output.drawPoints(); charts.setPresenter(); });
  }
});

// ---- keyboard, links, export ---------------------------------------------------------

document.addEventListener("keydown", (ev) => {
  if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey || tooltip.editing || classroom.readOnly) return;
  const t = ev.target, tag = t.tagName;
  if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) || t.isContentEditable) return;
  if (ev.key === " " && !["BUTTON", "A"].includes(tag)) { ev.preventDefault(); controls.togglePlay(); }
  else if (ev.key === "ArrowRight" && !t.closest?.(".net-stage")) { ev.preventDefault(); controls.step(); }
});

window.addEventListener("hashchange", () => {
  if (classroom.readOnly) return;   // a follower's page shows the teacher's configuration
  // A link pasted into this tab: apply its configuration and hyperparameters.
  const next = State.deserialize(location.hash);
  const cfg = next.config(), old = state.config();
  const changed = Object.fromEntries(Object.entries(cfg).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(old[k])));
  if (Object.keys(changed).length) socket.send({ type: "configure", config: changed });
  socket.send({ type: "set_hyper", ...next.hyper() });
  if (next.playing !== state.playing) socket.send({ type: next.playing ? "play" : "pause" });
  Object.assign(state, next);
});

$("export-png").addEventListener("click", () => {
  const stage = document.querySelector(".net-stage"), w = stage.clientWidth, h = stage.clientHeight;
  const size = output.stage.hidden ? 0 : Math.min(h, 420), pad = 16;
  const cv = document.createElement("canvas"), dpr = window.devicePixelRatio || 1;
  cv.width = (w + size + 3 * pad) * dpr; cv.height = (Math.max(h, size) + 2 * pad + 24) * dpr;
  const g = cv.getContext("2d");
  g.scale(dpr, dpr);
  g.fillStyle = "#fff"; g.fillRect(0, 0, cv.width, cv.height);
  g.fillStyle = "#1f2328"; g.font = "14px system-ui, sans-serif";
  g.fillText(`Paramlab — step ${lastFrame?.step ?? 0}, training loss ${lastFrame?.metrics?.train_loss ?? "—"}`, pad, pad + 4);
  network.paintInto(g, pad, pad + 20);
  output.paintInto(g, w + 2 * pad, pad + 20, size);
  const a = document.createElement("a");
  a.href = cv.toDataURL("image/png"); a.download = `paramlab-step-${lastFrame?.step ?? 0}.png`;
  document.body.appendChild(a); a.click(); a.remove();
});

// ---- debug handle (tests, benchmarks, the curious) ---------------------------------------

window.paramlab = {
  state, socket, stats, charts, network, output, classroom,
  get frame() { return lastFrame; },
  get session() { return session; },
  get dataset() { return dataset; },
  get net() { return net; },
  /** Network outputs at raw points [[x1, x2], ...] computed in the browser. */
  predict: (points) => (net ? net.predict(points) : null),
  /** The value a node's heatmap shows at grid cell (r, c): column col (0 = inputs), neuron k. */
  get grid() { return grid; },
  /** The value the heatmaps were painted from at grid cell (r, c): column col (0 = inputs), neuron k. */
  heatmapValue: (col, k, r, c) => grid.acts[col][(r * grid.n + c) * ctxInfo.sizes[col] + k],
  markerCount: () => charts.changes.length,
};

socket.connect();
requestAnimationFrame(loop);
