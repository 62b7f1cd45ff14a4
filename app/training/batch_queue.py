"""The mini-batches left in the current epoch, drawn from the batch seed stream.

Every epoch visits each training point once, in an order drawn from `rng`;
the queue is refilled (a new epoch drawn) only when it is empty and a batch
is wanted, in one place: `refill`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np

from app.nn import batches


class BatchQueue:
    """Index arrays of the mini-batches left in this epoch, front first."""

    def __init__(self, rng: np.random.Generator, n_train: int) -> None:
        self.rng = rng          # the batch order's generator (its position is part of a saved session)
        self.n_train = n_train
        self._batches: deque[np.ndarray] = deque()

    def __len__(self) -> int:
        return len(self._batches)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._batches)

    def refill(self, batch_size: int) -> int:
        """Draw the next epoch's batches when none are left; returns how many are queued."""
        if not self._batches:
            n = self.n_train
            self._batches.extend(batches.epoch_batches(n, min(batch_size, n), self.rng))
        return len(self._batches)

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
        self._batches = deque(rest[i:i + batch_size] for i in range(0, len(rest), batch_size))

    def replace(self, batches_left: Iterable[np.ndarray]) -> None:
        """Set the batches left in this epoch (a restored session, a rollback)."""
        self._batches = deque(batches_left)
