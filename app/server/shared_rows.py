"""The history rows of a frame, encoded once for every client that had seen the same.

A frame's head carries the history a client has not seen yet (`History.since`
from the client's last step and change). The followers of a room are in step
with each other, so in one state of the session most of them ask for the same
rows: hundreds of identical `since` calls and encodings a frame. `SharedRows`
keeps each distinct answer of the current state as JSON bytes, and `frame_head`
splices it into each client's head.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from app.protocol import encode


class SharedRows:
    """The encoded history rows of one state, by what the client had seen."""

    def __init__(self) -> None:
        self._state: Hashable = None
        self._rows: dict[Hashable, bytes] = {}

    def get(self, state: Hashable, seen: Hashable, rows: Callable[[], Mapping[str, Any]]) -> bytes:
        """The JSON of `rows()` for clients that had seen `seen`, computed once per `state` (a key that
        changes whenever the history does)."""
        if state != self._state:
            self._state, self._rows = state, {}
        raw = self._rows.get(seen)
        if raw is None:
            raw = self._rows[seen] = encode(rows())
        return raw


def frame_head(seq: int, history: bytes, inspected: Mapping[str, Any] | None = None) -> bytes:
    """A frame's head as JSON, `{"type": "frame", "seq": seq, "history": ..., "inspected": ...}`
    (`protocol.FrameHead`): `history` is the rows' JSON, `inspected` left out when None."""
    tail = b"}" if inspected is None else b',"inspected":' + encode(inspected) + b"}"
    return b'{"type":"frame","seq":%d,"history":%b%b' % (seq, history, tail)
