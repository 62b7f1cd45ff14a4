"""The 2-D datasets of the TensorFlow Playground, plus two moons and a 3-arm spiral.

Every point lies in the square [-6, 6]^2 with features ("x1", "x2").
`noise` is the Playground slider: a percentage 0..50; below, nf = noise / 100.

Classification (y: 0 = "orange" = -1 in the Playground, 1 = "blue" = +1):

- circle: half the points inside radius 2.5 (r ~ U[0, 2.5]), half on the ring
  r ~ U[3.5, 5], angle uniform. The point stays where it was drawn, but its
  label is decided at a jittered position p + U[-5, 5]^2 * nf, inside -> 1:
  noise flips labels near the border without moving points.
- xor: x1, x2 ~ U[-5, 5] pushed 0.3 away from the axes; label 1 where
  x1 * x2 >= 0, decided at a jittered position p + U[-5, 5]^2 * nf.
- gauss: two Gaussian blobs, class 1 around (2, 2), class 0 around (-2, -2);
  the variance grows with noise from 0.5 (noise 0) to 4 (noise 50).
- spiral: two interleaved arms, i-th point of an arm of m points at radius
  5 i / m and angle 1.75 * 2 pi i / m + k pi, plus U[-1, 1]^2 * nf.
  Without noise the spiral is the same for every seed.
- moons: two interleaved half circles (scaled by 3 to fill the plane), plus
  Gaussian jitter of standard deviation 2 * nf.
- spiral3: like spiral with three arms offset by 2 pi / 3 (multiclass).

Regression (float targets in [-1, 1]), x1, x2 ~ U[-6, 6]; the target is read at
a jittered position p + U[-6, 6]^2 * nf:

- plane: t = clip((x1 + x2) / 10, -1, 1).
- multigauss: six bumps at (+-4 or 0, +-2.5) with signs +-1 in a checkerboard;
  bump value s * max(0, 1 - dist / 2); the target is the bump of largest |value|.

Points are returned in generation order (class by class for the classifiers);
`app.data.splits` shuffles before splitting, as the Playground does.
The Gaussian blobs and moons are clipped to [-6, 6] so the contract holds; the
Playground's plane target is clipped to [-1, 1] for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from app.data.dataset import Dataset

# Every built-in dataset a configuration may name: the keys of DATASETS, and the tabular
# "mammals" (app.data.tabular.mammals_or_fish).
DatasetName = Literal["circle", "xor", "gauss", "spiral", "moons", "spiral3", "plane", "multigauss", "mammals"]
DEFAULT_POINTS = 500  # the Playground's number of points
NOISE_MAX = 50.0  # percent, the Playground slider's upper end
TRAIN_PERCENT_RANGE = (10, 90)  # the Playground's "ratio of training to test data"
EXTENT = 6.0  # points live in [-EXTENT, EXTENT]^2
FEATURES_2D: tuple[str, str] = ("x1", "x2")
BINARY_CLASS_NAMES: tuple[str, str] = ("orange", "blue")
# Named by arm, not by colour: three classes are drawn in colours apart from the orange and
# blue of a weight's sign (static/js/colors.js).
SPIRAL3_CLASS_NAMES: tuple[str, str, str] = ("arm 1", "arm 2", "arm 3")
# An uploaded CSV file's dataset name: "csv-" and 12 hex digits of a hash of its text
# (app.training.custom_data keeps the texts).
UPLOADED_PREFIX = "csv-"
UPLOADED_NAME_PATTERN = r"^csv-[0-9a-f]{12}$"
_UPLOADED_NAME = re.compile(UPLOADED_NAME_PATTERN)

Generator = Callable[[int, float, np.random.Generator], tuple[NDArray[np.float64], NDArray[np.generic]]]


@dataclass(frozen=True)
class DatasetInfo:
    """One entry of DATASETS: what `generate(name, ...)` produces."""

    name: str
    label: str  # human name for menus
    task: str  # "binary" | "multiclass" | "regression"
    n_classes: int  # 0 for regression
    make: Generator  # (n, noise fraction 0..0.5, rng) -> (X [n x 2], y [n])


def _class_sizes(n: int, k: int) -> list[int]:
    """Split n points over k classes as evenly as possible (first classes get the rest)."""
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _polar(r: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """[n x 2] points (r sin t, r cos t): the Playground measures angles this way."""
    return np.stack([r * np.sin(t), r * np.cos(t)], axis=1)


def _circle(n: int, nf: float, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    radius = 5.0
    n_in, n_out = _class_sizes(n, 2)
    r = np.concatenate([rng.uniform(0.0, 0.5 * radius, n_in), rng.uniform(0.7 * radius, radius, n_out)])
    X = _polar(r, rng.uniform(0.0, 2 * np.pi, n))
    jitter = rng.uniform(-radius, radius, (n, 2)) * nf
    y = (np.hypot(*(X + jitter).T) < 0.5 * radius).astype(np.int64)
    return X, y


def _xor(n: int, nf: float, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    padding = 0.3  # keeps points off the axes, where the class flips
    X = rng.uniform(-5.0, 5.0, (n, 2))
    X += np.where(X > 0, padding, -padding)
    J = X + rng.uniform(-5.0, 5.0, (n, 2)) * nf
    y = (J[:, 0] * J[:, 1] >= 0).astype(np.int64)
    return X, y


def _gauss(n: int, nf: float, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    variance = 0.5 + (4.0 - 0.5) * nf / 0.5
    n0, n1 = _class_sizes(n, 2)
    centres = np.repeat(np.array([[-2.0, -2.0], [2.0, 2.0]]), [n0, n1], axis=0)
    X = centres + rng.normal(0.0, np.sqrt(variance), (n, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return np.clip(X, -EXTENT, EXTENT), y


def _arms(n: int, nf: float, rng: np.random.Generator, k: int) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    parts, labels = [], []
    for c, m in enumerate(_class_sizes(n, k)):
        s = np.arange(m) / max(m, 1)
        # Two arms are half a turn apart (Playground); k arms 1/k of a turn.
        parts.append(_polar(5.0 * s, 1.75 * 2 * np.pi * s + 2 * np.pi * c / k))
        labels.append(np.full(m, c, dtype=np.int64))
    X = np.concatenate(parts) + rng.uniform(-1.0, 1.0, (n, 2)) * nf
    y = np.concatenate(labels)
    if k == 2:
        y = 1 - y  # the Playground's unrotated arm is the positive (blue) one
    return X, y


def _spiral(n: int, nf: float, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    return _arms(n, nf, rng, 2)


def _spiral3(n: int, nf: float, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    return _arms(n, nf, rng, 3)


def _moons(n: int, nf: float, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    n0, n1 = _class_sizes(n, 2)
    t0, t1 = rng.uniform(0.0, np.pi, n0), rng.uniform(0.0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    # The unit moons span x in [-1, 2], y in [-0.5, 1]: centre them, then fill the plane.
    X = (np.concatenate([upper, lower]) - np.array([0.5, 0.25])) * 3.0
    # Drawn even at noise 0 (scale 0 adds exact zeros) so the slider never shifts the rng stream.
    X += rng.normal(0.0, 2.0 * nf, (n, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return np.clip(X, -EXTENT, EXTENT), y


def _regression_inputs(
    n: int, nf: float, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """X ~ U[-6, 6]^2 and the jittered positions at which the target is read."""
    X = rng.uniform(-EXTENT, EXTENT, (n, 2))
    return X, X + rng.uniform(-EXTENT, EXTENT, (n, 2)) * nf


def _plane(n: int, nf: float, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    X, J = _regression_inputs(n, nf, rng)
    return X, np.clip((J[:, 0] + J[:, 1]) / 10.0, -1.0, 1.0)


# (centre x1, centre x2, sign): a checkerboard of positive and negative bumps.
_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def multigauss_target(P: NDArray[np.float64]) -> NDArray[np.float64]:
    """[n] target of the multigauss surface at positions P [n x 2], in [-1, 1]."""
    d = np.hypot(P[:, None, 0] - _BUMPS[None, :, 0], P[:, None, 1] - _BUMPS[None, :, 1])  # [n x 6]
    v = _BUMPS[None, :, 2] * np.clip(1.0 - d / 2.0, 0.0, 1.0)  # [n x 6]
    return np.asarray(v[np.arange(len(P)), np.argmax(np.abs(v), axis=1)], dtype=np.float64)


def _multigauss(n: int, nf: float, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    X, J = _regression_inputs(n, nf, rng)
    return X, multigauss_target(J)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("circle", "Circle", "binary", 2, _circle),
        DatasetInfo("xor", "Exclusive or", "binary", 2, _xor),
        DatasetInfo("gauss", "Gaussian", "binary", 2, _gauss),
        DatasetInfo("spiral", "Spiral", "binary", 2, _spiral),
        DatasetInfo("moons", "Two moons", "binary", 2, _moons),
        DatasetInfo("spiral3", "Spiral, 3 classes", "multiclass", 3, _spiral3),
        DatasetInfo("plane", "Plane (regression)", "regression", 0, _plane),
        DatasetInfo("multigauss", "Multiple gaussians (regression)", "regression", 0, _multigauss),
    )
}


def is_uploaded(name: str) -> bool:
    """True for the name of an uploaded dataset (whether or not this server has it)."""
    return bool(_UPLOADED_NAME.match(name))


def generate(name: str, n: int, noise: float, rng: np.random.Generator) -> Dataset:
    """Draw `n` points of dataset `name` with `noise` percent (0..50) from `rng`.

    Returns Dataset(X [n x 2] float64 in [-6, 6]^2, y [n], task, n_classes,
    feature_names ("x1", "x2")). Same rng state -> identical bits.
    Raises ValueError for an unknown name, n < 2 or noise outside 0..50.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n (number of points) must be an integer >= 2, got {n!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)) or not (
        0.0 <= float(noise) <= NOISE_MAX
    ):
        raise ValueError(f"noise is a percentage from 0 to {NOISE_MAX:g}, got {noise!r}")
    info = DATASETS[name]
    X, y = info.make(int(n), float(noise) / 100.0, rng)
    names = BINARY_CLASS_NAMES if info.task == "binary" else SPIRAL3_CLASS_NAMES
    ds = Dataset(
        X=np.ascontiguousarray(X, dtype=np.float64),
        y=y,  # type: ignore[arg-type]
        task=info.task,
        n_classes=info.n_classes,
        feature_names=FEATURES_2D,
        class_names=names if info.n_classes else (),
        name=name,
        meta={"noise": float(noise)},
    )
    ds.validate()
    return ds
