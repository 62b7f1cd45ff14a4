// The teacher's room card: the code, the join link and its QR code (big enough
// for a projector), a new code when the old one got out, and closing the room
// (asked twice: it ends the class for everyone). Part of the classroom panel:
// ClassroomView hands it the room and receives its intents.
import { drawQR } from "../qr.js";

export class RoomCard {
  /** root: the .cl-room card; intent(msg): what the teacher asks the server. */
  constructor(root, intent) {
    this.root = root; this.intent = intent; this.qr = null;
    const q = (s) => root.querySelector(s);
    this.canvas = q("#room-qr"); this.confirm = q(".cl-confirm"); this.err = q(".cl-err");
    this.closeButton = q("#room-close");
    q("#room-new-code").addEventListener("click", () => { this.error(""); this.intent({ type: "room_new_code" }); });
    this.closeButton.addEventListener("click", () => this.ask(true));
    q("#room-close-no").addEventListener("click", () => this.ask(false));
    q("#room-close-yes").addEventListener("click", () => { this.ask(false, false); this.intent({ type: "room_close" }); });
    this.confirm.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { ev.preventDefault(); this.ask(false); } });
  }

  /** Show (or put away) the confirmation; the focus goes to its safe answer, and back. */
  ask(on, refocus = true) {
    this.confirm.hidden = !on;
    this.closeButton.setAttribute("aria-expanded", String(on));
    this.error("");
    if (on) this.confirm.querySelector("#room-close-no").focus();
    else if (refocus) this.closeButton.focus();
  }

  error(text) { this.err.textContent = text; }

  /** The room as the server last described it (a new code redraws code, link and QR). */
  render(room) {
    const link = location.origin + room.link;
    if (this.qr?.text !== link) {
      const [head, tail] = this.root.querySelectorAll("#room-code span");   // two halves, easier to read out
      head.textContent = room.code.slice(0, 3); tail.textContent = room.code.slice(3);
      const a = this.root.querySelector("#room-link");
      a.href = link; a.textContent = link;
      this.qr = drawQR(this.canvas, link);
      this.canvas.setAttribute("aria-label", `QR code of the join link ${link}`);
    }
    const until = new Date(room.expires_at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    this.root.querySelector(".room-expires").textContent = `Open until ${until}. Students need no account: the code and a name.`;
  }

  /** The room is gone: nothing of it stays on the card. */
  reset() {
    this.confirm.hidden = true;
    this.closeButton.setAttribute("aria-expanded", "false");
    this.error("");
    this.qr = null;
  }
}
