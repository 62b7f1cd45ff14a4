// A picture of the run to paste into notes: the network and the output view
// side by side under one line of caption (step and training loss), at the
// screen's pixel density, downloaded as paramlab-step-N.png.

const PAD = 16;

/** Paint the network (and the output view, when shown) of `frame` into a PNG and download it. */
export function exportPng(network, output, frame) {
  const w = network.stage.clientWidth, h = network.stage.clientHeight;
  const size = output.stage.hidden ? 0 : Math.min(h, 420);
  const cv = document.createElement("canvas"), dpr = window.devicePixelRatio || 1;
  cv.width = (w + size + 3 * PAD) * dpr; cv.height = (Math.max(h, size) + 2 * PAD + 24) * dpr;
  const g = cv.getContext("2d");
  g.scale(dpr, dpr);
  g.fillStyle = "#fff"; g.fillRect(0, 0, cv.width, cv.height);
  g.fillStyle = "#1f2328"; g.font = "14px system-ui, sans-serif";
  g.fillText(`Paramlab — step ${frame?.step ?? 0}, training loss ${frame?.metrics?.train_loss ?? "—"}`, PAD, PAD + 4);
  network.paintInto(g, PAD, PAD + 20);
  output.paintInto(g, w + 2 * PAD, PAD + 20, size);
  const a = document.createElement("a");
  a.href = cv.toDataURL("image/png"); a.download = `paramlab-step-${frame?.step ?? 0}.png`;
  document.body.appendChild(a); a.click(); a.remove();
}
