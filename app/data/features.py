"""Feature transforms of a 2-D point (x1, x2), as in the Playground's input column.

The browser re-implements this table in JavaScript to draw each input's heatmap,
so every formula is one elementary expression of the raw coordinates, with no
scaling:

| name     | label    | formula (Python / JS)              |
|----------|----------|------------------------------------|
| x1       | x1       | x1                                 |
| x2       | x2       | x2                                 |
| x1_sq    | x1²      | x1 * x1                            |
| x2_sq    | x2²      | x2 * x2                            |
| x1x2     | x1·x2    | x1 * x2                            |
| sin_x1   | sin(x1)  | sin(x1)   (Math.sin, radians)      |
| sin_x2   | sin(x2)  | sin(x2)                            |
| cos_x1   | cos(x1)  | cos(x1)                            |
| cos_x2   | cos(x2)  | cos(x2)                            |

On [-6, 6]^2 the squares range over [0, 36] and the product over [-36, 36],
exactly as in the Playground.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from app.data.dataset import Dataset

Column = NDArray[np.float64]
FeatureName = Literal["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2", "cos_x1", "cos_x2"]  # the keys of FEATURES


@dataclass(frozen=True)
class Feature:
    """One input transform: `fn(x1, x2)` maps two [N] columns to one [N] column."""

    name: str
    label: str  # human label with typography, e.g. "x1²"
    formula: str  # the expression in both Python and JS syntax (sin/cos are Math.sin/cos in JS)
    fn: Callable[[Column, Column], Column]


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("x1", "x1", "x1", lambda a, b: a.copy()),
        Feature("x2", "x2", "x2", lambda a, b: b.copy()),
        Feature("x1_sq", "x1²", "x1 * x1", lambda a, b: a * a),
        Feature("x2_sq", "x2²", "x2 * x2", lambda a, b: b * b),
        Feature("x1x2", "x1·x2", "x1 * x2", lambda a, b: a * b),
        Feature("sin_x1", "sin(x1)", "sin(x1)", lambda a, b: np.sin(a)),
        Feature("sin_x2", "sin(x2)", "sin(x2)", lambda a, b: np.sin(b)),
        Feature("cos_x1", "cos(x1)", "cos(x1)", lambda a, b: np.cos(a)),
        Feature("cos_x2", "cos(x2)", "cos(x2)", lambda a, b: np.cos(b)),
    )
}
DEFAULT_FEATURES: tuple[str, ...] = ("x1", "x2")  # the Playground starts with these


def check_feature_names(names: Sequence[str]) -> tuple[str, ...]:
    """Return `names` as a tuple, or raise ValueError naming the bad entry and what is allowed."""
    allowed = ", ".join(FEATURES)
    if isinstance(names, str):
        # A bare string would iterate as characters and give a baffling error.
        raise ValueError(f"feature names must be a list of names, got the string {names!r}; allowed: {allowed}")
    names = tuple(names)
    if not names:
        raise ValueError(f"choose at least one feature; allowed: {allowed}")
    for name in names:
        if name not in FEATURES:
            raise ValueError(f"unknown feature {name!r}; allowed: {allowed}")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"feature {dup!r} is listed twice; each feature may appear once")
    return names


def transform(X2: NDArray[np.float64], names: Sequence[str]) -> NDArray[np.float64]:
    """Map points X2 [N x 2] (columns x1, x2) to features [N x F], F = len(names), in order.

    Raises ValueError for an unknown or repeated name or a wrongly shaped X2.
    Does not mutate X2.
    """
    names = check_feature_names(names)
    X2 = np.asarray(X2, dtype=np.float64)
    if X2.ndim != 2 or X2.shape[1] != 2:
        raise ValueError(f"feature transforms need 2-D points [N x 2], got shape {X2.shape}")
    x1, x2 = X2[:, 0], X2[:, 1]
    return np.stack([FEATURES[n].fn(x1, x2) for n in names], axis=1)


def transform_dataset(ds: Dataset, names: Sequence[str]) -> Dataset:
    """The 2-D dataset `ds` with inputs replaced by `transform(ds.X, names)`; labels shared."""
    if ds.feature_names != ("x1", "x2"):
        raise ValueError(
            f"feature transforms apply to 2-D datasets with inputs (x1, x2), "
            f"this one has {', '.join(ds.feature_names)}"
        )
    names = check_feature_names(names)
    return ds.with_inputs(transform(ds.X, names), names)
