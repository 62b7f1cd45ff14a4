"""The model's plain-dict format (JSON-safe), version 1.

```
{"version": 1,
 "architecture": {"n_inputs": 2, "hidden": [4, 2], "activations": ["tanh", "tanh"],
                  "n_outputs": 1, "task": "playground"},
 "weights": [[[w00, w01, ...], ...], ...],   # per layer, n_in rows of n_out floats
 "biases": [[b0, ...], ...],                 # per layer, n_out floats
 "optimizer": {"name": "momentum",
               "state": {"velocity": [{"W": [[...]], "b": [...]}, ...],
                         "m": ..., "v": ..., "t": (ints), "s": ...}},
 "trainable": [{"W": [[true, ...]], "b": [true, ...]}, ...],
 "step": 0, "epoch": 0}
```

Floats are Python floats of the float64 values, so ``json.dumps`` (which
writes ``repr``) and ``json.loads`` give back the same bits. ``optimizer``,
its individual state slots, ``trainable``, ``step`` and ``epoch`` may be left
out (zero state, all trainable, 0), so a hand-written model needs only
version, architecture, weights and biases. Unknown keys, wrong shapes, wrong
types and non-finite numbers raise ``ValueError`` saying where.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from app.nn.freezing import Masks
from app.nn.network import NetworkSpec, Params
from app.nn.optimizers import ALL_SLOTS, OPTIMIZERS, OptState, init_state

FORMAT_VERSION = 1
_TOP_KEYS = {"version", "architecture", "weights", "biases", "optimizer", "trainable",
             "step", "epoch"}
_ARCH_KEYS = {"n_inputs", "hidden", "activations", "n_outputs", "task"}


class Saved(Protocol):
    """What the format holds (``app.nn.model.Model`` has it; this module needs no more)."""

    @property
    def spec(self) -> NetworkSpec: ...
    @property
    def params(self) -> Params: ...
    @property
    def optimizer(self) -> str: ...
    @property
    def opt_state(self) -> OptState: ...
    @property
    def trainable(self) -> Masks: ...
    @property
    def step(self) -> int: ...
    @property
    def epoch(self) -> int: ...


def model_to_dict(model: Saved) -> dict[str, Any]:
    """A model -> plain dict of lists, floats, ints, bools and strings."""
    spec = model.spec
    return {
        "version": FORMAT_VERSION,
        "architecture": {
            "n_inputs": spec.n_inputs,
            "hidden": list(spec.hidden),
            "activations": list(spec.activations),
            "n_outputs": spec.n_outputs,
            "task": spec.task,
        },
        "weights": [p["W"].tolist() for p in model.params],
        "biases": [p["b"].tolist() for p in model.params],
        "optimizer": {
            "name": model.optimizer,
            "state": {
                name: [{k: a.tolist() for k, a in layer.items()} for layer in slot]
                for name, slot in model.opt_state.slots.items()
            },
        },
        "trainable": [{k: m.tolist() for k, m in layer.items()} for layer in model.trainable],
        "step": model.step,
        "epoch": model.epoch,
    }


def _dict(value: Any, path: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{path} must be an object, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(f"{path} has unknown keys {unknown}; allowed: {sorted(allowed)}")
    missing = sorted(required - set(value))
    if missing:
        raise ValueError(f"{path} is missing {missing}")
    return value


def _count(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{path} must be a non-negative integer, got {value!r}")
    return value


def _scalar_ok(x: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(x, bool)
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    if kind == "int":
        return isinstance(x, int) and x >= 0
    return math.isfinite(x)


_KIND_TEXT = {"float": "finite numbers", "int": "non-negative integers", "bool": "booleans"}
_DTYPES = {"float": np.float64, "int": np.int64, "bool": bool}


def _array(value: Any, shape: tuple[int, ...], path: str, kind: str) -> np.ndarray:
    """Check a nested list of exactly ``shape`` holding ``kind`` scalars."""
    rows = [value] if len(shape) == 1 else value
    if len(shape) == 2 and (not isinstance(value, list) or len(value) != shape[0]):
        raise ValueError(f"{path} must be a list of {shape[0]} rows")
    for r, row in enumerate(rows):
        where = path if len(shape) == 1 else f"{path}[{r}]"
        if not isinstance(row, list) or len(row) != shape[-1]:
            raise ValueError(f"{where} must be a list of {shape[-1]} {_KIND_TEXT[kind]}")
        if not all(_scalar_ok(x, kind) for x in row):
            raise ValueError(f"{where} must hold only {_KIND_TEXT[kind]}")
    return np.array(value, dtype=_DTYPES[kind]).reshape(shape)


def _spec(value: Any) -> NetworkSpec:
    arch = _dict(value, "architecture", _ARCH_KEYS, _ARCH_KEYS)
    for key in ("hidden", "activations"):
        if not isinstance(arch[key], list):
            raise ValueError(f"architecture.{key} must be a list")
    if not all(isinstance(a, str) for a in arch["activations"]):
        raise ValueError("architecture.activations must be a list of names")
    spec = NetworkSpec(
        n_inputs=arch["n_inputs"],
        hidden=tuple(arch["hidden"]),
        activations=tuple(arch["activations"]),
        n_outputs=arch["n_outputs"],
        task=arch["task"],
    )
    try:
        spec.validate()
    except ValueError as exc:
        raise ValueError(f"architecture: {exc}") from None
    return spec


def _layers(value: Any, path: str, shapes: list[tuple[int, int]], kind: str
            ) -> list[dict[str, np.ndarray]]:
    if not isinstance(value, list) or len(value) != len(shapes):
        raise ValueError(f"{path} must be a list of {len(shapes)} layers")
    out = []
    for l, (layer, (n_in, n_out)) in enumerate(zip(value, shapes)):
        layer = _dict(layer, f"{path}[{l}]", {"W", "b"}, {"W", "b"})
        out.append({
            "W": _array(layer["W"], (n_in, n_out), f"{path}[{l}].W", kind),
            "b": _array(layer["b"], (n_out,), f"{path}[{l}].b", kind),
        })
    return out


def model_fields_from_dict(d: Any) -> dict[str, Any]:
    """Validate a ``to_dict`` dict and return ``Model(**fields)`` arguments."""
    d = _dict(d, "model", _TOP_KEYS, {"version", "architecture", "weights", "biases"})
    if d["version"] != FORMAT_VERSION or isinstance(d["version"], bool):
        raise ValueError(f"unsupported model format version {d['version']!r}; "
                         f"this engine reads version {FORMAT_VERSION}")
    spec = _spec(d["architecture"])
    sizes = spec.layer_sizes
    shapes = list(zip(sizes[:-1], sizes[1:]))
    for key in ("weights", "biases"):
        if not isinstance(d[key], list) or len(d[key]) != len(shapes):
            raise ValueError(f"{key} must be a list of {len(shapes)} layers")
    params = [
        {"W": _array(W, shape, f"weights[{l}]", "float"),
         "b": _array(b, shape[1:], f"biases[{l}]", "float")}
        for l, (W, b, shape) in enumerate(zip(d["weights"], d["biases"], shapes))
    ]
    fields: dict[str, Any] = {"spec": spec, "params": params}
    opt = _dict(d.get("optimizer", {"name": "sgd"}), "optimizer", {"name", "state"}, {"name"})
    if opt["name"] not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {opt['name']!r}; known: {', '.join(OPTIMIZERS)}")
    fields["optimizer"] = opt["name"]
    state = init_state(params)
    slots = _dict(opt.get("state", {}), "optimizer.state", set(ALL_SLOTS), set())
    for name, value in slots.items():
        kind = "int" if name == "t" else "float"
        state.slots[name] = _layers(value, f"optimizer.state.{name}", shapes, kind)
    fields["state"] = state
    if "trainable" in d:
        fields["trainable"] = _layers(d["trainable"], "trainable", shapes, "bool")
    fields["step"] = _count(d.get("step", 0), "step")
    fields["epoch"] = _count(d.get("epoch", 0), "epoch")
    return fields
