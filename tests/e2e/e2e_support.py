"""The server of the browser tests, and how to launch Chromium."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from support.server import ROOT, Server

SHOTS = ROOT / "artifacts" / "screenshots"
# Every browser test reaches the shared server from 127.0.0.1: one address for the
# whole suite, where a class would have one each. Quotas per address are tested
# on servers of their own (a test's environment overrides these).
SHARED_SERVER_QUOTAS = {"PARAMLAB_ROOMS_PER_CLIENT": "1000", "PARAMLAB_SESSIONS_PER_CLIENT": "1000",
                        "PARAMLAB_NEW_SESSIONS_PER_MINUTE": "100000", "PARAMLAB_FULL_SPEED_PER_CLIENT": "1000",
                        "PARAMLAB_SAVES_PER_CLIENT_PER_DAY": "100000", "PARAMLAB_UPLOADS_PER_CLIENT_PER_DAY": "100000",
                        "PARAMLAB_JOIN_ATTEMPTS_PER_ADDRESS": "100000"}
CHROMIUM = os.environ.get("PARAMLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def page_server() -> Server:
    """A server for pages: the suite's quotas (the environment may override them), its
    log in artifacts/, its (memory) store's folder a fresh temporary one."""
    server = Server(ROOT / "artifacts" / "uvicorn.log", defaults=SHARED_SERVER_QUOTAS,
                    data_dir=Path(tempfile.mkdtemp(prefix="paramlab-e2e-")))
    server.log = server.log.with_name(f"uvicorn-{server.port}.log")
    # The suite's students are other pages on this machine: the server names its own
    # loopback URL as the one students open, as a proxy's public URL would be named.
    # (A loopback-only server without it shows no link: tests/e2e/test_reachable_room.py.)
    server.env.setdefault("PARAMLAB_PUBLIC_URL", server.url)
    return server
