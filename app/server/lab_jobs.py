"""Background work of the labs (cross-validation, hyperparameter search; loss
landscapes, optimizer races, learning-rate sweeps): each job in a process of its
own, at the lowest CPU priority.

Live sessions train on the event loop's thread (see `scheduler.py`), so a job
in a thread of this process would take turns with them for the interpreter
lock. In a process of its own at nice 19 it takes only the CPU the live
sessions leave: on a busy machine it slows down, they do not.

- A job is a module-level function (importable in a fresh process) called with
  its arguments and a `report(event)` callable; its events and its result come
  back over a pipe and are handed to the job's `on_event`, in order.
- At most `workers` jobs run at once; the others wait their turn, first come
  first served. An owner (a client) may hold `per_owner` jobs, running or
  waiting: one more is refused with a message that says so.
- Cancelling a waiting job takes it out of the line; cancelling a running one
  ends its process. A client that leaves cancels its jobs (`cancel_owner`).

Events: `{"state": "running"}` when it starts, whatever the job reports, then
one of `{"state": "done", "result": ...}`, `{"state": "cancelled"}` or
`{"state": "failed", "message": ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

Event = dict[str, Any]
OnEvent = Callable[[Event], Awaitable[None]]
NICE = 19
# Modules the fork server imports once, so that a job's process has them already.
PRELOAD = ("app.training.lab_work",)


class JobRefused(Exception):
    """A job the owner may not start now (it holds as many as it may)."""


@dataclass
class Job:
    id: str
    owner: str
    kind: str
    state: str = "waiting"   # waiting, running, done, cancelled, failed
    process: Any = None      # the multiprocessing Process while running
    in_line: bool = False    # its task waits for a slot (a task cancelled before it starts runs no cleanup)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")


def _child(conn: Connection, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """The job's process: lowest priority, events and result over `conn`."""
    with contextlib.suppress(OSError):
        os.nice(NICE)
    try:
        result = target(*args, report=lambda event: conn.send(("event", event)))
    except Exception as exc:  # the job's own error, told to its owner
        conn.send(("failed", f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)))
    else:
        conn.send(("done", result))
    finally:
        conn.close()


class LabJobs:
    """The jobs of every client, `workers` running at once."""

    def __init__(self, workers: int = 1, per_owner: int = 2) -> None:
        self.per_owner = per_owner
        self.jobs: dict[str, Job] = {}
        self._slots = asyncio.Semaphore(workers)
        self._ids = itertools.count(1)
        # Jobs are forked by a fork server: one process started once from a fresh interpreter
        # (a fork of the server itself would copy its threads' locks), single-threaded, with
        # the job modules imported (PRELOAD). A job then starts in milliseconds, where a
        # fresh interpreter per job took a second or more of importing at the server's own
        # priority (before `_child` could lower it): a landscape of the default network
        # computes in a twentieth of that, and the live sessions' frame rate halved meanwhile.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(PRELOAD))

    def held_by(self, owner: str) -> list[Job]:
        return [j for j in self.jobs.values() if j.owner == owner and not j.finished]

    def submit(self, owner: str, kind: str, target: Callable[..., Any], args: tuple[Any, ...],
               on_event: OnEvent) -> Job:
        """Queue `target(*args, report=...)`; JobRefused when `owner` holds `per_owner` jobs."""
        held = self.held_by(owner)
        if len(held) >= self.per_owner:
            raise JobRefused(f"you have {len(held)} background jobs running or waiting, the most allowed; "
                             "wait for one to finish or cancel one")
        job = Job(id=f"job{next(self._ids)}", owner=owner, kind=kind)
        self.jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, target, args, on_event))
        return job

    async def _run(self, job: Job, target: Callable[..., Any], args: tuple[Any, ...], on_event: OnEvent) -> None:
        try:
            job.in_line = True
            try:
                await self._slots.acquire()
            except asyncio.CancelledError:
                if job.state != "cancelled":  # not `cancel`'s doing: the server is going down
                    raise
                await on_event({"state": "cancelled"})  # taken out of the line: told at once
                return
            job.in_line = False
            try:
                if job.finished:  # cancelled as its turn came
                    await on_event({"state": "cancelled"})
                    return
                await self._in_process(job, target, args, on_event)
            finally:
                self._slots.release()
        finally:
            self.jobs.pop(job.id, None)

    async def _in_process(self, job: Job, target: Callable[..., Any], args: tuple[Any, ...],
                          on_event: OnEvent) -> None:
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_child, args=(sender, target, args), daemon=True)
        job.state = "running"
        await asyncio.to_thread(process.start)  # starting an interpreter takes a while: not on the loop
        sender.close()
        job.process = process
        if job.state == "cancelled":  # while it started
            process.terminate()
        else:
            await on_event({"state": "running"})
        try:
            while True:
                try:
                    kind, body = await asyncio.to_thread(receiver.recv)
                except (EOFError, OSError):
                    if job.state == "cancelled":
                        await on_event({"state": "cancelled"})
                    else:
                        job.state = "failed"
                        await on_event({"state": "failed", "message": "the background job stopped unexpectedly"})
                    return
                if kind == "event":
                    await on_event(body)
                    continue
                job.state = "done" if kind == "done" else "failed"
                await on_event({"state": "done", "result": body} if kind == "done"
                               else {"state": "failed", "message": body})
                return
        finally:
            receiver.close()
            await asyncio.to_thread(self._end, process)

    @staticmethod
    def _end(process: Any) -> None:
        process.join(timeout=2)
        if process.is_alive():
            process.kill()
            process.join()

    def cancel(self, job_id: str, owner: str) -> bool:
        """Cancel `owner`'s job `job_id`; False when there is no such job of theirs (or it ended)."""
        job = self.jobs.get(job_id)
        if job is None or job.owner != owner or job.finished:
            return False
        was_running = job.state == "running"
        job.state = "cancelled"
        if was_running and job.process is not None:
            job.process.terminate()  # its pipe closes: _in_process tells the owner
        elif job.in_line and job.task is not None:
            job.task.cancel()  # it waits for a slot: out of the line now, not when the running job ends
        return True

    def cancel_owner(self, owner: str) -> int:
        """Cancel every job of `owner` (a client that left); returns how many."""
        return sum(self.cancel(job.id, owner) for job in list(self.held_by(owner)))

    async def close(self) -> None:
        """Cancel every job and wait for their processes to end (server shutdown)."""
        for job in list(self.jobs.values()):
            self.cancel(job.id, job.owner)
        tasks = [j.task for j in self.jobs.values() if j.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
