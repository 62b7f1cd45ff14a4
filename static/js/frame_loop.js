// The frame loop. Frames from the socket wait in a queue; each animation frame
// draws the oldest into every view and acknowledges it. The server keeps at
// most two frames in flight, so a page that falls behind skips frames and never
// makes the server queue them. Between frames the network view animates.
//
// The loop keeps the browser's copy of the network (the parameters of the frame
// drawn last, and the grid its heatmaps are computed on), rebuilt when the
// session or its dataset changes. Once per animation frame it also sends the
// coalesced set_hyper (one per frame however fast a slider moves) and lets the
// URL hash catch up.
//
// The heatmaps' grid is computed in sweeps of GRID_BUDGET multiply-adds per
// animation frame (a small network's whole grid fits in one), and the network
// view repaints its node maps and edges within budgets of its own, so a big
// network never makes one animation frame long: its pictures catch up over a
// few frames while the numbers (counters, biases, tooltip) follow every frame.
import { Network, Grid, OUTPUT_FN } from "./nn.js";
import { MAP_BUDGET, EDGE_BUDGET } from "./views/network.js";

/** Multiply-adds of the grid computed per animation frame at most (a millisecond or less). */
export const GRID_BUDGET = 500_000;

export class FrameLoop {
  /**
   * socket: where acks and set_hyper go; hash: the HashSync; state: the page's
   * State; vocab: the server's Vocabulary (the inputs' labels);
   * views: {network, output, charts, controls, phases, status, metrics, room}.
   */
  constructor({ socket, hash, state, vocab, views }) {
    Object.assign(this, { socket, hash, state, vocab, views });
    this.session = null; this.dataset = null;
    this.net = null; this.grid = null; this.ctx = null; this.frame = null;
    this.queue = []; this.pendingHyper = null; this.phaseSeen = null;
    // What the page drew, for tests and benchmarks (window.paramlab.stats): frames, the time
    // drawing took, and the work per animation frame against its budgets (maps repainted,
    // edges stroked, grid multiply-adds; the max since a test last set them to 0).
    this.stats = { framesDrawn: 0, drawMs: 0, lastDrawMs: 0, ticks: 0, sweeps: 0, mapsPainted: 0, mapsPaintedMax: 0,
      edgesDrawn: 0, edgesDrawnMax: 0, gridCost: 0, gridCostMax: 0, budgets: { maps: MAP_BUDGET, edges: EDGE_BUDGET, grid: GRID_BUDGET } };
    this.tick = this.tick.bind(this);
  }

  start() { requestAnimationFrame(this.tick); }

  setSession(msg) { this.session = msg; this.rebuild(); }

  setDataset(msg) { this.dataset = msg; this.rebuild(); }

  /** A frame from the server: its history counts at once (drawn or skipped), its picture waits its turn. */
  push(frame) {
    this.views.charts.append(frame.history);
    this.queue.push(frame);
  }

  /** Hyperparameters to send: merged with any not sent yet, sent at the next animation frame. */
  sendHyper(fields) { this.pendingHyper = { ...(this.pendingHyper || {}), ...fields }; }

  /** The network of a new session or dataset, in the browser and in every view that draws it. */
  rebuild() {
    const { session, dataset, views: v } = this;
    if (!session || !dataset) return;
    const arch = session.architecture;
    const plane = !!dataset.plane;
    const inputNames = plane ? session.config.features : dataset.input_names || dataset.features;
    if (inputNames.length !== arch.n_inputs) return;   // the dataset of an older configuration
    const inputLabels = inputNames.map((f) => this.vocab.label("features", f));   // x₁²; a CSV column's name as it is
    let yRange = null;
    if (arch.task === "regression") {
      const ys = dataset.train.y.concat(dataset.test.y);
      yRange = [Math.min(...ys), Math.max(...ys)];
    }
    this.ctx = {
      sizes: [arch.n_inputs, ...arch.hidden, arch.n_outputs], inputNames, inputLabels, activations: arch.activations,
      outputFn: OUTPUT_FN[arch.task], classNames: dataset.class_names, plane, yRange, task: arch.task,
      hyperOf: (optimizer) => this.vocab.hyperOf(optimizer),   // the tooltip names the settings the rule used
      maxNeurons: this.vocab.limits.max_neurons,   // what a layer's count field accepts
    };
    // A configure brings a session and then its dataset: the network (thousands of elements on a
    // big one) is built once for both, and again only when what it shows changed.
    const built = JSON.stringify([session.session_id, arch, inputNames, plane, dataset.class_names, yRange]);
    if (built !== this.built) {
      this.built = built;
      this.net = new Network(arch, inputNames, plane);
      this.grid = plane ? new Grid(this.net, gridSize(this.ctx.sizes)) : null;
      v.network.reset(this.net, this.ctx, this.grid);
    }
    v.output.reset(this.net, this.ctx, dataset, this.grid);
    v.output.setShowTest(this.state.show_test);
    v.network.setEdgeMode(this.state.edges);
    v.phases.reset(this.ctx);
    v.metrics.reset(arch.task);
    this.frame = null;
  }

  /** Does a frame have the shape of the network built last (not one from before a reconfiguration)? */
  fits(frame) {
    const s = this.ctx.sizes;
    return frame.layers.length === s.length - 1 && frame.layers.every((L, l) => L.W.length === s[l] && L.b.length === s[l + 1]);
  }

  draw(frame) {
    const v = this.views, t0 = performance.now();
    this.net.setParams(frame.layers);   // the grid's next sweep starts from these (drawWork)
    if (frame.phase !== this.phaseSeen) {
      // Stepping through phases: the edges show what the phase is about.
      this.phaseSeen = frame.phase;
      const mode = frame.phase === "backward" ? "gradients" : frame.phase ? "weights" : this.state.edges;
      v.network.setEdgeMode(mode);
      v.controls.showEdgeMode(mode);
    }
    for (const view of [v.network, v.output, v.charts, v.controls, v.phases, v.status, v.room, v.metrics]) view.update(frame);
    this.hash.follow(frame);
    this.frame = frame;
    const stats = this.stats;
    stats.framesDrawn++;
    if (!stats.firstDrawAt) stats.firstDrawAt = performance.now();   // ms since navigation started
    stats.lastDrawMs = performance.now() - t0;
    stats.drawMs += stats.lastDrawMs;
  }

  /** Once per animation frame: the grid's sweep and the network view's pictures, each within its budget. */
  drawWork(now) {
    const t0 = performance.now(), g = this.grid, v = this.views, stats = this.stats;
    let cost = 0;
    if (g && this.net) {
      if (!g.sweeping && g.version !== this.net.version) g.start();   // parameters changed since the last sweep
      if (g.sweeping) {
        cost = g.advance(GRID_BUDGET);
        if (!g.sweeping) { stats.sweeps++; v.network.mapsChanged(); v.output.drawMap(); }
      }
    }
    const work = v.network.refresh(now);
    stats.ticks++;
    stats.gridCost = cost; stats.gridCostMax = Math.max(stats.gridCostMax, cost);
    stats.mapsPainted = work.maps; stats.mapsPaintedMax = Math.max(stats.mapsPaintedMax, work.maps);
    stats.edgesDrawn = work.edges; stats.edgesDrawnMax = Math.max(stats.edgesDrawnMax, work.edges);
    if (cost || work.maps || work.edges) { const ms = performance.now() - t0; stats.drawMs += ms; stats.lastDrawMs += ms; }
  }

  tick(now) {
    if (this.pendingHyper) { this.socket.send({ type: "set_hyper", ...this.pendingHyper }); this.pendingHyper = null; }
    // One new frame per animation frame, in order: the server keeps at most two or three
    // in flight, so a frame that arrives early waits one animation frame, never more.
    const queue = this.queue;
    if (queue.length > 2) this.socket.ack(queue.splice(0, queue.length - 2).map((f) => f.seq));
    if (queue.length) {
      const f = queue.shift();
      if (this.net && this.fits(f)) this.draw(f);
      this.socket.ack([f.seq]);
    } else {
      this.views.network.animate(now);
    }
    this.drawWork(now);
    this.views.charts.tick(now);
    this.hash.flush(now);
    requestAnimationFrame(this.tick);
  }
}

/** Grid resolution: 64 x 64 cells, 48 x 48 for big networks (fewer frames per sweep). */
function gridSize(sizes) {
  let cost = 0;
  for (let l = 0; l + 1 < sizes.length; l++) cost += sizes[l] * sizes[l + 1] + 8 * sizes[l + 1];
  return cost <= 300 ? 64 : 48;
}
