"""Fine-tuning: a new task starts from the current weights wherever the shapes allow."""

from __future__ import annotations

import numpy as np

from app.training.build import initial_weights
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession


def trained_on_circle(epochs: int = 5) -> TrainingSession:
    s = TrainingSession(RunConfig(dataset="circle", hidden=(4, 2)), HyperState(lr=0.1))
    for _ in range(epochs):
        s.step_epoch()
    return s


def copy_of(params: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    return [{k: v.copy() for k, v in layer.items()} for layer in params]


def test_fine_tuning_on_new_data_starts_from_the_current_weights_to_the_bit() -> None:
    s = trained_on_circle()
    before = copy_of(s.params)
    carried = s.fine_tune({"dataset": "xor"})
    assert carried.kept == (0, 1, 2) and carried.reinitialized == ()
    assert carried.describe() == "every layer starts from the current weights"
    assert s.config.dataset == "xor" and s.step == 0 and s.epoch == 0
    for now, then in zip(s.params, before, strict=True):
        assert np.array_equal(now["W"], then["W"]) and np.array_equal(now["b"], then["b"])
    s.step_epoch()  # training task B leaves A's weights (the copy) as they were
    assert not np.array_equal(s.params[0]["W"], before[0]["W"])
    s.reset()  # B's start is the weights it was fine-tuned from
    assert np.array_equal(s.params[0]["W"], before[0]["W"])


def test_from_scratch_starts_from_the_configuration_s_initial_weights() -> None:
    s = trained_on_circle()
    s.configure({"dataset": "xor"})
    fresh = initial_weights(s.config, s.spec)
    assert all(np.array_equal(a["W"], b["W"]) for a, b in zip(s.params, fresh, strict=True))


def test_new_inputs_redraw_the_first_layer_and_keep_the_hidden_ones() -> None:
    s = trained_on_circle()
    before = copy_of(s.params)
    carried = s.fine_tune({"features": ["x1", "x2", "x1_sq"]})
    assert carried.kept == (1, 2) and carried.reinitialized == (0,)
    assert s.params[0]["W"].shape == (3, 4)
    assert np.array_equal(s.params[1]["W"], before[1]["W"]) and np.array_equal(s.params[2]["b"], before[2]["b"])
    assert carried.describe() == "layer 1 changed shape and starts from new weights; the others keep the current ones"


def test_new_classes_redraw_the_output_layer() -> None:
    s = trained_on_circle()
    before = copy_of(s.params)
    carried = s.fine_tune({"dataset": "spiral3"})
    assert s.data.task == "multiclass" and s.params[-1]["W"].shape == (2, 3)
    assert carried.kept == (0, 1) and carried.reinitialized == (2,)
    assert np.array_equal(s.params[0]["W"], before[0]["W"])
    both = s.fine_tune({"dataset": "circle", "features": ["x1", "x2", "x1_sq"]})
    assert both.reinitialized == (0, 2) and both.describe().startswith("layer 1 and layer 3 changed shape and start ")
