// The Save run card of the classroom panel: anyone saves the run under a name
// and gets a link that opens a copy of it. Draws from the RoomStore (the
// session shown, the server's `saved` answer) and asks through it.
//
// The name it proposes is the run's dataset and learning rate as they are now
// (a lesson step, a slider, the teacher followed change them). It is the name
// field's placeholder, so a name the user typed is never overwritten and the
// proposal stays text.
import { fmt } from "../format.js";

export class SaveCard {
  /** card: the .cl-save form; store: the RoomStore. */
  constructor(card, store) {
    Object.assign(this, { card, store });
    const q = (s) => card.querySelector(s);
    this.name = q("#save-name"); this.link = q("#save-link"); this.saved = q(".cl-saved");
    this.copied = q(".cl-copied"); this.err = q(".cl-err");
    card.addEventListener("submit", (ev) => { ev.preventDefault(); this.save(); });
    q("#save-copy").addEventListener("click", () => this.copy());
    store.addEventListener("change", ({ detail }) => {
      if (detail.kind === "saved") this.onSaved(detail.msg);
      else if (detail.kind === "error" && detail.place === "save") this.err.textContent = detail.text;
      this.propose();
    });
  }

  /** The placeholder: the dataset and learning rate shown now. */
  propose() {
    const session = this.store.session, lr = this.store.hyper?.lr;
    if (!session || lr === undefined) return;
    const name = `${session.config.dataset}, lr ${fmt(lr)}`;
    if (this.name.placeholder !== name) this.name.placeholder = name;
  }

  save() {
    this.propose();
    const name = (this.name.value.trim() || this.name.placeholder).slice(0, 80);
    this.store.intent({ type: "save", name });
  }

  onSaved(msg) {
    this.link.value = location.origin + msg.link;
    this.copied.textContent = `Saved “${msg.name}”. Anyone with the link opens a copy of it.`;
    this.saved.hidden = false;
    this.err.textContent = "";
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.link.value);
      this.copied.textContent = "Link copied.";
    } catch {
      this.link.select();   // plain http on another host has no clipboard API: the old way
      this.copied.textContent = document.execCommand("copy") ? "Link copied." : "Select the link and copy it (Ctrl+C).";
    }
  }
}
