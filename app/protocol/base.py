"""What every protocol model shares: strict validation, the version, finite numbers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

PROTOCOL_VERSION = 1

Finite = Annotated[float, Field(allow_inf_nan=False)]


def _exactly_one(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("literal_error", "Input should be 1", {"expected": "1"})
    return value


# `Literal[1]` alone takes `true` and `1.0` for 1, even in strict mode.
Version = Annotated[Literal[1], BeforeValidator(_exactly_one)]


class Strict(BaseModel):
    # Lax mode would take "0.1" for 0.1, true for 1 and 1 for true; strict mode refuses them
    # (in python mode, as parse_client_message validates, as in JSON mode, as FastAPI does).
    model_config = ConfigDict(extra="forbid", strict=True)
