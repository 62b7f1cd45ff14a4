"""Test servers keep their sessions in memory unless a test asks for a store on disk
(and then in a temporary folder, never in ./data), so no test sees another's sessions."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PARAMLAB_STORE", "memory")
os.environ.setdefault("PARAMLAB_DATA_DIR", tempfile.mkdtemp(prefix="paramlab-test-"))
