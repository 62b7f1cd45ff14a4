"""Take it home as code: the exported NumPy script, run in a subprocess (and imported as a
module), continues the session's run: its next 10 updates give the losses, weights and
optimizer state the session gives (to 1e-12; the NumPy script in fact to the bit)."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from app.training import take_home
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

UPDATES = 10
TOLERANCE = 1e-12

# name: (configuration, hyperparameters, updates before the export, what to do to the session before it)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], int, str | None]] = {
    "momentum_mid_epoch": ({}, {"optimizer": "momentum"}, 37, None),
    "across_an_epoch_end": ({}, {"optimizer": "momentum", "batch_size": 24}, 8, None),  # 11 batches an epoch
    "adam": ({"hidden": [5, 3], "activation": "relu"}, {"optimizer": "adam", "lr": 0.01}, 23, None),
    "rmsprop": ({"dataset": "xor", "activation": "sigmoid"}, {"optimizer": "rmsprop", "lr": 0.01}, 19, None),
    "nesterov_l2": ({"dataset": "moons", "activation": "leaky_relu"},
                    {"optimizer": "nesterov", "regularization": "l2", "reg_rate": 0.01}, 31, None),
    "sgd_full_batch": ({"n_points": 60}, {"optimizer": "sgd", "lr": 0.3, "batch_size": 30}, 3, None),
    "dropout": ({"hidden": [6, 4]}, {"optimizer": "momentum", "dropout": 0.3}, 26, None),
    "l1_stops_at_zero": ({"dataset": "mammals", "hidden": [4]},
                         {"optimizer": "momentum", "regularization": "l1", "reg_rate": 0.01}, 40, None),
    "frozen_neuron_adam": ({"hidden": [4, 2]}, {"optimizer": "adam", "lr": 0.02}, 12, "freeze"),
    "three_classes": ({"dataset": "spiral3", "hidden": [8, 6], "activation": "relu"},
                      {"optimizer": "adam", "lr": 0.01}, 17, None),
    "regression": ({"dataset": "plane", "hidden": [5], "activation": "tanh"},
                   {"optimizer": "momentum", "lr": 0.01}, 21, None),
    "half_done_update_with_dropout": ({"hidden": [5, 3]}, {"optimizer": "momentum", "dropout": 0.4}, 14, "phases"),
    # fine-tuned from gauss to circle, 30 updates with 3 of every 10 points replayed (36 batches an epoch)
    "replay_across_an_epoch_end": ({"dataset": "gauss"}, {"optimizer": "momentum", "dropout": 0.2}, 25, "replay"),
    "quantization_aware_4_bits_per_neuron": ({"hidden": [6, 4]}, {"optimizer": "adam", "lr": 0.01,
                                                                 "regularization": "l2", "reg_rate": 0.01}, 21, "qat4"),
    "quantization_aware_1_bit": ({"dataset": "xor"}, {"optimizer": "momentum"}, 18, "qat1"),
    "hinge_linear_svm": ({"dataset": "gauss", "hidden": [], "task": "hinge", "noise": 30},
                         {"optimizer": "sgd", "lr": 0.1, "regularization": "l2", "reg_rate": 0.05}, 29, None),
}


def make(case: str) -> TrainingSession:
    config, hyper, before, action = CASES[case]
    s = TrainingSession(RunConfig().with_changes(config), HyperState(**hyper))
    if action == "qat4":
        s.set_quantization(4, "neuron", aware=True)
    if action == "qat1":
        s.set_quantization(1, "tensor", aware=True)
    if action == "freeze":
        s.freeze(0, "neuron", 0, 1, True)  # neuron 1 of the first hidden layer, and one weight further on
        s.freeze(1, "weight", 2, 0, True)
    s.advance(before)
    if action == "phases":
        s.step_phase()  # forward (draws this update's dropout masks) ...
        s.step_phase()  # ... and loss: the update is left half done
    if action == "replay":
        s.fine_tune({"dataset": "circle"}, "current")
        s.set_replay(0.3, 50)
        s.advance(30)
    return s


def script(s: TrainingSession, tmp_path: Path, lang: str = "numpy") -> Path:
    path = tmp_path / f"paramlab_{lang}.py"
    path.write_text(take_home.render(take_home.capture(s), lang, "test"))
    return path


def run_script(path: Path, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable, str(path), "--updates", str(UPDATES), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{UPDATES} updates run" in done.stdout
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def session_updates(s: TrainingSession) -> tuple[list[float], list[list[dict[str, np.ndarray]]]]:
    """The session's next UPDATES batch losses, and its weights after each."""
    losses, params = [], []
    for _ in range(UPDATES):
        assert s.advance(1) == 1
        losses.append(s.last_update.loss)
        params.append([{k: v.copy() for k, v in layer.items()} for layer in s.params])
    return losses, params


def worst(a: Any, b: Any) -> float:
    """The largest absolute difference between two nests of lists / arrays of the same shape."""
    if isinstance(a, dict):
        assert set(a) == set(b)
        return max((worst(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, list) and a and isinstance(a[0], dict):
        assert len(a) == len(b)
        return max(worst(x, y) for x, y in zip(a, b))
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert x.shape == y.shape
    return float(np.max(np.abs(x - y))) if x.size else 0.0


def state_of(s: TrainingSession) -> dict[str, Any]:
    slots = take_home.SLOTS[s.hyper.optimizer]
    return {name: s.model.opt_state.slots[name] for name in slots}


@pytest.mark.parametrize("case", list(CASES))
def test_the_numpy_script_continues_the_run(case: str, tmp_path: Path) -> None:
    s = make(case)
    path = script(s, tmp_path)
    start_step = s.step
    result = run_script(path, tmp_path)
    losses, params = session_updates(s)
    assert result["step"] == s.step == start_step + UPDATES and result["epoch"] == s.epoch
    assert len(result["losses"]) == UPDATES
    assert worst(result["losses"], losses) <= TOLERANCE
    assert worst(result["params"], s.params) <= TOLERANCE
    assert worst(result["state"], state_of(s)) <= TOLERANCE
    # Each update, too: the script imported as a module, one update at a time.
    module = load(path)
    for i in range(UPDATES):
        [loss] = module.train(1)
        assert abs(loss - losses[i]) <= TOLERANCE
        assert worst(module.params, params[i]) <= TOLERANCE, f"update {i + 1}"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cases_exercise_what_they_are_named_for(tmp_path: Path) -> None:
    """The updates compared above do cross an epoch's end, stop L1 weights at zero, leave a
    frozen neuron as it was and use the masks a half-done update drew."""
    s = make("across_an_epoch_end")
    epoch = s.epoch
    session_updates(s)
    assert s.epoch == epoch + 1
    s = make("l1_stops_at_zero")
    before = [p["W"].copy() for p in s.params]
    stopped = 0
    for _ in range(UPDATES):
        s.advance(1)
        stopped += sum(int(((b != 0) & (p["W"] == 0)).sum()) for b, p in zip(before, s.params))
        before = [p["W"].copy() for p in s.params]
    assert stopped > 0
    s = make("frozen_neuron_adam")
    column = s.params[0]["W"][:, 1].copy()
    captured = take_home.capture(s)
    assert captured.trainable is not None and not captured.trainable[0]["W"][:, 1].any()
    session_updates(s)
    assert np.array_equal(s.params[0]["W"][:, 1], column)
    s = make("replay_across_an_epoch_end")
    captured = take_home.capture(s)
    assert captured.replay_pool == 50 and captured.X.shape[0] == captured.n_new + 50
    assert all(int((b >= captured.n_new).sum()) == 3 for b in captured.batches_left)
    epoch = s.epoch
    session_updates(s)
    assert s.epoch == epoch + 1 and all(int((b >= captured.n_new).sum()) == 3 for b in s.queue)
    s = make("half_done_update_with_dropout")
    captured = take_home.capture(s)
    pending = s.step_by_step.pending
    assert pending is not None and captured.drawn_masks is not None
    assert np.array_equal(captured.batches_left[0], pending.idx)


def test_the_script_says_what_it_is_and_how_to_run_it(tmp_path: Path) -> None:
    s = make("momentum_mid_epoch")
    text = take_home.render(take_home.capture(s), "numpy", "abc123")
    header = text.split('"""')[1]
    assert "Paramlab session abc123 at step 37" in header
    assert "python paramlab_abc123.py --updates" in header and "train(" in header
    compile(text, "paramlab_abc123.py", "exec")
    for name in ("def forward(", "def backward(", "def update(", "def train("):
        assert name in text
    # The weights are written as Python numbers when small, every bit of them.
    assert repr(float(s.params[-1]["W"][0, 0])) in text
    with pytest.raises(ValueError, match="numpy, torch"):
        take_home.render(take_home.capture(s), "jax", "abc123")


def test_names_from_an_uploaded_file_cannot_put_code_in_the_script() -> None:
    """Column and class names are anyone's text: in the header they are made plain, in the code
    they are Python string literals."""
    s = make("momentum_mid_epoch")
    hostile = ('x"""\nimport os; os.remove("notes.txt")\n"""', "y\\N{bad}")
    captured = replace(take_home.capture(s), feature_names=hostile, class_names=('c"""', "d'\n"))
    text = take_home.render(captured, "numpy", "abc")
    tree = ast.parse(text)  # a backslash or a quote left in the docstring would not even parse
    imports = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert "os" not in imports
    docstring = ast.get_docstring(tree)
    assert docstring is not None
    [data] = [line for line in docstring.splitlines() if line.startswith("Data:")]  # one line, the names in it
    assert "os.remove" in data and '"' not in data and "'" not in data and "\\" not in data
    assert f"FEATURES = {list(hostile)!r}" in text  # the names themselves, exactly, as data


def test_a_notebook_gets_params_predict_and_train(tmp_path: Path) -> None:
    s = make("three_classes")
    module = load(script(s, tmp_path))
    X = s.data.X["test"][:7]
    assert np.array_equal(module.predict(X), s.predict(X))
    assert module.train(0) == [] and module.step == s.step


def test_a_diverged_run_is_refused(tmp_path: Path) -> None:
    s = TrainingSession(RunConfig(dataset="plane", hidden=(8, 8)), HyperState(optimizer="sgd", lr=10.0))
    s.advance(200)
    assert s.diverged is not None
    with pytest.raises(take_home.NotExportable, match="diverged"):
        take_home.capture(s)


def test_what_does_not_change_the_run_is_exported(tmp_path: Path) -> None:
    """A fine-tuned network with replay back at 0 and quantization shown (not trained with):
    the script still continues the run."""
    s = TrainingSession(RunConfig(dataset="gauss"), HyperState(optimizer="adam", lr=0.01))
    s.advance(30)
    s.fine_tune({"dataset": "circle"}, "current")
    s.set_replay(0.5, 40)
    s.set_replay(0.0, 40)
    s.set_quantization(3, "tensor", aware=False)
    s.advance(7)
    result = run_script(script(s, tmp_path), tmp_path)
    losses, _ = session_updates(s)
    assert worst(result["losses"], losses) <= TOLERANCE
    assert worst(result["params"], s.params) <= TOLERANCE


@pytest.mark.parametrize("case", ["momentum_mid_epoch", "adam", "l1_stops_at_zero", "frozen_neuron_adam",
                                  "three_classes", "half_done_update_with_dropout", "replay_across_an_epoch_end",
                                  "quantization_aware_4_bits_per_neuron", "quantization_aware_1_bit", "hinge_linear_svm"])
def test_the_torch_script_continues_the_run(case: str, tmp_path: Path) -> None:
    """Where PyTorch is installed (it is not a dependency of the project or of CI)."""
    pytest.importorskip("torch")
    s = make(case)
    result = run_script(script(s, tmp_path, "torch"), tmp_path)
    losses, _ = session_updates(s)
    assert result["step"] == s.step
    # autograd sums in its own order: round-off, not the same bits
    assert worst(result["losses"], losses) <= TOLERANCE
    assert worst(result["params"], s.params) <= TOLERANCE
    assert worst(result["state"], state_of(s)) <= TOLERANCE
