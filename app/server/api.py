"""The HTTP API: the same sessions as the websocket, scripted.

For notebooks, tests and teachers preparing a demo. Every route is in the
OpenAPI schema at `/docs`. Errors have the protocol's one error shape.

Routes are `async`: they run on the event loop, between the training loop's
turns, so a request never changes or reads a session while it is training
(the worker threads FastAPI gives plain `def` routes would race with it).
Only store reads and writes go to a thread.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import protocol as p
from app.server import controls, messages
from app.server.registry import LiveSession, Registry, RegistryFull
from app.server.snapshots import BACKGROUND_WAIT
from app.training.config import HyperState, RunConfig
from app.training.persist import restore_session, session_state
from app.training.session import SessionError

# The largest request body taken: a predict of 20,000 rows of 16 numbers is about 6.6 MB, the
# largest model export (8 layers of 32, Adam's state) under 1 MB.
MAX_BODY_BYTES = 8 * 1024 * 1024

# Every error answers with the protocol's one error shape; the schema says so for each status.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": p.ErrorMessage, "description": "The body is not JSON (`bad_json`)"},
    413: {"model": p.ErrorMessage, "description": f"The body is over {MAX_BODY_BYTES:,} bytes (`too_large`)"},
    422: {"model": p.ErrorMessage, "description": "A field is missing, of the wrong type or out of range, "
                                                  "or the request does not fit the session (`invalid`)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": p.ErrorMessage, "description": "No such session or saved run (`no_session`)"}}
FULL: dict[int | str, dict[str, Any]] = {
    503: {"model": p.ErrorMessage, "description": "The server holds all the sessions it can (`limit`)"}}



def known_query(request: Request) -> None:
    """Refuse a query parameter the route does not take (a body's unknown field is refused too)."""
    route = request.scope.get("route")
    known = sorted(q.alias for q in route.dependant.query_params) if isinstance(route, APIRoute) else []
    for name in request.query_params:
        if name not in known:
            allowed = "query parameters: " + ", ".join(known) if known else "no query parameters"
            raise ApiError(422, p.ErrorMessage(
                code="invalid", field=name[:p.MAX_ECHO_BYTES], value=request.query_params[name][:p.MAX_ECHO_BYTES],
                allowed=allowed, message=f"{name[:p.MAX_ECHO_BYTES]}: this route takes {allowed}"))


router = APIRouter(prefix="/api", tags=["sessions"], responses=ERRORS, dependencies=[Depends(known_query)])


class ApiError(HTTPException):
    """An error with the protocol's shape as its body."""

    def __init__(self, status: int, error: p.ErrorMessage) -> None:
        super().__init__(status_code=status, detail=error.model_dump())


class BodyLimit:
    """Refuse a request body past `limit` bytes (413, `too_large`) without reading the rest of it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    def error(self) -> ApiError:
        return ApiError(413, p.ErrorMessage(code="too_large", allowed=f"at most {self.limit:,} bytes",
                                            message=f"the request body is larger than {self.limit:,} bytes"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            error = self.error()
            await JSONResponse(error.detail, status_code=413)(scope, receive, send)
            return
        size = 0

        async def limited() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > self.limit:
                raise self.error()  # raised where the route reads its body: the handler answers it
            return message

        await self.app(scope, limited, send)


SessionId = Annotated[str, Path(max_length=64, description="An id returned by POST /api/sessions")]
RunId = Annotated[str, Path(max_length=64, description="An id returned by a save")]


class CreateSession(BaseModel):
    """A configuration and hyperparameters; every field is optional."""

    model_config = {"extra": "forbid"}
    config: p.ConfigPatch = Field(default_factory=p.ConfigPatch)
    hyper: p.HyperPatch = Field(default_factory=p.HyperPatch)


class StepRequest(BaseModel):
    model_config = {"extra": "forbid"}
    unit: Literal["update", "epoch"] = "update"
    count: Annotated[int, Field(ge=1, le=p.MAX_STEP_UPDATES)] = 1


class SaveRequest(BaseModel):
    model_config = {"extra": "forbid"}
    name: Annotated[str, Field(min_length=1, max_length=80)]


class PredictRequest(BaseModel):
    """Raw input points (for 2-D data: x1, x2 before feature transforms)."""

    model_config = {"extra": "forbid"}
    points: Annotated[list[Annotated[list[p.Finite], Field(min_length=1, max_length=p.MAX_FEATURES)]],
                      Field(min_length=1, max_length=20000)]


async def _background(request: Request) -> None:
    """Exports are not live work: they wait (a little) for a round of the
    training loop with time to spare, as snapshots do."""
    await _registry(request).spare(BACKGROUND_WAIT)


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _live(request: Request, session_id: str) -> LiveSession:
    live = _registry(request).get(session_id)
    if live is None:
        raise ApiError(404, p.ErrorMessage(code="no_session", field="session_id", value=session_id,
                                           allowed="an id returned by POST /api/sessions",
                                           message=f"session {session_id!r} is not known to this server"))
    return live


def _full(request: Request, exc: RegistryFull) -> ApiError:
    return ApiError(503, p.ErrorMessage(code="limit", allowed=f"at most {_registry(request).max_sessions} sessions",
                                        message=str(exc)))


def _refused(exc: SessionError, request: str) -> ApiError:
    return ApiError(422, p.ErrorMessage(code=exc.code, request=request, field=exc.field, value=exc.value,
                                        allowed=exc.allowed, message=str(exc)))


def _apply(live: LiveSession, msg: BaseModel, request: Request) -> None:
    try:
        controls.apply(live, msg)
    except SessionError as exc:
        raise _refused(exc, str(getattr(msg, "type", None))) from None
    if live.playing:
        _registry(request).work.set()


def _summary(live: LiveSession) -> dict[str, Any]:
    s = live.session
    out = messages.session_message(live, fps=0)
    out.pop("fps")
    out.update(step=s.step, epoch=s.epoch, metrics=s.metrics(), diverged=s.diverged)
    return out


@router.post("/sessions", status_code=201, summary="Create a session", responses=FULL)
async def create_session(request: Request, body: CreateSession | None = None) -> dict[str, Any]:
    body = body or CreateSession()
    try:
        config = RunConfig().with_changes(body.config.model_dump(exclude_unset=True))
        live = _registry(request).create(config, HyperState(**body.hyper.model_dump(exclude_none=True)))
    except RegistryFull as exc:
        raise _full(request, exc) from None
    except ValueError as exc:
        raise ApiError(422, p.ErrorMessage(code="invalid", field="config", message=str(exc))) from None
    return _summary(live)


@router.get("/sessions/{session_id}", summary="Configuration, hyperparameters and metrics", responses=NOT_FOUND)
async def get_session(request: Request, session_id: SessionId) -> dict[str, Any]:
    return _summary(_live(request, session_id))


@router.get("/sessions/{session_id}/hyper", summary="Read the hyperparameters", responses=NOT_FOUND)
async def get_hyper(request: Request, session_id: SessionId) -> dict[str, Any]:
    return _live(request, session_id).session.hyper.to_dict()


@router.patch("/sessions/{session_id}/hyper", summary="Change hyperparameters live", responses=NOT_FOUND)
async def patch_hyper(request: Request, session_id: SessionId, body: p.HyperPatch) -> dict[str, Any]:
    live = _live(request, session_id)
    _apply(live, p.SetHyper(type="set_hyper", **body.model_dump(exclude_none=True)), request)
    return live.session.hyper.to_dict()


@router.patch("/sessions/{session_id}/config", summary="Change the configuration (rebuilds the network)",
               responses=NOT_FOUND)
async def patch_config(request: Request, session_id: SessionId, body: p.ConfigPatch) -> dict[str, Any]:
    live = _live(request, session_id)
    _apply(live, p.Configure(type="configure", config=body), request)
    return _summary(live)


@router.post("/sessions/{session_id}/step", summary="Train N updates or epochs, get the metrics",
             responses=NOT_FOUND)
async def step(request: Request, session_id: SessionId, body: StepRequest | None = None) -> dict[str, Any]:
    body = body or StepRequest()
    live = _live(request, session_id)
    try:
        controls.check_step(live, body.unit, body.count)
    except SessionError as exc:
        raise _refused(exc, "step") from None
    s = live.session
    live.set_playing(False)
    if body.unit == "update":
        s.advance(body.count)
    else:
        for _ in range(body.count):
            if s.step_epoch() == 0:
                break
    live.notify()
    return {"step": s.step, "epoch": s.epoch, "metrics": s.metrics(), "diverged": s.diverged}


@router.post("/sessions/{session_id}/reset", summary="Train again from the same or new initial weights",
             responses=NOT_FOUND)
async def reset(request: Request, session_id: SessionId, same_weights: bool = True) -> dict[str, Any]:
    live = _live(request, session_id)
    _apply(live, p.Reset(type="reset", same_weights=same_weights), request)
    return _summary(live)


@router.get("/sessions/{session_id}/model", summary="Export the model as JSON", responses=NOT_FOUND)
async def export_model(request: Request, session_id: SessionId) -> JSONResponse:
    await _background(request)
    live = _live(request, session_id)
    return JSONResponse(live.session.export_model(),
                        headers={"Content-Disposition": f'attachment; filename="paramlab-{session_id}.json"'})


@router.put("/sessions/{session_id}/model", summary="Import a model exported as JSON", responses=NOT_FOUND)
async def import_model(request: Request, session_id: SessionId, body: p.ModelDocument) -> dict[str, Any]:
    live = _live(request, session_id)
    try:
        live.session.import_model(body.to_model_dict())
    except ValueError as exc:
        spec = live.session.spec
        raise ApiError(422, p.ErrorMessage(
            code="invalid", request="import_model", field="model", message=str(exc),
            allowed=f"a model of version 1 with {spec.n_inputs} inputs, {spec.n_outputs} outputs and task "
                    f"{spec.task!r}, its weights and biases of the shapes its architecture gives")) from None
    live.set_playing(False)
    live.notify()
    return _summary(live)


@router.get("/sessions/{session_id}/dataset", summary="Export the points, labels and split", responses=NOT_FOUND)
async def export_dataset(request: Request, session_id: SessionId) -> dict[str, Any]:
    await _background(request)
    body = messages.dataset_message(_live(request, session_id))
    return {k: v for k, v in body.items() if k != "type"} | {
        split: {"x": body[split]["x"].tolist(), "y": body[split]["y"].tolist()} for split in ("train", "val", "test")}


@router.get("/sessions/{session_id}/history", summary="The whole history as JSON", responses=NOT_FOUND)
async def export_history(request: Request, session_id: SessionId) -> dict[str, Any]:
    await _background(request)
    return messages.history_message(_live(request, session_id))


# response_class=Response: the 200 is text/csv, every error the usual JSON.
@router.get("/sessions/{session_id}/history.csv", summary="The history as CSV", response_class=Response,
            responses=NOT_FOUND | {200: {"description": "One row per update, epoch and change",
                                         "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def export_history_csv(request: Request, session_id: SessionId) -> PlainTextResponse:
    await _background(request)
    live = _live(request, session_id)
    return PlainTextResponse(live.session.history.to_csv(), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="paramlab-{session_id}.csv"'})


@router.post("/sessions/{session_id}/predict", summary="Network outputs at raw input points", responses=NOT_FOUND)
async def predict(request: Request, session_id: SessionId, body: PredictRequest) -> dict[str, Any]:
    live = _live(request, session_id)
    try:
        outputs = live.session.predict_raw(body.points)
    except ValueError as exc:
        s = live.session
        width = 2 if s.data.plane else s.spec.n_inputs
        raise ApiError(422, p.ErrorMessage(code="invalid", field="points", message=str(exc),
                                           allowed=f"rows of {width} finite numbers")) from None
    return {"outputs": outputs.tolist()}


@router.post("/sessions/{session_id}/save", status_code=201, summary="Save the session as a named run",
             responses=NOT_FOUND)
async def save_run(request: Request, session_id: SessionId, body: SaveRequest) -> dict[str, Any]:
    live = _live(request, session_id)
    run_id = secrets.token_urlsafe(9)
    doc = {"name": body.name, "saved_at": time.time(), "state": session_state(live.session)}
    await asyncio.to_thread(_registry(request).store.put, "run", run_id, doc)
    return {"run_id": run_id, "name": body.name, "link": f"/?run={run_id}"}


@router.get("/runs/{run_id}", summary="A saved run: its name, configuration and progress", responses=NOT_FOUND)
async def get_run(request: Request, run_id: RunId) -> dict[str, Any]:
    doc = await asyncio.to_thread(_registry(request).store.get, "run", run_id)
    if doc is None:
        raise ApiError(404, p.ErrorMessage(code="no_session", field="run_id", value=run_id,
                                           allowed="an id returned by a save", message=f"no saved run {run_id!r}"))
    state = doc["state"]
    return {"run_id": run_id, "name": doc["name"], "saved_at": doc["saved_at"], "config": state["config"],
            "hyper": state["hyper"], "step": state["model"]["step"], "epoch": state["model"]["epoch"]}


@router.post("/runs/{run_id}/open", status_code=201, summary="Open a saved run as a new session",
             responses=NOT_FOUND | FULL)
async def open_run(request: Request, run_id: RunId) -> dict[str, Any]:
    doc = await asyncio.to_thread(_registry(request).store.get, "run", run_id)
    if doc is None:
        raise ApiError(404, p.ErrorMessage(code="no_session", field="run_id", value=run_id,
                                           allowed="an id returned by a save", message=f"no saved run {run_id!r}"))
    try:
        live = _registry(request).adopt(restore_session(doc["state"]))
    except RegistryFull as exc:
        raise _full(request, exc) from None
    return _summary(live)
