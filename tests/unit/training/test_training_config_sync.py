"""app/protocol (its config models) mirrors app/training/config.py: same fields, same defaults."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import pytest

from app import protocol as p
from app.training.config import TASKS_BY_KIND, HyperState, RunConfig


def _dataclass_defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in fields(cls):
        if f.metadata.get("wire", True) is False:
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        out[f.name] = list(default) if isinstance(default, tuple) else default
    return out


def _model_defaults(model: type[p.BaseModel]) -> dict[str, Any]:
    return {name: f.get_default(call_default_factory=True) for name, f in model.model_fields.items()}


@pytest.mark.parametrize("wire, engine", [(p.Config, RunConfig), (p.Hyper, HyperState)])
def test_protocol_and_engine_have_the_same_fields_and_defaults(wire, engine) -> None:
    assert _model_defaults(wire) == _dataclass_defaults(engine)
    # Same order too, so documents and UIs list them alike.
    assert list(_model_defaults(wire)) == list(_dataclass_defaults(engine))


@pytest.mark.parametrize("patch, full", [(p.ConfigPatch, p.Config), (p.HyperPatch, p.Hyper)])
def test_patches_cover_every_field_and_default_to_unset(patch, full) -> None:
    assert list(patch.model_fields) == list(full.model_fields)
    assert all(v is None for v in _model_defaults(patch).values())
    assert set(p.SetHyper.model_fields) == set(p.HyperPatch.model_fields) | {"type"}


def test_wire_defaults_build_the_engine_defaults() -> None:
    assert RunConfig().with_changes(p.Config().model_dump()) == RunConfig()
    assert HyperState(**p.Hyper().model_dump()) == HyperState()
    assert p.Hyper.model_validate(HyperState().to_dict()) == p.Hyper()
    assert p.Config.model_validate(RunConfig().to_dict()) == p.Config()
    assert tuple(HyperState.wire_fields()) == tuple(p.Hyper.model_fields)


def test_names_the_protocol_allows_are_the_ones_the_engine_knows() -> None:
    from app.data import datasets, features
    from app.nn import activations, losses, network, optimizers

    assert set(p.DATASETS) == set(datasets.DATASETS) | {"mammals"}
    assert set(p.FEATURES) == set(features.FEATURES)
    assert set(p.ACTIVATIONS) == set(activations.ACTIVATIONS)
    assert set(p.TASKS) == set(losses.TASKS) == {t for ts in TASKS_BY_KIND.values() for t in ts}
    assert set(p.OPTIMIZERS) == set(optimizers.OPTIMIZERS)
    assert set(p.INITS) == set(network.INIT_SCHEMES)
