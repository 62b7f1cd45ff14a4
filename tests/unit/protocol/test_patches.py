"""ConfigPatch and HyperPatch are generated from Config and Hyper: every field, optional, same constraints."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from app import protocol as p
from app.protocol.vocabulary import bounds

PAIRS = [(p.Config, p.ConfigPatch), (p.Hyper, p.HyperPatch)]


def numeric_fields(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if info.annotation in (int, float)]


@pytest.mark.parametrize(("full", "patch"), PAIRS)
def test_a_patch_has_every_field_in_order_each_optional(full: type[BaseModel], patch: type[BaseModel]) -> None:
    assert list(patch.model_fields) == list(full.model_fields)
    assert patch.model_validate({}).model_dump() == dict.fromkeys(full.model_fields)


@pytest.mark.parametrize(("full", "patch"), PAIRS)
def test_a_patch_takes_and_refuses_what_its_model_does(full: type[BaseModel], patch: type[BaseModel]) -> None:
    for name in numeric_fields(full):
        lo, hi = bounds(full, name)
        kind = int if full.model_fields[name].annotation is int else float
        step = 1 if kind is int else 1e-9 * max(1.0, abs(hi))
        for value in (lo, hi):
            assert getattr(patch.model_validate({name: kind(value)}), name) == value
        for value in (lo - step, hi + step, str(lo), True):
            with pytest.raises(ValidationError):
                full.model_validate({name: value})
            with pytest.raises(ValidationError):
                patch.model_validate({name: value})


@pytest.mark.parametrize("case", [
    {"features": ["x1", "x1"]}, {"features": []}, {"dataset": "nope"}, {"activation": "swish"},
    {"hidden": [0]}, {"hidden": [1] * (p.MAX_LAYERS + 1)}, {"init_seed": -1}, {"colour": 1},
])
def test_the_config_patch_refuses_with_the_same_error_as_the_config(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as full:
        p.Config.model_validate(case)
    with pytest.raises(ValidationError) as patch:
        p.ConfigPatch.model_validate(case)
    strip = [{k: e[k] for k in ("type", "loc", "msg")} for e in full.value.errors()]
    assert strip == [{k: e[k] for k in ("type", "loc", "msg")} for e in patch.value.errors()]


def test_null_leaves_a_config_field_unchanged_except_where_it_means_the_default() -> None:
    patch = p.ConfigPatch.model_validate({"hidden": None, "task": None, "init_seed": None, "seed": 5})
    assert patch.model_fields_set == {"task", "init_seed", "seed"}
