"""Frames built by app.server.frames from the session's view are, byte for byte,
the frames the session built itself before it was split (loaded from git, run
side by side on the same scripted states)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.protocol import encode
from app.server import frames
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

BEFORE = "347744d"  # the last commit with the session that built its own frame


def _old_module() -> Any:
    root = Path(__file__).resolve().parents[3]
    text = subprocess.run(["git", "show", f"{BEFORE}:app/training/session.py"], cwd=root, capture_output=True,
                          text=True, check=True).stdout
    path = Path("/tmp/paramlab_old_session.py")
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("paramlab_old_session", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["paramlab_old_session"] = module
    spec.loader.exec_module(module)
    return module


OLD = _old_module()

Script = list[Callable[[Any], Any]]

SCRIPTS: dict[str, tuple[dict[str, Any], dict[str, Any], Script]] = {
    "step 0": ({}, {}, []),
    "mid epoch": ({}, {}, [lambda s: s.advance(37)]),
    "an epoch": ({}, {}, [lambda s: s.advance(25)]),
    "phases": ({}, {}, [lambda s: s.advance(3)] + [lambda s: s.step_phase()] * 6),
    "trace moved mid update": ({}, {}, [lambda s: s.step_phase(), lambda s: s.step_phase(), lambda s: s.set_trace(7)]),
    "frozen and edited": ({}, {}, [lambda s: s.advance(10), lambda s: s.freeze(0, "neuron", 0, 1, True),
                                   lambda s: s.freeze(1, "weight", 2, 0, True), lambda s: s.set_param(0, "W", 1, 2, .75),
                                   lambda s: s.advance(20)]),
    "adam": ({}, {"optimizer": "adam", "lr": 0.01}, [lambda s: s.advance(40)]),
    "rmsprop": ({}, {"optimizer": "rmsprop", "lr": 0.01}, [lambda s: s.advance(40)]),
    "sgd": ({}, {"optimizer": "sgd"}, [lambda s: s.advance(40)]),
    "dropout and l2": ({}, {"dropout": 0.2, "regularization": "l2", "reg_rate": 0.01}, [lambda s: s.advance(30)]),
    "multiclass": ({"dataset": "spiral3", "hidden": [6]}, {"optimizer": "adam", "batch_size": 16},
                   [lambda s: s.advance(40), lambda s: s.step_phase(), lambda s: s.step_phase()]),
    "regression": ({"dataset": "multigauss", "val_ratio": 20}, {"batch_size": 8},
                   [lambda s: s.advance(33), lambda s: s.step_phase(), lambda s: s.step_phase(),
                    lambda s: s.step_phase()]),
    "diverged": ({"dataset": "plane", "hidden": [8] * 6}, {"lr": 10}, [lambda s: s.advance(5000)]),
    "rolled back": ({"dataset": "plane", "hidden": [8] * 6}, {"lr": 10},
                    [lambda s: s.advance(5000), lambda s: s.rollback()]),
    "new weights": ({}, {}, [lambda s: s.advance(12), lambda s: s.reset(False), lambda s: s.advance(5)]),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("name", list(SCRIPTS))
def test_the_frame_built_from_the_view_is_the_old_frame_byte_for_byte(name: str, fast_path: bool) -> None:
    config, hyper, script = SCRIPTS[name]
    old = OLD.TrainingSession(RunConfig().with_changes(config), HyperState(**hyper))
    new = TrainingSession(RunConfig().with_changes(config), HyperState(**hyper))
    old.fast = new.fast = fast_path
    for i, act in enumerate([lambda s: None, *script]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            act(old)
            act(new)
        before = encode({"playing": i % 2 == 0, "updates_per_second": 12.5, **old.snapshot()})
        after = encode(frames.frame_body(new.view(), i % 2 == 0, 12.5))
        assert after == before, f"{name}: after action {i}"
        assert new.version == old.version
