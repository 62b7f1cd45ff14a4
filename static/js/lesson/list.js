// The list of lessons behind the top bar's "Lessons" button: the built-in ones
// (title, summary, ideas, number of steps; GET /api/lessons) and "Open a lesson
// file...", which uploads a teacher's own file (POST /api/lessons) and shows
// its share link with a Copy button. A refused file's error (line, field, what
// is allowed) is shown as text. Choosing a lesson goes up as "open" {id}.
import { h, fill } from "../dom.js";

export class LessonList extends EventTarget {
  /** root: the list's (empty) element; toggle: the top bar's button; request(path, init): http.js's fetch. */
  constructor(root, toggle, request) {
    super();
    Object.assign(this, { root, toggle, request });
    this.catalog = null;   // GET /api/lessons, once loaded
    this.items = h("ul", { class: "ll-items" });
    this.file = h("input", { type: "file", accept: ".yaml,.yml,.txt,text/yaml,text/plain", hidden: true, "aria-label": "Lesson file" });
    this.file.addEventListener("change", () => { const f = this.file.files[0]; this.file.value = ""; if (f) this.upload(f); });
    this.error = h("p", { class: "ll-err", role: "alert" });
    this.link = h("input", { type: "text", readonly: true, class: "ll-link", "aria-label": "Link to this lesson" });
    this.copied = h("span", { class: "note ll-copied", role: "status" });
    this.shared = h("div", { class: "ll-shared", hidden: true },
      h("label", { class: "cl-field" }, "Share this lesson: the link opens it on this server"),
      h("div", { class: "row" }, this.link, h("button", { type: "button", class: "ll-copy", onclick: () => this.copy() }, "Copy link"), this.copied));
    fill(root,
      h("div", { class: "ll-head" }, h("h2", { id: "h-lessons" }, "Lessons"),
        h("button", { type: "button", class: "ll-hide", onclick: () => this.close() }, "Close")),
      h("p", { class: "note" }, "A lesson walks the class through one idea, one step at a time. Open one to start at its first step."),
      this.items,
      h("div", { class: "ll-own" },
        h("button", { type: "button", class: "ll-upload", onclick: () => this.file.click() }, "Open a lesson file…"),
        h("span", { class: "note" }, "your own lesson, written as docs/lessons.md describes"), this.file),
      this.error, this.shared);
    root.setAttribute("aria-labelledby", "h-lessons");
    toggle.addEventListener("click", () => (root.hidden ? this.open() : this.close()));
  }

  get isOpen() { return !this.root.hidden; }

  async open() {
    this.root.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    if (!this.catalog) await this.load();
    this.root.querySelector(".ll-open, .ll-upload")?.focus({ preventScroll: true });
  }

  close() {
    if (this.root.hidden) return;
    this.root.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    this.toggle.focus({ preventScroll: true });
  }

  /** GET /api/lessons; the names of the ideas come with it. */
  async load() {
    fill(this.items, h("li", { class: "note" }, "Loading the lessons…"));
    let body = null;
    try {
      const reply = await this.request("/api/lessons");
      body = reply.ok ? await reply.json() : null;
    } catch { /* said below */ }
    if (!body) { fill(this.items, h("li", { class: "ll-err" }, "The server did not send its lessons. Try again in a moment.")); return; }
    this.catalog = body;
    const ideas = Object.fromEntries(body.vocabulary.ideas.map((i) => [i.name, i.title]));
    fill(this.items, body.lessons.length ? body.lessons.map((l) => h("li", { class: "ll-item" },
      h("div", { class: "ll-text" },
        h("h3", null, l.title),
        h("p", null, l.summary),
        h("p", { class: "ll-ideas" }, l.ideas.map((i) => h("span", { class: "chip idea" }, ideas[i] ?? i)),
          h("span", { class: "muted num" }, `${l.steps} step${l.steps === 1 ? "" : "s"}`))),
      h("button", { type: "button", class: "primary ll-open", "data-lesson": l.id, onclick: () => this.choose(l.id) }, "Open")))
      : h("li", { class: "note" }, "This server has no built-in lessons."));
  }

  choose(id) {
    this.dispatchEvent(new CustomEvent("open", { detail: { id } }));
    this.close();
  }

  /** Upload a lesson file; on success show its link and open it, else say why (line and field) as text. */
  async upload(file) {
    this.error.textContent = "";
    this.shared.hidden = true;
    let reply, body = null;
    try {
      const text = await file.text();
      reply = await this.request("/api/lessons", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }) });
      body = await reply.json().catch(() => null);
    } catch {
      this.error.textContent = `${file.name} was not opened: the server did not answer.`;
      return;
    }
    if (!reply.ok || !body?.id) {
      const where = body?.field && !String(body.message || "").includes(body.field) ? ` (field ${body.field})` : "";
      this.error.textContent = `${file.name} was not opened: ${body?.message ?? reply.statusText}${where}`;
      return;
    }
    this.link.value = new URL(body.link, location.href).href;
    this.copied.textContent = "";
    this.shared.hidden = false;
    this.dispatchEvent(new CustomEvent("open", { detail: { id: body.id } }));
  }

  async copy() {
    this.link.select();
    try { await navigator.clipboard.writeText(this.link.value); this.copied.textContent = "Copied."; } catch {
      this.copied.textContent = "Select the link and copy it (the browser did not allow the page to).";
    }
  }
}
