"""Bring your own data: `POST /api/datasets` takes a CSV file and names it.

The answer's `dataset` goes into a configuration like a built-in dataset's
name (over the websocket's `configure` or `PATCH .../config`). Parsing runs
in a worker thread, so live sessions keep their frames meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.requests import ClientDisconnect

from app import protocol as p
from app.data import csv_import
from app.server.api import ERRORS, QUOTA, ApiError, known_query
from app.server.quotas import QuotaExceeded
from app.server.service import Service, over_quota
from app.training import custom_data

log = logging.getLogger("paramlab.uploads")
router = APIRouter(prefix="/api", tags=["datasets"], responses=ERRORS, dependencies=[Depends(known_query)])

RULES = (f"a UTF-8 CSV file of at most {csv_import.MAX_BYTES:,} bytes: a header row, then one row per sample; "
         f"numeric feature columns (1 to {csv_import.MAX_COLS - 1}) and the label in the last column "
         f"(2 to {csv_import.MAX_CLASSES} classes, or numbers for regression); "
         f"at most {csv_import.MAX_ROWS:,} rows")

_BODY = {"required": True, "content": {"text/csv": {"schema": {"type": "string"},
                                                    "example": "size,colour,animal\n0.3,1.2,dog\n-1.1,0.4,cat\n"}}}


def _refuse(status: int, code: p.ErrorCode, message: str, value: Any = None) -> ApiError:
    return ApiError(status, p.ErrorMessage(code=code, request="upload_dataset", field="csv", value=value,
                                           allowed=RULES, message=message))


async def read_body(request: Request, limit: int, refuse: Callable[[int, p.ErrorCode, str], ApiError],
                    what: str = "file") -> bytes:
    """The request body, refused as soon as it passes `limit` bytes (never read whole); `refuse`
    makes the route's own error, `what` names the body in it."""
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise refuse(413, "too_large", f"the {what} is larger than {limit:,} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # One line, not a traceback: an aborted upload is the client's business.
        client = request.client.host if request.client else "unknown"
        log.info("upload from %s aborted after %d bytes", client, size)
        raise refuse(400, "invalid", f"the upload was cut off after {size:,} bytes") from None
    return b"".join(chunks)


@router.post("/datasets", status_code=201, summary="Upload a CSV dataset; its name configures a session",
             openapi_extra={"requestBody": _BODY}, responses=QUOTA)
async def upload_dataset(request: Request) -> dict[str, Any]:
    """The label is the last column; every other column is a numeric feature.

    Features are standardized with the training split's statistics, so a
    column that never varies becomes zero and earns no weight. The same file
    uploaded twice gets the same name; a shared link naming it works on any
    server process that shares this one's store.
    """
    raw = await read_body(request, csv_import.MAX_BYTES, _refuse)
    if not raw.strip():
        raise _refuse(422, "invalid", "the file is empty")
    service: Service = request.app.state.service
    try:
        service.quotas.store_write(request.client.host if request.client else "unknown", "upload", len(raw))
    except QuotaExceeded as exc:
        refusal = over_quota(exc, "upload_dataset")  # as a save's: the same quota of bytes stored
        raise ApiError(refusal.status, refusal.error) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(422, "invalid", f"the file is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    try:
        name, data = await asyncio.to_thread(custom_data.library.add, text)
    except csv_import.DataError as exc:
        raise _refuse(422, "invalid", str(exc)) from None
    return {"dataset": name, "rows": data.n_samples, "features": list(data.feature_names),
            "label": data.meta.get("label_column"), "task": data.task, "classes": list(data.class_names)}
