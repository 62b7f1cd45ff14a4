"""The HTTP API: the same sessions as the websocket, scripted.

For notebooks, tests and teachers preparing a demo. Every route is in the
OpenAPI schema at `/docs`. Errors have the protocol's one error shape.

Routes are `async`: they run on the event loop, between the training loop's
turns, so a request never changes or reads a session while it is training
(the worker threads FastAPI gives plain `def` routes would race with it).
Store reads and writes go to a thread; a long step runs in slices
(`service.py`). A session of a classroom room answers only to its teacher's
key, sent as the `X-Teacher-Key` header or the `paramlab_teacher` cookie.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import protocol as p
from app.server import messages
from app.server.registry import LiveSession, Registry
from app.server.service import Service, ServiceError
from app.server.snapshots import BACKGROUND_WAIT
from app.training import take_home
from app.training.history import History

# The largest request body taken: a predict of 20,000 rows of 16 numbers is about 6.6 MB, the
# largest model export (8 layers of 32, Adam's state) under 1 MB.
MAX_BODY_BYTES = 8 * 1024 * 1024
# A model document: the largest model (8 layers of 32, Adam's state) exports to under 1 MB.
MAX_MODEL_BYTES = 2 * 1024 * 1024
# A request body must arrive within this many times `http_timeout_seconds` in all.
BODY_TIME_FACTOR = 4

# Every error answers with the protocol's one error shape; the schema says so for each status.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": p.ErrorMessage, "description": "The body is not JSON (`bad_json`)"},
    413: {"model": p.ErrorMessage, "description": f"The body is over {MAX_BODY_BYTES:,} bytes (`too_large`)"},
    422: {"model": p.ErrorMessage, "description": "A field is missing, of the wrong type or out of range, "
                                                  "or the request does not fit the session (`invalid`)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    403: {"model": p.ErrorMessage, "description": "The session belongs to a classroom room and the teacher key "
                                                  "(`X-Teacher-Key` header or `paramlab_teacher` cookie) is "
                                                  "missing or wrong (`forbidden`)"},
    404: {"model": p.ErrorMessage, "description": "No such session or saved run (`no_session`)"}}
QUOTA: dict[int | str, dict[str, Any]] = {
    429: {"model": p.ErrorMessage, "description": "A quota of this client address is used up (`limit`)"}}
TEACHER_KEY_HEADER = "x-teacher-key"
TEACHER_KEY_COOKIE = "paramlab_teacher"
FULL: dict[int | str, dict[str, Any]] = {
    503: {"model": p.ErrorMessage, "description": "The server holds all the sessions it can (`limit`); or, with "
                                                  "Redis, the shared store cannot be reached or the session is busy "
                                                  "in another process: try again in a few seconds (`unavailable`)"}}



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
    """Refuse a request body past its limit (413, `too_large`) without reading the
    rest of it, and one that stalls for `timeout` seconds (408).

    Bodies are parsed and validated on the event loop, so their size bounds the
    time they take: a model document, at most `MAX_MODEL_BYTES`, is validated in
    a few milliseconds.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES, timeout: float = 15.0) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout

    def limit_for(self, scope: Scope) -> int:
        if scope["method"] == "PUT" and scope["path"].endswith("/model"):
            return MAX_MODEL_BYTES
        return self.limit

    @staticmethod
    def error(limit: int) -> ApiError:
        return ApiError(413, p.ErrorMessage(code="too_large", allowed=f"at most {limit:,} bytes",
                                            message=f"the request body is larger than {limit:,} bytes"))

    def stalled(self) -> ApiError:
        total = BODY_TIME_FACTOR * self.timeout
        return ApiError(408, p.ErrorMessage(code="invalid", allowed=f"a body that arrives within {total:g} s, "
                                            f"with no pause over {self.timeout:g} s",
                                            message=f"the request body stalled (a pause over {self.timeout:g} s, "
                                                    f"or longer than {total:g} s in all)"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            error = self.error(limit)
            await JSONResponse(error.detail, status_code=413)(scope, receive, send)
            return
        size = 0
        # A body that trickles in (a byte now and then) is cut off too: it has a total time.
        deadline = asyncio.get_running_loop().time() + BODY_TIME_FACTOR * self.timeout

        async def limited() -> Message:
            nonlocal size
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout_at(min(deadline, loop.time() + self.timeout)):
                    message = await receive()
            except TimeoutError:
                raise self.stalled() from None  # raised where the route reads its body: the handler answers it
            size += len(message.get("body", b""))
            if size > limit:
                raise self.error(limit)
            return message

        await self.app(scope, limited, send)


SessionId = Annotated[str, Path(max_length=64, description="An id returned by POST /api/sessions")]
RunId = Annotated[str, Path(max_length=64, description="An id returned by a save")]


class CreateSession(p.Strict):
    """A configuration and hyperparameters; every field is optional."""

    config: p.ConfigPatch = Field(default_factory=p.ConfigPatch)
    hyper: p.HyperPatch = Field(default_factory=p.HyperPatch)


class StepRequest(p.Strict):
    unit: Literal["update", "epoch"] = "update"
    count: Annotated[int, Field(ge=1, le=p.MAX_STEP_UPDATES)] = 1


class SaveRequest(p.Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]


class PredictRequest(p.Strict):
    """Raw input points (for 2-D data: x1, x2 before feature transforms)."""

    points: Annotated[list[Annotated[list[p.Finite], Field(min_length=1, max_length=p.MAX_FEATURES)]],
                      Field(min_length=1, max_length=20000)]


async def _background(request: Request) -> None:
    """Exports are not live work: they wait (a little) for a round of the
    training loop with time to spare, as snapshots do."""
    await _registry(request).spare(BACKGROUND_WAIT)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _registry(request: Request) -> Registry:
    return _service(request).registry


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def teacher_key(request: Request) -> str | None:
    return request.headers.get(TEACHER_KEY_HEADER) or request.cookies.get(TEACHER_KEY_COOKIE)


async def _live(request: Request, session_id: str) -> LiveSession:
    """The session, if this request may read or change it (a room's session: its teacher only)."""
    live = await _await(_service(request).find(session_id, teacher_key(request), None))
    if live is None:
        raise ApiError(404, p.ErrorMessage(code="no_session", field="session_id", value=session_id,
                                           allowed="an id returned by POST /api/sessions",
                                           message=f"session {session_id!r} is not known to this server"))
    return live


def _call(action: Any) -> Any:
    """Run a service call; its refusal becomes the HTTP answer."""
    try:
        return action()
    except ServiceError as exc:
        raise ApiError(exc.status, exc.error) from None


async def _await(action: Any) -> Any:
    try:
        return await action
    except ServiceError as exc:
        raise ApiError(exc.status, exc.error) from None


def _apply(live: LiveSession, msg: BaseModel, request: Request) -> None:
    _call(lambda: _service(request).control(live, msg))


def _summary(live: LiveSession) -> dict[str, Any]:
    s = live.session
    out: dict[str, Any] = dict(messages.session_message(live, fps=0))
    out.pop("fps")
    out.update(step=s.step, epoch=s.epoch, metrics=s.metrics(), diverged=s.diverged)
    return out


@router.post("/sessions", status_code=201, summary="Create a session", responses=FULL | QUOTA)
async def create_session(request: Request, body: CreateSession | None = None) -> dict[str, Any]:
    body = body or CreateSession()
    live = _call(lambda: _service(request).create(_address(request), body.config, body.hyper, "create_session"))
    return _summary(live)


@router.get("/sessions/{session_id}", summary="Configuration, hyperparameters and metrics", responses=NOT_FOUND)
async def get_session(request: Request, session_id: SessionId) -> dict[str, Any]:
    return _summary(await _live(request, session_id))


@router.get("/sessions/{session_id}/hyper", summary="Read the hyperparameters", responses=NOT_FOUND)
async def get_hyper(request: Request, session_id: SessionId) -> dict[str, Any]:
    return (await _live(request, session_id)).session.hyper.to_dict()


@router.patch("/sessions/{session_id}/hyper", summary="Change hyperparameters live", responses=NOT_FOUND)
async def patch_hyper(request: Request, session_id: SessionId, body: p.HyperPatch) -> dict[str, Any]:
    live = await _live(request, session_id)
    _apply(live, p.SetHyper(type="set_hyper", **body.model_dump(exclude_none=True)), request)
    return live.session.hyper.to_dict()


@router.patch("/sessions/{session_id}/config", summary="Change the configuration (rebuilds the network)",
               responses=NOT_FOUND)
async def patch_config(request: Request, session_id: SessionId, body: p.ConfigPatch) -> dict[str, Any]:
    live = await _live(request, session_id)
    _apply(live, p.Configure(type="configure", config=body), request)
    return _summary(live)


@router.post("/sessions/{session_id}/step", summary="Train N updates or epochs, get the metrics",
             responses=NOT_FOUND)
async def step(request: Request, session_id: SessionId, body: StepRequest | None = None) -> dict[str, Any]:
    body = body or StepRequest()
    live = await _live(request, session_id)
    await _await(_service(request).step(live, body.unit, body.count))
    s = live.session
    return {"step": s.step, "epoch": s.epoch, "metrics": s.metrics(), "diverged": s.diverged}


@router.post("/sessions/{session_id}/reset", summary="Train again from the same or new initial weights",
             responses=NOT_FOUND)
async def reset(request: Request, session_id: SessionId, same_weights: bool = True) -> dict[str, Any]:
    live = await _live(request, session_id)
    _apply(live, p.Reset(type="reset", same_weights=same_weights), request)
    return _summary(live)


@router.get("/sessions/{session_id}/model", summary="Export the model as JSON", responses=NOT_FOUND)
async def export_model(request: Request, session_id: SessionId) -> JSONResponse:
    await _background(request)
    live = await _live(request, session_id)
    doc = _service(request).export_model(live) | {"lab": lab_summary(live)}
    return JSONResponse(doc, headers={"Content-Disposition": f'attachment; filename="paramlab-{session_id}.json"'})


def lab_summary(live: LiveSession) -> dict[str, Any]:
    """The last cross-validation (k, metric, fold scores, mean, std) and the last search (mode,
    trials with values and scores, the best one's index) of the session; each None until one ran."""
    results = live.lab_results
    cv, search = results.get("cross_validation"), results.get("search")
    return {
        "cross_validation": {key: cv[key] for key in ("k", "metric", "scores", "mean", "std")} if cv else None,
        "search": {key: search[key] for key in ("mode", "trials", "best")} if search else None,
    }


CodeLang = Literal["numpy", "torch"]


@router.get("/sessions/{session_id}/code.py", summary="The session as a Python script that trains on",
            response_class=Response,
            responses=NOT_FOUND | {
                200: {"description": "A self-contained NumPy or PyTorch script (attachment paramlab_<id>.py)",
                      "content": {"text/x-python": {"schema": {"type": "string"}}}},
                409: {"model": p.ErrorMessage, "description": "The run diverged: roll it back first"}})
async def export_code(request: Request, session_id: SessionId, lang: CodeLang = "numpy") -> Response:
    """The network with its current weights, its training data, the optimizer state, the rest of the
    epoch and the generators' positions, as a script that continues the run exactly (docs/take_home.md)."""
    await _background(request)
    live = await _live(request, session_id)
    try:
        captured = take_home.capture(live.session)  # copied between training turns; written in a thread
    except take_home.NotExportable as exc:
        raise ApiError(409, p.ErrorMessage(code="invalid", field="session_id", value=session_id,
                                           allowed="a run that can train on", message=f"cannot export as code: {exc}"
                                           )) from None
    text = await asyncio.to_thread(take_home.render, captured, lang, session_id)
    return Response(text, media_type="text/x-python",
                    headers={"Content-Disposition": f'attachment; filename="paramlab_{session_id}.py"'})


LabKind = Literal["cross_validation", "search"]


@router.get("/sessions/{session_id}/lab.csv", summary="The last cross-validation or search as CSV",
            response_class=Response,
            responses=NOT_FOUND | {200: {"description": "One row per fold (cross_validation) or trial (search)",
                                         "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def export_lab_csv(request: Request, session_id: SessionId, kind: LabKind) -> PlainTextResponse:
    """The last finished job of `kind` on this session (kept in memory: gone after a restart)."""
    live = await _live(request, session_id)
    result = live.lab_results.get(kind)
    if result is None:
        raise ApiError(404, p.ErrorMessage(
            code="no_session", field="kind", value=kind, allowed="a kind of job that has finished on this session",
            message=f"no {kind.replace('_', '-')} has finished on session {session_id!r} since the server started: "
                    f"run one ({'cross_validate' if kind == 'cross_validation' else 'search'} message) first"))
    return PlainTextResponse(result["csv"], media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="paramlab-{session_id}-{kind}.csv"'})


class ModelFile(p.ModelDocument):
    """A model document as `GET .../model` exports it: its `lab` (the lab's results) is for
    reading, and taken back as nothing, so that an export imports as it is."""

    lab: dict[str, Any] | None = None

    def to_model_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().to_model_dict().items() if k != "lab"}


@router.put("/sessions/{session_id}/model", summary="Import a model exported as JSON", responses=NOT_FOUND)
async def import_model(request: Request, session_id: SessionId, body: ModelFile) -> dict[str, Any]:
    live = await _live(request, session_id)
    _call(lambda: _service(request).import_model(live, body))
    return _summary(live)


@router.get("/sessions/{session_id}/dataset", summary="Export the points, labels and split", responses=NOT_FOUND)
async def export_dataset(request: Request, session_id: SessionId) -> dict[str, Any]:
    await _background(request)
    body = messages.dataset_message(await _live(request, session_id))
    return {k: v for k, v in body.items() if k != "type"} | {
        split: {"x": np.asarray(body[split]["x"]).tolist(), "y": np.asarray(body[split]["y"]).tolist()}
        for split in ("train", "val", "test")}


@router.get("/sessions/{session_id}/history", summary="The whole history as JSON", responses=NOT_FOUND)
async def export_history(request: Request, session_id: SessionId) -> dict[str, Any]:
    await _background(request)
    return dict(messages.history_message(await _live(request, session_id)))


# response_class=Response: the 200 is text/csv, every error the usual JSON.
@router.get("/sessions/{session_id}/history.csv", summary="The history as CSV", response_class=Response,
            responses=NOT_FOUND | {200: {"description": "One row per update, epoch and change",
                                         "content": {"text/csv": {"schema": {"type": "string"}}}}})
async def export_history_csv(request: Request, session_id: SessionId) -> PlainTextResponse:
    await _background(request)
    live = await _live(request, session_id)
    return PlainTextResponse(live.session.history.to_csv(), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="paramlab-{session_id}.csv"'})


@router.post("/sessions/{session_id}/predict", summary="Network outputs at raw input points", responses=NOT_FOUND)
async def predict(request: Request, session_id: SessionId, body: PredictRequest) -> dict[str, Any]:
    live = await _live(request, session_id)
    try:
        outputs = live.session.predict_raw(body.points)
    except ValueError as exc:
        s = live.session
        width = 2 if s.data.plane else s.spec.n_inputs
        raise ApiError(422, p.ErrorMessage(code="invalid", field="points", message=str(exc),
                                           allowed=f"rows of {width} finite numbers")) from None
    return {"outputs": outputs.tolist()}


@router.post("/sessions/{session_id}/save", status_code=201, summary="Save the session as a named run",
             responses=NOT_FOUND | QUOTA)
async def save_run(request: Request, session_id: SessionId, body: SaveRequest) -> dict[str, Any]:
    live = await _live(request, session_id)
    saved: dict[str, Any] = await _await(_service(request).save(_address(request), live, body.name, "save"))
    return saved


@router.post("/sessions/{session_id}/fork", status_code=201, summary="Copy the session as it is now",
             responses=NOT_FOUND | FULL | QUOTA)
async def fork_session(request: Request, session_id: SessionId) -> dict[str, str]:
    """A new session, an exact copy of this one now (weights, optimizer state, generators, the rest of
    the epoch, history, tasks and replay buffer): two runs from the same start, side by side."""
    live = await _live(request, session_id)
    copy: LiveSession = await _await(_service(request).copy(_address(request), live))
    return {"session_id": copy.id}


@router.get("/runs/{run_id}", summary="A saved run: its name, configuration and progress", responses=NOT_FOUND)
async def get_run(request: Request, run_id: RunId) -> dict[str, Any]:
    doc = await _await(_service(request).saved_run(run_id))
    state = doc["state"]
    return {"run_id": run_id, "name": doc["name"], "saved_at": doc["saved_at"], "config": state["config"],
            "hyper": state["hyper"], "step": state["model"]["step"], "epoch": state["model"]["epoch"]}


@router.get("/runs/{run_id}/history", summary="A saved run's epoch rows, as they were at the save",
            responses=NOT_FOUND)
async def get_run_history(request: Request, run_id: RunId) -> p.SavedRunHistory:
    """For drawing a saved run's losses beside a live one (the page's overlay)."""
    await _background(request)
    doc = await _await(_service(request).saved_run(run_id))

    def epoch_rows() -> p.EpochRows:
        history = History()
        history.load_state(doc["state"]["history"])
        rows: p.EpochRows = history.since(-1, 0, limit=None)["epochs"]
        return rows

    try:
        epochs = await asyncio.to_thread(epoch_rows)
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(422, p.ErrorMessage(code="invalid", field="run_id", value=run_id,
                                           message=f"saved run {run_id!r} has no readable history: {exc}")) from None
    return {"run_id": run_id, "epochs": epochs}


@router.post("/runs/{run_id}/open", status_code=201, summary="Open a saved run as a new session",
             responses=NOT_FOUND | FULL | QUOTA)
async def open_run(request: Request, run_id: RunId) -> dict[str, Any]:
    live = await _await(_service(request).open_run(_address(request), run_id, "open_run"))
    return _summary(live)
