// The one way views build markup: elements made with createElement, every
// string a text node. Nothing here parses HTML, so a name a user typed or
// uploaded (a CSV header, a class, a student, a run) is always shown as the
// characters it is; the page's Content-Security-Policy forbids inline style
// attributes too, so styles come from classes (or el.style from JS).
import { fmt, exact } from "./format.js";

/**
 * h("td", {class: "num", title: "0.5"}, "text", child, [more, children]).
 * props: class, dataset (object), on<event> (function); any other key is an
 * attribute (true = present, false/null/undefined = absent). Children: nodes,
 * strings and numbers (as text), arrays of them; null/false/undefined skipped.
 */
export function h(tag, props = null, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "style") throw new Error("inline styles are refused by the page's CSP: use a class");
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** Append children (see h) to el; returns el. */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replace every child of el (see h for what children may be). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A fragment of children (see h): for callers that take one node. */
export function frag(...children) {
  return append(document.createDocumentFragment(), children);
}

/** A span with a short number and its exact value in the title. */
export function num(x, digits = 4, cls = "num") {
  return h("span", { class: cls, title: exact(x) }, fmt(x, digits));
}

/** Numbers joined by ", " (each a num span). */
export function nums(xs, digits = 4) {
  return xs.flatMap((x, i) => (i ? [", ", num(x, digits)] : [num(x, digits)]));
}
