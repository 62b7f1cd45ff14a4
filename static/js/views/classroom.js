// The classroom. A teacher opens a room around their session and gets a short
// code, the join link and its QR code (big enough for a projector); students
// join with the code and follow the teacher's session read-only, fork it into a
// copy of their own, and come back. The teacher sees the class (connected,
// following, forked, a gallery of the losses students chose to share) and
// pushes a hyperparameter into every student's own session, gives the room a
// new code or closes it (room_card.js). Anyone saves a run and shares its link.
// Like the other views it never talks to the server: it dispatches "intent"
// events (protocol messages); main.js hands it the server's room, room_status,
// room_closed, saved, notice and error messages.
import { fmt, int } from "../format.js";
import { h, fill, num } from "../dom.js";
import { PROPS } from "../state.js";
import { ReadOnly } from "./read_only.js";
import { RoomCard } from "./room_card.js";

const ROOM_KEY = "paramlab.room";   // sessionStorage: {code, name, share, mode} of this tab's student
const RUN_KEY = "paramlab.run";     // sessionStorage: the saved run this tab's session was opened from
const PUSH_FIELDS = { lr: "Learning rate", momentum: "Momentum", batch_size: "Batch size", optimizer: "Optimizer",
  regularization: "Regularization", reg_rate: "Regularization rate", dropout: "Dropout" };
const PROP = Object.fromEntries(PROPS.map((p) => [p.name, p]));
/** What a follower may still send: none of it changes the teacher's session. */
const FOLLOWER_MAY = new Set(["fork", "follow", "save", "room_join"]);

const normCode = (s) => String(s || "").toUpperCase().replace(/[\s-]/g, "");
const plural = (n, word) => `${int(n)} ${word}${n === 1 ? "" : "s"}`;
const sentence = (s) => { s = String(s || "").trim(); return s && s[0].toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : "."); };

function stored(key) {
  try { return JSON.parse(sessionStorage.getItem(key)); } catch { return null; }
}

export class ClassroomView extends EventTarget {
  /** root: the panel; parts: {toggle, chip, banner, toast} elements of the page. */
  constructor(root, parts) {
    super();
    Object.assign(this, { root, ...parts });
    this.room = null; this.status = null; this.hyper = null; this.playing = false; this.session = null;
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
    this.build();
    this.bind();
    this.render();
    if (this.urlRoom && !this.joined) this.promptJoin(this.urlRoom);
  }

  get mode() { return this.room?.mode ?? null; }
  /** The QR code drawn for the room's join link ({text, moduleCount, cell, quiet}), or null. */
  get qr() { return this.roomCard.qr; }
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

  /** The panel's markup is in the page (templates/index.html); the hyperparameters to push come from here. */
  build() {
    fill(this.root.querySelector("#push-field"), Object.entries(PUSH_FIELDS).map(([k, label]) => h("option", { value: k }, label)));
    const q = (s) => this.root.querySelector(s);
    this.cards = { teach: q(".cl-teach"), join: q(".cl-join"), room: q(".cl-room"), klass: q(".cl-class"),
      push: q(".cl-push"), student: q(".cl-student"), save: q(".cl-save") };
    this.roomCard = new RoomCard(this.cards.room, (msg) => this.intent(msg));
  }

  bind() {
    const q = (s) => this.root.querySelector(s);
    this.toggle.addEventListener("click", () => this.show(this.root.hidden));
    q(".cl-hide").addEventListener("click", () => { this.show(false); this.toggle.focus(); });
    q("#room-open").addEventListener("click", () => this.intent({ type: "room_create", share_gallery: q("#room-gallery").checked }));
    this.cards.join.addEventListener("submit", (ev) => { ev.preventDefault(); this.join(); });
    this.cards.push.addEventListener("submit", (ev) => { ev.preventDefault(); this.push(); });
    q("#push-field").addEventListener("change", () => this.pushDefaults());
    this.cards.save.addEventListener("submit", (ev) => { ev.preventDefault(); this.save(); });
    q("#save-copy").addEventListener("click", () => this.copy());
    q("#room-leave").addEventListener("click", () => this.leave());
    this.banner.querySelector("#room-fork").addEventListener("click", () => this.intent({ type: "fork" }));
    this.banner.querySelector("#room-back").addEventListener("click", () => this.intent({ type: "follow" }));
    this.banner.querySelector("#room-dismiss").addEventListener("click", () => { this.closedText = null; this.render(); });
  }

  show(on) {
    this.root.hidden = !on;
    this.toggle.setAttribute("aria-expanded", String(on));
  }

  /** A join link (/?room=CODE): the code is filled in, the name is asked for. */
  promptJoin(code) {
    this.root.querySelector("#join-code").value = normCode(code);
    this.show(true);
    requestAnimationFrame(() => this.root.querySelector("#join-name").focus());
  }

  // ---- server -> view ------------------------------------------------------------------

  receive(msg) {
    if (msg.type === "room") this.onRoom(msg);
    else if (msg.type === "room_status") { this.status = msg; this.renderClass(); this.render(); }
    else if (msg.type === "room_closed") this.onClosed(msg);
    else if (msg.type === "saved") this.onSaved(msg);
    else if (msg.type === "notice") { this.notices.push(msg.text); this.toastText(msg.text); }
    else if (msg.type === "error") this.onError(msg);
  }

  onRoom(msg) {
    if (msg.role === "teacher" && !this.room) this.show(true);   // a teacher's reload: the code is back on screen
    const before = this.room;
    this.room = msg; this.closedText = null;
    if (msg.role === "student") {
      const who = this.pendingJoin || this.joined || {};
      this.joined = { code: msg.code, name: who.name, share: !!who.share, mode: msg.mode };
      sessionStorage.setItem(ROOM_KEY, JSON.stringify(this.joined));
      if (this.pendingJoin) { this.pendingJoin = null; this.show(false); }   // the banner takes over
      // A new code: a reload of a join link must not try the old one.
      if (this.urlRoom && normCode(this.urlRoom) !== msg.code) { this.urlRoom = msg.code; history.replaceState(null, "", msg.link + location.hash); }
    } else {
      this.forgetRoom();
      // The class stays the same under a new code; a teacher's reload waits for the next count.
      this.status = before?.role === "teacher" || this.status?.code === msg.code ? this.status : null;
      this.setTeachStatus("");
    }
    this.setReadOnly(msg.mode === "follow");
    this.render();
  }

  /** The room ended. The teacher's panel offers to open one again; a student is back on their own session. */
  onClosed(msg) {
    const teacher = this.room?.role === "teacher";
    this.room = null; this.status = null; this.pendingJoin = null;
    this.roomCard.reset();
    this.forgetRoom();
    if (teacher) {
      this.setTeachStatus(`${sentence(msg.text)} Its code no longer works; the session is yours alone again.`);
    } else {
      this.closedText = msg.text;
      if (this.urlRoom) { this.urlRoom = null; history.replaceState(null, "", location.pathname + location.hash); }
    }
    this.setReadOnly(false);
    this.render();
    const focus = document.activeElement;
    if (teacher && !this.root.hidden && (!focus || focus === document.body || this.root.contains(focus))) this.root.querySelector("#room-open").focus();
  }

  setTeachStatus(text) {
    this.cards.teach.querySelector(".cl-teach-status").textContent = text;
    this.cards.teach.querySelector(".cl-err").textContent = "";
  }

  onSaved(msg) {
    const box = this.root.querySelector(".cl-saved");
    this.root.querySelector("#save-link").value = location.origin + msg.link;
    this.root.querySelector(".cl-copied").textContent = `Saved “${msg.name}”. Anyone with the link opens a copy of it.`;
    box.hidden = false;
    this.cards.save.querySelector(".cl-err").textContent = "";
  }

  onError(msg) {
    const text = this.explain(msg).message;
    if (msg.code === "no_room" || (msg.code === "rate_limited" && msg.request === "room_join")) {
      // Too many wrong codes: the room may exist, so a reload may try it again later; a wrong code is forgotten.
      if (msg.code === "no_room") this.forgetRoom();
      this.pendingJoin = null; this.room = null;
      this.setReadOnly(false);
      this.render();
      this.cards.join.querySelector(".cl-err").textContent = text;
      this.show(true);
    } else if (msg.request === "room_create") {
      this.cards.teach.querySelector(".cl-err").textContent = text;
    } else if (msg.request === "room_close" || msg.request === "room_new_code") {
      this.roomCard.error(text);
    } else if (msg.request === "room_push") {
      this.cards.push.querySelector(".cl-err").textContent = text;
    } else if (msg.request === "save") {
      this.cards.save.querySelector(".cl-err").textContent = text;
    } else if (msg.request === "hello" && msg.field === "run_id") {
      // A run link that opens nothing: the page goes on with a session of its own.
      this.runId = null; this.freshRun = false;
      sessionStorage.removeItem(RUN_KEY);
      history.replaceState(null, "", location.pathname + location.hash);
    }
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
    }
    return { ...msg, message };
  }

  /** After every `session`: what is shown now (a follower's carries no session id). */
  reset(session) {
    this.session = session; this.hyper = session.hyper;
    if (session.session_id && this.runId) { sessionStorage.setItem(RUN_KEY, this.runId); this.freshRun = false; }
    const name = this.root.querySelector("#save-name");
    name.placeholder = `${session.config.dataset}, lr ${fmt(session.hyper.lr)}`;
    this.lock.apply();
    this.pushDefaults();
  }

  /** Per drawn frame: the hyperparameters shown, and the read-only lock kept on rebuilt controls. */
  update(frame) {
    this.hyper = frame.hyper; this.playing = frame.playing;
    this.lock.apply();
  }

  // ---- view -> server ------------------------------------------------------------------

  join() {
    const f = this.cards.join, err = f.querySelector(".cl-err");
    const code = normCode(f.querySelector("#join-code").value), name = f.querySelector("#join-name").value.trim();
    if (code.length < 4) { err.textContent = "Type the room code shown by your teacher (6 letters and digits)."; f.querySelector("#join-code").focus(); return; }
    if (!name) { err.textContent = "Type your name: your teacher sees it if you share your loss."; f.querySelector("#join-name").focus(); return; }
    err.textContent = "";
    this.pendingJoin = { code, name, share: f.querySelector("#join-share").checked };
    if (this.playing) this.intent({ type: "pause" });   // the student's own session waits, unwatched
    this.intent({ type: "room_join", ...this.pendingJoin, fork: false });
  }

  push() {
    const f = this.cards.push, err = f.querySelector(".cl-err"), field = f.querySelector("#push-field").value;
    const p = PROP[field];
    let value;
    if (p.type === "enum") value = f.querySelector("#push-choice").value;
    else {
      const text = f.querySelector("#push-value").value.trim();
      value = Number(text);
      const ok = text !== "" && Number.isFinite(value) && value >= p.min && value <= p.max && (p.type !== "int" || Number.isInteger(value));
      if (!ok) { err.textContent = `${PUSH_FIELDS[field]}: type ${p.type === "int" ? "a whole number" : "a number"} from ${p.min} to ${p.max}.`; return; }
    }
    err.textContent = "";
    this.intent({ type: "room_push", hyper: { [field]: value } });
  }

  /** The value control fits the hyperparameter, filled with the value the session has now. */
  pushDefaults() {
    const f = this.cards.push, field = f.querySelector("#push-field").value, p = PROP[field];
    const isEnum = p.type === "enum";
    f.querySelectorAll(".push-num").forEach((e) => (e.hidden = isEnum));
    f.querySelectorAll(".push-enum").forEach((e) => (e.hidden = !isEnum));
    const now = this.hyper?.[field];
    if (isEnum) {
      const sel = f.querySelector("#push-choice");
      fill(sel, p.values.map((v) => h("option", { value: v }, v)));
      if (now !== undefined) sel.value = now;
    } else {
      const input = f.querySelector("#push-value");
      if (document.activeElement !== input && now !== undefined) input.value = String(now);
    }
    f.querySelector(".push-range").textContent = isEnum ? "" : `Allowed: ${p.min} to ${p.max}${p.type === "int" ? ", whole numbers" : ""}.`;
  }

  save() {
    const input = this.root.querySelector("#save-name");
    const name = (input.value.trim() || input.placeholder).slice(0, 80);
    this.intent({ type: "save", name });
  }

  async copy() {
    const link = this.root.querySelector("#save-link"), out = this.root.querySelector(".cl-copied");
    try {
      await navigator.clipboard.writeText(link.value);
      out.textContent = "Link copied.";
    } catch {
      link.select();   // plain http on another host has no clipboard API: the old way
      out.textContent = document.execCommand("copy") ? "Link copied." : "Select the link and copy it (Ctrl+C).";
    }
  }

  /** A student leaves the room: back to their own session (main says hello again). */
  leave() {
    this.forgetRoom(); this.room = null;
    this.setReadOnly(false);
    if (this.urlRoom) { this.urlRoom = null; history.replaceState(null, "", location.pathname + location.hash); }
    this.render();
    this.dispatchEvent(new CustomEvent("leave"));
  }

  forgetRoom() { this.joined = null; sessionStorage.removeItem(ROOM_KEY); }

  setReadOnly(on) {
    if (this.lock.set(on)) this.dispatchEvent(new CustomEvent("readonly", { detail: { on } }));
  }

  // ---- drawing -------------------------------------------------------------------------

  render() {
    const r = this.room, teacher = r?.role === "teacher", student = r?.role === "student";
    const c = this.cards;
    c.teach.hidden = !!r; c.join.hidden = !!r;
    c.room.hidden = c.klass.hidden = c.push.hidden = !teacher;
    c.student.hidden = !student;
    c.room.parentElement.classList.toggle("teaching", teacher);
    this.chip.hidden = !r;
    if (r) {
      const n = this.status?.students;
      this.chip.textContent = `Room ${r.code}` + (teacher && n !== undefined ? ` · ${plural(n, "student")}` : "");
    }
    if (teacher) this.roomCard.render(r);
    if (student) {
      c.student.querySelector(".cl-student-text").textContent = `You are in room ${r.code} as ${this.joined?.name ?? "a student"}` +
        (this.joined?.share ? ", sharing your loss with the class." : ".");
    }
    this.renderBanner(r, student);
  }

  /** A student's banner: following or forked (with the way to switch), or the room closed (with the server's words). */
  renderBanner(r, student) {
    const b = this.banner, closed = !r && this.closedText !== null, follow = student && r.mode === "follow";
    b.hidden = !student && !closed;
    b.classList.toggle("closed", closed);
    b.classList.toggle("forked", student && !follow);
    b.querySelector("#room-fork").hidden = !follow;
    b.querySelector("#room-back").hidden = !student || follow;
    b.querySelector("#room-dismiss").hidden = !closed;
    if (closed) {
      b.querySelector(".room-mode").textContent = "Room closed";
      b.querySelector(".room-note").textContent = this.closedText;
    } else if (student) {
      b.querySelector(".room-mode").textContent = follow ? "Following the teacher — read-only" : "Your own copy";
      b.querySelector(".room-note").textContent = follow
        ? `Room ${r.code}: you see the teacher's network live.`
        : `Room ${r.code}: experiment freely, the teacher's session is untouched.`;
    }
  }

  renderClass() {
    const s = this.status;
    if (!s) return;
    for (const k of ["students", "following", "forked"]) this.root.querySelector(`#count-${k}`).textContent = int(s[k]);
    const table = this.root.querySelector(".cl-gallery"), note = this.root.querySelector(".cl-gallery-note");
    const rows = s.gallery || [];
    fill(table.tBodies[0], rows.map((g, i) => h("tr", { class: i === 0 ? "best" : null },
      h("td", null, i + 1), h("td", null, g.name),
      [g.test_loss, g.train_loss, g.hyper.lr, g.hyper.momentum].map((x) => h("td", null, num(x))),
      h("td", { class: "num" }, int(g.step)))));
    table.closest(".scroll").hidden = !rows.length;
    note.textContent = s.gallery === null ? "The gallery is off for this room."
      : rows.length ? "" : "No shared losses yet: a student who ticked “Share my loss with the class” appears here once they fork.";
  }

  toastText(text) {
    this.toast.textContent = text;
    this.toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (this.toast.hidden = true), 8000);
  }
}
