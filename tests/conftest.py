"""Every test server keeps its store in a temporary folder, never in ./data."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PARAMLAB_DATA_DIR", tempfile.mkdtemp(prefix="paramlab-test-"))
