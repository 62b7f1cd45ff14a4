// The optimizer lab: the loss landscape under the weights with their live path,
// optimizers racing from one start (their curves on one chart, their paths on the
// landscape), the learning-rate explorer, and each weight's velocity drawn in the
// network view. The three computations are background jobs on a copy of the
// session (`job` messages of kinds "landscape", "race", "lr_sweep"); this module
// mounts their parts, routes the socket's job messages and errors to them, lets
// the landscape pick two weights by clicking edges in the network view, and hands
// every frame drawn to the parts that follow the live weights.
import { h, fill } from "../dom.js";
import { LandscapePanel } from "./landscape_panel.js";
import { RacePanel } from "./race_panel.js";
import { LrExplorer } from "./lr_explorer.js";
import { VelocityMarks } from "./velocity_marks.js";
import { project } from "./slice_projection.js";
import { nodeName } from "./inspect.js";

const LIVE_COLOR = "#ffffff";

/**
 * root: the #lab-optimizer section. ctx: {socket, intent(msg), vocab, network (NetworkView),
 * velocityToggle (a checkbox or null), wantParts(name, on): ask the server for an optional frame part or stop}.
 */
export function mountOptimizerLab(root, ctx) {
  const { socket, intent, vocab, network, velocityToggle, wantParts } = ctx;
  const send = (msg) => intent(msg);

  // ---- picking two edges in the network view (mode "weights") ----------------------------
  let picking = false;
  // A parameter as the wire names it ([layer, i, j] a weight, [layer, "b", j] a bias), in words.
  const nameOf = ([l, i, j]) => {
    const info = network.ctxInfo;
    return i === "b" ? `bias of ${nodeName(info, l + 1, j)}` : `w ${nodeName(info, l, i)} → ${nodeName(info, l + 1, j)}`;
  };
  // The weight (an edge, "e:l:i:j") or bias ("b:l:j") an element of the network view stands for, or null.
  const paramOf = (el) => {
    const key = el?.dataset?.key ?? "";
    let ref = null;
    if (key.startsWith("e:")) ref = key.slice(2).split(":").map(Number);
    else if (key.startsWith("b:")) { const [l, j] = key.slice(2).split(":").map(Number); ref = [l, "b", j]; }
    if (!ref) return null;
    return { l: ref[0], i: ref[1], j: ref[2], name: nameOf(ref) };
  };
  // Capture on the stage runs before the edge's own click (which opens the editor): while picking, a click picks.
  network.stage.addEventListener("click", (ev) => {
    if (!picking) return;
    const edge = paramOf(ev.target);
    if (!edge) return;
    ev.stopPropagation(); ev.preventDefault();
    landscape.pickEdge(edge);
  }, true);
  network.stage.addEventListener("keydown", (ev) => {
    if (!picking) return;
    if (ev.key === "Escape") { landscape.togglePick(false); return; }
    if (ev.key !== "Enter" && ev.key !== " ") return;
    const edge = paramOf(document.activeElement);
    if (!edge) return;
    ev.stopPropagation(); ev.preventDefault();
    landscape.pickEdge(edge);
  }, true);
  const pick = {
    start: () => { picking = true; network.stage.classList.add("ol-picking"); },
    stop: () => { picking = false; network.stage.classList.remove("ol-picking"); },
  };

  const landscape = new LandscapePanel({ send, pick, nameOf });
  const race = new RacePanel({ send, vocab });
  const lr = new LrExplorer({ send });
  const velocity = new VelocityMarks(network);
  const parts = { landscape, race, lr_sweep: lr };

  const card = (id, ...children) => h("section", { id, class: "lab-card ol-card" }, children);
  const velNote = h("p", { class: "muted ol-note", role: "status" });
  const velBox = h("input", { type: "checkbox", id: "ol-velocity" });
  fill(root,
    h("h2", { id: "h-lab-optimizer", class: "lab-title" }, "Optimizer lab"),
    card("ol-landscape-card", landscape.root),
    card("ol-race-card", race.root),
    card("ol-lr-card", lr.root),
    card("ol-velocity-card", h("h3", { id: "h-ol-velocity" }, "Velocity beside each weight"),
      h("label", { class: "check ol-vel-check" }, velBox, " Draw each weight's velocity in the network view"),
      h("p", { class: "muted lj-help" }, "At the middle of each edge: an arrow where the optimizer pushes the weight (up: it grows, down: it shrinks; longer: harder), and a trail of its last pushes. A trail that flips up and down is a weight overshooting its minimum: try momentum 0.99 and watch."),
      velNote));

  /** Every path on the landscape: the live weights' and the race's, projected on the slice shown. */
  function drawPaths() {
    const s = landscape.slice;
    if (!s) { landscape.view.setPaths([]); return; }
    const proj = (theta) => project(theta, s.origin, s.d1, s.d2);
    race.pathNote.hidden = true;
    landscape.view.setPaths([
      { key: "live", label: "live weights", color: LIVE_COLOR, casing: "#111", points: landscape.live },
      ...race.paths(proj, s),
    ]);
  }
  landscape.onPaths = drawPaths;
  // The picked weights (or biases) ringed in the network view, so the slice's two axes can be found there.
  landscape.onPicked = (list) => {
    for (const el of network.stage.querySelectorAll(".ol-picked-param")) el.classList.remove("ol-picked-param");
    for (const p of list) {
      const key = p.i === "b" ? `b:${p.l}:${p.j}` : `e:${p.l}:${p.i}:${p.j}`;
      network.stage.querySelector(`[data-key="${key}"]`)?.classList.add("ol-picked-param");
    }
  };
  race.onPaths = drawPaths;

  // ---- velocity marks --------------------------------------------------------------------
  function setVelocity(on) {
    velBox.checked = on;
    if (velocityToggle) velocityToggle.checked = on;
    wantParts("velocity", on);
    velocity.setOn(on);
    velNote.textContent = on ? velocity.note : "";
  }
  velBox.addEventListener("change", () => setVelocity(velBox.checked));
  velocityToggle?.addEventListener("change", () => setVelocity(velocityToggle.checked));

  // ---- server -> parts -------------------------------------------------------------------
  let sessionId = null, sizes = null;
  socket.addEventListener("session", ({ detail: msg }) => {
    const id = msg.session_id ?? null, a = msg.architecture, shape = a ? JSON.stringify([a.n_inputs, a.hidden, a.n_outputs, a.activations, msg.config]) : null;
    // Another session, network or data: the slice and the race's paths no longer apply.
    if (id !== sessionId || shape !== sizes) { landscape.forget(); drawPaths(); }
    sessionId = id; sizes = shape;
    const why = id === null ? "Following the teacher: background jobs run on your own session only (fork to experiment)." : null;
    for (const p of Object.values(parts)) p.blocked = why;
    if (msg.hyper) race.setHyper(msg.hyper);
  });
  socket.addEventListener("job", ({ detail: msg }) => parts[msg.kind]?.receive(msg));
  socket.addEventListener("error", ({ detail: msg }) => {
    const part = Object.values(parts).find((p) => p.request === msg.request);
    if (part) { part.refused(msg); return; }
    if (msg.request === "cancel_job") {
      const owner = Object.values(parts).find((p) => p.job && p.job.id === msg.value);
      if (owner) owner.refused(msg);
    }
  });
  socket.addEventListener("status", ({ detail }) => { if (!detail.connected) for (const p of Object.values(parts)) p.disconnected(); });

  // Presenter mode changes the type size: the charts and the landscape draw again with it.
  let presenter = document.documentElement.classList.contains("presenter");
  new MutationObserver(() => {
    const now = document.documentElement.classList.contains("presenter");
    if (now === presenter) return;
    presenter = now;
    landscape.view.draw();
    if (race.plot) { race.build(); race.flush(); }
    if (lr.plot) { lr.build(); lr.flush(); }
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });

  return {
    root, landscape, race, lr, velocity, setVelocity,
    get picking() { return picking; },
    /** A frame drawn (after the network view): the live path, the live rate, the velocity marks. */
    update(frame) {
      landscape.update(frame);
      if (frame.hyper) lr.setCurrent(frame.hyper.lr);
      velocity.update(frame);
      if (velocity.on && velNote.textContent !== velocity.note) velNote.textContent = velocity.note;
    },
  };
}
