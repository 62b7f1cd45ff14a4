// The URL hash and the state, kept in step both ways. The page writes the hash
// as the state changes (at most every 250 ms while a slider moves, never adding
// a history entry); a link pasted into the tab is applied to the session: its
// configuration, its hyperparameters, play or pause.
import { State } from "./state.js";

const WRITE_EVERY_MS = 250;

export class HashSync {
  /**
   * state: the page's State (changed in place); send(msg): a message to the
   * server; readOnly(): true while the page shows someone else's session.
   */
  constructor(state, { send, readOnly }) {
    Object.assign(this, { state, send, readOnly });
    this.dirty = false;
    this.lastWrite = -Infinity;
    window.addEventListener("hashchange", () => this.applyLink());
  }

  /** Write the hash now (after a session, or at start). */
  write() { this.state.writeHash(); this.dirty = false; }

  /** The state changed: the hash follows at the next flush. */
  touch() { this.dirty = true; }

  /** Once per animation frame: write the hash if it changed and the last write is old enough. */
  flush(now) {
    if (this.dirty && now - this.lastWrite > WRITE_EVERY_MS) { this.write(); this.lastWrite = now; }
  }

  /** The hash follows what the server says in a frame (hyperparameters, playing). */
  follow(frame) {
    const s = this.state;
    let changed = s.playing !== frame.playing;
    s.playing = frame.playing;
    for (const [k, v] of Object.entries(frame.hyper || {})) if (k in s && s[k] !== v) { s[k] = v; changed = true; }
    if (changed) this.dirty = true;
  }

  /** A link pasted into this tab: send what differs from the session, then take the link's state. */
  applyLink() {
    if (this.readOnly()) return;   // a follower's page shows the teacher's configuration
    const next = State.deserialize(location.hash, this.state.props);
    const changed = next.configChanges(this.state);
    if (Object.keys(changed).length) this.send({ type: "configure", config: changed });
    this.send({ type: "set_hyper", ...next.hyper() });
    if (next.playing !== this.state.playing) this.send({ type: next.playing ? "play" : "pause" });
    Object.assign(this.state, next);
  }
}
