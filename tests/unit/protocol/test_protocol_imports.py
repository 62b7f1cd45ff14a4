"""The protocol describes what training exposes; it imports nothing of app.training or app.server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_protocol_loads_no_training_and_no_server_module() -> None:
    code = ("import sys, app.protocol; "
            "print(' '.join(m for m in sys.modules if m.startswith(('app.training', 'app.server'))))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == []
    assert "app.protocol.vocabulary" in subprocess.run(
        [sys.executable, "-c", "import sys, app.protocol; print(' '.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
