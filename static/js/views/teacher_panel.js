// The teacher's cards of the classroom panel: Teach (open a room around this
// session), the room's code, link and QR code (room_card.js), the class at a
// glance (connected, following, forked, and a gallery of the losses students
// chose to share), and Push: a hyperparameter set in every forked student's own
// session. The markup is in the page (templates/index.html); this fills it with
// text, draws from the RoomStore and asks through it.
import { fmt, exact, int } from "../format.js";
import { h, fill } from "../dom.js";
import { RoomCard } from "./room_card.js";
import { sentence } from "./room_store.js";

export class TeacherPanel {
  /** panel: the #classroom section; store: the RoomStore; props: the State's property table (what may be pushed). */
  constructor(panel, store, props) {
    Object.assign(this, { panel, store });
    this.props = Object.fromEntries(props.map((p) => [p.name, p]));
    const q = (s) => panel.querySelector(s);
    this.cards = { teach: q(".cl-teach"), room: q(".cl-room"), klass: q(".cl-class"), push: q(".cl-push") };
    this.roomCard = new RoomCard(this.cards.room, (msg) => store.intent(msg));
    this.galleryRow = document.getElementById("gallery-row").content.firstElementChild;
    this.openButton = q("#room-open");
    this.openButton.addEventListener("click", () => store.intent({ type: "room_create", share_gallery: q("#room-gallery").checked }));
    this.cards.push.addEventListener("submit", (ev) => { ev.preventDefault(); this.push(); });
    q("#push-field").addEventListener("change", () => this.pushDefaults());
    store.addEventListener("change", ({ detail }) => this.onChange(detail));
    this.render();
  }

  /** The QR code drawn for the room's join link ({text, moduleCount, cell, quiet}), or null. */
  get qr() { return this.roomCard.qr; }

  onChange({ kind, msg, place, text, teacher }) {
    if (kind === "room" && msg.role === "teacher") this.setTeachStatus("");
    else if (kind === "status") this.renderClass();
    else if (kind === "session") this.pushDefaults();
    else if (kind === "closed") {
      this.roomCard.reset();
      if (teacher) this.setTeachStatus(`${sentence(msg.text)} Its code no longer works; the session is yours alone again.`);
    } else if (kind === "error") {
      if (place === "teach") this.cards.teach.querySelector(".cl-err").textContent = text;
      else if (place === "room") this.roomCard.error(text);
      else if (place === "push") this.cards.push.querySelector(".cl-err").textContent = text;
    }
    this.render();
    if (kind === "closed" && teacher) {
      // The way to open a room again, unless the teacher is busy elsewhere on the page.
      const focus = document.activeElement;
      if (!this.panel.hidden && (!focus || focus === document.body || this.panel.contains(focus))) this.openButton.focus();
    }
  }

  setTeachStatus(text) {
    this.cards.teach.querySelector(".cl-teach-status").textContent = text;
    this.cards.teach.querySelector(".cl-err").textContent = "";
  }

  render() {
    const r = this.store.room, teacher = r?.role === "teacher", c = this.cards;
    c.teach.hidden = !!r;
    c.room.hidden = c.klass.hidden = c.push.hidden = !teacher;
    c.room.parentElement.classList.toggle("teaching", teacher);
    if (teacher) this.roomCard.render(r);
  }

  renderClass() {
    const s = this.store.status;
    if (!s) return;
    for (const k of ["students", "following", "forked"]) this.panel.querySelector(`#count-${k}`).textContent = int(s[k]);
    const table = this.panel.querySelector(".cl-gallery"), note = this.panel.querySelector(".cl-gallery-note");
    const rows = s.gallery || [];
    fill(table.tBodies[0], rows.map((g, i) => this.galleryLine(g, i)));
    table.closest(".scroll").hidden = !rows.length;
    note.textContent = s.gallery === null ? "The gallery is off for this room."
      : rows.length ? "" : "No shared losses yet: a student who ticked “Share my loss with the class” appears here once they fork.";
  }

  /** One row of the gallery (the page's row template), best first: rank, name, losses, lr, momentum, step. */
  galleryLine(g, i) {
    const tr = this.galleryRow.cloneNode(true), td = tr.cells;
    tr.classList.toggle("best", i === 0);
    td[0].textContent = String(i + 1);
    td[1].textContent = g.name;
    [g.test_loss, g.train_loss, g.hyper.lr, g.hyper.momentum].forEach((x, k) => {
      const span = td[2 + k].firstElementChild;
      span.textContent = fmt(x, 4); span.title = exact(x);
    });
    td[6].textContent = int(g.step);
    return tr;
  }

  /** The field chosen to push, its label on the page, and its property (type, range or values). */
  pushField() {
    const select = this.cards.push.querySelector("#push-field");
    return { field: select.value, label: select.selectedOptions[0]?.textContent ?? select.value, p: this.props[select.value] };
  }

  push() {
    const f = this.cards.push, err = f.querySelector(".cl-err"), { field, label, p } = this.pushField();
    let value;
    if (p.type === "enum") value = f.querySelector("#push-choice").value;
    else {
      const text = f.querySelector("#push-value").value.trim();
      value = Number(text);
      const ok = text !== "" && Number.isFinite(value) && value >= p.min && value <= p.max && (p.type !== "int" || Number.isInteger(value));
      if (!ok) { err.textContent = `${label}: type ${p.type === "int" ? "a whole number" : "a number"} from ${p.min} to ${p.max}.`; return; }
    }
    err.textContent = "";
    this.store.intent({ type: "room_push", hyper: { [field]: value } });
  }

  /** The value control fits the hyperparameter, filled with the value the session has now. */
  pushDefaults() {
    const f = this.cards.push, { field, p } = this.pushField();
    const isEnum = p.type === "enum";
    f.querySelectorAll(".push-num").forEach((e) => (e.hidden = isEnum));
    f.querySelectorAll(".push-enum").forEach((e) => (e.hidden = !isEnum));
    const now = this.store.hyper?.[field];
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
}
