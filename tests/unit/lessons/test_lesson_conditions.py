"""The condition language: what parses, what is refused and why, and how it evaluates."""

from __future__ import annotations

import pytest

from app.lessons import conditions as c


@pytest.mark.parametrize("text, values, expected", [
    ("hyper.lr >= 3", {"hyper.lr": 3}, True),
    ("hyper.lr >= 3", {"hyper.lr": 2.99}, False),
    ("metrics.test_acc >= 0.9", {"metrics.test_acc": 0.95}, True),
    ("step >= 1e2", {"step": 100}, True),
    ("step > -1", {"step": 0}, True),
    ("hyper.optimizer == 'sgd'", {"hyper.optimizer": "sgd"}, True),
    ('hyper.optimizer != "sgd"', {"hyper.optimizer": "sgd"}, False),
    ("diverged or trouble == 'growing'", {"diverged": False, "trouble": "growing"}, True),
    ("diverged or trouble == 'growing'", {"diverged": False, "trouble": None}, False),
    ("not playing and step >= 10", {"playing": False, "step": 10}, True),
    ("not (playing and step >= 10)", {"playing": True, "step": 10}, False),
    ("trouble == null", {"trouble": None}, True),
    ("playing == true", {"playing": True}, True),
    ("metrics.val_acc >= 0.5", {}, False),  # missing: null, and an order with null is false
    ("metrics.val_acc < 0.5", {"metrics.val_acc": float("nan")}, False),  # NaN is read as null
    ("step >= 1 or step >= 2 and playing", {"step": 0, "playing": True}, False),  # and binds tighter than or
])
def test_a_condition_evaluates_as_written(text: str, values: dict, expected: bool) -> None:
    assert c.evaluate(c.parse(text), values) is expected
    assert evaluate_json(c.to_json(c.parse(text)), values) is expected  # the tree the page gets says the same


def evaluate_json(tree: list, values: dict) -> object:
    """An evaluator of the JSON tree written apart from the module's, as the page's will be."""
    head, *rest = tree
    if head == "const":
        return rest[0]
    if head == "var":
        value = values.get(rest[0])
        return None if value != value else value  # NaN reads as null
    if head == "not":
        return not evaluate_json(rest[0], values)
    if head in ("and", "or"):
        results = [bool(evaluate_json(x, values)) for x in rest]
        return all(results) if head == "and" else any(results)
    left, right = evaluate_json(rest[0], values), evaluate_json(rest[1], values)
    if head in ("==", "!="):
        return (left == right) is (head == "==")
    if left is None or right is None:
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[head]


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("hyper.lrr >= 3", "unknown name 'hyper.lrr'"),
    ("hyper.lr >=", "ends too soon"),
    ("hyper.lr >= 3 3", "unexpected '3'"),
    ("(step >= 3", "not closed"),
    ("hyper.lr", "must be true or false"),
    ("step and playing", "'and' takes true or false"),
    ("hyper.optimizer >= 3", "compares two numbers"),
    ("hyper.optimizer == 3", "values of one kind"),
    ("step >= '3'", "compares two numbers"),
    ("__import__('os')", "unknown name '__import__'"),
    ("step[0] >= 1", "cannot read"),
    ("step >= 3; x", "cannot read"),
    ("step" + " " * 200 + ">= 1", "at most 200 characters"),
])
def test_a_bad_condition_is_refused_saying_why(text: str, words: str) -> None:
    with pytest.raises(c.ConditionError) as info:
        c.parse(text)
    assert words in str(info.value), str(info.value)


def test_every_variable_is_read_from_a_frame_and_a_session_message() -> None:
    frame = {"step": 40, "epoch": 2, "playing": True, "phase": None, "diverged": None,
             "trouble": {"kind": "stuck"}, "hyper": {"lr": 0.5, "optimizer": "sgd", "momentum": 0},
             "metrics": {"test_acc": 0.75, "train_loss": 0.2}, "quantized": {"bits": 4, "test_acc": None},
             "early_stopping": {"stopped_epoch": 7, "best_epoch": 4}}
    session = {"config": {"dataset": "circle", "noise": 0, "seed": 1},
               "architecture": {"hidden": [4, 2], "total_params": 25, "task": "playground"},
               "tasks": [{}, {}], "quantization": {"bits": 8}}  # stale: the server does not resend it
    values = c.values_from(frame, session)
    assert set(values) == set(c.VARIABLES)
    assert values["hyper.lr"] == 0.5 and values["metrics.test_acc"] == 0.75 and values["step"] == 40
    assert values["trouble"] == "stuck" and values["diverged"] is False and values["layers"] == 2
    assert values["params"] == 25 and values["tasks"] == 2 and values["quantized.bits"] == 4
    assert values["config.dataset"] == "circle" and values["early_stopping.stopped_epoch"] == 7
    assert values["quantized.test_acc"] is None and values["config.task"] == "playground"
    assert c.evaluate(c.parse("layers >= 2 and trouble == 'stuck' and not diverged"), values)
    assert c.values_from({**frame, "quantized": None}, session)["quantized.bits"] == 0
