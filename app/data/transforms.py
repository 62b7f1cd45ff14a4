"""Moving a 2-D dataset: the same task turned or shifted, a task "B" close to "A".

Applied to the raw points right after they are generated, before the split
and the feature transforms, so that a rotated task has the same points, labels
and split as the original, only placed elsewhere in the plane.
"""

from __future__ import annotations

import math

import numpy as np

MAX_ROTATE = 180.0   # degrees, either way
MAX_SHIFT = 3.0      # each coordinate, either way (points live in [-6, 6]^2)


def rotate_shift(points: np.ndarray, degrees: float, shift: tuple[float, float]) -> np.ndarray:
    """`points [N x 2]` turned by `degrees` about the origin (counter-clockwise), then moved by
    `shift` (dx, dy); a new array. No rotation and no shift return an unchanged copy."""
    out = np.array(points, dtype=np.float64)
    if degrees != 0:
        t = math.radians(degrees)
        c, s = math.cos(t), math.sin(t)
        R = np.array([[c, s], [-s, c]])  # row vectors: [x, y] @ R = [x c - y s, x s + y c]
        out = out @ R
    if shift[0] != 0 or shift[1] != 0:
        out = out + np.asarray(shift, dtype=np.float64)
    return out
