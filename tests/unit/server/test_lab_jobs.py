"""The lab's background jobs: in processes of their own, in order, limited per owner, cancellable."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from app.server.lab_jobs import NICE, JobRefused, LabJobs
from app.training.build import build
from app.training.config import HyperState, RunConfig
from app.training.cross_validation import cross_validate
from app.training.lab_work import cross_validation_job, search_job

CONFIG = RunConfig(dataset="xor", noise=30, train_ratio=30, val_ratio=20, hidden=(4,), seed=2)
HYPER = HyperState(lr=0.1, momentum=0.9, batch_size=10)
WAIT = 120  # seconds a job may take to start and end on a loaded machine (not a measurement)


def report_nice(*, report: Any) -> dict[str, int]:
    """A job that tells its process's id and priority."""
    report({"hello": True})
    return {"pid": os.getpid(), "nice": os.nice(0)}


def fail(*, report: Any) -> None:
    raise ValueError("k must be an integer from 2 to 10")


def collect() -> tuple[list[dict[str, Any]], Any]:
    events: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        events.append(event)

    return events, on_event


async def until_finished(jobs: LabJobs) -> None:
    tasks = [j.task for j in jobs.jobs.values() if j.task is not None]
    await asyncio.wait_for(asyncio.gather(*tasks), WAIT)


def test_a_job_runs_in_another_process_at_the_lowest_priority() -> None:
    async def lesson() -> list[dict[str, Any]]:
        jobs = LabJobs()
        events, on_event = collect()
        jobs.submit("a", "probe", report_nice, (), on_event)
        await until_finished(jobs)
        return events

    events = asyncio.run(lesson())
    assert [e.get("state") for e in events] == ["running", None, "done"]
    assert events[1] == {"hello": True}
    result = events[-1]["result"]
    assert result["pid"] != os.getpid()
    assert result["nice"] >= min(19, os.nice(0) + NICE)


def test_a_cross_validation_job_reports_each_fold_and_returns_what_the_engine_computes() -> None:
    built = build(CONFIG)

    async def lesson() -> list[dict[str, Any]]:
        jobs = LabJobs()
        events, on_event = collect()
        jobs.submit("a", "cv", cross_validation_job, (CONFIG, HYPER, built, 3, 4, None), on_event)
        await until_finished(jobs)
        return events

    events = asyncio.run(lesson())
    done = [e["fold_done"] for e in events if "fold_done" in e]
    assert [d["fold"] for d in done] == [0, 1, 2]
    told = [e["epoch"] for e in events if e.get("fold") == 0 and "epoch" in e]
    assert told[0] == 1 and told[-1] == 4 and told == sorted(set(told))  # thinned: the first and last always
    folds = next(e["folds"] for e in events if "folds" in e)  # told before the first fold runs
    assert folds == [d["val_index"] for d in done]
    result = events[-1]["result"]
    here = cross_validate(CONFIG, HYPER, built, 3, 4)
    assert result["scores"] == here.scores  # the same bits in the worker process
    assert result["mean"] == here.summary()["mean"]
    assert result["csv"].splitlines()[0] == "fold,points,epochs,val_loss"


def test_a_search_job_reports_its_trials_then_each_one() -> None:
    built = build(CONFIG)

    async def lesson() -> list[dict[str, Any]]:
        jobs = LabJobs()
        events, on_event = collect()
        space = {"lr": [0.01, 0.3], "momentum": [0.0, 0.9]}
        jobs.submit("a", "search", search_job, (CONFIG, HYPER, built, "grid", space, None, 1, 2, None), on_event)
        await until_finished(jobs)
        return events

    events = asyncio.run(lesson())
    assert events[1]["trials"] == [{"lr": 0.01, "momentum": 0.0}, {"lr": 0.01, "momentum": 0.9},
                                   {"lr": 0.3, "momentum": 0.0}, {"lr": 0.3, "momentum": 0.9}]
    assert [e["trial_done"]["trial"] for e in events if "trial_done" in e] == [0, 1, 2, 3]
    result = events[-1]["result"]
    scores = [t["score"] for t in result["trials"]]
    assert result["best"] == scores.index(min(scores))


def test_an_owner_holds_at_most_per_owner_jobs_and_others_are_not_counted() -> None:
    async def lesson() -> str:
        jobs = LabJobs(per_owner=2)
        _, on_event = collect()
        jobs.submit("a", "probe", report_nice, (), on_event)
        jobs.submit("a", "probe", report_nice, (), on_event)
        jobs.submit("b", "probe", report_nice, (), on_event)  # another client's own allowance
        try:
            jobs.submit("a", "probe", report_nice, (), on_event)
        except JobRefused as exc:
            message = str(exc)
        else:
            message = ""
        await until_finished(jobs)
        jobs.submit("a", "probe", report_nice, (), on_event)  # finished jobs free their place
        await until_finished(jobs)
        return message

    assert "2 background jobs" in asyncio.run(lesson())


def test_cancelling_ends_a_running_job_and_takes_a_waiting_one_out_of_the_line() -> None:
    built = build(CONFIG)

    async def lesson() -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        jobs = LabJobs(workers=1)
        first, on_first = collect()
        second, on_second = collect()
        long = jobs.submit("a", "cv", cross_validation_job, (CONFIG, HYPER, built, 10, 2000, None), on_first)
        waiting = jobs.submit("a", "cv", cross_validation_job, (CONFIG, HYPER, built, 2, 2, None), on_second)
        for _ in range(WAIT * 20):  # until the first reports an epoch
            if any("epoch" in e for e in first):
                break
            await asyncio.sleep(0.05)
        process = long.process
        assert waiting.state == "waiting"
        assert jobs.cancel_owner("a") == 2
        await until_finished(jobs)
        return first, second, process.is_alive()

    first, second, alive = asyncio.run(lesson())
    assert first[-1] == {"state": "cancelled"} and not any(e.get("state") == "done" for e in first)
    assert second == [{"state": "cancelled"}]  # it never started
    assert not alive


def test_a_job_that_raises_tells_its_owner_why() -> None:
    async def lesson() -> list[dict[str, Any]]:
        jobs = LabJobs()
        events, on_event = collect()
        jobs.submit("a", "probe", fail, (), on_event)
        await until_finished(jobs)
        return events

    events = asyncio.run(lesson())
    assert events[-1] == {"state": "failed", "message": "k must be an integer from 2 to 10"}


def test_cancel_answers_false_for_someone_elses_or_an_unknown_job() -> None:
    async def lesson() -> tuple[bool, bool]:
        jobs = LabJobs()
        _, on_event = collect()
        job = jobs.submit("a", "probe", report_nice, (), on_event)
        answers = jobs.cancel(job.id, "b"), jobs.cancel("job999", "a")
        await until_finished(jobs)
        return answers

    assert asyncio.run(lesson()) == (False, False)
