"""The page acknowledges every second frame it draws (acks are cumulative), frames keep coming at the
pace asked for, and after a reconnect (its frames numbered from 1 again) the first frame is acknowledged at once."""

from __future__ import annotations

SPY_ACKS = """(() => {
  window.__acks = [];
  const socket = paramlab.socket, rawSend = socket.rawSend.bind(socket);
  socket.rawSend = (msg) => { if (msg.type === "ack") __acks.push(msg.seq); return rawSend(msg); };
})()"""


def test_the_page_acks_every_second_frame_and_frames_keep_coming(app):
    app.open(frames=3)
    app.js(SPY_ACKS)
    drawn = app.js("paramlab.stats.framesDrawn")
    received = app.js("paramlab.socket.framesReceived")
    app.wait(f"paramlab.stats.framesDrawn >= {drawn + 40}")  # flow control would stop them without acks
    acks = app.js("__acks")
    frames = app.js("paramlab.socket.framesReceived") - received
    assert all(b - a >= 2 for a, b in zip(acks, acks[1:])), acks
    assert 0.35 * frames <= len(acks) <= 0.6 * frames, (len(acks), frames)
    assert app.errors == []


def test_after_a_reconnect_the_new_numbering_is_acknowledged_at_once(app):
    app.open(frames=3)
    app.wait("paramlab.socket.lastAcked >= 6")  # past where the new connection's numbering starts
    app.js(SPY_ACKS)
    app.js("paramlab.socket.ws.close()")  # the page reconnects; the server numbers its frames from 1 again
    app.wait("__acks.some((seq) => seq <= 2)")  # a frame or two of the old connection may go first
    drawn = app.js("paramlab.stats.framesDrawn")
    app.wait(f"paramlab.stats.framesDrawn >= {drawn + 20}")  # and flow control lets the new stream go on
    acks = app.js("__acks")
    new = acks[next(k for k, seq in enumerate(acks) if seq <= 2):]
    assert new[0] <= 2 and all(b - a >= 2 for a, b in zip(new, new[1:])), acks
