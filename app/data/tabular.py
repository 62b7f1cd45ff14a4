"""A tabular toy dataset for the feature relevance lesson: mammal or fish?

Columns (in this order), class 1 = fish, class 0 = mammal:

- vertebrate: 1 for every animal. Carries no information; uncentred it would
  act as a second bias (see `app.data.scaling`).
- has_gills: 1 for fish, 0 for mammals. Decides the class on its own.
- lays_eggs: 1 with probability 0.65 for fish, 0.35 for mammals. Helps a little.
- body_temperature: a noisy field reading in degrees C, mammals ~ N(33, 4^2),
  fish ~ N(30, 4^2). The distributions overlap heavily: helps a little.
- noise_1 ~ N(0, 1), noise_2 ~ U(0, 10), ...: independent of the class.
  Their scales differ on purpose so that standardization matters.

`standardize` (from `app.data.scaling`) is re-exported here: standardize these
columns with the training set's stats before training, so "vertebrate" becomes
exactly 0 instead of acting as a second bias.
"""

from __future__ import annotations

import numpy as np

from app.data.dataset import Dataset
from app.data.scaling import standardize  # noqa: F401  (re-exported: tabular data is standardized before training)

MAMMALS_OR_FISH_CLASSES: tuple[str, str] = ("mammal", "fish")
MAMMALS_OR_FISH_SIGNAL: tuple[str, ...] = ("vertebrate", "has_gills", "lays_eggs", "body_temperature")


def mammals_or_fish(n: int, rng: np.random.Generator, n_noise: int = 2) -> Dataset:
    """Draw `n` animals (half fish, rest mammals, in random order) from `rng`.

    Returns a binary Dataset with X [n x (4 + n_noise)] float64, y [n] in {0, 1},
    feature_names ("vertebrate", "has_gills", "lays_eggs", "body_temperature",
    "noise_1", ..., "noise_<n_noise>"). Same rng state -> identical bits.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n (number of animals) must be an integer >= 2, got {n!r}")
    if isinstance(n_noise, bool) or not isinstance(n_noise, (int, np.integer)) or not 0 <= n_noise <= 16:
        raise ValueError(f"n_noise must be an integer from 0 to 16, got {n_noise!r}")
    n = int(n)
    # Exactly half fish (then shuffled) so both classes are always present.
    fish = rng.permutation(np.arange(n) < n // 2).astype(np.int64)  # [n]
    is_fish = fish == 1
    columns = [
        np.ones(n),
        fish.astype(np.float64),
        (rng.random(n) < np.where(is_fish, 0.65, 0.35)).astype(np.float64),
        np.where(is_fish, 30.0, 33.0) + 4.0 * rng.standard_normal(n),
    ]
    for k in range(n_noise):
        # Alternate two shapes and scales; nothing here depends on the class.
        columns.append(rng.standard_normal(n) if k % 2 == 0 else rng.uniform(0.0, 10.0, n))
    names = MAMMALS_OR_FISH_SIGNAL + tuple(f"noise_{k + 1}" for k in range(n_noise))
    ds = Dataset(
        X=np.stack(columns, axis=1),
        y=fish,
        task="binary",
        n_classes=2,
        feature_names=names,
        class_names=MAMMALS_OR_FISH_CLASSES,
        name="mammals_or_fish",
    )
    ds.validate()
    return ds
