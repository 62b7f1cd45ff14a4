"""The tabular mammals-or-fish dataset: columns, what each carries, seed determinism."""

from __future__ import annotations

import numpy as np
import pytest

from app.data.tabular import mammals_or_fish


def col(ds, name: str) -> np.ndarray:
    return ds.X[:, ds.feature_names.index(name)]


def test_columns_and_labels() -> None:
    ds = mammals_or_fish(300, np.random.default_rng(0))
    ds.validate()
    assert ds.feature_names == (
        "vertebrate", "has_gills", "lays_eggs", "body_temperature", "noise_1", "noise_2",
    )
    assert ds.X.shape == (300, 6) and ds.X.dtype == np.float64
    assert ds.task == "binary" and ds.n_classes == 2 and ds.class_names == ("mammal", "fish")
    assert ds.y.dtype == np.int64 and list(ds.class_counts()) == [150, 150]


def test_what_each_column_carries() -> None:
    ds = mammals_or_fish(4000, np.random.default_rng(1))
    fish = ds.y == 1
    assert np.all(col(ds, "vertebrate") == 1.0)
    assert np.array_equal(col(ds, "has_gills"), ds.y.astype(np.float64))  # decides the class
    eggs = col(ds, "lays_eggs")
    assert set(np.unique(eggs)) == {0.0, 1.0}
    # Helps a little: more fish lay eggs, but far from all and far from none of the mammals.
    assert eggs[fish].mean() == pytest.approx(0.65, abs=0.04)
    assert eggs[~fish].mean() == pytest.approx(0.35, abs=0.04)
    temp = col(ds, "body_temperature")
    assert temp[~fish].mean() - temp[fish].mean() == pytest.approx(3.0, abs=0.4)
    assert np.mean((temp > 31.5) == ~fish) < 0.7  # overlapping: a threshold is a poor classifier
    for name in ("noise_1", "noise_2"):
        assert abs(np.corrcoef(col(ds, name), ds.y)[0, 1]) < 0.06
    # Different scales on purpose, so standardization matters.
    assert col(ds, "noise_2").min() >= 0 and col(ds, "noise_2").max() <= 10


def test_rows_are_shuffled_not_sorted_by_class() -> None:
    ds = mammals_or_fish(100, np.random.default_rng(2))
    assert 0 < ds.y[:50].sum() < 50


def test_same_seed_same_bits_and_different_seed_differs() -> None:
    a = mammals_or_fish(200, np.random.default_rng(5))
    b = mammals_or_fish(200, np.random.default_rng(5))
    c = mammals_or_fish(200, np.random.default_rng(6))
    assert a.X.tobytes() == b.X.tobytes() and a.y.tobytes() == b.y.tobytes()
    assert not np.array_equal(a.X, c.X)


def test_number_of_noise_columns() -> None:
    ds = mammals_or_fish(50, np.random.default_rng(0), n_noise=3)
    assert ds.feature_names[-3:] == ("noise_1", "noise_2", "noise_3")
    assert mammals_or_fish(50, np.random.default_rng(0), n_noise=0).X.shape == (50, 4)


@pytest.mark.parametrize(("n", "n_noise"), [(1, 2), (10.0, 2), (10, -1), (10, 17)])
def test_bad_arguments(n: int, n_noise: int) -> None:
    with pytest.raises(ValueError):
        mammals_or_fish(n, np.random.default_rng(0), n_noise=n_noise)
