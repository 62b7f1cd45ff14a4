// Import a model from the page: a file picker, or an exported model JSON
// dropped anywhere on the page. The file goes as it is to the HTTP API
// (PUT /api/sessions/{id}/model, through http.js with the teacher key), so the
// page gets exactly the server's validation; its error is shown as text.
import { h, fill } from "../dom.js";
import { int } from "../format.js";

/** What the server's error body says, in one line: its message and what is allowed. */
export function serverError(body, status) {
  if (!body || typeof body.message !== "string") return `The server refused the model (HTTP ${status}).`;
  return body.allowed ? `${body.message}. Allowed: ${body.allowed}.` : `${body.message}.`;
}

export class ImportModel {
  /**
   * root: an element to fill; ctx: {http: the page's Http, sessionId(): the session shown or null,
   * dropZone: the element a file may be dropped on (the whole page)}.
   */
  constructor(root, { http, sessionId, dropZone }) {
    Object.assign(this, { root, http, sessionId });
    this.busy = false;
    this.file = h("input", { id: "im-file", type: "file", accept: ".json,application/json", "aria-describedby": "im-err im-status" });
    this.err = h("p", { id: "im-err", class: "fit-err im-err", role: "alert" });
    this.status = h("p", { id: "im-status", class: "note", role: "status" });
    fill(root,
      h("h3", { id: "h-im" }, "Import a model"),
      h("p", { class: "note" }, "A model JSON exported by Paramlab (the Model JSON button) replaces this network's weights: pick the file, or drop it anywhere on the page."),
      h("div", { class: "fit-field" }, h("label", { for: "im-file" }, "Model file"), this.file),
      this.err, this.status);
    this.file.addEventListener("change", () => { if (this.file.files[0]) this.send(this.file.files[0]); });
    this.bindDrop(dropZone);
  }

  /** A file dragged over the page: the page shows where it goes; dropped, it is imported. */
  bindDrop(zone) {
    const hasFile = (ev) => [...(ev.dataTransfer?.types ?? [])].includes("Files");
    let depth = 0;
    zone.addEventListener("dragenter", (ev) => { if (!hasFile(ev)) return; depth++; document.documentElement.classList.add("im-dragging"); });
    zone.addEventListener("dragleave", () => { if (depth > 0 && --depth === 0) document.documentElement.classList.remove("im-dragging"); });
    zone.addEventListener("dragover", (ev) => { if (hasFile(ev)) { ev.preventDefault(); ev.dataTransfer.dropEffect = "copy"; } });
    zone.addEventListener("drop", (ev) => {
      if (!hasFile(ev)) return;
      ev.preventDefault();
      depth = 0; document.documentElement.classList.remove("im-dragging");
      // A CSV dropped on the data panel is its own business (uploads): only a JSON file is a model.
      const f = [...ev.dataTransfer.files].find((x) => /\.json$/i.test(x.name) || x.type === "application/json");
      if (f) { this.send(f); this.root.scrollIntoView({ block: "nearest" }); }
      else this.show(`${ev.dataTransfer.files[0]?.name ?? "That"} is not a model file: drop a .json file exported by Paramlab.`, "");
    });
  }

  show(error, status) { this.err.textContent = error; this.status.textContent = status; }

  /** Send the file to the server; its answer (or its error) is shown. */
  async send(file) {
    const id = this.sessionId();
    if (!id) { this.show("This page shows a session it does not own (a room it follows): fork it first to import a model.", ""); return; }
    if (this.busy) return;
    this.busy = true;
    this.show("", `Importing ${file.name} (${int(file.size)} bytes)…`);
    let reply, body = null;
    try {
      reply = await this.http.request(`/api/sessions/${encodeURIComponent(id)}/model`,
        { method: "PUT", headers: { "Content-Type": "application/json" }, body: await file.text() });
      body = await reply.json().catch(() => null);
    } catch {
      this.show(`${file.name} was not imported: the server did not answer.`, "");
      return;
    } finally {
      this.busy = false;
      this.file.value = "";   // the same file picked again is a new change
    }
    if (!reply.ok) { this.show(`${file.name}: ${serverError(body, reply.status)}`, ""); return; }
    this.show("", `Imported ${file.name}: the network now has its weights (step ${int(body?.step ?? 0)}).`);
  }
}
