// The only module that talks to the server over HTTP, as socket.js is the only
// one on the websocket: the vocabulary the page's controls are built from, CSV
// uploads, where students can reach the server, saved runs to overlay, and the
// addresses of a session's downloads. A request carries the
// teacher key of the page's own session when this browser holds one.

export class Http {
  /** teacherKey(): the key of the page's own session, or null. */
  constructor(teacherKey = () => null) {
    this.teacherKey = teacherKey;
  }

  /** fetch() on the server's API (same origin), with the X-Teacher-Key header when there is a key. */
  request(path, init = {}) {
    const headers = new Headers(init.headers || {}), key = this.teacherKey();
    if (key) headers.set("X-Teacher-Key", key);
    return fetch(path, { ...init, headers, credentials: "same-origin" });
  }

  /**
   * The names, labels and ranges of every control (GET /api/vocabulary). The
   * page cannot be built without them: while the server does not answer, it
   * asks again with backoff, telling waiting(true) once and waiting(false) when done.
   */
  async vocabulary(waiting = () => {}) {
    for (let wait = 250, told = false; ; wait = Math.min(2 * wait, 5000)) {
      try {
        const reply = await this.request("/api/vocabulary");
        if (reply.ok) {
          const vocabulary = await reply.json();
          if (told) waiting(false);
          return vocabulary;
        }
      } catch { /* no answer: ask again */ }
      if (!told) { told = true; waiting(true); }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Upload a CSV file; resolves to the dataset name the server gave it. Rejects
   * with an Error whose message says, in plain words, why it was not taken.
   */
  async uploadDataset(file) {
    let reply, body = null;
    try {
      reply = await this.request("/api/datasets", { method: "POST", headers: { "Content-Type": "text/csv" }, body: file });
      body = await reply.json();
    } catch {
      throw new Error(`${file.name} was not uploaded: the server did not answer.`);
    }
    if (!reply.ok) throw new Error(`${file.name}: ${body?.message ?? reply.statusText}. Allowed: ${body?.allowed ?? "a CSV file"}.`);
    return body.dataset;
  }
}

/**
 * Where students can reach this server (GET /api/reach): {public_url, urls (best
 * first), reachable, advice}. Rejects with an Error when the server does not say.
 */
export async function studentReach() {
  const reply = await fetch("/api/reach", { credentials: "same-origin" });
  if (!reply.ok) throw new Error(`The server did not say where students can reach it (HTTP ${reply.status}).`);
  return reply.json();
}

/**
 * A saved run, to draw over the charts: {run_id, name, config, hyper, step, epoch, epochs} (GET
 * /api/runs/{id} and its history's epoch rows). Rejects with an Error saying in plain words why not.
 */
export async function savedRun(runId) {
  const get = async (path) => {
    let reply;
    try {
      reply = await fetch(path, { credentials: "same-origin" });
    } catch {
      throw new Error(`Saved run ${runId} was not loaded: the server did not answer.`);
    }
    const body = await reply.json().catch(() => null);
    if (reply.status === 404) throw new Error(`There is no saved run ${runId} on this server: check the link.`);
    if (!reply.ok) throw new Error(`Saved run ${runId}: ${body?.message ?? reply.statusText}.`);
    return body;
  };
  const base = `/api/runs/${encodeURIComponent(runId)}`;
  const [run, history] = await Promise.all([get(base), get(`${base}/history`)]);
  return { ...run, epochs: history.epochs };
}

/**
 * The download links of a session: its model JSON, its history CSV, and lab(kind): the CSV of
 * the last lab job of that kind ("cross_validation" or "search") that finished on it.
 */
export function downloadLinks(sessionId) {
  const base = `/api/sessions/${encodeURIComponent(sessionId)}`;
  return { model: `${base}/model`, csv: `${base}/history.csv`, lab: (kind) => `${base}/lab.csv?kind=${encodeURIComponent(kind)}` };
}
