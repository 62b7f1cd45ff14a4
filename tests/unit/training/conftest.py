"""Builders shared by the training-session tests (fixtures, so any import mode works)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

Params = list[dict[str, np.ndarray]]


@pytest.fixture
def make_session() -> Callable[..., TrainingSession]:
    """``make_session(hyper=None, **config_fields)`` -> a fresh TrainingSession."""

    def build(hyper: dict[str, Any] | None = None, **config: Any) -> TrainingSession:
        return TrainingSession(RunConfig().with_changes(config), HyperState(**(hyper or {})))

    return build


@pytest.fixture
def copy_params() -> Callable[[Params], Params]:
    """A deep copy of a parameter list (the session mutates its arrays in place)."""

    def copy(params: Params) -> Params:
        return [{k: v.copy() for k, v in layer.items()} for layer in params]

    return copy


@pytest.fixture
def assert_params_equal() -> Callable[[Params, Params], None]:
    """Bit-identical parameter lists."""

    def check(a: Params, b: Params) -> None:
        assert len(a) == len(b)
        for la, lb in zip(a, b):
            assert la.keys() == lb.keys()
            for k in la:
                assert la[k].shape == lb[k].shape
                assert la[k].tobytes() == lb[k].tobytes(), f"{k} differs"

    return check
