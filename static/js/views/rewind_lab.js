// Rewind and histograms over time, below the other labs. The histograms of a
// layer's weights, gradients or activations over the recorded steps
// (histogram_strip.js), asked from the server (`histograms`) while the section
// is on screen and refreshed at a modest rate while training. The rewind
// scrubber (rewind_scrubber.js) asks to look at a recorded step (`rewind`, one
// request in flight, the latest position sent when it answers); while looking,
// the page's network and output views draw the weights of that step (the
// frames go through `lens`, which swaps in the rewound parameters, so the
// usual renderers draw them) and the histograms show that step. "Go on from
// here" sends `fork_at`; "Back to live" draws the live frames again.
import { h, fill } from "../dom.js";
import { HistogramStrip, spread, occupied } from "./histogram_strip.js";
import { RewindScrubber } from "./rewind_scrubber.js";

const KINDS = [["weights", "Weights"], ["gradients", "Gradients |dL/dw|"], ["activations", "Activations"]];
// While training, the histograms are asked again this often at most (the server counts new steps each time).
const REFRESH_MS = 2500;
const FOLLOWING = "Following the teacher: the histograms and the rewind are for your own session (fork to use them).";
// A rewind unanswered this long (a reconnect lost it) no longer holds the next one back.
const STALE_MS = 10000;

/** The name of layer l's histogram of `kind` in a network of n weight layers. */
export function layerName(kind, l, n) {
  if (kind === "activations") return `Layer ${l + 1} (outputs of its units)`;
  return l === n - 1 ? `Weights into the output` : `Weights into layer ${l + 1}`;
}

export class RewindLab extends EventTarget {
  /**
   * root: the #lab-rewind section; socket: the page's Socket (its messages); loop: the FrameLoop (redraws when
   * paused); network: the NetworkView (weights shown while looking); tooltip: the page's Tooltip; room: the
   * RoomStore (a follower's lock); state: the page's State (the edge mode to go back to).
   */
  constructor(root, { socket, loop, network, tooltip, room, state }) {
    super();
    Object.assign(this, { root, socket, loop, network, room, state });
    this.kind = "weights"; this.layerIndex = 0;
    this.data = {};            // kind -> the last `histograms` answer's layers
    this.asking = null;        // the kind asked for and not answered yet
    this.askedAt = -Infinity;
    this.look = null;          // {step, params, histograms}: the recorded step shown, or null (live)
    this.inFlight = 0; this.pending = null;   // inFlight: when the rewind on its way was sent (0: none)
    this.forking = null;       // {step, live}: fork_at sent, its first frame not drawn yet
    this.live = null;          // the last frame from the server, as it came
    this.visible = false;
    this.firstStep = null;        // the oldest recorded step, as the last `rewound` said
    this.forkOnArrival = false;   // the trouble banner's Roll back: go on from the step once it is found
    this.build(tooltip);
    // Which step the network and the map show while looking back: beside the network's heading, over the map
    // (not beside the output's heading: the figures under it stay the live run's).
    this.chips = [document.getElementById("h-net"), document.querySelector("#output .out-stage")]
      .filter(Boolean).map((el) => el.appendChild(h("span", { class: "rewound-chip", "aria-live": "polite" })));
    socket.addEventListener("frame", ({ detail }) => this.onFrame(detail));
    socket.addEventListener("histograms", ({ detail }) => this.onHistograms(detail));
    socket.addEventListener("rewound", ({ detail }) => this.onRewound(detail));
    socket.addEventListener("session", () => this.onSession());
    // A fork's history follows it (the steps after it dropped): the fork is done, the record cut back there.
    socket.addEventListener("history", () => { if (this.forking) this.forked(); });
    socket.addEventListener("error", ({ detail }) => this.onError(detail));
    new IntersectionObserver((entries) => {
      this.visible = entries.some((e) => e.isIntersecting);
      if (this.visible) this.ask(true);
    }).observe(root);
  }

  intent(detail) { this.dispatchEvent(new CustomEvent("intent", { detail })); }

  build(tooltip) {
    this.kindSelect = h("select", { id: "hist-kind" }, KINDS.map(([v, t]) => h("option", { value: v }, t)));
    this.layerSelect = h("select", { id: "hist-layer" });
    this.summary = h("p", { class: "hs-summary note", "aria-live": "polite" });
    const stripBox = h("div", { class: "hs" });
    const scrubBox = h("div", { class: "rw-scrub" });
    this.histCard = h("section", { id: "hist-card", class: "lab-card rw-card", "aria-labelledby": "h-hist" },
      h("h3", { id: "h-hist" }, "Histograms over time"),
      h("p", { class: "note" }, "Each column is a recorded step, each row a bin, darker where more values fall. " +
        "Vanishing and exploding gradients show here: try sigmoid with 8 layers."),
      h("div", { class: "hs-pickers" },
        h("label", { class: "fit-field" }, h("span", null, "Show"), this.kindSelect),
        h("label", { class: "fit-field" }, h("span", null, "Layer"), this.layerSelect)),
      stripBox, this.summary);
    this.scrubCard = h("section", { id: "rewind-card", class: "lab-card rw-card", "aria-labelledby": "h-rewind" },
      h("h3", { id: "h-rewind" }, "Rewind"),
      h("p", { class: "note" }, "Look at the run as it was at a recorded step: the network, the decision boundary and the histograms " +
        "show that step's weights while training goes on. Go on from here continues the run from that step (the steps after it are dropped)."),
      scrubBox);
    fill(this.root, h("h2", { id: "h-lab-rewind", class: "lab-title" }, "Rewind and histograms"), this.histCard, this.scrubCard);
    this.strip = new HistogramStrip(stripBox, tooltip, "Weights");
    this.scrubber = new RewindScrubber(scrubBox);
    this.kindSelect.addEventListener("change", () => { this.kind = this.kindSelect.value; this.layerIndex = 0; this.showLayers(); this.ask(true); });
    this.layerSelect.addEventListener("change", () => { this.layerIndex = Number(this.layerSelect.value); this.draw(); });
    this.scrubber.addEventListener("look", ({ detail }) => this.lookAt(detail.step));
    this.scrubber.addEventListener("fork", () => this.fork());
    this.scrubber.addEventListener("live", () => this.backToLive());
  }

  // ---- histograms ------------------------------------------------------------------------

  /** Ask for the histograms of the kind shown: now (force), or when the last answer is old enough while training. */
  ask(force = false) {
    const now = performance.now();
    // Not before the session's first frame, nor while disconnected; an answer long overdue (lost to a reconnect)
    // no longer holds the next request back.
    if (!this.visible || !this.live || !this.socket.connected || (this.asking && now - this.askedAt < STALE_MS)) return;
    if (!this.room.allows("histograms")) { this.summary.textContent = FOLLOWING; return; }   // not asked over and over
    if (!force && now - this.askedAt < REFRESH_MS) return;
    this.askedAt = now; this.asking = this.kind;
    this.intent({ type: "histograms", kind: this.kind });
  }

  onHistograms(msg) {
    this.asking = null;
    this.data[msg.kind] = msg.layers || [];
    if (msg.kind === this.kind) this.showLayers();
    else this.ask(true);   // the kind shown changed while this one was on its way
    this.updateSpan();
  }

  /** The layer picker for the kind shown (kept on the same layer when it still exists). */
  showLayers() {
    const layers = this.data[this.kind] || [];
    const names = layers.map((_, l) => layerName(this.kind, l, layers.length));
    const have = [...this.layerSelect.options].map((o) => o.textContent);
    if (have.join("\n") !== names.join("\n")) {
      fill(this.layerSelect, names.map((n, l) => h("option", { value: String(l) }, n)));
      if (this.layerIndex >= names.length) this.layerIndex = 0;
      this.layerSelect.value = String(this.layerIndex);
    }
    this.draw();
  }

  /** The layer shown's histograms over time, and the step of the bars (the one looked at, or the last). */
  draw() {
    const layers = this.data[this.kind] || [];
    const layer = layers[this.layerIndex] || null;
    this.strip.what = KINDS.find(([v]) => v === this.kind)[1];
    const at = this.look ? this.rewoundCounts(this.look, layer) : null;
    // The bins drawn: those any step fills. The gradients' bins are the same for every layer: the window is
    // shared, so layers compare at a glance; the others' bins are each layer's own.
    const shown = layer ? (layer.scale === "log10_abs" ? layers : [layer]) : [];
    const win = occupied([...shown, ...(at && at.edges?.length === layer?.edges.length ? [{ edges: at.edges, counts: [at.counts] }] : [])]);
    this.strip.show(layer, this.look ? this.look.step : null, at, win);
    this.summary.textContent = layer ? this.describe(layer) : "";
  }

  /** The rewound step's own counts of the layer shown (the `rewound` answer's histograms: that one step), or null. */
  rewoundCounts(look, layer) {
    const L = look.histograms?.[this.kind]?.[this.layerIndex];
    if (!L || !L.counts?.length) return null;
    return { step: look.step, edges: L.edges ?? layer?.edges, counts: L.counts[0], below: L.below?.[0] ?? 0, above: L.above?.[0] ?? 0,
      scale: L.scale ?? layer?.scale };
  }

  /** One line under the strip: where the values of the step shown lie. */
  describe(layer) {
    const cur = this.strip.current();
    if (!cur) return "";
    const s = spreadRow(cur);
    if (!s) return "";
    const f = (x) => (layer.scale === "log10_abs" ? fmtAbs(10 ** x) : fmtNum(x));
    const what = layer.scale === "log10_abs" ? "|dL/dw|" : this.kind === "activations" ? "outputs" : "weights";
    return `Step ${cur.step}: ${s.total} ${what} from ${f(s.low)} to ${f(s.high)}; the middle one between ${f(s.midLow)} and ${f(s.midHigh)}.`;
  }

  /** Summary numbers of the histograms shown now, per layer of the kind shown (tests compare them across layers). */
  spreads() {
    return (this.data[this.kind] || []).map((L) => ({ scale: L.scale, ...spread(L, L.steps.length - 1) }));
  }

  // ---- rewind ----------------------------------------------------------------------------

  onSession() {
    // A new or rebuilt session: its record starts again.
    this.data = {}; this.firstStep = null;
    if (this.forking) this.forking = null;
    this.leave(false);
    this.ask(true);
  }

  /** The session went back to the step looked at: show it live, and ask for the histograms of its cut record. */
  forked() {
    this.forking = null;
    this.leave(false);
    this.data = {};
    this.ask(true);
  }

  onFrame(frame) {
    if (this.forking && frame.step < this.forking.live) this.forked();
    const first = !this.live;
    this.live = frame;
    this.updateSpan();
    if (frame.playing || first) this.ask(first);
  }

  /** The scrubber's range: from the first recorded step the histograms know (else 0) to the live step. */
  updateSpan() {
    if (!this.live) return;
    const steps = this.data[this.kind]?.[0]?.steps;
    const first = this.firstStep ?? (steps && steps.length ? steps[0] : 0);
    this.scrubber.setSpan(first, this.live.step);
  }

  /** Roll back to a recorded step at or before `step` (the trouble banner's Roll back): look at it, then go on from it. */
  rollBackTo(step) {
    this.forkOnArrival = true;
    this.lookAt(step);
  }

  lookAt(step) {
    if (this.forking) return;
    if (!this.room.allows("rewind")) { this.scrubber.failed(FOLLOWING); this.scrubber.show(null); return; }
    // One request in flight: the newest position waits for its answer (unless that answer is long overdue).
    if (this.inFlight && performance.now() - this.inFlight < STALE_MS) { this.pending = step; return; }
    this.inFlight = performance.now(); this.pending = null;
    this.intent({ type: "rewind", step });
  }

  onRewound(msg) {
    this.inFlight = 0;
    if (this.forking) return;
    const wasLive = !this.look;
    this.look = { step: msg.step, params: msg.params, histograms: msg.histograms || null };
    if (Number.isInteger(msg.first_step)) this.firstStep = msg.first_step;   // the oldest step the record keeps
    if (wasLive) {
      this.network.readOnly = true;   // the weights shown are not the session's: nothing to edit
      // Only the weights are in the record sent: the edges show them (and the edge choice says so).
      this.network.setEdgeMode("weights");
      this.loop.views.controls?.showEdgeMode("weights");
      this.edgeChoices(false);
    }
    document.documentElement.classList.add("rewound");
    this.scrubber.failed("");
    this.scrubber.show(msg.step);
    this.markViews(msg.step);
    this.redraw();
    this.draw();
    if (this.pending !== null) { const s = this.pending; this.pending = null; this.lookAt(s); return; }
    if (this.forkOnArrival) { this.forkOnArrival = false; this.fork(); }
  }

  /** The network's and the output's headings say which step they show (null: live). */
  markViews(step) {
    for (const chip of this.chips) chip.textContent = step === null ? "" : `step ${step} (rewound)`;
  }

  onError(msg) {
    if (msg.request === "histograms") { this.asking = null; this.summary.textContent = msg.message; }
    if (msg.request === "rewind") {
      this.inFlight = 0; this.forkOnArrival = false;
      this.scrubber.failed(msg.message);
      if (this.pending !== null) { const s = this.pending; this.pending = null; this.lookAt(s); }
      else if (!this.look) this.scrubber.show(null);
    }
    if (msg.request === "fork_at") { this.forking = null; this.scrubber.failed(msg.message); }
  }

  fork() {
    if (!this.look || !this.live) return;
    this.forking = { step: this.look.step, live: this.live.step };
    this.intent({ type: "fork_at", step: this.look.step });
  }

  backToLive() { this.pending = null; this.leave(true); }

  /** Show the live run again (redraw: now, from the last live frame, for a paused session). */
  leave(redraw) {
    if (!this.look) return;
    this.look = null;
    this.network.readOnly = this.room.readOnly;   // the room's lock, as it is now
    this.network.setEdgeMode(this.state.edges);
    this.loop.views.controls?.showEdgeMode(this.state.edges);
    this.edgeChoices(true);
    document.documentElement.classList.remove("rewound");
    this.markViews(null);
    this.scrubber.show(null);
    if (redraw) this.redraw();
    this.draw();
  }

  /** The edge choices other than weights: usable live, not while looking at a recorded step (it has none of them). */
  edgeChoices(on) {
    for (const r of document.querySelectorAll("input[name=edges]:not([value=weights])")) {
      r.disabled = !on;
      r.parentElement.title = on ? "" : "Not recorded: a rewound step shows its weights only";
    }
  }

  /** Draw the last live frame again (through the lens): a paused session sends no new frame to draw. */
  redraw() {
    const f = this.live, loop = this.loop;
    if (!f || !loop.net || !loop.fits(f)) return;
    loop.draw(this.lens(f));
  }

  /**
   * The frame the page draws: as it came when live; while looking at a recorded step, the same frame with that
   * step's weights and biases (exact numbers, no gradients: they are not part of the record sent), marked `rewound`.
   */
  lens(frame) {
    const look = this.look;
    if (!look || !frame.layers || frame.layers.length !== look.params.length) return frame;
    const layers = frame.layers.map((L, l) => ({ W: look.params[l].W, b: look.params[l].b, frozenW: L.frozenW, frozenb: L.frozenb }));
    return { ...frame, layers, step: look.step, float32: false, inspected: null, trace: null, phase: null, dropped: null,
      rewound: { step: look.step, live: frame.step } };
  }
}

function spreadRow(cur) {
  return spread({ edges: cur.edges, counts: [cur.counts] }, 0);
}

const fmtNum = (x) => (x === null || x === undefined ? "—" : String(Number(x.toPrecision(3))));
const fmtAbs = (x) => (x === null || x === undefined ? "—" : x < 1e-3 || x >= 1e4 ? x.toExponential(1) : String(Number(x.toPrecision(2))));
