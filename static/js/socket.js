// The only module that talks to the server's websocket. It says hello (with the
// session id kept in sessionStorage, so a reload resumes the same session, and
// a room's teacher key kept in localStorage for that session until the room
// closes), re-dispatches every server message as an event named after its
// `type`, acknowledges frames when told they are drawn, and reconnects with
// backoff. The teacher key of the session shown also goes in a cookie scoped
// to that session's HTTP routes, so that plain download links (model JSON,
// history CSV) carry it; http.js asks for it (teacherKey) for its own requests.
// Frames come as binary messages (frame_codec.js decodes them), carrying only the
// optional parts the views draw (setParts); `inspect` asks for one parameter's
// exact numbers, which come back as `inspected` and then in every frame.
// A second Socket of the page (a compared run, views/compare.js) is made with
// `remember: false`: it keeps its session id to itself and touches no stored
// session, teacher key or cookie of the page's own.
import { decodeFrame } from "./frame_codec.js";

const SESSION_KEY = "paramlab.session_id";
const TEACHER_KEY = "paramlab.teacher_key.";   // + session id
const TEACHER_COOKIE = "paramlab_teacher";
export const PROTOCOL_VERSION = 1;

/**
 * Set (or, with no key, clear) the teacher-key cookie of one session. Its path
 * is that session's HTTP routes: the key goes nowhere else, and two tabs with
 * two sessions each keep their own.
 */
function teacherCookie(sessionId, key) {
  if (!/^[A-Za-z0-9_-]+$/.test(sessionId || "")) return;
  const attrs = `; path=/api/sessions/${sessionId}; SameSite=Strict${location.protocol === "https:" ? "; Secure" : ""}`;
  // A key is URL-safe base64; anything else (a stray ";") never reaches the cookie string.
  document.cookie = key && /^[A-Za-z0-9_-]+$/.test(key) ? `${TEACHER_COOKIE}=${key}${attrs}` : `${TEACHER_COOKIE}=${attrs}; Max-Age=0`;
}

export class Socket extends EventTarget {
  /**
   * helloBody(): the config/hyper/playing/fps part of hello (without session_id).
   * remember: false for a second socket of the page (a compared run): its session id lives only in
   * this object, never in sessionStorage, and it touches no teacher key or cookie of the page's own.
   */
  constructor(helloBody, url = null, { remember = true } = {}) {
    super();
    this.helloBody = helloBody;
    this.remember = remember;
    this.closed = false;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = url || `${proto}//${location.host}/ws`;
    this.ws = null;
    this.backoff = 250;
    this.connected = false;
    this.sessionId = remember ? sessionStorage.getItem(SESSION_KEY) : null;
    this.framesReceived = 0;
    this.binaryFrames = 0;   // frames that came as binary messages (all of them, unless something is wrong)
    this.parts = [];         // the optional frame parts the views draw now (see setParts)
    this.lastAcked = -1;
    this.awaitingHello = false;
    this.helloRetry = 0;     // ms before the hello goes again, while the server says it is unavailable (retryHello)
    this.helloTimer = null;
    this.teaching = false;   // the last room message made this page its teacher
    /** Messages sent right after every hello (a student going back into their room). */
    this.afterHello = () => [];
  }

  connect() {
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 250;
      this.sayHello(this.sessionId);
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      this.setConnected(false);
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, 5000);
      setTimeout(() => this.connect(), wait);
    };
    ws.onerror = () => { /* onclose follows and reconnects */ };
  }

  sayHello(sessionId) {
    this.awaitingHello = true;
    const teacherKey = this.teacherKey(sessionId);
    this.rawSend({ type: "hello", version: PROTOCOL_VERSION, session_id: sessionId || null, ...this.helloBody(),
      frames: "binary", parts: this.parts, ...(teacherKey ? { teacher_key: teacherKey } : {}) });
    for (const msg of this.afterHello()) this.rawSend(msg);
  }

  receive(data) {
    let msg;
    if (typeof data === "string") {
      try { msg = JSON.parse(data); } catch { return; }
    } else {
      try { msg = decodeFrame(data); } catch (err) { console.warn(`a binary message was dropped: ${err.message}`); return; }
      this.binaryFrames++;
    }
    if (msg.type === "session") {
      this.awaitingHello = false;
      this.helloRetry = 0; clearTimeout(this.helloTimer);
      // A student following a room is shown the teacher's session without its id: keep their own.
      if (msg.session_id) { this.sessionId = msg.session_id; if (this.remember) sessionStorage.setItem(SESSION_KEY, msg.session_id); }
      // The download links follow the session shown (a follower's page shows the teacher's, without its id or key).
      if (this.remember) this.showCookie(msg.session_id ? this.sessionId : null);
      this.setConnected(true);
    } else if (msg.type === "room") {
      this.teaching = msg.role === "teacher";
      if (msg.teacher_key && this.sessionId) {
        localStorage.setItem(TEACHER_KEY + this.sessionId, msg.teacher_key);
        this.showCookie(this.sessionId);
      }
    } else if (msg.type === "room_closed" && this.teaching) {
      // The session is the teacher's own again: its key opens nothing now, so it goes (storage and cookie).
      this.teaching = false;
      this.forgetTeacherKey();
    } else if (msg.type === "error" && msg.code === "no_session" && msg.request === "hello" && this.awaitingHello && this.sessionId) {
      // The stored session is gone (server restarted): start a new one from the URL's config.
      this.sessionId = null;
      if (this.remember) sessionStorage.removeItem(SESSION_KEY);
      this.sayHello(null);
      return;
    } else if (msg.type === "error" && msg.code === "no_session" && this.helloRetry) {
      // A message sent after a hello the server could not serve yet (below): it goes again with the next hello.
      return;
    } else if (msg.type === "error" && msg.code === "unavailable" && msg.request === "hello" && this.awaitingHello) {
      // The server cannot serve the hello right now (its shared store is down, or the session is busy in another
      // server process): the same hello again a little later, the session id kept. The error is still shown.
      this.retryHello();
    } else if (msg.type === "frame") {
      this.framesReceived++;
    }
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
  }

  /** Say the same hello again in a few seconds (2 s, then longer, at most 10 s), on this connection only. */
  retryHello() {
    const ws = this.ws, wait = this.helloRetry ? Math.min(this.helloRetry * 2, 10000) : 2000;
    this.helloRetry = wait;
    clearTimeout(this.helloTimer);
    this.helloTimer = setTimeout(() => { if (this.ws === ws && this.awaitingHello && !this.closed) this.sayHello(this.sessionId); }, wait);
  }

  setConnected(ok) {
    if (this.connected === ok) return;
    this.connected = ok;
    this.dispatchEvent(new CustomEvent("status", { detail: { connected: ok } }));
  }

  rawSend(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) { this.ws.send(JSON.stringify(msg)); return true; }
    return false;
  }

  /** Send a control message; dropped (returns false) while disconnected. */
  send(msg) {
    if (!this.connected) return false;
    return this.rawSend(msg);
  }

  /**
   * The optional frame parts (gradient, velocity, update, adam) the views draw now; W, b and the
   * frozen masks always come. Sent at once when they change, and in every hello.
   */
  setParts(parts) {
    const next = [...parts].sort();
    if (next.join() === this.parts.join()) return;
    this.parts = next;
    this.send({ type: "views", parts: next });
  }

  /** Watch one parameter's exact numbers ({layer, kind, i, j}), or none (null). */
  inspect(target) {
    this.send(target ? { type: "inspect", layer: target.layer, kind: target.kind, i: target.i, j: target.j } : { type: "inspect", layer: null });
  }

  /** The frames `seqs` (in order) are drawn or skipped. An ack covers every frame up to its seq and
   * the server lets three go unacknowledged, so every second frame is acknowledged: half the messages.
   * A seq below the last one acknowledged starts a new stream (another session shown): acknowledged at once. */
  ack(seqs) {
    const seq = seqs[seqs.length - 1];
    if (seq === undefined) return;
    if (seq - this.lastAcked >= 2 || seq < this.lastAcked) { this.rawSend({ type: "ack", seq }); this.lastAcked = seq; }
  }

  /** Forget the stored session (used when the configuration is replaced from a new link). */
  forgetSession() {
    this.sessionId = null;
    sessionStorage.removeItem(SESSION_KEY);
    this.showCookie(null);
  }

  /** Forget the teacher key of the page's own session (its room is closed). */
  forgetTeacherKey() {
    if (!this.sessionId) return;
    localStorage.removeItem(TEACHER_KEY + this.sessionId);
    teacherCookie(this.sessionId, null);
  }

  /** The teacher-key cookie is that of `sessionId` (if this browser holds its key), and of no session shown before. */
  showCookie(sessionId) {
    if (this.cookieSession && this.cookieSession !== sessionId) teacherCookie(this.cookieSession, null);
    this.cookieSession = sessionId;
    if (sessionId) teacherCookie(sessionId, this.teacherKey(sessionId));
  }

  /** The teacher key this browser holds for a session (default: the page's own), or null. */
  teacherKey(sessionId = this.sessionId) {
    return sessionId && this.remember ? localStorage.getItem(TEACHER_KEY + sessionId) : null;
  }

  /** Close for good (no reconnect): the server ends the session's connection. */
  close() {
    this.closed = true;
    const ws = this.ws;
    this.ws = null;
    this.setConnected(false);
    if (ws) ws.close();
  }
}
