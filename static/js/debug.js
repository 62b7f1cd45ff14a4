// window.paramlab: the page's insides, for tests, benchmarks and the curious.
// Browser tests wait on it (paramlab.stats.framesDrawn, paramlab.frame) and
// compare what it holds with the server's numbers; nothing in the page uses it.
import { lessonPlayer } from "./lesson/player.js";

/** Install window.paramlab over the running page. */
export function installDebugHandle({ state, vocab, socket, loop, room, views }) {
  const { charts, network, output, classroom, jobsLab } = views;
  window.paramlab = {
    state, vocab, socket, charts, network, output, room, jobsLab,
    /** The classroom as a test sees it: the room, the mode, the lock, the join asked, the QR code drawn. */
    classroom: {
      get room() { return room.room; },
      get mode() { return room.mode; },
      get readOnly() { return room.readOnly; },
      get pendingJoin() { return room.pendingJoin; },
      get qr() { return classroom.teacher.qr; },
    },
    stats: loop.stats,
    get frame() { return loop.frame; },
    get session() { return loop.session; },
    get dataset() { return loop.dataset; },
    get net() { return loop.net; },
    /** Network outputs at raw points [[x1, x2], ...] computed in the browser. */
    predict: (points) => (loop.net ? loop.net.predict(points) : null),
    /** The grid the heatmaps are computed on ({n, acts}). */
    get grid() { return loop.grid; },
    /** The value the heatmaps were painted from at grid cell (r, c): column col (0 = inputs), neuron k. */
    heatmapValue: (col, k, r, c) => loop.grid.acts[col][(r * loop.grid.n + c) * loop.ctx.sizes[col] + k],
    markerCount: () => charts.changes.length,
    /** The lesson open ({id, step (from 0), noticed, lesson}) or null; the player itself for tests to drive. */
    get lesson() { return lessonPlayer.current(); },
    lessonPlayer,
  };
}
