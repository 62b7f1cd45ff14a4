// The classroom's state: the room this page is in (as its teacher or as a
// student, following or forked) as the server last described it, the class's
// counts, a student's membership kept across reloads (sessionStorage), the saved
// run this tab was opened from, and the read-only lock of a follower.
//
// main.js hands it the server's room, room_status, room_lesson, room_closed,
// saved, notice and error messages; after each it says what changed with a "change" event
// ({kind, msg, ...}), from which the classroom's views draw. Like the views it
// never talks to the server: what the page asks goes up as "intent" events.
import { ReadOnly } from "./read_only.js";

const ROOM_KEY = "paramlab.room";   // sessionStorage: {code, name, share, mode} of this tab's student
const RUN_KEY = "paramlab.run";     // sessionStorage: the saved run this tab's session was opened from
/** What a follower may still send: none of it changes the teacher's session. */
const FOLLOWER_MAY = new Set(["fork", "follow", "save", "room_join"]);

export const normCode = (s) => String(s || "").toUpperCase().replace(/[\s-]/g, "");
/** A server's words as a sentence: capital first, full stop last. */
export const sentence = (s) => { s = String(s || "").trim(); return s && s[0].toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : "."); };

function stored(key) {
  try { return JSON.parse(sessionStorage.getItem(key)); } catch { return null; }
}

/** Which card of the panel an error belongs to: join, teach, room, push, save, or null. */
function errorPlace(msg) {
  if (msg.code === "no_room" || (msg.code === "rate_limited" && msg.request === "room_join")) return "join";
  return { room_create: "teach", room_close: "room", room_new_code: "room", room_push: "push", save: "save" }[msg.request] ?? null;
}

export class RoomStore extends EventTarget {
  constructor() {
    super();
    this.room = null; this.status = null; this.hyper = null; this.playing = false; this.session = null;
    this.lesson = null;       // the room's lesson {id, step (from 0)} while its teacher runs one (room_lesson.js)
    this.pendingJoin = null; this.notices = [];
    this.closedText = null;   // a student's room was closed: the banner says so until dismissed
    this.lock = new ReadOnly();
    const params = new URLSearchParams(location.search);
    this.urlRoom = params.get("room");
    this.runId = params.get("run");
    // A run link opened in this tab for the first time opens the run, not the tab's earlier session.
    this.freshRun = !!this.runId && sessionStorage.getItem(RUN_KEY) !== this.runId;
    this.joined = stored(ROOM_KEY);
    if (this.joined && (this.freshRun || (this.urlRoom && normCode(this.urlRoom) !== this.joined.code))) this.forgetRoom();
  }

  get mode() { return this.room?.mode ?? null; }
  get role() { return this.room?.role ?? null; }
  get readOnly() { return this.lock.on; }
  /** The page opens as a student (a join link, or a reload in a room): its own first session starts paused. */
  get joining() { return !!(this.urlRoom || this.joined); }
  allows(type) { return !this.readOnly || FOLLOWER_MAY.has(type); }

  /** Sent right after every hello: a student goes back into their room (reload, reconnect). */
  rejoin() {
    const j = this.joined;
    return j ? [{ type: "room_join", code: j.code, name: j.name, share: j.share, fork: j.mode === "fork" }] : [];
  }

  intent(detail) { this.dispatchEvent(new CustomEvent("intent", { detail })); }

  changed(kind, detail = {}) { this.dispatchEvent(new CustomEvent("change", { detail: { kind, ...detail } })); }

  // ---- server -> store -----------------------------------------------------------------

  receive(msg) {
    if (msg.type === "room") this.onRoom(msg);
    else if (msg.type === "room_status") { this.status = msg; this.changed("status", { msg }); }
    else if (msg.type === "room_closed") this.onClosed(msg);
    else if (msg.type === "room_lesson") {
      this.lesson = msg.id === null ? null : { id: msg.id, step: msg.step };
      this.changed("lesson", { msg });
    }
    else if (msg.type === "saved") this.changed("saved", { msg });
    else if (msg.type === "notice") { this.notices.push(msg.text); this.changed("notice", { msg }); }
    else if (msg.type === "error") this.onError(msg);
  }

  onRoom(msg) {
    const before = this.room, joined = msg.role === "student" && !!this.pendingJoin;
    this.room = msg; this.closedText = null;
    if (msg.role === "student") {
      const who = this.pendingJoin || this.joined || {};
      this.joined = { code: msg.code, name: who.name, share: !!who.share, mode: msg.mode };
      sessionStorage.setItem(ROOM_KEY, JSON.stringify(this.joined));
      this.pendingJoin = null;
      // A new code: a reload of a join link must not try the old one.
      if (this.urlRoom && normCode(this.urlRoom) !== msg.code) { this.urlRoom = msg.code; history.replaceState(null, "", msg.link + location.hash); }
    } else {
      this.forgetRoom();
      // The class stays the same under a new code; a teacher's reload waits for the next count.
      this.status = before?.role === "teacher" || this.status?.code === msg.code ? this.status : null;
    }
    this.setReadOnly(msg.mode === "follow");
    this.changed("room", { msg, before, joined });
  }

  /** The room ended. The teacher's panel offers to open one again; a student is back on their own session. */
  onClosed(msg) {
    const teacher = this.room?.role === "teacher";
    this.room = null; this.status = null; this.pendingJoin = null; this.lesson = null;
    this.forgetRoom();
    if (!teacher) {
      this.closedText = msg.text;
      if (this.urlRoom) { this.urlRoom = null; history.replaceState(null, "", location.pathname + location.hash); }
    }
    this.setReadOnly(false);
    this.changed("closed", { msg, teacher });
  }

  onError(msg) {
    const place = errorPlace(msg);
    if (place === "join") {
      // Too many wrong codes: the room may exist, so a reload may try it again later; a wrong code is forgotten.
      if (msg.code === "no_room") this.forgetRoom();
      this.pendingJoin = null; this.room = null;
      this.setReadOnly(false);
    } else if (msg.request === "hello" && msg.field === "run_id") {
      // A run link that opens nothing: the page goes on with a session of its own.
      this.runId = null; this.freshRun = false;
      sessionStorage.removeItem(RUN_KEY);
      history.replaceState(null, "", location.pathname + location.hash);
    }
    this.changed("error", { msg, place, text: this.explain(msg).message });
    this.lock.apply();
  }

  /** The server's error in plain words (forbidden and no_room rephrased for the classroom). */
  explain(msg) {
    let message = msg.message;
    if (msg.code === "no_room") {
      message = `No open room has the code “${normCode(msg.value) || "?"}”. Check the code on the projector: ` +
        "rooms close after a few hours, and a room whose teacher's session is gone closes too.";
    } else if (msg.code === "forbidden") {
      message = msg.request === "room_push" ? "Only the room's teacher can push to the class."
        : msg.request === "room_create" ? "This session belongs to another room's teacher: open a room from a session of your own."
        : this.mode === "follow" ? "You are following the teacher's session, which is read-only. Press “Fork: experiment on my own copy” to try your own changes."
        : "Only the room's teacher can change this session.";
    } else if (msg.code === "limit" || msg.code === "rate_limited") {
      // The server's own words, and the quota it applies (with the setting that raises it, when there is one).
      message = sentence(msg.message) + (msg.allowed ? ` Limit: ${String(msg.allowed).replace(/\.$/, "")}.` : "");
    } else if (msg.code === "unavailable") {
      // Not a quota and nothing wrong with the request: the server cannot do it for a moment (its words say why).
      message = msg.request !== "hello" ? sentence(msg.message)
        : msg.field === "session_id" ? "Your session is busy in another server process for a moment: the page asks for it again in a few seconds."
        : "The server cannot reach its shared store for a moment: the page asks for your session again in a few seconds.";
    }
    return { ...msg, message };
  }

  /** After every `session`: what is shown now (a follower's carries no session id). */
  reset(session) {
    this.session = session; this.hyper = session.hyper;
    if (session.session_id && this.runId) { sessionStorage.setItem(RUN_KEY, this.runId); this.freshRun = false; }
    this.lock.apply();
    this.changed("session", { msg: session });
  }

  /** Per drawn frame: the hyperparameters shown, and the read-only lock kept on rebuilt controls. */
  update(frame) {
    const lr = this.hyper?.lr;
    this.hyper = frame.hyper; this.playing = frame.playing;
    this.lock.apply();
    if (frame.hyper.lr !== lr) this.changed("hyper");   // once per change, not once per frame (the save card's name)
  }

  // ---- views -> server -----------------------------------------------------------------

  /** A student asks to join: their own session waits, unwatched, while they follow. */
  join(code, name, share) {
    this.pendingJoin = { code, name, share };
    if (this.playing) this.intent({ type: "pause" });
    this.intent({ type: "room_join", ...this.pendingJoin, fork: false });
  }

  /** A student leaves the room: back to their own session (main says hello again). */
  leave() {
    this.forgetRoom(); this.room = null; this.lesson = null;
    this.setReadOnly(false);
    if (this.urlRoom) { this.urlRoom = null; history.replaceState(null, "", location.pathname + location.hash); }
    this.changed("left");
    this.dispatchEvent(new CustomEvent("leave"));
  }

  /** The "room closed" banner is put away. */
  dismissClosed() { this.closedText = null; this.changed("dismissed"); }

  forgetRoom() { this.joined = null; sessionStorage.removeItem(ROOM_KEY); }

  setReadOnly(on) {
    if (this.lock.set(on)) this.dispatchEvent(new CustomEvent("readonly", { detail: { on } }));
  }
}
