"""The one shape of every error, and how a validation failure becomes one."""

from __future__ import annotations

import math
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ValidationError

from app.protocol.config import ConfigPatch, HyperPatch
from app.protocol.limits import MAX_ECHO_BYTES

# `limit` is a quota or a size the server keeps to (asking again changes nothing until something is freed);
# `unavailable` is the service unable to do it right now (the shared store unreachable, the session busy in
# another process): the same request, a few seconds later, may well succeed.
ErrorCode = Literal["bad_json", "too_large", "unknown_type", "invalid", "no_session", "not_diverged", "limit",
                    "forbidden", "no_room", "rate_limited", "unavailable"]


class ErrorMessage(BaseModel):
    """The one shape of every error."""

    type: Literal["error"] = "error"
    code: ErrorCode
    request: str | None = None
    field: str | None = None
    value: Any = None
    allowed: str | None = None
    message: str


class ProtocolError(Exception):
    """A message that cannot be accepted; carries the error to send back."""

    def __init__(self, error: ErrorMessage) -> None:
        super().__init__(error.message)
        self.error = error


def _allowed(err: Any, model: type[BaseModel] | None = None) -> str | None:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if "allowed" in ctx:  # our own validators say it themselves
        return str(ctx["allowed"])
    if kind == "literal_error":
        return str(ctx.get("expected", "")).replace("'", "")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return None  # filled from the field's bounds below
    if kind in ("too_long", "too_short"):
        return f"{ctx.get('min_length', 0)} to {ctx.get('max_length', '')} items".replace("to  items", "or more items")
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"at least {ctx.get('min_length')} characters"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "an integer"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return "a finite number"
    if kind in ("bool_type", "bool_parsing"):
        return "true or false"
    if kind in ("string_type", "list_type", "dict_type", "model_type", "model_attributes_type"):
        return {"string_type": "a string", "list_type": "a list"}.get(kind, "an object")
    if kind == "extra_forbidden":
        if model is not None:
            return "fields: " + ", ".join(f for f in model.model_fields if f != "type")
        return "no such field"
    if kind == "missing":
        return "a value is required"
    return None


def _limits(obj: Any) -> tuple[Any, Any]:
    """(ge, le) found anywhere in a field's metadata, Optional and Annotated included."""
    lo = hi = None
    for meta in list(getattr(obj, "metadata", None) or []) + list(getattr(obj, "__metadata__", ()) or []):
        lo = getattr(meta, "ge", None) if getattr(meta, "ge", None) is not None else lo
        hi = getattr(meta, "le", None) if getattr(meta, "le", None) is not None else hi
        if hasattr(meta, "metadata"):
            inner = _limits(meta)
            lo, hi = inner[0] if inner[0] is not None else lo, inner[1] if inner[1] is not None else hi
    for arg in getattr(getattr(obj, "annotation", obj), "__args__", ()) or ():
        if arg is not type(None) and (lo is None or hi is None):
            inner = _limits(arg)
            lo, hi = inner[0] if lo is None else lo, inner[1] if hi is None else hi
    return lo, hi


def _bounds(model: type[BaseModel] | None, path: tuple[Any, ...]) -> str | None:
    """'lo to hi' from the Field metadata of `model.path[0]`, if it has both."""
    if model is None or not path or not isinstance(path[0], str):
        return None
    field = model.model_fields.get(path[0])
    if field is None:
        return None
    lo, hi = _limits(field)
    if lo is None or hi is None:
        return None
    return f"{lo:g} to {hi:g}"


def error_from_validation(exc: ValidationError, request: str | None, model: type[BaseModel] | None) -> ErrorMessage:
    """Turn pydantic's first complaint into the one error shape."""
    return error_from_details(exc.errors(include_url=False)[0], request, model)


def error_from_details(err: Any, request: str | None, model: type[BaseModel] | None) -> ErrorMessage:
    """One pydantic error dict (`type`, `loc`, `msg`, `input`, `ctx`) in the one error shape.

    Without a `model`, bounds are looked up among the configuration and
    hyperparameter fields (the HTTP API's bodies are made of them).
    """
    if err["type"] == "json_invalid":  # an HTTP body that is not JSON: its loc is ("body", character offset)
        offset = err["loc"][-1] if isinstance(err["loc"][-1], int) else None
        reason = (err.get("ctx") or {}).get("error") or err["msg"]
        return ErrorMessage(code="bad_json", request=request, allowed="one JSON object",
                            message=f"the body is not valid JSON: {reason}"
                                    + (f" at character {offset}" if offset is not None else ""))
    loc = tuple(p for p in err["loc"] if p not in (request, "body", "query", "path"))
    field = ".".join(str(p) for p in loc) or None
    allowed = (_allowed(err, model) or _bounds(model, loc) or _nested_bounds(model, loc)
               or _bounds(HyperPatch, loc[-1:]) or _bounds(ConfigPatch, loc[-1:]) or _one_bound(err))
    value = err.get("input")
    if isinstance(value, dict) and err["type"] == "missing":
        value = None
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    reason = _SAME_IN_BOTH_MODES.get(err["type"], err["msg"])
    if allowed and err["type"] in ("greater_than_equal", "less_than_equal"):
        reason = f"must be from {allowed}" if " to " in allowed else f"must be {allowed}"
    where = field or "message"
    message = f"{where}: {reason}" + (f" (got {value!r})" if value is not None and not isinstance(value, dict) else "")
    if allowed and allowed not in message:
        message += f"; allowed: {allowed}"
    try:
        if len(orjson.dumps(value)) > MAX_ECHO_BYTES:
            value = repr(value)[:MAX_ECHO_BYTES] + "..."  # say what was wrong, do not echo it all back
    except TypeError:
        value = repr(value)[:MAX_ECHO_BYTES]
    if len(message) > 2 * MAX_ECHO_BYTES:
        message = message[:2 * MAX_ECHO_BYTES] + "..."
    return ErrorMessage(code="invalid", request=request, field=field, value=value, allowed=allowed, message=message)


# Python-mode wordings that differ from JSON mode's (or name a class): said one way.
_SAME_IN_BOTH_MODES = {
    "model_type": "Input should be an object", "model_attributes_type": "Input should be an object",
    "dict_type": "Input should be an object", "list_type": "Input should be a valid list",
}


def _one_bound(err: Any) -> str | None:
    """'at most 5' or 'at least 1' from the error itself, when the field's bounds are not found."""
    ctx = err.get("ctx") or {}
    for key, words in (("le", "at most"), ("lt", "less than"), ("ge", "at least"), ("gt", "more than")):
        if key in ctx:
            return f"{words} {ctx[key]}"
    return None


def _nested_bounds(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str | None:
    """Bounds of a field inside `config` or `hyper` of a message."""
    if model is None or len(loc) < 2 or not isinstance(loc[0], str):
        return None
    nested: dict[str, type[BaseModel]] = {"config": ConfigPatch, "hyper": HyperPatch}
    inner = nested.get(loc[0])
    return _bounds(inner, loc[1:]) if inner else None

