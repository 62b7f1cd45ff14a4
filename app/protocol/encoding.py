"""Outbound messages as bytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def encode(message: Mapping[str, Any]) -> bytes:
    """One outbound message as JSON bytes; numpy arrays become lists, NaN/Inf become null."""
    return orjson.dumps(message, option=orjson.OPT_SERIALIZE_NUMPY)
