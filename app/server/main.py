"""Build the app: settings, routes, the websocket, the page and the training loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app import protocol as p
from app.nn import fast
from app.protocol.reach import Reach
from app.server import api, lessons_api, reach, uploads
from app.server.guard import HostPolicy, RequestGuard, host_name, is_loopback
from app.server.headers import SecurityHeaders
from app.server.lab_jobs import LabJobs
from app.server.quotas import Quotas
from app.server.registry import Registry
from app.server.rooms import Rooms
from app.server.scheduler import training_loop
from app.server.service import Service
from app.server.snapshots import save_all, snapshot_loop
from app.server.storage import MemoryStore, SQLiteStore, Store, StoreUnavailable
from app.server.ws import websocket_endpoint
from app.settings import Settings
from app.training import custom_data
from app.training.session import TrainingSession

if TYPE_CHECKING:
    from app.server.cluster.node import Node

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("paramlab")


def make_store(settings: Settings) -> Store:
    if settings.redis_url:  # imported only then: the embedded default never loads the Redis client
        from app.server.cluster.store import RedisStore, connect

        return RedisStore(connect(settings.redis_url))
    if settings.store == "memory":
        return MemoryStore()
    if settings.store == "sqlite":
        return SQLiteStore(Path(settings.data_dir) / "paramlab.sqlite")
    raise ValueError(f"PARAMLAB_STORE must be sqlite or memory (got {settings.store!r})")


def start_fast_path(enabled: bool) -> None:
    """Compile the fast path in a background thread (seconds the first time,
    then from numba's cache); sessions train on numpy until it is ready."""
    TrainingSession.fast = enabled
    if not enabled:
        log.info("fast path off (PARAMLAB_FAST_PATH=0); using the numpy reference path")
        return

    def report(ok: bool) -> None:
        if ok:
            log.info("fast path ready (compiled kernel)")
        else:
            log.warning("fast path unavailable: %s; using the numpy reference path", fast.reason())

    fast.warm_up_in_background(report)


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette's own Allow names the first route's only)."""
    methods: set[str] = set()
    for route in [*request.app.router.routes, *api.router.routes, *uploads.router.routes]:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def routing_error(request: Request, exc: StarletteHTTPException) -> p.ErrorMessage:
    """The one error shape for an error raised with a plain text detail."""
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 400:
        return p.ErrorMessage(code="bad_json", allowed="one JSON object in UTF-8",
                              message=f"{where}: the body cannot be read as JSON (not UTF-8, or nested too deeply)")
    if exc.status_code == 404:
        return p.ErrorMessage(code="invalid", field="path", value=request.url.path[:p.MAX_ECHO_BYTES],
                              allowed="the routes listed at /docs", message=f"{where}: no such route")
    if exc.status_code == 405:
        methods = allowed_methods(request)
        return p.ErrorMessage(code="invalid", field="method", value=request.method, allowed=methods,
                              message=f"{where}: method not allowed; allowed: {methods}")
    return p.ErrorMessage(code="invalid", message=f"{where}: {exc.detail}")


# A Host header as a browser sends it: a name or an address ('[fd00::5]' for IPv6), maybe a port.
HOST_HEADER = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[0-9a-z.-]+)(?::(?P<port>[0-9]{1,5}))?")


def page_base(request: Request, policy: HostPolicy) -> str | None:
    """The base URL the page was opened on, when that is a non-loopback name this server answers to."""
    header = request.headers.get("host", "")
    match = HOST_HEADER.fullmatch(header.strip().lower())
    if match is None or is_loopback(host_name(header)) or not policy.host_allowed(header):
        return None
    scheme = request.url.scheme
    port = int(match["port"]) if match["port"] else {"https": 443}.get(scheme, 80)
    return reach.base_url(match["name"].strip("[]"), port, scheme)


_startup_frozen = False


def freeze_startup_objects() -> None:
    """What start-up made (modules, the app, numba's and numpy's tables: most of the process's objects) lives as
    long as the process: the cyclic collector need not walk it again and again. Its full collections then walk
    the sessions only (with them, one took 110 ms of the event loop under a class of 150; without, about half).
    Once per process: an app started again in the same process (tests) leaves the first freeze as it was."""
    global _startup_frozen
    if not _startup_frozen:
        _startup_frozen = True
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None, list_addresses: reach.ListAddresses | None = None) -> FastAPI:
    """list_addresses: lists the machine's network addresses (tests give made-up ones);
    by default the settings' `network_addresses`, else the interfaces' own."""
    settings = settings or Settings()
    list_addresses = list_addresses or reach.address_lister(settings)
    policy = HostPolicy(settings, list_addresses=list_addresses)
    store = make_store(settings)
    registry = Registry(settings.max_sessions, store)
    node: Node | None = None
    if settings.redis_url:
        from app.server.cluster.node import Node
        from app.server.cluster.store import RedisStore

        assert isinstance(store, RedisStore)
        node = Node(store, settings.redis_url, registry, settings.lease_seconds)
    # Uploaded datasets live in the same store as the sessions that use them
    # (process-wide, like the fast-path switch: one app per server process).
    custom_data.library.use_store(store)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start_fast_path(settings.fast_path)
        await registry.restore_all()
        freeze_startup_objects()
        tasks = [asyncio.create_task(training_loop(registry, settings.slice_seconds)),
                 asyncio.create_task(snapshot_loop(registry, settings))]
        if node is not None:
            tasks.append(asyncio.create_task(node.run()))
        yield
        for task in tasks:
            task.cancel()
        await app.state.service.lab.close()
        await save_all(registry)
        if node is not None:  # after the last snapshots: another process resumes from them
            await node.close()

    # /docs is our own page (below): FastAPI's loads Swagger UI from a CDN with an inline script.
    app = FastAPI(title="Paramlab", version=str(p.PROTOCOL_VERSION), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="A live laboratory for the parameters of a neural network. "
                              "The websocket protocol is documented in docs/protocol.md.")
    app.state.settings = settings
    app.state.registry = registry
    app.state.rooms = Rooms(store, settings.room_hours)
    if node is not None:  # the classroom and the websocket reach the node through the rooms' link
        from app.server.cluster.room_link import RoomLink

        app.state.rooms.link = RoomLink(node, app.state.rooms)
    app.state.service = Service(registry, app.state.rooms, Quotas(settings), settings,
                                LabJobs(settings.lab_workers, settings.lab_jobs_per_client))
    templates = Jinja2Templates(directory=str(ROOT / "templates"))

    # Starlette's own HTTPException too: FastAPI raises it for a body it cannot parse (400), and the
    # router for an unknown path (404) or method (405); every error has the one shape.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: Any = exc.detail
        headers = exc.headers
        if not isinstance(detail, dict):
            error = routing_error(request, exc)
            detail = error.model_dump()
            if exc.status_code == 405:
                headers = {**(headers or {}), "Allow": str(error.allowed)}
        return JSONResponse(detail, status_code=exc.status_code, headers=headers)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        """Redis down (PARAMLAB_REDIS_URL): a request that needs the store is answered 503, Retry-After."""
        error = p.ErrorMessage(code="unavailable", allowed="try again in a few seconds",
                               message=f"{request.method} {request.url.path}: the shared store cannot be reached "
                                       f"({exc}); try again in a few seconds")
        return JSONResponse(error.model_dump(), status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = p.error_from_details(exc.errors()[0], None, None)
        try:
            p.encode({"value": error.value})
        except TypeError:
            error.value = repr(error.value)
        return JSONResponse(error.model_dump(), status_code=400 if error.code == "bad_json" else 422)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, Any]:
        """With Redis (PARAMLAB_REDIS_URL) also `store`: "ok", or "degraded" and the `reason`."""
        # async: it only reads a few attributes, and a probe every few seconds (or every 100 ms, as
        # the benchmarks' is) should not cost two hops to a worker thread and back.
        if node is None:
            return {"status": "ok"}
        return {"status": "ok", **node.health()}

    @app.get("/api/vocabulary", tags=["vocabulary"], summary="Names, labels, slider ranges and limits",
             responses=api.ERRORS, dependencies=[Depends(api.known_query)])
    def vocabulary() -> JSONResponse:
        """Every name a configuration may use with its label, the page's slider ranges, and the limits."""
        return JSONResponse(p.vocabulary.document(), headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/api/reach", tags=["classroom"], summary="Where students can reach this server",
             responses=api.ERRORS, dependencies=[Depends(api.known_query)])
    async def where_students_reach(request: Request) -> Reach:
        """The base URLs students' devices can open, best first, for a room's join link and QR code:
        the public URL when set (PARAMLAB_PUBLIC_URL), else this machine's network addresses, the one the
        page was opened on first. A server listening on loopback only has none, and says what to run instead."""
        addresses = await asyncio.to_thread(list_addresses)  # listing interfaces is a system call
        port = request.scope["server"][1] if request.scope.get("server") else settings.port
        return reach.describe(settings, addresses, port, page_base(request, policy))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "index.html", {"static_url": "/static"})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        """Swagger UI vendored in static/ with an external init script: works offline and under the CSP."""
        return templates.TemplateResponse(request, "docs.html", {
            "static_url": "/static", "title": app.title, "openapi_url": app.openapi_url})

    if node is not None:  # innermost: requests about a session held elsewhere go to its holder
        from app.server.cluster.http_proxy import SessionProxy

        app.add_middleware(SessionProxy, node=node)
        node.http_app = app
    app.add_middleware(api.BodyLimit, timeout=settings.http_timeout_seconds)
    app.add_middleware(RequestGuard, policy=policy)
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
    app.include_router(api.router)
    app.include_router(uploads.router)
    app.include_router(lessons_api.router)
    app.add_api_websocket_route("/ws", websocket_endpoint)
    app.mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static")
    return app
