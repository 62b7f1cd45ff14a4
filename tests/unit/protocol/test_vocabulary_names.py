"""The vocabulary: every name list written once, every name labelled, every range within its bounds."""

from __future__ import annotations

import math
from typing import get_args

import pytest
from pydantic import BaseModel, ValidationError

from app import protocol as p
from app.data.datasets import DATASETS as GENERATORS
from app.data.features import FEATURES as FEATURE_TRANSFORMS
from app.nn.activations import ACTIVATIONS as ACTIVATION_TABLE
from app.nn.losses import TASKS as TASK_TABLE
from app.nn.network import INIT_SCHEMES
from app.nn.optimizers import SLOTS, STEP_FUNCTIONS
from app.nn.regularization import REGULARIZATIONS
from app.protocol import vocabulary as v

DOC = v.document()


@pytest.mark.parametrize("field", sorted(v.NAMED_CHOICES))
def test_every_literal_member_has_a_label_and_every_label_a_member(field: str) -> None:
    values, labels = v.NAMED_CHOICES[field]
    assert set(labels) == set(values)
    assert [c["value"] for c in DOC["choices"][field]] == list(labels)  # in the page's order
    assert all(isinstance(c["label"], str) and c["label"] for c in DOC["choices"][field])


def test_a_name_without_a_label_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = dict(v.OPTIMIZER_LABELS)
    del labels["adam"]
    monkeypatch.setitem(v.NAMED_CHOICES, "optimizer", (v.OPTIMIZERS, labels))
    with pytest.raises(ValueError, match="labels of optimizer"):
        v._choices()


def test_the_engine_tables_have_exactly_the_names_of_their_literals() -> None:
    assert tuple(ACTIVATION_TABLE) == get_args(p.ActivationName)
    assert set(TASK_TABLE) == set(get_args(p.TaskName))
    assert tuple(FEATURE_TRANSFORMS) == get_args(p.FeatureName)
    assert tuple(GENERATORS) + ("mammals",) == get_args(p.DatasetName)
    assert get_args(p.InitName) == INIT_SCHEMES
    assert get_args(p.RegularizationName) == REGULARIZATIONS
    assert tuple(SLOTS) == tuple(STEP_FUNCTIONS) == get_args(p.OptimizerName)


def test_the_tuples_are_the_literals() -> None:
    assert p.DATASETS == p.BUILTIN_DATASETS == get_args(p.DatasetName)
    assert get_args(p.FeatureName) == p.FEATURES
    assert get_args(p.ActivationName) == p.ACTIVATIONS
    assert get_args(p.TaskName) == p.TASKS
    assert get_args(p.InitName) == p.INITS
    assert get_args(p.OptimizerName) == p.OPTIMIZERS
    assert get_args(p.RegularizationName) == p.REGULARIZATIONS


def test_the_validation_takes_every_name_and_nothing_else() -> None:
    for field, model in (("activation", p.Config), ("task", p.Config), ("init", p.Config),
                         ("optimizer", p.Hyper), ("regularization", p.Hyper)):
        for choice in DOC["choices"][field]:
            model.model_validate({field: choice["value"]})
        with pytest.raises(ValidationError):
            model.model_validate({field: "no_such_name"})
    for choice in DOC["choices"]["dataset"]:
        p.Config.model_validate({"dataset": choice["value"]})
    p.Config.model_validate({"features": [c["value"] for c in DOC["choices"]["features"]]})
    for choice in DOC["choices"]["step_unit"]:
        p.Step.model_validate({"type": "step", "unit": choice["value"]})


def _model_of(field: str) -> type[BaseModel]:
    return p.Hyper if field in p.Hyper.model_fields else p.Config


@pytest.mark.parametrize("field", sorted(set(DOC["ranges"]) - {"speed"}))
def test_a_range_lies_within_the_bounds_its_field_is_validated_with(field: str) -> None:
    r = DOC["ranges"][field]
    model = _model_of(field)
    lo, hi = v.bounds(model, field)
    to_value = (lambda x: 10 ** x) if r["scale"] == "log10" else (lambda x: x)
    assert math.isclose(to_value(r["min"]), lo) or to_value(r["min"]) > lo
    assert math.isclose(to_value(r["max"]), hi) or to_value(r["max"]) < hi
    assert r["min"] <= r["default"] <= r["max"]
    default = model.model_fields[field].default
    assert math.isclose(to_value(r["default"]), default, rel_tol=0.01)
    # The ends of the slider are values the server takes.
    kind = int if model.model_fields[field].annotation is int else float
    for end in (r["min"], r["max"]):
        model.model_validate({field: kind(round(to_value(end), 12))})


@pytest.mark.parametrize("field", sorted(DOC["bounds"]))
def test_the_stated_bounds_are_the_validated_ones(field: str) -> None:
    model = _model_of(field)
    b = DOC["bounds"][field]
    kind = int if model.model_fields[field].annotation is int else float
    model.model_validate({field: kind(b["min"])})
    model.model_validate({field: kind(b["max"])})
    step = 1 if kind is int else 1e-9 * max(1.0, abs(b["max"]))
    for outside in (b["min"] - step, b["max"] + step):
        with pytest.raises(ValidationError):
            model.model_validate({field: kind(outside)})


def test_every_numeric_field_the_page_edits_has_a_range() -> None:
    edited = {"lr", "momentum", "beta1", "beta2", "rho", "batch_size", "dropout", "train_ratio", "noise", "seed"}
    assert edited <= set(DOC["ranges"])


def test_a_slider_reaching_outside_its_bounds_is_refused() -> None:
    with pytest.raises(ValueError, match="outside its bounds"):
        v.field_range(p.Hyper, "momentum", 0.001, hi=1.5)


def test_the_menus_of_numbers_hold_values_the_server_takes() -> None:
    for choice in DOC["choices"]["regularization_rate"]:
        p.Hyper.model_validate({"reg_rate": float(choice["value"])})
    speeds = [c["value"] for c in DOC["choices"]["speed"]]
    assert DOC["ranges"]["speed"]["max"] == len(speeds) - 1
    for ups in speeds:
        p.SetSpeed.model_validate({"type": "set_speed", "updates_per_second": None if ups is None else float(ups)})


def test_the_limits_are_the_ones_the_session_message_repeats() -> None:
    assert DOC["limits"] == p.LIMITS
    assert p.LIMITS["max_layers"] == p.MAX_LAYERS and p.LIMITS["max_neurons"] == p.MAX_NEURONS
    with pytest.raises(ValidationError):
        p.Config.model_validate({"hidden": [1] * (p.LIMITS["max_layers"] + 1)})
    with pytest.raises(ValidationError):
        p.Config.model_validate({"hidden": [p.LIMITS["max_neurons"] + 1]})


def test_the_data_and_the_engine_hold_uploads_to_the_limits_the_protocol_states() -> None:
    # app.data and app.nn may not import each other: their shared limits are checked here.
    from app.data import csv_import
    from app.nn import losses, network

    assert csv_import.MAX_ROWS == p.MAX_POINTS
    assert csv_import.MAX_COLS == network.MAX_INPUTS + 1 == p.MAX_FEATURES + 1  # the features and the label
    assert csv_import.MAX_CLASSES == losses.MAX_CLASSES == p.MAX_CLASSES


def test_the_frame_names_the_phases_the_session_steps_through() -> None:
    # app.training knows no protocol and the protocol drives no training: the one list is checked here.
    from app.protocol.server import Phase
    from app.training.phases import PHASES

    assert get_args(Phase) == PHASES


def test_each_optimizer_shows_the_hyperparameters_its_update_reads_that_a_client_sets() -> None:
    from app.nn.optimizers import HYPER_OF

    sent = DOC["optimizer_hyper"]
    assert list(sent) == list(p.OPTIMIZERS)
    for name in p.OPTIMIZERS:
        assert sent[name] == [f for f in HYPER_OF[name] if f in p.Hyper.model_fields], name
        assert set(sent[name]) <= set(DOC["ranges"]), f"{name} reads a hyperparameter the page has no slider for"
    # What the engine reads and a client cannot set is the engine's own constant, not a hidden field.
    assert {f for read in HYPER_OF.values() for f in read} - set(p.Hyper.model_fields) == {"eps"}
    # The sliders that come and go with the optimizer: those some optimizer reads and another does not.
    assert {f for read in sent.values() for f in read} - set.intersection(*map(set, sent.values())) \
        == {"momentum", "beta1", "beta2", "rho"}


@pytest.mark.parametrize("group, model", [("config", p.Config), ("hyper", p.Hyper)])
def test_the_defaults_are_the_models_defaults_field_for_field(group: str, model: type[BaseModel]) -> None:
    sent = DOC["defaults"][group]
    assert list(sent) == list(model.model_fields)
    assert model.model_validate(sent) == model()
    for name, info in model.model_fields.items():
        assert sent[name] == info.get_default(call_default_factory=True), name


def test_the_defaults_are_what_the_training_starts_from() -> None:
    from app.training.config import HyperState, RunConfig

    assert p.Config.model_validate(RunConfig().to_dict()).model_dump(mode="json") == DOC["defaults"]["config"]
    assert p.Hyper.model_validate(HyperState().to_dict()).model_dump(mode="json") == DOC["defaults"]["hyper"]


@pytest.mark.parametrize("dataset", p.DATASETS)
def test_the_datasets_on_the_plane_are_the_ones_the_training_transforms(dataset: str) -> None:
    from app.training.config import RunConfig
    from app.training.data_setup import prepare

    data = prepare(RunConfig().with_changes({"dataset": dataset, "n_points": 40}))
    assert (dataset in DOC["plane_datasets"]) == data.plane
    assert DOC["plane_datasets"] == [d for d in p.DATASETS if d in DOC["plane_datasets"]]  # in the menu's order
