"""Seeded mini-batches."""

from __future__ import annotations

import numpy as np
import pytest

from app.nn.batches import epoch_batches


def test_full_batch_is_ordered_and_draws_nothing() -> None:
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    for size in (250, 1000):
        (batch,) = epoch_batches(250, size, rng)
        np.testing.assert_array_equal(batch, np.arange(250))
    assert rng.bit_generator.state == before


def test_minibatches_partition_the_data() -> None:
    batches = epoch_batches(250, 10, np.random.default_rng(1))
    assert len(batches) == 25 and all(len(b) == 10 for b in batches)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(250))
    assert not np.array_equal(np.concatenate(batches), np.arange(250))  # shuffled
    odd = epoch_batches(23, 10, np.random.default_rng(1))
    assert [len(b) for b in odd] == [10, 10, 3]


def test_seeded_and_fresh_each_epoch() -> None:
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    first_a, first_b = epoch_batches(50, 5, rng_a), epoch_batches(50, 5, rng_b)
    assert all(np.array_equal(a, b) for a, b in zip(first_a, first_b))
    second = epoch_batches(50, 5, rng_a)
    assert not all(np.array_equal(a, b) for a, b in zip(first_a, second))


def test_validation() -> None:
    with pytest.raises(ValueError, match="batch size"):
        epoch_batches(10, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="number of points"):
        epoch_batches(0, 5, np.random.default_rng(0))
