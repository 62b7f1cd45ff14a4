"""Test servers keep their sessions in memory unless a test asks for a store on disk
(and then in a temporary folder, never in ./data), so no test sees another's sessions.
Process-wide switches a test changes are put back after it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

os.environ.setdefault("PARAMLAB_STORE", "memory")
os.environ.setdefault("PARAMLAB_DATA_DIR", tempfile.mkdtemp(prefix="paramlab-test-"))
# TestClient names the server "testserver"; a real server is reached on 127.0.0.1.
os.environ.setdefault("PARAMLAB_ALLOWED_HOSTS", '["testserver"]')


@pytest.fixture(autouse=True)
def _fast_path_switch_restored() -> Iterator[None]:
    """`create_app(Settings(fast_path=False))` turns the fast path off for the whole
    process (a class attribute); no test may leave it changed for the next."""
    from app.training.session import TrainingSession

    before = TrainingSession.fast
    yield
    TrainingSession.fast = before
