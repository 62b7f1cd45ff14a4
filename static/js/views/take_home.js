// "Take it home as code": the session as a self-contained Python script that
// rebuilds the network with its current weights, the data and the optimizer's
// state and continues the run (GET /api/sessions/{id}/code.py?lang=numpy|torch).
// Plain download links, as the Model JSON and History CSV ones: the page's
// session cookie carries the teacher key where the session is a room's.
import { h, fill } from "../dom.js";

const LANGS = [["numpy", "NumPy script", "needs only NumPy"], ["torch", "PyTorch script", "needs PyTorch"]];

/** The address of a session's script in one language (the same base as http.js downloadLinks). */
export function codeLink(sessionId, lang) {
  return `/api/sessions/${encodeURIComponent(sessionId)}/code.py?lang=${encodeURIComponent(lang)}`;
}

export class TakeHome {
  constructor(root) {
    this.root = root;
    this.links = LANGS.map(([lang, text, note]) => ({
      lang, el: h("a", { class: "button th-link", id: `code-${lang}`, dataset: { lang } }, text, h("span", { class: "muted" }, ` (${note})`)),
    }));
    this.note = h("p", { class: "note th-note" });
    fill(root,
      h("h3", { id: "h-take-home" }, "Take it home as code"),
      h("p", { class: "note" }, "Download this network as a Python script: its weights as they are now, the training data, the optimizer's state and the rest of the epoch, so the run continues exactly in a notebook."),
      h("div", { class: "row" }, this.links.map((l) => l.el)),
      this.note);
  }

  /** A session: the links follow it (a follower's page does not learn the teacher's session id). */
  setSession(msg) {
    const id = msg.session_id;
    for (const { lang, el } of this.links) {
      if (id) { el.href = codeLink(id, lang); el.setAttribute("download", `paramlab_${id}_${lang}.py`); el.removeAttribute("aria-disabled"); }
      else { el.removeAttribute("href"); el.removeAttribute("download"); el.setAttribute("aria-disabled", "true"); }
    }
    this.note.textContent = id ? "" : "Following someone else's session: its code is theirs to download.";
  }
}
