"""Sample files for uploads."""

from __future__ import annotations

import numpy as np


def animals_csv(n: int = 200, seed: int = 0) -> str:
    """Cats and dogs: `size` decides the class, `colour` is noise, `legs` never varies."""
    rng = np.random.default_rng(seed)
    rows = ["size,colour,legs,animal"]
    for _ in range(n):
        size, colour = rng.normal(), rng.normal()
        rows.append(f"{size:.4f},{colour:.4f},4,{'dog' if size > 0 else 'cat'}")
    return "\n".join(rows) + "\n"
