"""Task sequences: what a session was trained on before, and the points of the task
just before, to measure forgetting on and to replay.

A session trains task after task: the first one is "new" (weights drawn from the
seed); each `fine_tune` starts another, from the current weights ("current") or
from the fresh draw ("scratch"). The record of each (`TaskRecord`) is what the
page lists. When the previous task fits the new network (the same kind of
inputs, the same task and number of classes), its test points measure what the
network forgets of it (`old_task_acc`, `old_task_loss` in the epoch rows) and
its training points are the replay buffer's pool (`replay`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from app.data import features
from app.nn.losses import Task
from app.nn.network import NetworkSpec, evaluate
from app.training.config import RunConfig
from app.training.data_setup import PreparedData
from app.training.replay import ReplaySetting
from app.training.transfer import Carried

Start = Literal["new", "current", "scratch"]
# The stream of the seeded permutation that orders the replay pool (data, weights, batches
# and dropout use streams 0 to 3: see `build`).
REPLAY_STREAM = 4


@dataclass(frozen=True)
class TaskRecord:
    """One task of the sequence, as the `session` message lists it (layers counted from 0)."""

    index: int
    dataset: str
    rotate: float
    shift: tuple[float, float]
    n_classes: int
    start: Start
    kept: tuple[int, ...]
    reinitialized: tuple[int, ...]
    note: str
    trained_steps: int | None = None  # steps trained before the next task began; None for the current one

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "dataset": self.dataset, "rotate": float(self.rotate),
                "shift": [float(v) for v in self.shift], "n_classes": self.n_classes, "start": self.start,
                "kept": list(self.kept), "reinitialized": list(self.reinitialized), "note": self.note,
                "trained_steps": self.trained_steps}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskRecord:
        shift = tuple(float(v) for v in d["shift"])
        if len(shift) != 2:
            raise ValueError("a task's shift has two numbers")
        steps = d.get("trained_steps")
        return cls(index=int(d["index"]), dataset=str(d["dataset"]), rotate=float(d["rotate"]),
                   shift=(shift[0], shift[1]), n_classes=int(d["n_classes"]), start=_start(d["start"]),
                   kept=tuple(int(v) for v in d["kept"]), reinitialized=tuple(int(v) for v in d["reinitialized"]),
                   note=str(d["note"]), trained_steps=None if steps is None else int(steps))


def _start(value: Any) -> Start:
    if value == "new":
        return "new"
    if value == "current":
        return "current"
    if value == "scratch":
        return "scratch"
    raise ValueError(f"a task's start is new, current or scratch, not {value!r}")


def first_task(config: RunConfig, data: PreparedData, n_layers: int) -> TaskRecord:
    """The record of a task trained from weights drawn from the seed."""
    return TaskRecord(index=0, dataset=config.dataset, rotate=config.rotate, shift=_pair(config.shift),
                      n_classes=data.n_classes, start="new", kept=(), reinitialized=tuple(range(n_layers)),
                      note="new weights drawn from the seed")


def next_task(sequence: list[TaskRecord], steps: int, config: RunConfig, data: PreparedData, start: Start,
              carried: Carried) -> list[TaskRecord]:
    """`sequence` with its current task closed after `steps` and the new one appended."""
    if start == "current":
        kept, reinitialized, note = carried.kept, carried.reinitialized, carried.describe()
    else:
        kept, reinitialized = (), tuple(range(len(carried.params)))
        note = ("from scratch: every layer starts from new weights (the ones fine-tuning would give a "
                "layer it re-initializes)")
    done = [*sequence[:-1], replace(sequence[-1], trained_steps=steps)] if sequence else []
    record = TaskRecord(index=len(done), dataset=config.dataset, rotate=config.rotate, shift=_pair(config.shift),
                        n_classes=data.n_classes, start=start, kept=kept, reinitialized=reinitialized, note=note)
    return [*done, record]


def _pair(shift: tuple[float, ...]) -> tuple[float, float]:
    return (float(shift[0]), float(shift[1]))


@dataclass(frozen=True)
class OldTask:
    """The previous task's points in the current network's input space: its test points
    (`X_test [M x F]`, `Y_test [M x K]`) and its training points in the replay pool's fixed
    seeded order (`X_pool [P x F]`, `Y_pool [P x K]`)."""

    X_test: np.ndarray
    Y_test: np.ndarray
    X_pool: np.ndarray
    Y_pool: np.ndarray

    @property
    def available(self) -> int:
        """How many training points the replay buffer can hold at most."""
        return int(self.X_pool.shape[0])


def comparable(old: PreparedData, new: PreparedData) -> bool:
    """Whether the network built for `new` takes `old`'s points as they are: the same task and
    classes, and inputs of the same kind (2-D points, or the same tabular columns)."""
    if old.task != new.task or old.n_classes != new.n_classes or old.plane != new.plane:
        return False
    return new.plane or old.feature_names == new.feature_names


def old_task(old: PreparedData, new: PreparedData, task: Task, seed: int) -> OldTask | None:
    """`old`'s test and training points as the network of `new` takes them (2-D points go through
    `new`'s feature transforms), or None when they are not comparable (`comparable`). The pool
    is `old`'s training split in the order of a permutation seeded by `seed`."""
    if not comparable(old, new):
        return None

    def inputs(split: str) -> np.ndarray:
        return features.transform(old.raw[split], list(new.feature_names)) if new.plane else old.X[split]

    def targets(split: str) -> np.ndarray:
        y = old.y[split]
        return task.targets(y, new.n_classes) if new.task == "multiclass" else task.targets(y)

    order = np.random.default_rng([seed, REPLAY_STREAM]).permutation(old.n("train"))
    return OldTask(X_test=np.ascontiguousarray(inputs("test")), Y_test=np.ascontiguousarray(targets("test")),
                   X_pool=np.ascontiguousarray(inputs("train")[order]),
                   Y_pool=np.ascontiguousarray(targets("train")[order]))


def old_task_metrics(spec: NetworkSpec, params: list[dict[str, np.ndarray]], old: OldTask | None
                     ) -> dict[str, float | None]:
    """`old_task_loss` and `old_task_acc` of the network on the previous task's test points;
    None without a comparable previous task (or test points, or for a non-finite loss)."""
    if old is None or old.X_test.shape[0] == 0:
        return {"old_task_acc": None, "old_task_loss": None}
    loss, acc = evaluate(spec, params, old.X_test, old.Y_test)
    return {"old_task_acc": acc, "old_task_loss": loss if np.isfinite(loss) else None}


class TaskSequence:
    """A session's tasks: their records, the previous task's points (when comparable) and the
    replay setting; and the training arrays the updates index (the new task's training points,
    then the replay pool's rows)."""

    def __init__(self) -> None:
        self.records: list[TaskRecord] = []
        self.old: OldTask | None = None
        self.replay = ReplaySetting()
        self._train: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # (X, Y, X ext, Y ext)

    def start_new(self, config: RunConfig, data: PreparedData, n_layers: int) -> None:
        """One task, trained from weights drawn from the seed: no previous one, replay off."""
        self.records = [first_task(config, data, n_layers)]
        self._set_old(None)

    def follow(self, steps: int, config: RunConfig, old: PreparedData, new: PreparedData, task: Task,
               start: Start, carried: Carried) -> None:
        """A new task after the current one (trained `steps` steps on `old`), on data `new`."""
        self.records = next_task(self.records, steps, config, new, start, carried)
        self._set_old(old_task(old, new, task, config.seed))

    def _set_old(self, old: OldTask | None) -> None:
        self.old, self._train = old, None
        if old is None:
            self.replay = replace(self.replay, share=0.0)

    @property
    def available(self) -> int:
        return 0 if self.old is None else self.old.available

    @property
    def pool(self) -> int:
        """The replay buffer's size in points (0 without a previous task)."""
        return self.replay.pool(self.available)

    def train_arrays(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The new task's training inputs `X [N x F]` and targets `Y [N x K]`, followed by the replay
        pool's (all of it: a buffer index is `N + i`, whatever the buffer's size); `X`, `Y` as they
        are without a previous task. Built once per task."""
        if self.old is None:
            return X, Y
        cached = self._train
        if cached is None or cached[0] is not X or cached[1] is not Y:
            cached = self._train = (X, Y, np.ascontiguousarray(np.vstack([X, self.old.X_pool])),
                                    np.ascontiguousarray(np.vstack([Y, self.old.Y_pool])))
        return cached[2], cached[3]

    def metrics(self, spec: NetworkSpec, params: list[dict[str, np.ndarray]]) -> dict[str, float | None]:
        return old_task_metrics(spec, params, self.old)

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.records]

    def replay_dict(self) -> dict[str, Any]:
        return {"share": self.replay.share, "buffer": self.replay.buffer, "available": self.available}

    def to_state(self) -> dict[str, Any]:
        """JSON-safe: the records, the replay setting and the previous task's points (base64 of float64)."""
        old = self.old
        return {"records": self.to_list(), "replay": {"share": self.replay.share, "buffer": self.replay.buffer},
                "old": None if old is None else {name: _pack(getattr(old, name))
                                                 for name in ("X_test", "Y_test", "X_pool", "Y_pool")}}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `to_state` saved; ValueError when it does not hold together."""
        records = [TaskRecord.from_dict(r) for r in state["records"]]
        old = state["old"]
        self.records = records
        self._set_old(None if old is None else OldTask(**{k: _unpack(v) for k, v in old.items()}))
        replay = state["replay"]
        self.replay = ReplaySetting(share=float(replay["share"]) if self.old is not None else 0.0,
                                    buffer=int(replay["buffer"]))


def _pack(a: np.ndarray) -> dict[str, Any]:
    return {"shape": list(a.shape), "data": base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode()}


def _unpack(d: dict[str, Any]) -> np.ndarray:
    shape = tuple(int(n) for n in d["shape"])
    a = np.frombuffer(base64.b64decode(d["data"]), dtype="<f8").astype(np.float64)
    if len(shape) != 2 or a.size != shape[0] * shape[1]:
        raise ValueError("a stored task's points do not match their shape")
    return a.reshape(shape)
