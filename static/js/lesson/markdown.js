// The Markdown subset of a lesson card (docs/lessons.md), drawn as DOM nodes:
// **bold**, *italic*, `code`, lines starting with "- " as a list, a blank line
// between paragraphs. Everything else is the characters it is: the text only
// ever becomes text nodes inside <p>, <ul>/<li>, <strong>, <em> and <code>.
import { h } from "../dom.js";

const INLINE = /`([^`\n]+)`|\*\*(.+?)\*\*|\*([^*\s](?:[^*]*[^*\s])?)\*/g;

/**
 * Inline marks of one run of text as nodes. leaf(text) turns plain text into nodes (default: the text
 * itself), so a caller can put its own elements at marks it hid in the text (a number with its exact value).
 */
export function inline(text, leaf = (t) => [t]) {
  const out = [];
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > at) out.push(...leaf(text.slice(at, m.index)));
    if (m[1] !== undefined) out.push(h("code", null, ...leaf(m[1])));
    else if (m[2] !== undefined) out.push(h("strong", null, ...inline(m[2], leaf)));
    else out.push(h("em", null, ...leaf(m[3])));
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(...leaf(text.slice(at)));
  return out;
}

/** A card's text as paragraphs and lists (an array of <p> and <ul> elements). */
export function blocks(text, leaf) {
  const out = [];
  let para = [], list = null;
  const endPara = () => { if (para.length) out.push(h("p", null, ...inline(para.join(" "), leaf))); para = []; };
  for (const raw of String(text).split(/\r?\n/)) {
    const line = raw.trim();
    const item = /^- (.*)$/.exec(line);
    if (item) {
      endPara();
      if (!list) { list = h("ul"); out.push(list); }
      list.append(h("li", null, ...inline(item[1], leaf)));
    } else if (line === "") {
      endPara(); list = null;
    } else if (list && /^\s/.test(raw) && list.lastChild) {
      list.lastChild.append(" ", ...inline(line, leaf));   // an item's continued line
    } else {
      list = null;
      para.push(line);
    }
  }
  endPara();
  return out;
}
