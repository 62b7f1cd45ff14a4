"""What a session remembers: the loss of every update, a row per epoch and
every hyperparameter change, so a reload or a chart redraws everything.

Long runs would grow without bound (at 2,500 updates a second a ten-minute
run records 1.5 million losses), so a `Series` keeps at most `capacity`
points: when full it drops every other point and from then on records every
second one, and so on. A chart of a long run then keeps its shape at a
bounded cost. Entries are keyed by step, so a client asks for what happened
since the last step it saw, whatever was thinned in between.

The change log is bounded too. A dragged slider sends dozens of changes a
second: changes of one field in quick succession are one gesture and one
entry (the first `old`, the last `new`, at the step of the last), so a chart
draws one marker per drag. The log keeps the newest `change_capacity`
entries. Changes are numbered in the order they are logged (`change_count`
is the number the next one gets) and a client asks for those from the number
it has reached on, so dropping old entries shifts nothing. An entry is merged
into only until `since` has handed it out: what a client received is final,
and a client never holds a stale copy of a change nor gets one twice.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

EPOCH_COLUMNS = ("train_loss", "test_loss", "val_loss", "train_acc", "test_acc", "val_acc", "train_loss_penalized",
                 # forgetting: the network on the previous task's test points (None without one)
                 "old_task_acc", "old_task_loss",
                 # the quantized model (`quantized_view`; None while quantization is off)
                 "quant_train_acc", "quant_test_acc", "quant_test_loss")
# Changes of one field less than this many seconds apart are one gesture (a
# slider sends about 60 a second while dragged; a pause in a drag is shorter).
GESTURE_SECONDS = 1.0


class Series:
    """Columns of floats keyed by an increasing integer `step`, thinned when full.

    A `lazy` column takes no memory until a row gives it a value (rows before
    are null): most sessions never fill the columns of the labs they do not use
    (forgetting, quantization, a validation split)."""

    def __init__(self, columns: tuple[str, ...], capacity: int, lazy: tuple[str, ...] = ()) -> None:
        self.columns = columns
        self.capacity = capacity
        self.lazy = lazy
        self.stride = 1
        self._skipped = 0
        self.steps = array("q")
        self.values = {c: array("d") for c in columns if c not in lazy}  # the columns kept so far

    def append(self, step: int, row: dict[str, float | None]) -> None:
        self._skipped += 1
        if self._skipped < self.stride:
            return
        self._skipped = 0
        self.steps.append(step)
        for c in self.columns:
            v = row.get(c)
            column = self.values.get(c)
            if column is None:
                if v is None:
                    continue  # a lazy column still without a value
                column = self.values[c] = array("d", [math.nan] * (len(self.steps) - 1))
            column.append(math.nan if v is None else v)
        if len(self.steps) >= self.capacity:
            self._thin()

    def append_column(self, first_step: int, values: list[float]) -> None:
        """`append(first_step + i, {column: values[i]})` for every i, for a series of
        one column: the same rows and thinning, with a few calls per kept stretch
        instead of a few per value (a frame's run of updates records 25 losses)."""
        (column,) = self.columns
        n, i = len(values), 0
        while i < n:
            j = i + self.stride - self._skipped - 1  # the next value kept
            if j >= n:
                self._skipped += n - i
                return
            self._skipped = 0
            stride = self.stride
            take = min(self.capacity - len(self.steps), (n - 1 - j) // stride + 1)
            end = j + take * stride
            self.steps.extend(range(first_step + j, first_step + end, stride))
            self.values[column].extend(values[j:end:stride])
            i = end - stride + 1
            if len(self.steps) >= self.capacity:
                self._thin()

    def _thin(self) -> None:
        # Keep the newest point (the one just recorded) and every other before it.
        keep = slice(1 if len(self.steps) % 2 == 0 else 0, None, 2)
        self.steps = array("q", self.steps[keep])
        for c in self.values:
            self.values[c] = array("d", self.values[c][keep])
        self.stride *= 2

    def to_state(self) -> dict[str, Any]:
        """A JSON-safe copy (columns as base64 of their float64/int64 bytes)."""
        return {"stride": self.stride, "skipped": self._skipped, "steps": _pack(self.steps),
                "values": {c: _pack(v) for c, v in self.values.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `to_state` saved."""
        self.stride, self._skipped = int(state["stride"]), int(state["skipped"])
        self.steps = _unpack("q", state["steps"])
        # A column added since the state was saved (train_loss_penalized) is not known for those rows.
        self.values = {c: _unpack("d", state["values"][c]) if c in state["values"]
                       else array("d", [math.nan] * len(self.steps)) for c in self.columns
                       if c in state["values"] or c not in self.lazy}
        if any(len(v) != len(self.steps) for v in self.values.values()):
            raise ValueError("history columns differ in length")

    def truncate(self, step: int) -> None:
        """Forget the rows after `step` (a rollback rewinds the run)."""
        end = bisect_right(self.steps, step)
        del self.steps[end:]
        for column in self.values.values():
            del column[end:]

    def since(self, step: int, limit: int | None = None) -> dict[str, list[Any]]:
        """Rows with a step greater than `step`, thinned evenly to at most `limit` (0: none).

        Thinning counts back from the newest row, so the newest is always sent.
        """
        if limit == 0:
            return {"step": [], **{c: [] for c in self.columns}}
        start = bisect_right(self.steps, step)
        every = 1
        if limit is not None and len(self.steps) - start > limit:
            every = math.ceil((len(self.steps) - start) / limit)
            start += (len(self.steps) - 1 - start) % every
        out: dict[str, list[Any]] = {"step": self.steps[start::every].tolist()}
        isfinite = math.isfinite
        for c in self.columns:
            column = self.values.get(c)
            out[c] = ([v if isfinite(v) else None for v in column[start::every].tolist()]  # NaN, inf: null
                      if column is not None else [None] * len(out["step"]))
        return out

    def __len__(self) -> int:
        return len(self.steps)


class History:
    """Per-update batch loss, per-epoch metrics, and the log of changes."""

    # At most 3,000 losses (48 KB) and 800 epoch rows (51 KB): more than a chart has
    # pixels, and an idle session of a long run stays under 200 KB (benchmarks/memory.py).
    # At most 1,000 changes (about 64 KB as JSON): a marker per gesture, more than a chart shows.
    def __init__(self, step_capacity: int = 3000, epoch_capacity: int = 800, change_capacity: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.updates = Series(("batch_loss",), step_capacity)
        self.epochs = Series(("epoch",) + EPOCH_COLUMNS, epoch_capacity, lazy=EPOCH_COLUMNS)
        self.change_capacity = change_capacity
        self.clock = clock
        self.changes: list[dict[str, Any]] = []  # the newest changes; entries are replaced, never edited
        self.first_change = 0     # the number of changes[0]: how many older ones were dropped
        self._handed_out = 0      # changes numbered below this were returned by `since`: final
        self._last_at = -math.inf  # clock time the newest entry was last written

    @property
    def change_count(self) -> int:
        """How many changes were ever logged: the number the next one gets. A client
        that has received the changes before it asks `since(step, change_count)`."""
        return self.first_change + len(self.changes)

    def record_update(self, step: int, batch_loss: float) -> None:
        self.updates.append(step, {"batch_loss": batch_loss})

    def record_updates(self, first_step: int, batch_losses: list[float]) -> None:
        """`record_update(first_step + i, batch_losses[i])` for every i."""
        self.updates.append_column(first_step, batch_losses)

    def record_epoch(self, step: int, epoch: int, metrics: dict[str, float | None]) -> None:
        self.epochs.append(step, {"epoch": float(epoch), **metrics})

    def truncate(self, step: int) -> None:
        """Forget the updates and epochs after `step`; the change log stays."""
        self.updates.truncate(step)
        self.epochs.truncate(step)

    def to_state(self) -> dict[str, Any]:
        return {"updates": self.updates.to_state(), "epochs": self.epochs.to_state(),
                "changes": list(self.changes), "first_change": self.first_change}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `to_state` saved (a state saved before the log was bounded
        may hold more changes than fit: the newest are kept)."""
        self.updates.load_state(state["updates"])
        self.epochs.load_state(state["epochs"])
        changes = list(state["changes"])
        dropped = max(0, len(changes) - self.change_capacity)
        self.changes = changes[dropped:]
        self.first_change = int(state.get("first_change", 0)) + dropped
        self._handed_out = self.change_count  # restored entries start no gesture
        self._last_at = -math.inf

    def record_change(self, step: int, field: str, old: Any, new: Any) -> None:
        """Log a change at `step`, merged into the newest entry when it continues its
        gesture (same field, moments ago, not yet handed out); drops the oldest past
        `change_capacity`. Mutates `changes` (the newest entry is replaced, not edited:
        a snapshot being written in a thread may hold the old one)."""
        now = self.clock()
        last = self.changes[-1] if self.changes else None
        if (last is not None and last["field"] == field and self.change_count > self._handed_out
                and now - self._last_at < GESTURE_SECONDS):
            self.changes[-1] = {"step": step, "field": field, "old": last["old"], "new": new}
        else:
            self.changes.append({"step": step, "field": field, "old": old, "new": new})
            if len(self.changes) > self.change_capacity:
                dropped = len(self.changes) - self.change_capacity
                del self.changes[:dropped]
                self.first_change += dropped
        self._last_at = now

    def since(self, step: int, changes_seen: int, limit: int | None = 1000,
              epoch_limit: int | None = None) -> dict[str, Any]:
        """What was recorded after `step` (update rows thinned to `limit`, epoch rows to
        `epoch_limit`; a limit of 0 gives no rows), and the changes numbered `changes_seen` on (those still kept). The
        changes returned are final from now on; a client then keeps `change_count` as its
        `changes_seen`."""
        self._handed_out = max(self._handed_out, self.change_count)
        return {**self._rows(step, limit, epoch_limit),
                "changes": self.changes[max(0, changes_seen - self.first_change):]}

    def _rows(self, step: int, limit: int | None, epoch_limit: int | None = None) -> dict[str, Any]:
        updates = self.updates.since(step, limit)
        epochs = self.epochs.since(step, epoch_limit)
        epoch_rows = {"epoch": [int(e) for e in epochs.pop("epoch")], "step": epochs.pop("step"), **epochs}
        return {"steps": updates["step"], "batch_loss": updates["batch_loss"], "epochs": epoch_rows}

    def to_csv(self) -> str:
        """One row per epoch with its metrics, then the change log as comments-free rows."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(("kind", "step", "epoch", *EPOCH_COLUMNS, "batch_loss", "field", "old", "new"))
        rows = self._rows(-1, limit=None)
        for i, step in enumerate(rows["epochs"]["step"]):
            writer.writerow(("epoch", step, rows["epochs"]["epoch"][i],
                             *(_csv(rows["epochs"][c][i]) for c in EPOCH_COLUMNS), "", "", "", ""))
        for step, loss in zip(rows["steps"], rows["batch_loss"]):
            writer.writerow(("update", step, "", *([""] * len(EPOCH_COLUMNS)), _csv(loss), "", "", ""))
        for change in self.changes:
            writer.writerow(("change", change["step"], "", *([""] * len(EPOCH_COLUMNS)), "",
                             change["field"], change["old"], change["new"]))
        return buf.getvalue()


def _pack(values: array) -> str:
    return base64.b64encode(values.tobytes()).decode("ascii")


def _unpack(typecode: str, text: str) -> array:
    out = array(typecode)
    out.frombytes(base64.b64decode(text))
    return out


def _csv(value: float | None) -> str:
    return "" if value is None else repr(value)
