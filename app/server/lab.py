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

The optimizer lab's jobs (landscape, race, learning-rate sweep) run the same way and
count against the same limits, but start from the session's current point, not its
initial weights: a landscape copies the weights and the training split, a race or a
sweep the whole state (`persist.session_state`), so their copies train on the very
batches the live run would take next. Their results are not kept.
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
from app.training import lab_work, landscape, race, relevance
from app.training.build import Built
from app.training.cross_validation import check_k
from app.training.persist import session_state
from app.training.search import grid, random_draws
from app.training.session import TrainingSession

Send = Callable[[dict[str, Any]], Awaitable[None]]
KINDS = {"cross_validate": "cross_validation", "search": "search", "landscape": "landscape", "race": "race",
         "lr_sweep": "lr_sweep"}
KEPT = ("cross_validation", "search")  # kinds whose last result the session keeps for the exports
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


OptimizerLabMessage = p.Landscape | p.Race | p.LrSweep


def optimizer_lab_job(s: TrainingSession, msg: OptimizerLabMessage) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """The job function and arguments of an optimizer-lab message, checked against the session:
    copies of what the job reads (the weights and training split for a landscape, the whole
    state for a race or a sweep), taken now. ServiceError for a diverged run, or for weights
    a landscape names that the network does not have."""
    request = msg.type
    if s.diverged is not None:
        raise invalid(request, "type", request, "a run that has not diverged (roll back first)",
                      f"the run diverged (its weights are not finite): roll back before you start a {request}")
    if isinstance(msg, p.Landscape):
        weights = landscape_weights(s, msg)
        seed = msg.seed if msg.seed is not None else s.config.seed
        return lab_work.landscape_job, (s.spec, copy.deepcopy(s.params), copy.deepcopy(s.model.trainable),
                                        s.data.X["train"].copy(), s.Y["train"].copy(), s.hyper.regularization,
                                        s.hyper.reg_rate, msg.mode, weights, msg.span, msg.resolution, seed)
    state = session_state(s)  # read now, between two turns of training: the state of one moment
    if isinstance(msg, p.Race):
        contenders = [race.Contender(**c.model_dump()) for c in msg.contenders]
        return functools.partial(lab_work.race_job, fast_path=s.fast), (state, contenders, msg.updates)
    return functools.partial(lab_work.lr_sweep_job, fast_path=s.fast), (state, msg.low, msg.high, msg.points,
                                                                        msg.updates)


def landscape_weights(s: TrainingSession, msg: p.Landscape) -> list[landscape.Param] | None:
    """The engine's names of the two parameters a "weights" landscape is along (None in "random"
    mode); ServiceError naming the entry the network does not have."""
    if msg.mode == "random":
        if msg.weights is not None:
            raise invalid("landscape", "weights", msg.weights, 'null in mode "random"',
                          'weights: a random landscape takes no weights; send mode "weights" to slice along two')
        return None
    if msg.weights is None:
        raise invalid("landscape", "weights", None, 'two parameters, [layer, i, j] (a weight) or [layer, "b", j]',
                      'weights: mode "weights" needs the two parameters to slice along')
    params: list[landscape.Param] = [(layer, "b", 0, j) if i == "b" else (layer, "W", i, j)
                                     for layer, i, j in msg.weights]
    for k, param in enumerate(params):
        try:
            landscape.flat_index(s.params, param)
        except ValueError as exc:
            sizes = s.spec.layer_sizes
            raise invalid("landscape", f"weights.{k}", list(msg.weights[k]),
                          f"layer 0 to {len(sizes) - 2}; in layer l, i below its inputs and j below its units "
                          f"(units per layer: {list(sizes)})", f"weights.{k}: {exc}") from None
    if landscape.flat_index(s.params, params[0]) == landscape.flat_index(s.params, params[1]):
        raise invalid("landscape", "weights", [list(w) for w in msg.weights], "two different parameters",
                      "weights: the two parameters are the same one; choose two different ones")
    return params


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

    async def start(self, live: LiveSession, msg: p.CrossValidate | p.Search | OptimizerLabMessage) -> str:
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
        elif isinstance(msg, p.Search):
            search_trials(s, msg)
            config, hyper, built = job_copy(s)
            seed = msg.seed if msg.seed is not None else s.config.seed
            space = {name: list(values) for name, values in msg.space.items()}
            target = functools.partial(lab_work.search_job, fast_path=s.fast)
            args = (config, hyper, built, msg.mode, space, msg.trials, seed, msg.epochs, s.stop_rule)
        else:
            target, args = optimizer_lab_job(s, msg)
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
            if state == "done" and isinstance(result, dict) and kind in KEPT:
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
