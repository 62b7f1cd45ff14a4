"""Datasets, feature transforms, CSV import, scaling and splits: pure numpy, no I/O.

The modules are the contract (docs/architecture.md); the names below are
re-exported for convenience.
"""

from app.data.csv_import import DataError, parse_csv
from app.data.dataset import Dataset
from app.data.datasets import DATASETS, generate
from app.data.features import FEATURES, transform, transform_dataset
from app.data.importance import (
    Importance,
    accuracy,
    neg_mean_squared_error,
    permutation_importance,
)
from app.data.scaling import standardize, standardize_dataset
from app.data.splits import kfold_indices, split_indices, train_test_indices
from app.data.tabular import mammals_or_fish

__all__ = [
    "DATASETS",
    "FEATURES",
    "DataError",
    "Dataset",
    "Importance",
    "accuracy",
    "generate",
    "kfold_indices",
    "mammals_or_fish",
    "neg_mean_squared_error",
    "parse_csv",
    "permutation_importance",
    "split_indices",
    "standardize",
    "standardize_dataset",
    "train_test_indices",
    "transform",
    "transform_dataset",
]
