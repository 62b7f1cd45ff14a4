// The only module that talks to the server's websocket. It says hello (with the
// session id kept in sessionStorage, so a reload resumes the same session, and
// a room's teacher key kept in localStorage for that session), re-dispatches
// every server message as an event named after its `type`, acknowledges frames
// when told they are drawn, and reconnects with backoff.

const SESSION_KEY = "paramlab.session_id";
const TEACHER_KEY = "paramlab.teacher_key.";   // + session id
export const PROTOCOL_VERSION = 1;

export class Socket extends EventTarget {
  /** helloBody(): the config/hyper/playing/fps part of hello (without session_id). */
  constructor(helloBody, url = null) {
    super();
    this.helloBody = helloBody;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = url || `${proto}//${location.host}/ws`;
    this.ws = null;
    this.backoff = 250;
    this.connected = false;
    this.sessionId = sessionStorage.getItem(SESSION_KEY);
    this.framesReceived = 0;
    this.lastAcked = -1;
    this.awaitingHello = false;
    /** Messages sent right after every hello (a student going back into their room). */
    this.afterHello = () => [];
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 250;
      this.sayHello(this.sessionId);
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
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
    const teacherKey = sessionId ? localStorage.getItem(TEACHER_KEY + sessionId) : null;
    this.rawSend({ type: "hello", version: PROTOCOL_VERSION, session_id: sessionId || null, ...this.helloBody(),
      ...(teacherKey ? { teacher_key: teacherKey } : {}) });
    for (const msg of this.afterHello()) this.rawSend(msg);
  }

  receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (msg.type === "session") {
      this.awaitingHello = false;
      // A student following a room is shown the teacher's session without its id: keep their own.
      if (msg.session_id) { this.sessionId = msg.session_id; sessionStorage.setItem(SESSION_KEY, msg.session_id); }
      this.setConnected(true);
    } else if (msg.type === "room" && msg.teacher_key && this.sessionId) {
      localStorage.setItem(TEACHER_KEY + this.sessionId, msg.teacher_key);
    } else if (msg.type === "error" && msg.code === "no_session" && this.awaitingHello && this.sessionId) {
      // The stored session is gone (server restarted): start a new one from the URL's config.
      this.sessionId = null;
      sessionStorage.removeItem(SESSION_KEY);
      this.sayHello(null);
      return;
    } else if (msg.type === "frame") {
      this.framesReceived++;
    }
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
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

  /** Acknowledge every frame up to `seq` (each one, in order) once it is drawn. */
  ack(seqs) {
    for (const seq of seqs) { this.rawSend({ type: "ack", seq }); this.lastAcked = seq; }
  }

  /** Forget the stored session (used when the configuration is replaced from a new link). */
  forgetSession() {
    this.sessionId = null;
    sessionStorage.removeItem(SESSION_KEY);
  }
}
