"""One connection's background jobs of the generalization lab (cross-validation and
hyperparameter search): checked against the live session, started on `LabJobs`,
their events forwarded to the client as `job` messages.

A job trains copies: the session's configuration, hyperparameters, early
stopping rule, data and initial weights (`TrainingSession.initial_params`, so
every trial starts where the live run started) are copied on the event loop
when the job is submitted; the live session goes on changing meanwhile without
touching the job. The worker process pickles the copies, not the session.

What only the session can judge (k against the number of points, a grid's size,
the validation split a search is scored on) is checked here, before anything
starts, and refused with an `error` naming the field; what the protocol checks
(types, bounds) never gets here.

The last finished job of each kind is kept on the `LiveSession`
(`lab_results`, in memory only) for the CSV and model exports.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import functools
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from app import protocol as p
from app.server.lab_jobs import Event, JobRefused, LabJobs
from app.server.registry import LiveSession
from app.server.service import ServiceError
from app.training import lab_work, relevance
from app.training.build import Built
from app.training.cross_validation import check_k
from app.training.search import grid, random_draws
from app.training.session import TrainingSession

Send = Callable[[dict[str, Any]], Awaitable[None]]
KINDS = {"cross_validate": "cross_validation", "search": "search"}
_connections = itertools.count(1)
# Importance measurements running per client address (in threads: see `LabClient.importance`).
_importance_running: collections.Counter[str] = collections.Counter()


def invalid(request: str, field: str, value: Any, allowed: str, message: str) -> ServiceError:
    return ServiceError(422, p.ErrorMessage(code="invalid", request=request, field=field, value=value,
                                            allowed=allowed, message=message))


def job_copy(s: TrainingSession) -> tuple[Any, Any, Built]:
    """The session's configuration, hyperparameters and data with its initial weights, copied."""
    built = Built(s.data, s.spec, s.task, s.Y, s.initial_params)
    return copy.deepcopy(s.config), copy.deepcopy(s.hyper), copy.deepcopy(built)


def search_trials(s: TrainingSession, msg: p.Search) -> list[dict[str, float]]:
    """The trials `msg` asks for (checked as the job will check them); ServiceError otherwise."""
    if s.data.n("val") == 0:
        raise invalid("search", "type", "search", "a validation split (configure val_ratio above 0)",
                      "a search is scored on the validation split, which is empty: give the validation split "
                      "a share first")
    space: dict[str, list[Any]] = {name: list(values) for name, values in msg.space.items()}
    if msg.mode == "grid" and msg.trials is not None:
        raise invalid("search", "trials", msg.trials, "null (a grid has one trial per combination)",
                      "trials: a grid search tries every combination of its values; trials is for random mode")
    if msg.mode == "random" and msg.trials is None:
        raise invalid("search", "trials", None, "1 to 100", "trials: a random search needs a number of trials")
    try:
        if msg.mode == "grid":
            return grid(space)
        return random_draws(space, msg.trials or 0, msg.seed if msg.seed is not None else s.config.seed)
    except ValueError as exc:
        raise invalid("search", "space", None, "fields lr, momentum, batch_size, reg_rate, dropout; 1 to 12 "
                      "values each in their ranges (random: [low, high]); at most 100 trials",
                      f"space: {exc}") from None


class LabClient:
    """The jobs of one connection (their owner); `per_client` at most for its address."""

    def __init__(self, lab: LabJobs, address: str, per_client: int, send: Send) -> None:
        self.lab = lab
        self.address = address
        self.per_client = per_client
        self.owner = f"{address} #{next(_connections)}"
        self.send = send

    def _held_by_address(self) -> int:
        return sum(1 for job in self.lab.jobs.values()
                   if job.owner.rsplit(" #", 1)[0] == self.address and not job.finished)

    async def start(self, live: LiveSession, msg: p.CrossValidate | p.Search) -> str:
        """Check `msg` against `live`, submit its job and tell the client it waits; returns its id."""
        request = msg.type
        s = live.session
        held = self._held_by_address()
        if held >= self.per_client:
            raise ServiceError(429, p.ErrorMessage(
                code="limit", request=request, field="type", value=request,
                allowed=f"at most {self.per_client} background jobs at once",
                message=f"you have {held} background jobs running or waiting, the most allowed "
                        f"({self.per_client}); wait for one to finish or cancel one"))
        if isinstance(msg, p.CrossValidate):
            n_pool = s.data.n("train") + s.data.n("val")
            try:
                check_k(msg.k, n_pool)
            except ValueError as exc:
                raise invalid(request, "k", msg.k, f"2 to {min(10, n_pool)}", f"k: {exc}") from None
            config, hyper, built = job_copy(s)
            target: Callable[..., Any] = functools.partial(lab_work.cross_validation_job, fast_path=s.fast)
            args: tuple[Any, ...] = (config, hyper, built, msg.k, msg.epochs, s.stop_rule)
        else:
            search_trials(s, msg)
            config, hyper, built = job_copy(s)
            seed = msg.seed if msg.seed is not None else s.config.seed
            space = {name: list(values) for name, values in msg.space.items()}
            target = functools.partial(lab_work.search_job, fast_path=s.fast)
            args = (config, hyper, built, msg.mode, space, msg.trials, seed, msg.epochs, s.stop_rule)
        kind = KINDS[request]
        ids: list[str] = []  # the job's id, known once submitted (its task first runs after this returns)

        async def forward(event: Event) -> None:
            await self._forward(live, ids[0], kind, event)

        try:
            job = self.lab.submit(self.owner, kind, target, args, forward)
        except JobRefused as exc:
            raise ServiceError(429, p.ErrorMessage(code="limit", request=request, field="type", value=request,
                                                   allowed=f"at most {self.lab.per_owner} background jobs at once",
                                                   message=str(exc))) from None
        ids.append(job.id)
        await self._send_job(job.id, kind, "waiting")
        return job.id

    async def _forward(self, live: LiveSession, job_id: str, kind: str, event: Event) -> None:
        """One event of a job as a `job` message; a finished job's result is kept on the session."""
        if "state" in event:
            state = str(event["state"])
            result = event.get("result")
            if state == "done" and isinstance(result, dict):
                live.lab_results[kind] = result
                result = {k: v for k, v in result.items() if k != "csv"}  # the CSV: over HTTP (lab.csv)
            await self._send_job(job_id, kind, state, result=result, message=event.get("message"))
        else:
            await self._send_job(job_id, kind, "running", event=event)

    async def _send_job(self, job_id: str, kind: str, state: str, *, event: Event | None = None,
                        result: Any = None, message: Any = None) -> None:
        body = {"type": "job", "job_id": job_id, "kind": kind, "state": state, "event": event, "result": result,
                "message": message}  # a `p.JobMessage`
        # The client may have gone: its jobs are cancelled as it leaves, this message is moot.
        with contextlib.suppress(Exception):
            await self.send(body)

    async def importance(self, live: LiveSession, repeats: int) -> dict[str, Any]:
        """The `importance` answer for the session now: measured in a thread on copies of its
        weights and held-out data (the session trains on meanwhile), at most `per_client`
        at once per address; ServiceError when it cannot be measured or too many run."""
        s = live.session
        try:
            split = relevance.held_out_split(s.data)
        except ValueError as exc:
            raise invalid("importance", "type", "importance", "a validation or test split with points",
                          str(exc)) from None
        if _importance_running[self.address] >= self.per_client:
            raise ServiceError(429, p.ErrorMessage(
                code="limit", request="importance", field="type", value="importance",
                allowed=f"at most {self.per_client} importance measurements at once",
                message=f"you have {_importance_running[self.address]} importance measurements running, the "
                        f"most allowed ({self.per_client}); wait for their answers"))
        args = (s.spec, copy.deepcopy(s.params), list(s.data.feature_names),
                relevance.constant_inputs(s.data.X["train"]), s.data.X[split].copy(), s.Y[split].copy(), split,
                repeats, s.config.seed)
        _importance_running[self.address] += 1
        try:
            body = await asyncio.to_thread(relevance.importance, *args)
        finally:
            _importance_running[self.address] -= 1
        return {"type": "importance", **body}  # a `p.ImportanceMessage`

    def cancel(self, job_id: str) -> bool:
        """Cancel this connection's job `job_id`; False when it has no such job (or it ended)."""
        return self.lab.cancel(job_id, self.owner)

    def leave(self) -> int:
        """Cancel every job of this connection (it closed)."""
        return self.lab.cancel_owner(self.owner)
