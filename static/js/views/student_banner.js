// A student's banner under the top bar: following the teacher (read-only, with
// the way to fork), working on their own copy (with the way back), or the room
// closed (in the server's words, until dismissed); during the room's lesson, that
// the teacher moves its steps. Draws from the RoomStore.

export class StudentBanner {
  /** banner: the #banner-room element; store: the RoomStore. */
  constructor(banner, store) {
    Object.assign(this, { banner, store });
    const q = (s) => banner.querySelector(s);
    this.fork = q("#room-fork"); this.back = q("#room-back"); this.dismiss = q("#room-dismiss");
    this.mode = q(".room-mode"); this.note = q(".room-note");
    this.fork.addEventListener("click", () => store.intent({ type: "fork" }));
    this.back.addEventListener("click", () => store.intent({ type: "follow" }));
    this.dismiss.addEventListener("click", () => store.dismissClosed());
    store.addEventListener("change", () => this.render());
    this.render();
  }

  render() {
    const r = this.store.room, student = r?.role === "student";
    const closed = !r && this.store.closedText !== null, follow = student && r.mode === "follow";
    const b = this.banner;
    b.hidden = !student && !closed;
    b.classList.toggle("closed", closed);
    b.classList.toggle("forked", student && !follow);
    this.fork.hidden = !follow;
    this.back.hidden = !student || follow;
    this.dismiss.hidden = !closed;
    if (closed) {
      this.mode.textContent = "Room closed";
      this.note.textContent = this.store.closedText;
    } else if (student) {
      this.mode.textContent = follow ? "Following the teacher — read-only" : "Your own copy";
      this.note.textContent = follow
        ? `Room ${r.code}: you see the teacher's network live.`
        : `Room ${r.code}: experiment freely, the teacher's session is untouched.`;
      if (this.store.lesson) {
        this.note.textContent += follow ? ` Lesson step ${this.store.lesson.step + 1}: your teacher moves the steps; fork to do it yourself.`
          : ` Lesson step ${this.store.lesson.step + 1}: do it on your copy; your teacher sees when you have.`;
      }
    }
  }
}
