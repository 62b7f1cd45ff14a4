// The lesson card: the lesson's title, "step k of n" with a dot per step, the
// step's title, its card (the Markdown subset, drawn as nodes), the action
// asked for, and once noticed a "done" part with the `then` text filled with
// the numbers of the frame that noticed it (each number hovers to its exact
// value). Back / Next / Close go up as events ("back", "next", "close",
// "reveal": show what happened on a step the page cannot notice, "locate":
// scroll to the control the step asks for).
import { h, fill } from "../dom.js";
import { exact } from "../format.js";
import { blocks, inline } from "./markdown.js";

// Private-use characters mark where a number goes in a filled text, so Markdown never reads inside a number.
const MARK = /\uE000(\d+)\uE001/;

/** Text with number marks as nodes: a number is a span whose title is its exact value. */
function leafWith(numbers) {
  return (text) => text.split(MARK).map((piece, i) => {
    if (i % 2 === 0) return piece;
    const n = numbers[Number(piece)];
    return typeof n.value === "number" ? h("span", { class: "num lc-num", title: exact(n.value) }, n.text) : n.text;
  }).filter((x) => x !== "");
}

export class LessonCard extends EventTarget {
  /** root: the card's element (empty; the card builds inside it). */
  constructor(root) {
    super();
    this.root = root;
    const say = (type) => () => this.dispatchEvent(new CustomEvent(type));
    this.lessonTitle = h("p", { class: "lc-lesson", id: "lc-lesson" });
    this.count = h("span", { class: "lc-count num" });
    this.dots = h("ol", { class: "lc-dots", "aria-hidden": "true" });
    this.title = h("h2", { class: "lc-title", id: "lc-title" });
    this.body = h("div", { class: "lc-body" });
    this.actionText = h("span", { class: "lc-action-text" });
    this.locate = h("button", { type: "button", class: "mini lc-locate", onclick: say("locate") }, "Show me");
    this.action = h("p", { class: "lc-action" }, h("span", { class: "lc-label" }, "Your turn"), " ", this.actionText, " ", this.locate);
    this.waiting = h("p", { class: "lc-waiting", role: "status" });
    this.reveal = h("button", { type: "button", class: "lc-reveal", onclick: say("reveal") }, "Show what happened");
    this.thenText = h("div", { class: "lc-then" });
    this.done = h("div", { class: "lc-done", role: "status" }, h("p", { class: "lc-done-head" }, h("span", { class: "lc-tick", "aria-hidden": "true" }, "✓"), " Done"), this.thenText);
    this.back = h("button", { type: "button", class: "lc-back", onclick: say("back") }, "← Back");
    this.next = h("button", { type: "button", class: "lc-next", onclick: say("next") }, "Next →");
    this.nav = h("nav", { class: "lc-nav", "aria-label": "Lesson steps" }, this.back, this.next);
    this.keys = h("p", { class: "lc-keys muted" }, "Keys: → or Page Down next, ← or Page Up back");
    const close = h("button", { type: "button", class: "lc-close", "aria-label": "Close the lesson", title: "Close the lesson", onclick: say("close") }, "×");
    // Folded to its head (a strip at the top of the page), the card gives back the column it takes on a wide screen.
    this.fold = h("button", { type: "button", class: "lc-fold", "aria-expanded": "true", title: "Fold the card", onclick: () => this.setFolded(!this.folded) }, "–");
    this.folded = false;
    fill(root,
      h("header", { class: "lc-head" }, h("span", { class: "lc-kicker" }, "Lesson"), this.lessonTitle, this.fold, close),
      h("div", { class: "lc-progress" }, this.count, this.dots),
      this.title, this.body, this.action, this.waiting, this.reveal, this.done, this.nav, this.keys);
    root.setAttribute("aria-labelledby", "lc-title");
  }

  /**
   * Draw one step. view: {lesson, step (from 0), noticed: null or {parts (fillParts of `then`)},
   * steered (another tab moves the steps: no Back/Next), watching (the page checks the notice)}.
   */
  show({ lesson, step, noticed, steered, watching }) {
    const s = lesson.steps[step], n = lesson.steps.length;
    this.root.hidden = false;
    const shown = `${lesson.id}\n${step}`;
    if (shown !== this.shown) { this.shown = shown; this.setFolded(false); }   // a new step is read unfolded
    this.lessonTitle.textContent = lesson.title;
    this.count.textContent = `Step ${step + 1} of ${n}`;
    fill(this.dots, lesson.steps.map((_, i) => h("li", { class: i < step ? "past" : i === step ? "now" : null })));
    this.title.textContent = s.title;
    fill(this.body, blocks(s.card));
    this.action.hidden = !s.action;
    if (s.action) fill(this.actionText, inline(s.action.text));
    this.locate.hidden = !s.highlight;
    const canNotice = !!s.action?.notice;
    this.waiting.hidden = !!noticed || !s.action;
    this.waiting.textContent = !canNotice ? "Move on when the class is ready."
      : watching ? "Waiting for it…" : "The teacher moves on when the class is ready.";
    this.reveal.hidden = !!noticed || canNotice || !s.then || steered;
    this.done.hidden = !noticed;
    this.root.classList.toggle("noticed", !!noticed);
    if (noticed) {
      const numbers = [];
      const text = (noticed.parts || []).map((p) => {
        if (p.name === undefined) return p.text;
        numbers.push(p);
        return `\uE000${numbers.length - 1}\uE001`;
      }).join("");
      fill(this.thenText, s.then ? blocks(text, leafWith(numbers)) : []);
    }
    this.nav.hidden = steered;
    this.keys.hidden = steered;
    this.back.disabled = step === 0;
    this.next.classList.toggle("primary", !!noticed);
    this.next.textContent = step === n - 1 ? "Finish" : "Next →";   // the last step's Next closes the lesson
  }

  hide() { this.root.hidden = true; this.shown = null; }

  setFolded(on) {
    this.folded = on;
    this.root.classList.toggle("folded", on);
    this.fold.setAttribute("aria-expanded", String(!on));
    this.fold.textContent = on ? "+" : "–";
    this.fold.title = on ? "Unfold the card" : "Fold the card";
  }
}
