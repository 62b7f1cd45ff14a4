"""From a configuration to the arrays a session trains on.

2-D datasets keep their raw points (`raw_*`, what the browser plots) apart
from the feature matrix the network sees (`X_*`, after the feature
transforms). Tabular data is standardized with the training set's statistics,
so a constant column becomes exactly zero and cannot act as a second bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.data import datasets, features, splits, tabular, transforms
from app.training import custom_data
from app.training.config import TASKS_BY_KIND, RunConfig

SPLITS = ("train", "val", "test")


@dataclass
class PreparedData:
    """Everything a session needs from its data. Arrays are float64."""

    task: str                       # the network's task (playground, binary, multiclass, regression)
    n_classes: int
    plane: bool                     # True when the inputs are points of the 2-D plane
    input_names: tuple[str, ...]    # names of the raw columns
    feature_names: tuple[str, ...]  # names of the network's inputs
    class_names: tuple[str, ...] | None
    raw: dict[str, np.ndarray]      # split -> [N x 2] points (or standardized tabular rows)
    X: dict[str, np.ndarray]        # split -> [N x F] network inputs
    y: dict[str, np.ndarray]        # split -> [N] class indices or targets
    mean: np.ndarray | None = None  # tabular standardization statistics
    std: np.ndarray | None = None
    columns: tuple[str, ...] | None = None  # tabular data: every column it has (`RunConfig.columns` picks some)

    def n(self, split: str) -> int:
        return int(self.X[split].shape[0])

    def inputs_at(self, points: list[list[float]]) -> np.ndarray:
        """Network inputs `[N x F]` at raw points (2-D data: x1, x2 before the feature
        transforms; tabular data: rows of the network's inputs); ValueError otherwise."""
        raw = np.asarray(points, dtype=np.float64)
        width = 2 if self.plane else len(self.feature_names)
        if raw.ndim != 2 or raw.shape[1] != width or not np.isfinite(raw).all():
            raise ValueError(f"points must be finite rows of {width} numbers")
        return features.transform(raw, list(self.feature_names)) if self.plane else raw


def resolve_task(config: RunConfig, kind: str) -> str:
    """The task for this data: the configured one if it fits, else the default."""
    allowed = TASKS_BY_KIND[kind]
    if config.task is None:
        return allowed[0]
    if config.task not in allowed:
        raise ValueError(f"task {config.task!r} does not fit {kind} data; allowed: {', '.join(allowed)}")
    return config.task


def _moved_and_chosen(config: RunConfig, X: np.ndarray, names: tuple[str, ...],
                      plane: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """The generated rows `X` with `config`'s rotation and shift (2-D built-in data) or its
    choice of columns (tabular data), and the names of the columns kept; ValueError when
    the setting does not apply to this data or names an unknown column."""
    moved = config.rotate != 0 or tuple(config.shift) != (0, 0)
    if plane:
        if config.columns is not None:
            raise ValueError("columns choose the inputs of tabular data (mammals or an uploaded CSV); "
                             "on 2-D data choose features instead (columns must be null)")
        return (transforms.rotate_shift(X, config.rotate, (config.shift[0], config.shift[1])) if moved else X), names
    if moved:
        raise ValueError("rotate and shift move the points of a built-in 2-D dataset; this data is tabular: "
                         "rotate must be 0 and shift [0, 0]")
    if config.columns is None:
        return X, names
    unknown = [c for c in config.columns if c not in names]
    if unknown or not config.columns or len(set(config.columns)) != len(config.columns):
        what = (f"unknown column {unknown[0]!r}" if unknown else "no column" if not config.columns
                else "a column named twice")
        raise ValueError(f"columns: {what}; allowed: {', '.join(names)} (each at most once, at least one)")
    return X[:, [names.index(c) for c in config.columns]], tuple(config.columns)


def prepare(config: RunConfig) -> PreparedData:
    """Generate (seeded), split and transform the data of `config`."""
    rng = np.random.default_rng(config.seed)
    if custom_data.is_custom(config.dataset):
        data = custom_data.library.get(config.dataset)  # every row; the seed only splits them
    elif config.dataset == "mammals":
        data = tabular.mammals_or_fish(config.n_points, rng)
    else:
        data = datasets.generate(config.dataset, config.n_points, config.noise, rng)
    task = resolve_task(config, data.task)
    if config.train_ratio + config.val_ratio > 100:
        raise ValueError(f"the training share ({config.train_ratio:g} %) and the validation share "
                         f"({config.val_ratio:g} %) add up to more than 100 %; lower one of them")
    n = data.X.shape[0]
    train_idx, val_idx, test_idx = splits.split_indices(
        n, config.train_ratio / 100.0, config.val_ratio / 100.0, rng)
    index = {"train": train_idx, "val": val_idx, "test": test_idx}
    plane = data.name not in ("mammals_or_fish", "csv") and data.X.shape[1] == 2
    points, kept = _moved_and_chosen(config, data.X, tuple(data.feature_names), plane)
    raw = {s: np.ascontiguousarray(points[index[s]], dtype=np.float64) for s in SPLITS}
    y = {s: np.asarray(data.y[index[s]]) for s in SPLITS}
    mean = std = None
    if plane:
        names = tuple(config.features)
        X = {s: features.transform(raw[s], list(names)) for s in SPLITS}
    else:
        names = kept
        raw["train"], mean, std = tabular.standardize(raw["train"])
        for s in ("val", "test"):
            raw[s], _, _ = tabular.standardize(raw[s], mean, std)
        X = dict(raw)
    class_names = getattr(data, "class_names", None)
    return PreparedData(
        task=task,
        n_classes=int(data.n_classes),
        plane=plane,
        input_names=tuple(data.feature_names) if plane else kept,
        feature_names=names,
        class_names=tuple(class_names) if class_names else None,
        raw=raw, X=X, y=y, mean=mean, std=std,
        columns=None if plane else tuple(data.feature_names),
    )
