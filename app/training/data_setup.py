"""From a configuration to the arrays a session trains on.

2-D datasets keep their raw points (`raw_*`, what the browser plots) apart
from the feature matrix the network sees (`X_*`, after the feature
transforms). Tabular data is standardized with the training set's statistics,
so a constant column becomes exactly zero and cannot act as a second bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.data import datasets, features, splits, tabular
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
    raw = {s: np.ascontiguousarray(data.X[index[s]], dtype=np.float64) for s in SPLITS}
    y = {s: np.asarray(data.y[index[s]]) for s in SPLITS}
    mean = std = None
    if data.name not in ("mammals_or_fish", "csv") and data.X.shape[1] == 2:
        plane = True
        names = tuple(config.features)
        X = {s: features.transform(raw[s], list(names)) for s in SPLITS}
    else:
        plane = False
        names = tuple(data.feature_names)
        raw["train"], mean, std = tabular.standardize(raw["train"])
        for s in ("val", "test"):
            raw[s], _, _ = tabular.standardize(raw[s], mean, std)
        X = dict(raw)
    class_names = getattr(data, "class_names", None)
    return PreparedData(
        task=task,
        n_classes=int(data.n_classes),
        plane=plane,
        input_names=tuple(data.feature_names),
        feature_names=names,
        class_names=tuple(class_names) if class_names else None,
        raw=raw, X=X, y=y, mean=mean, std=std,
    )
