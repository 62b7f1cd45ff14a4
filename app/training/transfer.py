"""Fine-tuning: the network built for a new task starts from the current weights
wherever the shapes allow.

Layer l of the new network keeps the current layer l's weights and biases when
both are `[n_in x n_out]` alike; otherwise it keeps the weights freshly drawn
for it and is reported as re-initialized. New inputs (other features) change
the first layer, new classes the last: the hidden layers between carry over,
which is what transfer learning reuses. A network with more layers than
before keeps the matching ones and draws the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Params = list[dict[str, np.ndarray]]


@dataclass(frozen=True)
class Carried:
    """The new network's starting weights and which layers came from the old one."""

    params: Params
    kept: tuple[int, ...]            # layers whose weights and biases are the old ones, to the bit
    reinitialized: tuple[int, ...]   # layers whose shapes changed: freshly drawn

    def describe(self) -> str:
        """In words, for the page: what fine-tuning starts from."""
        if not self.reinitialized:
            return "every layer starts from the current weights"
        names = " and ".join(f"layer {l + 1}" for l in self.reinitialized)
        verb = "starts" if len(self.reinitialized) == 1 else "start"
        return (f"{names} changed shape and {verb} from new weights; "
                + ("the others keep the current ones" if self.kept else "no layer could keep its weights"))


def carry_weights(current: Params, fresh: Params) -> Carried:
    """`fresh` (drawn for the new network) with every layer whose shape matches taken from `current`
    (copied: training the new network leaves `current` as it was)."""
    params: Params = []
    kept, reinitialized = [], []
    for l, new in enumerate(fresh):
        old = current[l] if l < len(current) else None
        if old is not None and old["W"].shape == new["W"].shape and old["b"].shape == new["b"].shape:
            params.append({"W": old["W"].copy(), "b": old["b"].copy()})
            kept.append(l)
        else:
            params.append({"W": new["W"].copy(), "b": new["b"].copy()})
            reinitialized.append(l)
    return Carried(params, tuple(kept), tuple(reinitialized))
