"""Replay: each mini-batch of the new task mixes in remembered points of the previous one.

The buffer holds the first `buffer` points of the previous task's training
split in a fixed seeded order (`tasks.OldTask.X_pool`), at most as many as
there are. A batch of size B holds `round(share * B)` of them (Python's
`round`, half to even; at most B - 1, so that the epoch still moves on, and at
most the buffer's size, since they are drawn without repeats within a batch)
and the rest from the new task: an epoch is still one pass over the new task's
training points, in batches of fewer new points each.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHARE = 0.9


@dataclass(frozen=True)
class ReplaySetting:
    """The share of each batch drawn from the buffer, and the buffer's size asked for."""

    share: float = 0.0
    buffer: int = 100

    def pool(self, available: int) -> int:
        """The buffer's size in points, with `available` old training points."""
        return min(self.buffer, available)

    def per_batch(self, batch_size: int, available: int) -> int:
        """Buffer samples in a batch of `batch_size` (see the module's rule)."""
        return old_samples(self.share, batch_size, self.pool(available))


def old_samples(share: float, batch_size: int, pool: int) -> int:
    """`round(share * batch_size)`, at most `batch_size - 1` and at most `pool`."""
    return max(0, min(round(share * batch_size), batch_size - 1, pool))
