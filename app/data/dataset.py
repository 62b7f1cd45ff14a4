"""The `Dataset` container shared by every generator, the CSV importer and training.

Label convention (binding for the whole project):

- classification (`task` "binary" or "multiclass"): `y` holds int64 class
  indices `0..K-1`; `class_names[k]` names class `k`. Binary data has K = 2
  and the training layer maps class 0 -> -1 and class 1 -> +1 for the
  Playground task (tanh output, labels +-1).
- regression (`task` "regression"): `y` holds float64 targets, `n_classes` is 0
  and `class_names` is empty. The Playground's regression datasets keep their
  targets in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

DataTask = Literal["binary", "multiclass", "regression"]  # what the data is; a network's task is app.nn.losses.TaskName
DATA_TASKS: tuple[str, ...] = get_args(DataTask)


@dataclass(frozen=True)
class Dataset:
    """A labelled table of points.

    X: [N x D] float64 inputs, all finite.
    y: [N] int64 class indices (classification) or float64 targets (regression).
    task: "binary" (K = 2), "multiclass" (K >= 3) or "regression".
    n_classes: K for classification, 0 for regression.
    feature_names: D unique column names, in the order of X's columns.
    class_names: K names for classification, () for regression.
    name: where the data came from ("circle", "mammals_or_fish", "csv", ...).
    """

    X: NDArray[np.float64]
    y: NDArray[np.int64] | NDArray[np.float64]
    task: str
    n_classes: int
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] = ()
    name: str = ""
    # Free-form, JSON-safe facts a generator wants to pass on (noise, seed...).
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def n_samples(self) -> int:
        """N, the number of points."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """D, the number of input columns."""
        return int(self.X.shape[1])

    @property
    def n_outputs(self) -> int:
        """Output neurons a network needs: K for multiclass, else 1."""
        return self.n_classes if self.task == "multiclass" else 1

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    def subset(self, idx: NDArray[np.intp]) -> Dataset:
        """The rows `idx` ([M] ints) as a new Dataset (copies X and y)."""
        idx = np.asarray(idx, dtype=np.intp)
        return replace(self, X=self.X[idx].copy(), y=self.y[idx].copy(), meta=dict(self.meta))

    def with_inputs(self, X: NDArray[np.float64], feature_names: tuple[str, ...]) -> Dataset:
        """Same labels, new inputs X [N x F] named `feature_names` (validated)."""
        out = replace(self, X=X, feature_names=tuple(feature_names), meta=dict(self.meta))
        out.validate()
        return out

    def class_counts(self) -> NDArray[np.int64]:
        """[K] number of points per class (classification only)."""
        if not self.is_classification:
            raise ValueError("class_counts() needs a classification dataset, this one is regression")
        return np.bincount(self.y.astype(np.int64), minlength=self.n_classes).astype(np.int64)

    def validate(self) -> None:
        """Raise ValueError naming the first broken invariant; return None if sound."""
        X, y = self.X, self.y
        if not isinstance(X, np.ndarray) or X.ndim != 2:
            raise ValueError(f"X must be a 2-D array [N x D], got shape {np.shape(X)}")
        if X.dtype != np.float64:
            raise ValueError(f"X must be float64, got {X.dtype}")
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X must have at least one row and one column, got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinite values")
        if not isinstance(y, np.ndarray) or y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {np.shape(y)}")
        if len(self.feature_names) != X.shape[1]:
            raise ValueError(
                f"feature_names has {len(self.feature_names)} names for {X.shape[1]} columns of X"
            )
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ValueError(f"feature_names must be unique, got {self.feature_names}")
        if self.task not in DATA_TASKS:
            raise ValueError(f"task must be one of {', '.join(DATA_TASKS)}, got {self.task!r}")
        if self.task == "regression":
            self._validate_regression()
        else:
            self._validate_classification()

    def _validate_regression(self) -> None:
        if self.y.dtype != np.float64:
            raise ValueError(f"regression targets must be float64, got {self.y.dtype}")
        if not np.all(np.isfinite(self.y)):
            raise ValueError("regression targets contain NaN or infinite values")
        if self.n_classes != 0 or self.class_names:
            raise ValueError("a regression dataset has n_classes 0 and no class_names")

    def _validate_classification(self) -> None:
        K = self.n_classes
        if self.y.dtype != np.int64:
            raise ValueError(f"class labels must be int64 indices, got {self.y.dtype}")
        if self.task == "binary" and K != 2:
            raise ValueError(f"a binary dataset has n_classes 2, got {K}")
        if self.task == "multiclass" and K < 3:
            raise ValueError(f"a multiclass dataset has n_classes >= 3, got {K}")
        if len(self.class_names) != K:
            raise ValueError(f"class_names has {len(self.class_names)} names for {K} classes")
        if self.y.size and (self.y.min() < 0 or self.y.max() >= K):
            raise ValueError(f"class labels must lie in 0..{K - 1}, got {self.y.min()}..{self.y.max()}")
