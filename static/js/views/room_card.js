// The teacher's room card: the code, the join link and its QR code (big enough
// for a projector), a new code when the old one got out, and closing the room
// (asked twice: it ends the class for everyone). Part of the classroom panel:
// ClassroomView hands it the room and receives its intents.
//
// The link is built on an address students' devices can open, as the server
// lists them (GET /api/reach: its public URL, else the machine's network
// addresses, best first; a select offers the others), never on the address
// this page was opened on: on a projector that is often 127.0.0.1. A server
// that listens on loopback only gets no link and no QR code, but the advice of
// what to run instead; the code still works for students on this computer.
import { drawQR } from "../qr.js";
import { h, fill } from "../dom.js";
import { studentReach } from "../http.js";

export class RoomCard {
  /** root: the .cl-room card; intent(msg): what the teacher asks the server; loadReach(): resolves to GET /api/reach. */
  constructor(root, intent, loadReach = studentReach) {
    Object.assign(this, { root, intent, loadReach });
    this.qr = null; this.room = null; this.reach = null; this.asking = null; this.base = null;
    const q = (s) => root.querySelector(s);
    this.canvas = q("#room-qr"); this.confirm = q(".cl-confirm"); this.err = q(".cl-err");
    this.linkLine = q(".room-link");
    this.baseSelect = h("select", { id: "room-base", onchange: () => { this.base = this.baseSelect.value; this.draw(); } });
    this.baseField = h("p", { class: "room-base", hidden: true },
      h("label", { for: "room-base" }, "Address for students"), this.baseSelect);
    this.advice = h("p", { class: "room-advice", role: "note", hidden: true });
    this.linkLine.after(this.baseField, this.advice);
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
    this.room = room;
    if (!this.reach) this.askReach();
    this.draw();
    const until = new Date(room.expires_at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    this.root.querySelector(".room-expires").textContent = `Open until ${until}. Students need no account: the code and a name.`;
  }

  /** Ask the server once where students reach it (again on the next render if it did not say). */
  askReach() {
    this.asking ??= this.loadReach().then(
      (reach) => { this.reach = reach; },
      (err) => { this.reach = null; this.advice.textContent = err.message; this.advice.hidden = false; },
    ).finally(() => { this.asking = null; this.draw(); });
  }

  /** Code, and the link and QR code on the chosen base URL, or the advice when there is none. */
  draw() {
    const room = this.room;
    if (!room) return;
    const [head, tail] = this.root.querySelectorAll("#room-code span");   // two halves, easier to read out
    head.textContent = room.code.slice(0, 3); tail.textContent = room.code.slice(3);
    const urls = this.reach?.urls ?? [];
    if (!urls.includes(this.base)) this.base = urls[0] ?? null;
    this.drawChoices(urls);
    const link = this.base === null ? null : this.base + room.link;
    this.linkLine.hidden = this.canvas.hidden = link === null;
    if (this.reach) {
      this.advice.hidden = link !== null;
      this.advice.textContent = link === null ? this.reach.advice ?? "" : "";
    }
    if (link === null) { this.qr = null; return; }
    if (this.qr?.text !== link) {
      const a = this.root.querySelector("#room-link");
      a.href = link; a.textContent = link;
      this.qr = drawQR(this.canvas, link);
      this.canvas.setAttribute("aria-label", `QR code of the join link ${link}`);
    }
  }

  /** The select of base URLs, when there is more than one to choose from. */
  drawChoices(urls) {
    this.baseField.hidden = urls.length < 2;
    const shown = [...this.baseSelect.options].map((o) => o.value);
    if (shown.join("\n") !== urls.join("\n")) fill(this.baseSelect, urls.map((u) => h("option", { value: u }, u)));
    if (this.base !== null) this.baseSelect.value = this.base;
  }

  /** The room is gone: nothing of it stays on the card (where students reach the server does). */
  reset() {
    this.confirm.hidden = true;
    this.closeButton.setAttribute("aria-expanded", "false");
    this.error("");
    this.qr = null; this.room = null;
  }
}
