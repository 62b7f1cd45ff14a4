"""The one service layer: create, find, fork, open, save, step, import, export,
and every control.

The websocket and the HTTP API (and the classroom, for forks and pushes) are
thin adapters over these methods, so all take the same quotas, the same
checks and the same errors. A refusal is a `ServiceError` carrying the HTTP
status and the protocol's one error shape; the websocket sends the error,
the HTTP API answers with it.

Heavy work never holds the event loop for long: a step of thousands of
updates (or phases) runs in slices of `STEP_SLICE_SECONDS` with the loop free in between
(every other client's frames go out meanwhile, and this one's show the
progress).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel

from app import protocol as p
from app.server import controls
from app.server.lab_jobs import LabJobs
from app.server.quotas import QuotaExceeded, Quotas
from app.server.registry import LiveSession, Registry, RegistryFull
from app.server.rooms import Rooms
from app.settings import Settings
from app.training.config import HyperState, RunConfig
from app.training.persist import fork_session, restore_session, session_state
from app.training.session import SessionError

# The longest the event loop trains one requested step before letting I/O run.
STEP_SLICE_SECONDS = 0.005
# Phases are for watching one update at a time: one step runs at most this many (each
# builds a trace). Updates and epochs are bounded by their work instead (`controls.check_step`).
MAX_STEP_PHASES = 1000


class ServiceError(Exception):
    """A request refused: `status` for HTTP, `error` in the protocol's one shape."""

    def __init__(self, status: int, error: p.ErrorMessage) -> None:
        super().__init__(error.message)
        self.status = status
        self.error = error


def error(code: str, message: str, request: str | None = None, **fields: Any) -> dict[str, Any]:
    """An error in the protocol's one shape, ready to send."""
    return p.ErrorMessage(code=code, request=request, message=message, **fields).model_dump()  # type: ignore[arg-type]


def refused(exc: SessionError, request: str | None) -> ServiceError:
    return ServiceError(422, p.ErrorMessage(code=exc.code, request=request, field=exc.field, value=exc.value,
                                            allowed=exc.allowed, message=str(exc)))


def over_quota(exc: QuotaExceeded, request: str | None) -> ServiceError:
    return ServiceError(429, p.ErrorMessage(code=exc.code, request=request, allowed=exc.allowed,  # type: ignore[arg-type]
                                            message=str(exc)))


def no_run(run_id: str, request: str | None) -> ServiceError:
    return ServiceError(404, p.ErrorMessage(code="no_session", request=request, field="run_id", value=run_id,
                                            allowed="an id returned by a save", message=f"no saved run {run_id!r}"))


def forbidden(message: str, request: str | None, allowed: str = "the room's teacher key") -> ServiceError:
    return ServiceError(403, p.ErrorMessage(code="forbidden", request=request, allowed=allowed, message=message))


@dataclass
class Service:
    registry: Registry
    rooms: Rooms
    quotas: Quotas
    settings: Settings
    # The lab's background jobs (cross-validation, search) of every client.
    lab: LabJobs = field(default_factory=LabJobs)

    # ---------------------------------------------------------------- sessions

    def new_session_quota(self, address: str, request: str | None) -> None:
        """Count a new session of `address`, storing its oldest unwatched one if it holds its quota."""
        self.registry.make_room_for(address, self.settings.sessions_per_client)
        try:
            self.quotas.new_session(address, self.registry.held_by(address))
        except QuotaExceeded as exc:
            raise over_quota(exc, request) from None

    def _full(self, exc: RegistryFull, request: str | None) -> ServiceError:
        return ServiceError(503, p.ErrorMessage(code="limit", request=request, message=str(exc),
                                                allowed=f"at most {self.registry.max_sessions} sessions"))

    def create(self, address: str, config: p.ConfigPatch | None, hyper: p.HyperPatch | None,
               request: str | None = None, playing: bool | None = None,
               updates_per_second: float | None = None) -> LiveSession:
        """A new session from a configuration and hyperparameters (both partial);
        `updates_per_second` None keeps the default speed."""
        self.new_session_quota(address, request)
        try:
            run_config = RunConfig().with_changes(config.model_dump(exclude_unset=True)) if config else RunConfig()
            run_hyper = HyperState(**(hyper.model_dump(exclude_none=True) if hyper else {}))
            live = self.registry.create(run_config, run_hyper, address)
        except RegistryFull as exc:
            raise self._full(exc, request) from None
        except ValueError as exc:
            raise ServiceError(422, p.ErrorMessage(code="invalid", request=request, field="config",
                                                   message=str(exc))) from None
        if updates_per_second is not None:
            live.updates_per_second = updates_per_second
        if playing:
            live.set_playing(True)
            self.registry.work.set()
        return live

    async def find(self, session_id: str, key: str | None, request: str | None) -> LiveSession | None:
        """The live or stored session `session_id` (None: unknown), if `key` may
        read and drive it: a room's session answers only to its teacher's key."""
        live = await self.registry.load(session_id)
        if live is not None:
            self.check_key(live, key, request)
        return live

    def fork(self, address: str, live: LiveSession, request: str | None = "fork") -> LiveSession:
        """An independent copy of `live`, as a new session of `address`."""
        self.new_session_quota(address, request)
        try:
            return self.registry.adopt(fork_session(live.session), address)
        except RegistryFull as exc:
            raise self._full(exc, request) from None

    async def copy(self, address: str, live: LiveSession, request: str | None = "fork_session") -> LiveSession:
        """`fork`, with the copy rebuilt (its data regenerated) in a thread: the state is read on
        the event loop, which owns the session, so it is the state of one moment."""
        self.new_session_quota(address, request)
        state = session_state(live.session)
        session = await asyncio.to_thread(restore_session, state)
        try:
            return self.registry.adopt(session, address)
        except RegistryFull as exc:
            raise self._full(exc, request) from None

    async def saved_run(self, run_id: str, request: str | None = None) -> dict[str, Any]:
        """The stored document of a saved run (read in a thread)."""
        doc: dict[str, Any] | None = await asyncio.to_thread(self.registry.store.get, "run", run_id)
        if doc is None:
            raise no_run(run_id, request)
        return doc

    async def open_run(self, address: str, run_id: str, request: str | None = None) -> LiveSession:
        """A saved run, opened as a new session."""
        doc = await self.saved_run(run_id, request)
        self.new_session_quota(address, request)
        try:
            return self.registry.adopt(restore_session(doc["state"]), address)
        except RegistryFull as exc:
            raise self._full(exc, request) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(422, p.ErrorMessage(code="invalid", request=request, field="run_id", value=run_id,
                                                   message=f"saved run {run_id!r} cannot be opened: {exc}")) from None

    async def save(self, address: str, live: LiveSession, name: str, request: str | None = None) -> dict[str, Any]:
        """Store the session as a named run; returns its id, name and link."""
        doc = {"name": name, "saved_at": time.time(), "state": session_state(live.session)}
        raw = await asyncio.to_thread(orjson.dumps, doc, option=orjson.OPT_SERIALIZE_NUMPY)
        try:
            self.quotas.store_write(address, "save", len(raw))
        except QuotaExceeded as exc:
            raise over_quota(exc, request) from None
        run_id = secrets.token_urlsafe(12)
        await asyncio.to_thread(self.registry.store.put, "run", run_id, orjson.loads(raw))
        return {"run_id": run_id, "name": name, "link": f"/?run={run_id}"}

    # ---------------------------------------------------------------- control

    def check_key(self, live: LiveSession, key: str | None, request: str | None) -> None:
        """A room's session answers only to its teacher's key."""
        if live.owner_key_hash is not None and not live.owned_by(key):
            raise forbidden("this session belongs to a classroom room: only its teacher can read or change it",
                            request)

    def control(self, live: LiveSession, msg: BaseModel) -> None:
        """Apply one control message (not a step: see `step`)."""
        kind = str(getattr(msg, "type", None))
        would_play_full_speed = (
            (isinstance(msg, p.Play) and live.updates_per_second is None and not live.playing)
            or (isinstance(msg, p.SetSpeed) and msg.updates_per_second is None and live.playing
                and live.updates_per_second is not None))
        if would_play_full_speed:
            try:
                self.quotas.full_speed(self.registry.full_speed_of(live.address) + 1)
            except QuotaExceeded as exc:
                raise over_quota(exc, kind) from None
        try:
            controls.apply(live, msg)
        except SessionError as exc:
            raise refused(exc, kind) from None
        if live.playing:
            self.registry.work.set()

    async def step(self, live: LiveSession, unit: str, count: int, request: str = "step") -> None:
        """Pause and train `count` updates, epochs or phases, in slices that let I/O run."""
        try:
            if unit == "phase" and count > MAX_STEP_PHASES:
                raise SessionError(f"count: at most {MAX_STEP_PHASES} phases at a time; step again for more "
                                   f"(got {count})", field="count", value=count, allowed=f"1 to {MAX_STEP_PHASES}")
            controls.check_step(live, unit, count)
        except SessionError as exc:
            raise refused(exc, request) from None
        live.set_playing(False)
        s = live.session
        if unit == "phase":
            done = 0
            while done < count:
                deadline = time.perf_counter() + STEP_SLICE_SECONDS
                try:
                    s.step_phase()
                    done += 1
                    while done < count and time.perf_counter() < deadline:
                        s.step_phase()
                        done += 1
                except SessionError as exc:
                    raise refused(exc, request) from None
                finally:
                    live.notify()
                if done < count:
                    await asyncio.sleep(0)
        else:
            for _ in range(count if unit == "epoch" else 1):
                todo = s.updates_left_in_epoch() if unit == "epoch" else count
                while todo > 0 and s.diverged is None and not s.stopped_early:
                    todo -= s.advance(todo, deadline=time.perf_counter() + STEP_SLICE_SECONDS)
                    live.notify()
                    await asyncio.sleep(0)
                if s.diverged is not None or s.stopped_early:
                    break
        s.mark_changed()
        live.notify()

    def export_model(self, live: LiveSession) -> dict[str, Any]:
        """The session's model in the documented JSON format (see `import_model`)."""
        return live.session.export_model()

    def import_model(self, live: LiveSession, doc: p.ModelDocument, request: str = "import_model") -> None:
        try:
            live.session.import_model(doc.to_model_dict())
        except ValueError as exc:
            spec = live.session.spec
            raise ServiceError(422, p.ErrorMessage(
                code="invalid", request=request, field="model", message=str(exc),
                allowed=f"a model of version 1 with {spec.n_inputs} inputs, {spec.n_outputs} outputs and task "
                        f"{spec.task!r}, its weights and biases of the shapes its architecture gives")) from None
        live.set_playing(False)
        live.rebuilds += 1
        live.notify()
