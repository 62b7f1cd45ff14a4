"""Lessons over HTTP: the built-in list, one lesson as JSON, and a teacher's own lesson file.

`POST /api/lessons` takes `{"text": "<the lesson file>"}` (JSON, as every
state-changing route here: the request guard refuses other types), checks it
as the built-in files are checked, keeps it like an uploaded dataset (the same
per-address quotas) and answers the id a link opens: `/?lesson=<id>`.
Parsing runs in a worker thread, so live sessions keep their frames meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request

from app import protocol as p
from app.lessons import format as lesson_format
from app.lessons import library
from app.lessons.loader import MAX_LESSON_BYTES, LessonError
from app.server.api import ERRORS, QUOTA, ApiError, known_query
from app.server.quotas import QuotaExceeded
from app.server.service import Service, over_quota
from app.server.uploads import read_body

log = logging.getLogger("paramlab.lessons")
router = APIRouter(prefix="/api", tags=["lessons"], responses=ERRORS, dependencies=[Depends(known_query)])

# The JSON around the text: its escapes (\n, \", \u00e9) make the body longer than the file.
MAX_BODY_BYTES = 6 * MAX_LESSON_BYTES + 1024
RULES = (f'a JSON object {{"text": "<the lesson file>"}}: a YAML lesson of at most {MAX_LESSON_BYTES:,} bytes '
         "in UTF-8, as docs/lessons.md describes")
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": p.ErrorMessage, "description": "No built-in or uploaded lesson has this id (`invalid`)"}}
LessonId = Annotated[str, Path(max_length=64, description="A built-in lesson's id, or one POST /api/lessons gave")]

_BODY = {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    "example": {"text": "id: my-lesson\ntitle: My lesson\nsummary: ...\nideas: [learning-rate]\nsteps: ..."}}}}


class Lessons:
    """The built-in lessons (read once) and the uploaded ones (in the server's store)."""

    def __init__(self, store: library.TextStore | None) -> None:
        self.builtin = library.load_builtin()
        if not self.builtin:
            log.warning("no built-in lessons: %s has no lesson files", library.BUILTIN_DIR)
        self.uploaded = library.Uploaded(store)


async def lessons_of(state: Any) -> Lessons:
    """The app's lessons (`state`: app.state), made on first use from the store the sessions use; files read
    in a thread. The HTTP routes and the websocket's room lessons share them."""
    lessons: Lessons | None = getattr(state, "lessons", None)
    if lessons is None:
        lessons = await asyncio.to_thread(Lessons, state.registry.store)
        state.lessons = lessons
    return lessons


async def find_lesson(lessons: Lessons, lesson_id: str) -> tuple[lesson_format.Lesson, bool] | None:
    """The lesson with this id and whether it is built-in; None when there is none. An uploaded one is read
    in a thread; one stored by a server with other rules raises LessonError."""
    if lesson_id in lessons.builtin:
        return lessons.builtin[lesson_id], True
    if not lesson_id.startswith(lesson_format.UPLOADED_PREFIX):
        return None
    lesson = await asyncio.to_thread(lessons.uploaded.get, lesson_id)
    return None if lesson is None else (lesson, False)


async def _lessons(request: Request) -> Lessons:
    return await lessons_of(request.app.state)


def _refuse(status: int, code: p.ErrorCode, message: str, field: str = "text", value: Any = None,
            allowed: str | None = RULES) -> ApiError:
    return ApiError(status, p.ErrorMessage(code=code, request="upload_lesson", field=field, value=value,
                                           allowed=allowed, message=message))


def lesson_document(lesson_id: str, lesson: lesson_format.Lesson, builtin: bool) -> dict[str, Any]:
    """A lesson as the page gets it: every field, under the id its link uses."""
    return lesson.model_dump(mode="json") | {"id": lesson_id, "builtin": builtin}


@router.get("/lessons", summary="The built-in lessons, and the names a lesson may use")
async def list_lessons(request: Request) -> dict[str, Any]:
    """Each built-in lesson's id, title, summary, ideas and number of steps; with the ideas, panels,
    controls, events and condition variables a lesson file may name (docs/lessons.md)."""
    lessons = await _lessons(request)
    return {"lessons": [{"id": lesson_id, "title": lesson.title, "summary": lesson.summary, "ideas": lesson.ideas,
                         "steps": len(lesson.steps)} for lesson_id, lesson in lessons.builtin.items()],
            "vocabulary": lesson_format.vocabulary()}


@router.get("/lessons/{lesson_id}", summary="One lesson, whole, as JSON", responses=NOT_FOUND)
async def get_lesson(request: Request, lesson_id: LessonId) -> dict[str, Any]:
    try:
        found = await find_lesson(await _lessons(request), lesson_id)
    except LessonError as exc:  # stored by a server with other rules: say so rather than fail
        raise ApiError(422, p.ErrorMessage(code="invalid", field=exc.field, allowed=exc.allowed,
                                           message=f"the stored lesson no longer validates: {exc}")) from None
    if found is None:
        raise ApiError(404, p.ErrorMessage(
            code="invalid", field="lesson_id", value=lesson_id[:p.MAX_ECHO_BYTES],
            allowed="a built-in lesson's id (GET /api/lessons) or an id POST /api/lessons gave",
            message=f"no lesson {lesson_id[:p.MAX_ECHO_BYTES]!r} on this server"
                    + (" (an uploaded lesson is kept for a while, then must be uploaded again)"
                       if lesson_id.startswith(lesson_format.UPLOADED_PREFIX) else "")))
    lesson, builtin = found
    return lesson_document(lesson_id, lesson, builtin)


def _text_of(raw: bytes) -> str:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _refuse(400, "bad_json", f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(body, dict) or set(body) != {"text"}:
        fields = sorted(body) if isinstance(body, dict) else None
        raise _refuse(422, "invalid", f"the body must be an object with one field, text (got {fields or 'no object'})",
                      field="body")
    text = body["text"]
    if not isinstance(text, str):
        raise _refuse(422, "invalid", f"text must be a string, the lesson file (got {type(text).__name__})")
    if not text.strip():
        raise _refuse(422, "invalid", "the lesson file is empty")
    if len(text.encode("utf-8")) > MAX_LESSON_BYTES:
        raise _refuse(413, "too_large", f"the lesson file is larger than {MAX_LESSON_BYTES:,} bytes")
    return text


@router.post("/lessons", status_code=201, summary="Upload a lesson file; its id opens it by link",
             openapi_extra={"requestBody": _BODY}, responses=QUOTA)
async def upload_lesson(request: Request) -> dict[str, Any]:
    """The lesson is checked as the built-in ones are: a 422 names the line and the field at fault.
    The same file uploaded twice gets the same id; `link` opens the page on the lesson."""
    text = _text_of(await read_body(request, MAX_BODY_BYTES, _refuse, "request"))
    service: Service = request.app.state.service
    try:
        service.quotas.store_write(request.client.host if request.client else "unknown", "upload",
                                   len(text.encode("utf-8")))
    except QuotaExceeded as exc:
        refusal = over_quota(exc, "upload_lesson")  # a dataset upload's quota: the same bytes stored
        raise ApiError(refusal.status, refusal.error) from None
    try:
        lesson_id, lesson = await asyncio.to_thread((await _lessons(request)).uploaded.add, text)
    except LessonError as exc:
        raise _refuse(422, "invalid", str(exc), field=exc.field or "text", value=exc.value,
                      allowed=exc.allowed or RULES) from None
    return {"id": lesson_id, "link": f"/?lesson={lesson_id}", "title": lesson.title, "steps": len(lesson.steps)}
