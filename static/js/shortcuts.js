// Keyboard shortcuts: Space plays or pauses, the right arrow steps. Never while
// typing in a field, nor with a modifier (the browser's own shortcuts), nor
// when blocked() says so (a weight being edited, a follower's read-only page);
// inside the network, the arrows walk its neurons instead.

/** controls: the ControlsView (togglePlay, step); blocked(): true while the shortcuts must stay quiet. */
export function bindShortcuts(controls, blocked) {
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey || blocked()) return;
    const t = ev.target, tag = t.tagName;
    if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) || t.isContentEditable) return;
    if (ev.key === " " && !["BUTTON", "A"].includes(tag)) { ev.preventDefault(); controls.togglePlay(); }
    else if (ev.key === "ArrowRight" && !t.closest?.(".net-stage")) { ev.preventDefault(); controls.step(); }
  });
}
