"""The mini-batches left in the current epoch, drawn from the batch seed stream.

Every epoch visits each training point once, in an order drawn from `rng`;
the queue is refilled (a new epoch drawn) only when it is empty and a batch
is wanted, in one place: `refill`.

With replay (`set_replay`), each batch also holds indices `n_train + i` of the
replay buffer (rows appended after the training points, see `replay`), drawn
from `rng` too, batch after batch, without repeats within a batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np

from app.nn import batches
from app.training.replay import old_samples


class BatchQueue:
    """Index arrays of the mini-batches left in this epoch, front first."""

    def __init__(self, rng: np.random.Generator, n_train: int) -> None:
        self.rng = rng          # the batch order's generator (its position is part of a saved session)
        self.n_train = n_train
        self._batches: deque[np.ndarray] = deque()
        self.replay_share = 0.0  # replay: the share of each batch drawn from the buffer's `replay_pool` rows
        self.replay_pool = 0

    def __len__(self) -> int:
        return len(self._batches)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._batches)

    def refill(self, batch_size: int) -> int:
        """Draw the next epoch's batches when none are left; returns how many are queued."""
        if not self._batches:
            n = self.n_train
            old = self._old_per_batch(batch_size)
            self._batches.extend(self._with_old(batches.epoch_batches(n, min(batch_size - old, n), self.rng), old))
        return len(self._batches)

    def set_replay(self, share: float, pool: int, batch_size: int) -> None:
        """Mix `share` of each batch from a buffer of `pool` rows from now on (the rest of this
        epoch is cut again into batches of `batch_size`)."""
        self.replay_share, self.replay_pool = share, pool
        self.rechunk(batch_size)

    def _old_per_batch(self, batch_size: int) -> int:
        return old_samples(self.replay_share, batch_size, self.replay_pool) if self.replay_pool else 0

    def _with_old(self, new: list[np.ndarray], old: int) -> list[np.ndarray]:
        """Each batch of `new` with `old` buffer indices appended (drawn from the batch stream)."""
        if old == 0:
            return new
        return [np.concatenate([idx, self.n_train + self.rng.choice(self.replay_pool, old, replace=False)])
                for idx in new]

    def next(self, batch_size: int) -> np.ndarray:
        """The next batch (a new epoch's first when this one is over)."""
        self.refill(batch_size)
        return self._batches.popleft()

    def take(self, k: int) -> list[np.ndarray]:
        """The next `k` batches of this epoch (k <= len(self))."""
        return [self._batches.popleft() for _ in range(k)]

    def put_back(self, front: list[np.ndarray]) -> None:
        """Return batches taken but not trained on, to the front, in their order."""
        self._batches.extendleft(reversed(front))

    def rechunk(self, batch_size: int) -> None:
        """Split what is left of this epoch into batches of `batch_size`."""
        if not self._batches:
            return
        rest = np.concatenate(list(self._batches))
        rest = rest[rest < self.n_train]  # the new task's points left; replayed ones are drawn again
        old = self._old_per_batch(batch_size)
        size = batch_size - old
        self._batches = deque(self._with_old([rest[i:i + size] for i in range(0, len(rest), size)], old))

    def replace(self, batches_left: Iterable[np.ndarray]) -> None:
        """Set the batches left in this epoch (a restored session, a rollback)."""
        self._batches = deque(batches_left)
