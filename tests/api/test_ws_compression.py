"""Websocket compression: off unless PARAMLAB_WS_COMPRESSION turns it on (a browser offers permessage-deflate,
which costs the server CPU for every frame of every client), as the `paramlab` command starts the server."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path

import pytest
from support.server import Server


def handshake_extensions(port: int) -> str | None:
    """The Sec-WebSocket-Extensions the server accepts when a client offers permessage-deflate, as Chromium does."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection during the handshake"
            head += chunk
    lines = head.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 101"), lines[0]
    found = [line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("sec-websocket-extensions:")]
    return found[0] if found else None


@pytest.mark.parametrize(("setting", "deflate"), [(None, False), ("false", False), ("true", True)])
def test_frames_are_compressed_only_when_the_setting_says_so(tmp_path: Path, setting: str | None,
                                                             deflate: bool) -> None:
    env = {} if setting is None else {"PARAMLAB_WS_COMPRESSION": setting}
    server = Server(tmp_path / "paramlab.log", env=env, main=True).start()
    try:
        accepted = handshake_extensions(server.port)
    finally:
        server.stop()
    assert (accepted is not None and accepted.startswith("permessage-deflate")) == deflate, accepted
