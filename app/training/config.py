"""What a training session is made of: its configuration and hyperparameters.

These are plain dataclasses so the engine can be driven from a notebook
without the server. `app/protocol.py` mirrors them with the validation bounds
of the wire; a test keeps the two in step (same fields, same defaults).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# Which tasks fit which kind of data, the first being the default. The
# "playground" task (tanh output, squared error, labels +-1) is TF Playground's,
# so the default run compares with it number for number.
TASKS_BY_KIND: dict[str, tuple[str, ...]] = {
    "binary": ("playground", "binary", "hinge"),
    "multiclass": ("multiclass",),
    "regression": ("regression",),
}

# Configuration fields whose None means something: the data's default task, one
# activation for every hidden layer, initial weights drawn from `seed`, every column.
NULLABLE = ("task", "activations", "init_seed", "columns")


@dataclass(frozen=True)
class RunConfig:
    """Data and architecture; changing any field rebuilds the network."""

    dataset: str = "circle"
    noise: float = 0
    train_ratio: float = 50
    val_ratio: float = 0
    n_points: int = 500
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    activations: tuple[str, ...] | None = None
    task: str | None = None
    init: str = "uniform"
    seed: int = 1
    init_seed: int | None = None  # seeds the initial weights; None: the same as `seed`
    rotate: float = 0               # degrees: built-in 2-D points turned about the origin (a task "A rotated")
    shift: tuple[float, float] = (0, 0)  # then moved by (dx, dy)
    columns: tuple[str, ...] | None = None  # tabular data: the columns the network takes in; None: all

    def weights_seed(self) -> int:
        return self.seed if self.init_seed is None else self.init_seed

    def hidden_activations(self) -> tuple[str, ...]:
        if self.activations is not None:
            if len(self.activations) != len(self.hidden):
                raise ValueError(
                    f"activations has {len(self.activations)} names but there are {len(self.hidden)} hidden layers")
            return tuple(self.activations)
        return (self.activation,) * len(self.hidden)

    def with_patch(self, changes: dict[str, Any]) -> RunConfig:
        """A client's change: a field given as None keeps its value, except where None
        means something (`NULLABLE`). A new dataset takes its default task, no rotation,
        shift or column choice, and a new seed draws new weights too, unless `task`,
        `rotate`, `shift`, `columns` or `init_seed` are given."""
        changes = {k: v for k, v in changes.items() if v is not None or k in NULLABLE}
        if "dataset" in changes and changes["dataset"] != self.dataset:
            for key, default in (("task", None), ("rotate", 0), ("shift", (0, 0)), ("columns", None)):
                changes.setdefault(key, default)
        elif "dataset" in changes and "task" not in changes:
            changes["task"] = None
        if "seed" in changes and "init_seed" not in changes:
            changes["init_seed"] = None
        return self.with_changes(changes)

    def with_changes(self, changes: dict[str, Any]) -> RunConfig:
        normalised: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
        return replace(self, **normalised)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("features", "hidden", "activations", "shift", "columns"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return cls().with_changes({k: v for k, v in data.items() if v is not None or k in NULLABLE})


@dataclass
class HyperState:
    """Hyperparameters: changed live, between any two updates."""

    lr: float = 0.03
    momentum: float = 0.9
    batch_size: int = 10
    optimizer: str = "momentum"
    regularization: str = "none"
    reg_rate: float = 0.0
    dropout: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.99
    eps: float = field(default=1e-8, metadata={"wire": False})

    def to_dict(self) -> dict[str, Any]:
        """The fields clients see (every frame carries them: the names are looked up once)."""
        return {name: getattr(self, name) for name in _HYPER_WIRE_FIELDS}

    @classmethod
    def wire_fields(cls) -> tuple[str, ...]:
        return _HYPER_WIRE_FIELDS


_HYPER_WIRE_FIELDS = tuple(f.name for f in fields(HyperState) if f.metadata.get("wire", True))
