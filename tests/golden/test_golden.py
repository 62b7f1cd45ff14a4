"""The engine against PyTorch trajectories recorded by make_golden.py.

200 full-batch steps per run, lr changed at step 100 and momentum / betas /
rho at step 150; losses every step, params every 10 steps and the final
optimizer state must agree to 1e-9 (float64 on both sides).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.optimizers import Hyperparams

TOL = 1e-9
FILES = sorted(Path(__file__).parent.glob("golden_*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _cases() -> list[Any]:
    out = []
    for path in FILES:
        doc = _load(path)
        for i, run in enumerate(doc["runs"]):
            out.append(pytest.param(path, i, id=f"{path.stem[7:]}-{run['optimizer']}-{run['reg']}"))
    return out


def test_golden_files_present() -> None:
    # Guards against the parametrized test silently collecting nothing.
    assert len(FILES) >= 4
    runs = [(r["optimizer"], r["reg"]) for p in FILES for r in _load(p)["runs"]]
    for opt in ("sgd", "momentum", "nesterov", "adam", "rmsprop"):
        assert (opt, "none") in runs and (opt, "l2") in runs


def _max_diff(params: list[dict[str, np.ndarray]], ref: list[Any]) -> float:
    diffs = []
    for l, layer in enumerate(params):
        diffs.append(np.max(np.abs(layer["W"] - np.array(ref[2 * l]))))
        diffs.append(np.max(np.abs(layer["b"] - np.array(ref[2 * l + 1]))))
    return float(max(diffs))


@pytest.mark.parametrize("path,index", _cases())
def test_trajectory_matches_torch(path: Path, index: int) -> None:
    doc = _load(path)
    run = doc["runs"][index]
    spec = NetworkSpec(**{**doc["spec"], "hidden": tuple(doc["spec"]["hidden"]),
                          "activations": tuple(doc["spec"]["activations"])})
    params = [{"W": np.array(p["W"]), "b": np.array(p["b"])} for p in doc["init"]]
    model = Model(spec=spec, params=params)
    X, Y = np.array(doc["X"]), np.array(doc["Y"])
    changes = {entry["step"]: entry for entry in run["schedule"]}
    hp = Hyperparams(optimizer=run["optimizer"])
    assert _max_diff(model.params, run["params"]["0"]) == 0.0
    worst = 0.0
    for step in range(doc["steps"]):
        if step in changes:
            for key, value in changes[step].items():
                if key != "step":
                    setattr(hp, key, value)
        result = model.train_step(X, Y, hp, run["reg"], run["rate"])
        assert abs(result.loss - run["losses"][step]) < TOL, f"loss at step {step}"
        assert abs(result.loss_with_penalty - run["losses_with_penalty"][step]) < TOL
        ref = run["params"].get(str(step + 1))
        if ref is not None:
            diff = _max_diff(model.params, ref)
            worst = max(worst, diff)
            assert diff < TOL, f"params after step {step + 1} differ by {diff:.3g}"
    assert model.step == doc["steps"]
    for slot, ref_slot in run["final_state"].items():
        ours = model.opt_state.slots[slot]
        for l, layer in enumerate(ours):
            for j, kind in enumerate(("W", "b")):
                ref_arr = np.array(ref_slot[2 * l + j]) if slot != "t" else ref_slot[2 * l + j]
                assert np.max(np.abs(layer[kind] - ref_arr)) < TOL, f"{slot} layer {l} {kind}"
    # The run must have moved: a trajectory that never left its start proves nothing.
    assert _max_diff(model.params, run["params"]["0"]) > 1e-3


def test_hinge_golden_holds_a_linear_svm() -> None:
    # The hinge task's reference: a network with no hidden layer trained with L2 (a linear SVM),
    # and one with a hidden layer, each with every optimizer.
    docs = {p.stem: _load(p) for p in FILES}
    linear, hidden = docs["golden_hinge_linear"], docs["golden_hinge_tanh"]
    assert linear["spec"]["task"] == hidden["spec"]["task"] == "hinge"
    assert linear["spec"]["hidden"] == [] and hidden["spec"]["hidden"] == [4]
    for doc in (linear, hidden):
        assert {(r["optimizer"], r["reg"]) for r in doc["runs"]} >= {("sgd", "l2"), ("adam", "none")}
        assert set(np.unique(doc["Y"])) == {-1.0, 1.0}
