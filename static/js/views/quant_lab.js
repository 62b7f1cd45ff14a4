// The compression and relevance lab, below the generalization lab: quantize
// the model and compare it with the full-precision one (figures, decision
// boundaries, the levels in use, the quantization-aware curve), see which
// inputs of tabular data matter, and take the model home as code. It listens
// to the socket itself (session, dataset, history, frames, importance) and
// sends its intents through the page's one intent path (main.js).
import { h, fill } from "../dom.js";
import { QuantPanel } from "./quant_panel.js";
import { QuantMaps } from "./quant_maps.js";
import { LevelHistogram } from "./level_histogram.js";
import { QatChart } from "./qat_chart.js";
import { RelevancePanel } from "./relevance_panel.js";
import { TakeHome } from "./take_home.js";
import { snapLayers } from "./quant_levels.js";

const HISTOGRAM_MS = 200;

/** A frame as the network view draws it with the weights snapped (the frame's own scales); off: as it is. */
export function snappedFrame(frame) {
  return frame.quantized ? { ...frame, layers: snapLayers(frame.layers, frame.quantized) } : frame;
}

/**
 * Build the lab in `root` (#lab-quant). socket: the page's Socket; loop: the FrameLoop (the frame drawn,
 * the network and its context); network: the NetworkView (snapping, inputs that never vary);
 * reveal: {test} (the held-back test set); intent(msg): send through main.js.
 */
export function mountQuantLab(root, { socket, loop, network, reveal, intent }) {
  const card = (id, cls) => h("section", { id, class: `lab-card ${cls}` });
  const cards = { quant: card("q-card", "q-card"), maps: card("q-maps-card", "q-maps-card"), levels: card("q-levels-card", "q-levels-card"),
    relevance: card("rel-card", "rel-card"), home: card("take-home", "th-card") };
  fill(root, h("h2", { id: "h-lab-quant", class: "lab-title" }, "Compression and relevance"), Object.values(cards));

  const panel = new QuantPanel(cards.quant, reveal);
  const mapsBox = h("div", { class: "qm-pair" });
  fill(cards.maps, h("h3", null, "Decision boundary: full precision and quantized"), mapsBox,
    h("p", { class: "note" }, "Same data, same network: the right-hand map uses the weights snapped to their levels."));
  const maps = new QuantMaps(mapsBox, loop);
  const histBox = h("div", { class: "lh" }), chartBox = h("div", { class: "qat-chart" });
  fill(cards.levels, h("h3", null, "Levels in use"), histBox,
    h("h3", null, "Quantized beside full precision, over training"),
    h("p", { class: "note" }, "Turn on quantization-aware fine-tuning and play: the quantized curve climbs back towards the full-precision one."), chartBox);
  const histogram = new LevelHistogram(histBox);
  const chart = new QatChart(chartBox, reveal);
  const relevance = new RelevancePanel(cards.relevance);
  const home = new TakeHome(cards.home);

  for (const v of [panel, relevance]) v.addEventListener("intent", ({ detail }) => intent(detail));
  panel.addEventListener("snap", ({ detail: on }) => network.setSnap(on ? snappedFrame : null));

  let task = null, plane = true;
  const showPlane = () => {
    // Tabular data has no map to compare: its card gives way to the inputs' relevance.
    cards.maps.hidden = !plane;
    cards.relevance.hidden = plane;
  };
  socket.addEventListener("session", ({ detail: msg }) => {
    task = msg.architecture?.task ?? task;
    panel.setSession(msg); home.setSession(msg);
    chart.reset(); chart.build(task);
  });
  socket.addEventListener("dataset", ({ detail: msg }) => {
    plane = !!msg.plane; showPlane();
    relevance.setDataset(msg);
    network.setConstantInputs(msg.constant_inputs || null);
  });
  socket.addEventListener("history", ({ detail: msg }) => { chart.reset(); chart.append(msg, task); });
  socket.addEventListener("frame", ({ detail: msg }) => chart.append(msg.history, task));
  socket.addEventListener("importance", ({ detail: msg }) => relevance.setImportance(msg));
  socket.addEventListener("error", ({ detail: msg }) => {
    if (msg.request === "importance") relevance.failed(msg.message);
    if (msg.request === "quantize") panel.refused(msg.message);
  });
  showPlane();

  // The frame the page drew last, once per animation frame.
  // The histogram (hundreds of bars at 8 bits on a big network) is drawn a few times a second at most.
  let seen = null, revealed = reveal.test, histFrame = null, histAt = -Infinity;
  const tick = (now) => {
    const f = loop.frame;
    if (f && (f !== seen || revealed !== reveal.test)) {
      seen = f; revealed = reveal.test;
      panel.update(f);
      maps.update(f, f.quantized ?? null);
      if (!plane) relevance.update(f);
    }
    if (f && f !== histFrame && now - histAt >= HISTOGRAM_MS) { histFrame = f; histAt = now; histogram.update(f, f.quantized ?? null); }
    chart.tick(now);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return { panel, maps, histogram, chart, relevance, home };
}
