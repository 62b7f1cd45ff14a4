// The classroom panel. A teacher opens a room around their session and gets a
// short code, the join link and its QR code (big enough for a projector);
// students join with the code and follow the teacher's session read-only, fork
// it into a copy of their own, and come back. Anyone saves a run and shares its
// link. The parts, each drawing from one RoomStore (room_store.js):
// the teacher's cards (teacher_panel.js), the student's (join_card.js), the
// banner a student sees (student_banner.js), the save card (save_card.js), and
// a lesson run in the room (room_lesson.js: the teacher's step is every student's).
// This module is the panel itself: opened and put away, the room chip in the
// top bar, and the notices the server sends (a toast).
import { int } from "../format.js";
import { TeacherPanel } from "./teacher_panel.js";
import { JoinCard } from "./join_card.js";
import { StudentBanner } from "./student_banner.js";
import { SaveCard } from "./save_card.js";
import { RoomLessonSync, LessonProgress } from "./room_lesson.js";

const plural = (n, word) => `${int(n)} ${word}${n === 1 ? "" : "s"}`;

export class ClassroomView {
  /** root: the panel; store: the RoomStore; props: the State's property table; parts: {toggle, chip, banner, toast}. */
  constructor(root, store, props, parts) {
    Object.assign(this, { root, store, ...parts });
    this.teacher = new TeacherPanel(root, store, props);
    this.joinCard = new JoinCard(root, store);
    this.studentBanner = new StudentBanner(this.banner, store);
    this.saveCard = new SaveCard(root.querySelector(".cl-save"), store);
    this.roomLesson = new RoomLessonSync(store);
    this.lessonProgress = new LessonProgress(root, document.getElementById("lesson-card"), store);
    this.toggle.addEventListener("click", () => this.show(root.hidden));
    root.querySelector(".cl-hide").addEventListener("click", () => { this.show(false); this.toggle.focus(); });
    store.addEventListener("change", ({ detail }) => this.onChange(detail));
    this.renderChip();
    if (store.urlRoom && !store.joined) { this.joinCard.prompt(store.urlRoom); this.show(true); }
  }

  show(on) {
    this.root.hidden = !on;
    this.toggle.setAttribute("aria-expanded", String(on));
  }

  onChange({ kind, msg, before, joined, place }) {
    if (kind === "room") {
      if (msg.role === "teacher" && !before) this.show(true);   // a teacher's reload: the code is back on screen
      if (joined) this.show(false);                            // a student is in: the banner takes over
    } else if (kind === "error" && place === "join") {
      this.show(true);
    } else if (kind === "notice") {
      this.toastText(msg.text);
    }
    this.renderChip();
  }

  renderChip() {
    const r = this.store.room;
    this.chip.hidden = !r;
    if (!r) return;
    const n = this.store.status?.students, lesson = this.lessonProgress.progress;
    this.chip.textContent = `Room ${r.code}` + (r.role === "teacher" && n !== undefined ? ` · ${plural(n, "student")}` : "")
      + (lesson ? ` · step ${lesson.step + 1}: ${lesson.done.length} of ${lesson.done.length + lesson.waiting.length} done` : "");
  }

  toastText(text) {
    this.toast.textContent = text;
    this.toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (this.toast.hidden = true), 8000);
  }
}
