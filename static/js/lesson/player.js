// The lesson player: opens a lesson (GET /api/lessons/{id}), shows its steps
// one at a time on the card, applies each step's setup to this tab's session,
// and notices when the class did what the step asks.
//
// The interface others use (the room sync, tests through window.paramlab.lesson):
//   import { lessonPlayer } from "./lesson/player.js";
//   lessonPlayer.open(id, step = 0, {follower = false, steered = follower, by = "user"})  -> Promise<bool>
//   lessonPlayer.goto(step, by = "user");  lessonPlayer.close();
//   lessonPlayer.current()  -> {id, step, noticed, lesson} or null
// `step` counts from 0 everywhere in JS (steps.0 is the first, as in a lesson's error messages); only the
// URL (?lesson=<id>&step=<k>) and the card count from 1.
// {follower: true}: this tab shows a session it does not drive (a room's follower): no setup is sent and the
// notice is not checked; the card, panels, locks and highlight show. {steered: true} (the default for a
// follower): another tab moves the steps (Back, Next and the step keys are off). open() of the lesson and
// step already shown changes only these two (a student who forks keeps the step; nothing is sent again).
// Opened at a step (a link, a room, the interface), the page gets the setups of the steps up to it, merged
// (setup.js setupAt), so a link to step 3 shows what steps 1 and 2 set up too; Next and Back send only the
// step's own setup.
// Document events: "lesson:step" {id, step, by: "user" | "link" | "room"} whenever the step changes (or a
// lesson opens), "lesson:noticed" {id, step, values} when the action is noticed (values: every condition
// name's value on the frame that noticed it), "lesson:close" {id} when it closes.
//
// Noticing: `event` is noticed when this page sends a message of that type because its user acted after the
// step was applied (the socket's send is watched; the setup's own messages do not count); `when` on the
// first frame after that (or after the setup took effect) on which the condition holds, read from the frame
// and the newest session message. A step's setup takes effect once the server answered its configure
// with a session and a frame shows its hyperparameters: frames from before do not count; nor do frames
// between a user's configure (reset, rollback, fine-tuning) and the session that answers it.
import { compile, fillParts, valuesFrom } from "./conditions.js";
import { LessonCard } from "./card.js";
import { LessonList } from "./list.js";
import { StepDecor, setupAt, setupMessages } from "./setup.js";

// An event notice with no condition, when no frame follows the event (a paused session after Measure or Run).
const EVENT_WITHOUT_FRAME_MS = 1000;

const TYPING = ["INPUT", "SELECT", "TEXTAREA"];
// Messages the server answers with a new session: frames sent before that session describe the old run.
const NEW_SESSION = new Set(["configure", "reset", "rollback", "fine_tune"]);

class LessonPlayer {
  constructor() {
    this.lesson = null; this.step = 0; this.noticed = null;
    this.follower = false; this.steered = false;
    this.session = null;    // the newest session message
    this.watch = null;      // what the step waits for (see arm)
    this.ownSend = false;   // true while the player sends a setup message (not the user's act)
    this.opening = 0;       // counts open() calls: an older one's answer is dropped
  }

  /**
   * Wire the player into the page (main.js, once). deps: socket (the page's Socket), send(msg) (a setup
   * message through the page's own paths, so its state and sliders follow), setStepUnit(unit),
   * request(path, init) (http.js), readOnly() (a follower's page), unlocked() (views may restore their
   * own limits once the lesson's locks are off), error(message) (the page's error banner), frame() (the
   * newest frame drawn), state (the page's State), and the elements: card, list, toggle (the top bar's
   * Lessons button).
   */
  mount(deps) {
    this.deps = deps;
    this.card = new LessonCard(deps.card);
    this.list = new LessonList(deps.list, deps.toggle, deps.request);
    this.card.addEventListener("back", () => this.goto(this.step - 1));
    this.card.addEventListener("next", () => (this.step + 1 < this.lesson.steps.length ? this.goto(this.step + 1) : this.close()));
    this.card.addEventListener("close", () => this.close());
    this.card.addEventListener("reveal", () => this.reveal());
    this.card.addEventListener("locate", () => this.decor.locate());
    this.list.addEventListener("open", ({ detail }) => this.open(detail.id, 0));
    const { socket } = deps;
    const send = socket.send.bind(socket);
    socket.send = (msg) => { const ok = send(msg); if (ok && !this.ownSend) this.userSent(msg); return ok; };
    socket.addEventListener("session", ({ detail }) => this.sessionArrived(detail));
    socket.addEventListener("frame", ({ detail }) => this.frameArrived(detail));
    socket.addEventListener("dataset", () => { if (this.lesson) { this.decor.forget(); this.decor.relock(); } });
    socket.addEventListener("error", ({ detail }) => this.refused(detail));
    // Capture: before shortcuts.js, which then sees the key as taken (defaultPrevented).
    window.addEventListener("keydown", (ev) => this.key(ev), true);
    const params = new URLSearchParams(location.search);
    const id = params.get("lesson"), k = params.get("step") ?? "1";
    if (id !== null && id !== "") {
      const number = /^[1-9][0-9]{0,3}$/.test(k);
      if (!number) this.deps.error(`The link's step "${k.slice(0, 20)}" is not a step number (1, 2, 3, ...): the lesson opens at its first step.`);
      this.open(id, number ? Number(k) - 1 : 0, { by: "link" });
    }
  }

  current() {
    return this.lesson ? { id: this.lesson.id, step: this.step, noticed: !!this.noticed, lesson: this.lesson } : null;
  }

  /**
   * Open lesson `id` at `step` (an integer from 0; past the last step: a link's shows the last, with a word,
   * anyone else's is an error). Resolves true once shown, false when there is no such lesson (the page says so).
   */
  async open(id, step = 0, { follower = false, steered = follower, by = "user" } = {}) {
    if (typeof id !== "string" || !id) throw new TypeError(`a lesson id is a non-empty string (got ${JSON.stringify(id)})`);
    checkStep(step);
    const turn = ++this.opening;
    if (this.lesson?.id === id && step === this.step) {
      this.follower = follower; this.steered = steered;
      this.arm();
      this.draw();
      return true;
    }
    let lesson = this.lesson?.id === id ? this.lesson : null;
    if (!lesson) {
      const [doc, catalog] = await Promise.all([this.fetchLesson(id), this.vocabulary()]);
      if (turn !== this.opening) return false;
      if (!doc || !catalog) return false;
      lesson = doc;
      this.decor?.clear();
      this.decor = new StepDecor(catalog.vocabulary);
      this.names = Object.keys(catalog.vocabulary.variables);
    }
    const fresh = this.lesson !== lesson;
    this.lesson = lesson;
    this.follower = follower; this.steered = steered;
    this.goto(step, by, fresh);
    return true;
  }

  /** GET /api/lessons/{id}; null (and the page says why) when there is none. */
  async fetchLesson(id) {
    let reply, body = null;
    try {
      reply = await this.deps.request(`/api/lessons/${encodeURIComponent(id)}`);
      body = await reply.json().catch(() => null);
    } catch {
      this.deps.error(`The lesson ${id} was not opened: the server did not answer.`);
      return null;
    }
    if (!reply.ok || !body?.steps) {
      this.deps.error(reply.status === 404
        ? `There is no lesson "${id}" on this server${body?.message?.includes("uploaded") ? " (an uploaded lesson is kept for a while; upload its file again)" : ""}. The page works as usual; Lessons lists the built-in ones.`
        : `The lesson ${id} was not opened: ${body?.message ?? reply.statusText}.`);
      if (new URLSearchParams(location.search).get("lesson") === id) this.writeUrl(null);
      return null;
    }
    return body;
  }

  /** The vocabulary of lessons (panels, controls, variables), with the catalog (GET /api/lessons), once. */
  async vocabulary() {
    if (this.list.catalog) return this.list.catalog;
    await this.list.load();
    if (!this.list.catalog) this.deps.error("The server did not send its lessons' vocabulary: the lesson was not opened.");
    return this.list.catalog;
  }

  /**
   * Show step `step` (from 0), apply its setup (a tab that drives its own session), start watching its notice.
   * fresh: the lesson opens at this step, so the setups of the steps before it are applied too (merged).
   */
  goto(step, by = "user", fresh = false) {
    checkStep(step);
    if (!this.lesson) return;
    const n = this.lesson.steps.length;
    if (step >= n) {
      if (by !== "link") throw new RangeError(`lesson ${this.lesson.id} has steps 0 to ${n - 1} (got ${step})`);
      this.deps.error(`This lesson has ${n} step${n === 1 ? "" : "s"}: the link's step ${step + 1} is past its end, so here is the last.`);
    }
    this.step = Math.min(n - 1, step);
    this.noticed = null;
    if (this.decor.unlock()) this.deps.unlocked();
    // In its column beside the page (sticky), the card stays in sight while the page scrolls to the control; as a
    // strip at the top of the page (a phone, a narrower screen) it stays there ("Show me" scrolls).
    this.card.root.hidden = false;
    this.decor.show(this.lesson.steps, this.step, getComputedStyle(this.card.root).position === "sticky");
    this.applySetup(fresh);
    this.arm();
    this.draw();
    this.writeUrl(this.lesson.id, this.step);
    document.dispatchEvent(new CustomEvent("lesson:step", { detail: { id: this.lesson.id, step: this.step, by } }));
  }

  close() {
    if (!this.lesson) return;
    const id = this.lesson.id;
    this.lesson = null; this.watch = null; this.noticed = null;
    ++this.opening;
    if (this.decor?.clear()) this.deps.unlocked();
    this.card.hide();
    this.writeUrl(null);
    document.dispatchEvent(new CustomEvent("lesson:close", { detail: { id } }));
  }

  get drives() { return !this.follower && !this.deps.readOnly(); }

  /** The step's setup (with those before it: fresh), sent as the page's own messages (not the user's act). */
  applySetup(fresh = this.waitingForSession) {
    const steps = this.lesson.steps;
    const setup = fresh ? setupAt(steps, this.step) : steps[this.step].setup;
    this.pending = null;
    this.waitingForSession = false;
    if (!this.drives) return;
    if (!this.session) { this.waitingForSession = true; return; }   // a link's lesson: once the page has its session
    const msgs = setupMessages(setup, this.deps.state);
    this.pending = { session: false, hyper: null };
    this.ownSend = true;
    try {
      for (const msg of msgs) {
        if (!this.deps.send(msg)) continue;
        if (msg.type === "configure") this.pending.session = true;
        if (msg.type === "set_hyper") { const { type, ...fields } = msg; this.pending.hyper = fields; }
      }
    } finally { this.ownSend = false; }
    if (setup?.step_unit) this.deps.setStepUnit(setup.step_unit);
  }

  /** Start watching the step's notice (a tab that drives its own session only). */
  arm() {
    const notice = this.lesson?.steps[this.step].action?.notice;
    this.watch = null;
    if (!notice || this.follower || this.noticed) return;
    let test = null;
    try { test = notice.tree ? compile(notice.tree) : null; } catch (err) {
      this.deps.error(`This step's condition cannot be checked here: ${err.message}`);
      return;
    }
    this.watch = { event: notice.event, eventSeen: !notice.event, test };
  }

  /** A message this page sent (not a setup's): the event a step may wait for. */
  userSent(msg) {
    const w = this.watch;
    if (!w) return;
    if (msg.type === "set_hyper" && this.pending) this.pending.hyper = null;   // the user's change wins
    if (NEW_SESSION.has(msg.type)) this.pending = { hyper: null, ...this.pending, session: true };
    if (msg.type !== w.event) return;
    w.eventSeen = true;
    // An event alone is noticed on the next frame, which shows what it did; a paused session sends none
    // after a Measure or a Run, so the newest frame is taken once none has come for a while.
    if (w.test) return;
    clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(() => {
      const frame = this.deps.frame?.();
      if (this.watch === w && !this.pending && !this.noticed && !this.waitingForSession && frame) this.notice(frame);
    }, EVENT_WITHOUT_FRAME_MS);
  }

  sessionArrived(msg) {
    this.session = msg;
    if (this.pending) this.pending.session = false;
    if (this.waitingForSession && this.lesson) this.applySetup();
    if (this.lesson) { this.decor.forget(); this.decor.relock(); }   // the views rebuilt their controls
  }

  /** The server refused a setup message: do not wait for it to take effect. */
  refused(msg) {
    if (!this.pending) return;
    if (NEW_SESSION.has(msg.request)) this.pending.session = false;
    if (msg.request === "set_hyper") this.pending.hyper = null;
  }

  /** Per frame: the locks stay on, and the notice is checked (cheaply: one compiled closure). */
  frameArrived(frame) {
    if (!this.lesson) return;
    this.decor.relock();   // a view may have re-enabled a locked control (the regularization rate does)
    const w = this.watch;
    if (!w || this.noticed || this.follower || this.waitingForSession) return;
    const p = this.pending;
    if (p) {
      if (p.session) return;
      if (p.hyper) {
        if (!hyperShows(frame.hyper, p.hyper)) return;
        p.hyper = null;
      }
      this.pending = null;
    }
    if (!w.eventSeen) return;
    if (w.test && !w.test(frame, this.session)) return;
    this.notice(frame);
  }

  notice(frame) {
    const step = this.lesson.steps[this.step];
    const values = valuesFrom(frame, this.session, this.names);
    this.noticed = { values, parts: step.then ? fillParts(step.then, values) : [] };
    this.watch = null;
    this.draw();
    document.dispatchEvent(new CustomEvent("lesson:noticed", { detail: { id: this.lesson.id, step: this.step, values } }));
  }

  /** A step the page cannot notice: the presenter asks for its `then`, filled from the newest frame. */
  reveal() {
    const frame = this.deps.frame?.();
    if (!this.lesson || !frame) return;
    const step = this.lesson.steps[this.step];
    const values = valuesFrom(frame, this.session, this.names);
    this.noticed = { values, parts: step.then ? fillParts(step.then, values) : [] };
    this.draw();
  }

  draw() {
    this.card.show({ lesson: this.lesson, step: this.step, noticed: this.noticed, steered: this.steered, watching: !!this.watch || !this.follower });
  }

  /** ?lesson=<id>&step=<k> (k from 1) in the address, the rest of it kept; null removes both. */
  writeUrl(id, step = 0) {
    const url = new URL(location.href);
    if (id === null) { url.searchParams.delete("lesson"); url.searchParams.delete("step"); } else {
      url.searchParams.set("lesson", id);
      url.searchParams.set("step", String(step + 1));
    }
    if (url.href !== location.href) history.replaceState(history.state, "", url.href);
  }

  /** Next / back from the keyboard (a clicker sends Page Down / Page Up); Escape closes the list. */
  key(ev) {
    if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === "Escape" && this.list?.isOpen) { ev.preventDefault(); this.list.close(); return; }
    if (!this.lesson || this.steered) return;
    const t = ev.target;
    if (TYPING.includes(t.tagName) || t.isContentEditable || t.closest?.(".net-stage")) return;
    const move = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 }[ev.key];
    if (!move) return;
    ev.preventDefault();
    const to = this.step + move;
    if (to >= 0 && to < this.lesson.steps.length) this.goto(to);
  }
}

/** A step is an integer from 0 (a string or a fraction is not). */
function checkStep(step) {
  if (!Number.isInteger(step) || step < 0) throw new TypeError(`a lesson step is an integer from 0 (got ${JSON.stringify(step)})`);
}

/** Does a frame's hyper show every field of `patch`? (A batch larger than the data is cut to the data.) */
function hyperShows(hyper, patch) {
  if (!hyper) return false;
  for (const [k, v] of Object.entries(patch)) {
    if (k === "batch_size" ? !(hyper[k] <= v) : hyper[k] !== v) return false;
  }
  return true;
}

export const lessonPlayer = new LessonPlayer();
