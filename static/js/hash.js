// The URL hash and the state, kept in step both ways. The page writes the hash
// as the state changes (at most every 250 ms while a slider moves, never adding
// a history entry); a link pasted into the tab is applied to the session: its
// configuration, its hyperparameters, play or pause, its quantization.
import { State } from "./state.js";

const WRITE_EVERY_MS = 250;

/** Do two quantizations ({bits, granularity, aware}) say the same? Off is off, whatever its granularity. */
export function sameQuantization(a, b) {
  return a.bits === b.bits && !!a.aware === !!b.aware && (a.bits === 0 || a.granularity === b.granularity);
}

export class HashSync {
  /**
   * state: the page's State (changed in place); send(msg): a message to the
   * server; readOnly(): true while the page shows someone else's session.
   */
  constructor(state, { send, readOnly }) {
    Object.assign(this, { state, send, readOnly });
    this.dirty = false;
    this.lastWrite = -Infinity;
    // The quantization a link names is not part of the hello: it is asked for once the first session is here.
    this.linkQuant = /(^|[#&])quant_bits=/.test(location.hash) ? state.quantization() : null;
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

  /**
   * A session arrived (before the state takes its word): the first one gets the link's quantization when
   * it has another (a session's quantization is not part of the hello).
   */
  adoptQuantization(msg) {
    const want = this.linkQuant;
    this.linkQuant = null;
    if (!want || !msg.quantization || this.readOnly() || sameQuantization(want, msg.quantization)) return;
    this.send({ type: "quantize", ...want });
  }

  /** The hash follows what the server says in a frame (hyperparameters, playing, quantization). */
  follow(frame) {
    const s = this.state;
    let changed = s.playing !== frame.playing;
    s.playing = frame.playing;
    for (const [k, v] of Object.entries(frame.hyper || {})) if (k in s && s[k] !== v) { s[k] = v; changed = true; }
    if ("quantized" in frame) {
      const q = frame.quantized;
      const now = q ? { bits: q.bits, granularity: q.granularity, aware: !!q.aware } : { bits: 0, granularity: s.quant_granularity, aware: false };
      if (!sameQuantization(now, s.quantization()) || now.granularity !== s.quant_granularity) {
        s.quant_bits = now.bits; s.quant_granularity = now.granularity; s.quant_aware = now.aware;
        changed = true;
      }
    }
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
    if (!sameQuantization(next.quantization(), this.state.quantization())) this.send({ type: "quantize", ...next.quantization() });
    Object.assign(this.state, next);
  }
}
