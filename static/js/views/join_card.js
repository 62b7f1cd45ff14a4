// A student's cards of the classroom panel: Join a room (code, name, and
// whether to share their loss with the class), filled in from a join link,
// and, once in, Your room with the way out. Draws from the RoomStore.
import { normCode } from "./room_store.js";

export class JoinCard {
  /** panel: the #classroom section; store: the RoomStore. */
  constructor(panel, store) {
    Object.assign(this, { panel, store });
    const q = (s) => panel.querySelector(s);
    this.form = q(".cl-join"); this.student = q(".cl-student");
    this.code = q("#join-code"); this.name = q("#join-name"); this.share = q("#join-share");
    this.err = this.form.querySelector(".cl-err");
    this.form.addEventListener("submit", (ev) => { ev.preventDefault(); this.join(); });
    q("#room-leave").addEventListener("click", () => store.leave());
    store.addEventListener("change", ({ detail }) => {
      if (detail.kind === "error" && detail.place === "join") this.err.textContent = detail.text;
      this.render();
    });
    this.render();
  }

  /** A join link (/?room=CODE): the code is filled in, the name is asked for. */
  prompt(code) {
    this.code.value = normCode(code);
    requestAnimationFrame(() => this.name.focus());
  }

  join() {
    const code = normCode(this.code.value), name = this.name.value.trim();
    if (code.length < 4) { this.err.textContent = "Type the room code shown by your teacher (6 letters and digits)."; this.code.focus(); return; }
    if (!name) { this.err.textContent = "Type your name: your teacher sees it if you share your loss."; this.name.focus(); return; }
    this.err.textContent = "";
    this.store.join(code, name, this.share.checked);
  }

  render() {
    const r = this.store.room, student = r?.role === "student";
    this.form.hidden = !!r;
    this.student.hidden = !student;
    if (student) {
      const j = this.store.joined;
      this.student.querySelector(".cl-student-text").textContent = `You are in room ${r.code} as ${j?.name ?? "a student"}` +
        (j?.share ? ", sharing your loss with the class." : ".");
    }
  }
}
