"""The one error a session raises for a request it cannot honour."""

from __future__ import annotations

from typing import Any, Literal


class SessionError(ValueError):
    """A request the session cannot honour in its state; `field` names the culprit,
    `allowed` says what would have been accepted (the server turns both into its
    error message)."""

    def __init__(self, message: str, field: str | None = None, value: Any = None, allowed: str | None = None,
                 code: Literal["invalid", "not_diverged"] = "invalid"):
        super().__init__(message)
        self.field, self.value, self.allowed, self.code = field, value, allowed, code


def out_of_range(field: str, value: int, size: int, what: str | None = None, where: str = "") -> SessionError:
    """An index `value` of `field` outside 0 .. size-1; `what` names it in the text
    (default: `field`), `where` says of what it indexes."""
    return SessionError(f"{what or field} must be between 0 and {size - 1}{where} (got {value})",
                        field=field, value=value, allowed=f"0 to {size - 1}")
