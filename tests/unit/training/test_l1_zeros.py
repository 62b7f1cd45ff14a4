"""L1 takes the weights it drives out to exactly 0, on both paths, and keeps them there."""

from __future__ import annotations

import numpy as np
import pytest

from app.nn import fast
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

MAMMALS = RunConfig(dataset="mammals", hidden=(4,), task="binary")


def trained(fast_path: bool, regularization: str, epochs: int = 40) -> TrainingSession:
    s = TrainingSession(MAMMALS, HyperState(lr=0.1, momentum=0.9, regularization=regularization, reg_rate=0.01))
    s.fast = fast_path
    for _ in range(epochs):
        s.step_epoch()
    return s


@pytest.mark.parametrize("fast_path", [False, True])
def test_l1_takes_the_constant_feature_s_weights_to_exactly_zero_and_keeps_them(fast_path: bool) -> None:
    if fast_path and not fast.available():
        pytest.fail(f"the fast path did not load: {fast.reason()}")
    s = trained(fast_path, "l1")
    vertebrate = s.data.feature_names.index("vertebrate")
    row = s.params[0]["W"][vertebrate]
    assert (row == 0.0).all(), row  # a feature that never varies: its gradient is 0, L1 leaves nothing
    velocity = s.model.opt_state.slots["velocity"][0]["W"][vertebrate]
    assert (velocity == 0.0).all()
    s.step_epoch()
    assert (s.params[0]["W"][vertebrate] == 0.0).all()  # and they stay there
    assert (s.params[0]["W"] != 0.0).any()  # the features that decide keep their weights


def test_without_l1_the_constant_feature_s_weights_keep_their_start() -> None:
    s = trained(False, "none", epochs=5)
    vertebrate = s.data.feature_names.index("vertebrate")
    assert np.array_equal(s.params[0]["W"][vertebrate], s.initial_params[0]["W"][vertebrate])
    assert (s.params[0]["W"][vertebrate] != 0.0).all()


def test_both_paths_stop_the_same_weights_at_zero_to_the_bit() -> None:
    config = RunConfig(dataset="circle", features=("x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1"), hidden=(6, 4))
    runs = []
    for fast_path in (False, True):
        s = TrainingSession(config, HyperState(lr=0.1, momentum=0.9, regularization="l1", reg_rate=0.02))
        s.fast = fast_path
        for _ in range(15):
            s.step_epoch()
        runs.append(np.concatenate([p[k].ravel() for p in s.params for k in ("W", "b")]))
    assert np.array_equal(runs[0], runs[1])
    assert (runs[0] == 0.0).sum() > 0  # some weights reached exactly zero
