// A lesson run in a room: the teacher's lesson step is every student's step.
//
// RoomLessonSync ties the page's lesson player (lesson/player.js) to the room:
// - the teacher's player leads: each step it shows goes to the server as
//   `room_lesson`, closing it ends the room's lesson;
// - a student's player shows the room's step, moved by the teacher only
//   (steered: no Back, Next or step keys): read-only while following (the
//   teacher's session already has the step's setup); on their own copy once
//   forked, where the step's setup is applied and its action noticed, and the
//   notice goes to the teacher as `lesson_done`. A student who forks during a
//   step keeps it (their copy playing if the teacher's was); leaving the room
//   frees their player.
// LessonProgress draws, for the teacher, who has done the step and who not yet
// (room_status.lesson): in the classroom panel and under the lesson card.
// Names are students' own words: text nodes only (h()).
import { lessonPlayer } from "../lesson/player.js";
import { h, fill } from "../dom.js";

/** "3 of 5 students have done it" (one student: "has"). */
export function doneCount(done, total) {
  return `${done} of ${total} student${total === 1 ? " has" : "s have"} done it`;
}

export class RoomLessonSync {
  /** store: the RoomStore (room_store.js); player: the page's lesson player. */
  constructor(store, player = lessonPlayer) {
    Object.assign(this, { store, player });
    this.sent = null;   // the last {id, step} this teacher's page sent, so an echo or a repeat is not sent again
    store.addEventListener("change", ({ detail }) => this.onChange(detail));
    document.addEventListener("lesson:step", ({ detail }) => this.stepped(detail));
    document.addEventListener("lesson:close", () => this.closed());
    document.addEventListener("lesson:noticed", ({ detail }) => this.noticed(detail));
  }

  get teacher() { return this.store.role === "teacher"; }
  get student() { return this.store.role === "student"; }

  onChange({ kind, msg, before }) {
    if (kind === "lesson") this.roomMoved();
    else if (kind === "room" && msg.role === "teacher") {
      // A room opened around a lesson already shown: the class starts on its step.
      if (!before) this.sent = null;
      const now = this.player.current();
      if (now) this.teach(now.id, now.step);
    } else if (kind === "room" && this.student && this.store.lesson) {
      this.follow();   // forked or back to following: the same step, on the session now shown
      if (msg.mode === "fork" && before?.mode === "follow") this.playOn();
    } else if ((kind === "left" || kind === "closed") && !this.teacher) {
      this.free();
    } else if (kind === "closed") {
      this.sent = null;
    }
  }

  // ---- teacher ----------------------------------------------------------------------

  /** The teacher's player moved: the class moves with it. */
  stepped({ id, step }) {
    if (this.teacher) this.teach(id, step);
  }

  closed() {
    if (!this.teacher || !this.store.lesson) return;
    this.sent = { id: null, step: null };
    this.store.intent({ type: "room_lesson", id: null });
  }

  teach(id, step) {
    // What the server has, as far as this page knows: what it last sent, else the room's own (a reload).
    const last = this.sent ?? this.store.lesson;
    if (last && last.id === id && last.step === step) return;
    this.sent = { id, step };
    this.store.intent({ type: "room_lesson", id, step });
  }

  // ---- student ----------------------------------------------------------------------

  /** The room's lesson changed (or the page just joined a room that runs one). */
  roomMoved() {
    const lesson = this.store.lesson;
    if (this.teacher) {
      // A teacher's reload: their room's lesson comes back when the page has none open (a page that has one leads).
      if (lesson && !this.player.current()) this.player.open(lesson.id, lesson.step, { by: "room" });
      return;
    }
    if (!this.student) return;
    if (lesson) this.follow();
    else if (this.player.current()) this.player.close();   // the teacher ended the lesson
  }

  /** Show the room's step: read-only while following, on the student's own copy once forked; never moved by them. */
  follow() {
    const { id, step } = this.store.lesson;
    this.player.open(id, step, { follower: this.store.mode === "follow", steered: true, by: "room" });
  }

  /**
   * Just forked during a step: a copy starts paused, but the step runs as the teacher's session ran (the
   * last frame shown), so a step that asks to watch the run still moves. Not when pressing Play is the action.
   */
  playOn() {
    const now = this.player.current();
    const step = now && now.id === this.store.lesson.id ? now.lesson.steps[now.step] : null;
    if (!step || !this.store.playing || step.action?.notice?.event === "play") return;
    this.store.intent({ type: "play" });
  }

  /** Out of the room: the lesson stays on screen, and its steps are the student's again. */
  free() {
    const now = this.player.current();
    if (now) this.player.open(now.id, now.step, { follower: false, steered: false, by: "room" });
  }

  /** A forked student's page noticed the step's action on their own session: the teacher is told. */
  noticed({ id, step }) {
    const lesson = this.store.lesson;
    if (!this.student || this.store.mode !== "fork" || !lesson || lesson.id !== id || lesson.step !== step) return;
    this.store.intent({ type: "lesson_done", id, step });
  }
}

export class LessonProgress {
  /**
   * Who has done the room's lesson step, for the teacher. panel: the classroom panel (the block goes in its
   * class card); card: the lesson card's element (a strip goes under it while a lesson runs in the room).
   */
  constructor(panel, card, store, player = lessonPlayer) {
    Object.assign(this, { store, player, card });
    this.block = h("div", { class: "cl-lesson", role: "status", hidden: true });
    panel.querySelector(".cl-class .cl-counts").after(this.block);
    this.strip = h("div", { class: "lc-class", role: "status", hidden: true });
    store.addEventListener("change", () => this.render());
    document.addEventListener("lesson:step", () => this.render());
    document.addEventListener("lesson:close", () => this.render());
  }

  /** The progress the teacher's status reports, for the step the room is on; null when there is none. */
  get progress() {
    const p = this.store.status?.lesson, room = this.store.lesson;
    if (this.store.role !== "teacher" || !p || !room || p.id !== room.id || p.step !== room.step) return null;
    return p;
  }

  render() {
    const room = this.store.role === "teacher" ? this.store.lesson : null, p = this.progress;
    this.block.hidden = this.strip.hidden = !room;
    if (!room) return;
    const now = this.player.current();
    const lesson = now && now.id === room.id ? now.lesson : null;
    if (!p) {
      // The room moved on; the next status (within a second) counts the class on the new step.
      const head = `Step ${room.step + 1}` + (lesson ? ` of ${lesson.steps.length}` : "") + ": counting…";
      fill(this.block, h("h4", null, "Lesson: ", lesson ? lesson.title : room.id), h("p", { class: "lp-head" }, head));
      fill(this.strip, h("p", { class: "lp-head" }, h("span", { class: "lc-label" }, "Your class"), " counting…"));
      this.dock();
      return;
    }
    const step = lesson?.steps[p.step];
    const total = p.done.length + p.waiting.length;
    const head = `Step ${p.step + 1}` + (lesson ? ` of ${lesson.steps.length}` : "") + `: ${doneCount(p.done.length, total)}`;
    const cannot = step && !step.action?.notice
      ? (step.action ? "The page cannot notice this step's action: move on when the class is ready." : "This step asks for nothing: move on when the class is ready.")
      : null;
    const names = (list, kind) => list.length ? h("ul", { class: `lp-names ${kind}` }, list.map((name) => h("li", null, name))) : h("span", { class: "muted" }, "nobody");
    fill(this.block,
      h("h4", null, "Lesson: ", lesson ? lesson.title : p.id),
      h("p", { class: "lp-head" }, head),
      cannot && h("p", { class: "note" }, cannot),
      h("div", { class: "lp-row" }, h("span", { class: "lp-label done" }, "Done"), names(p.done, "done")),
      h("div", { class: "lp-row" }, h("span", { class: "lp-label waiting" }, "Waiting"), names(p.waiting, "waiting")),
      total === 0 && h("p", { class: "note" }, "No student in the room yet."),
      total > 0 && !cannot && h("p", { class: "note" }, "A student is done when their page noticed the action on their own copy (after they fork)."));
    fill(this.strip,
      h("p", { class: "lp-head" }, h("span", { class: "lc-label" }, "Your class"), " ", doneCount(p.done.length, total)),
      p.done.length ? h("ul", { class: "lp-names done" }, p.done.map((name) => h("li", null, name))) : null,
      p.waiting.length ? h("ul", { class: "lp-names waiting" }, p.waiting.map((name) => h("li", null, name))) : null);
    this.dock();
  }

  /** The card builds its own content once; the strip sits at its end while a lesson runs in the room. */
  dock() {
    if (this.card && this.strip.parentElement !== this.card) this.card.append(this.strip);
  }
}
