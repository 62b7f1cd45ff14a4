"""Sample files for uploads."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def animals_csv(n: int = 200, seed: int = 0) -> str:
    """Cats and dogs: `size` decides the class, `colour` is noise, `legs` never varies."""
    rng = np.random.default_rng(seed)
    rows = ["size,colour,legs,animal"]
    for _ in range(n):
        size, colour = rng.normal(), rng.normal()
        rows.append(f"{size:.4f},{colour:.4f},4,{'dog' if size > 0 else 'cat'}")
    return "\n".join(rows) + "\n"


def write_animals(path: Path) -> Path:
    """Fish have fins and gills; `body_length_cm` is noise; `vertebrate` never varies."""
    rng = np.random.default_rng(5)
    rows = ["body_length_cm,fin_count,vertebrate,kind"]
    for i in range(240):
        fish = i % 2
        rows.append(f"{rng.normal(50, 20):.1f},{rng.integers(3, 8) if fish else 0},1,{'fish' if fish else 'mammal'}")
    path.write_text("\n".join(rows) + "\n")
    return path
