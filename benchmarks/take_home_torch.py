"""The exported PyTorch script against the server, run by hand where torch is installed.

    python benchmarks/take_home_torch.py [--updates 10]

For each configuration below (every optimizer, dropout, L1 with its stop at zero,
a frozen neuron, three classes, regression, an update left half done, replay,
quantization-aware training) it trains a session some updates, exports it as the
PyTorch script and as the NumPy script
(`app.training.take_home`, what GET /api/sessions/{id}/code.py serves), runs both
in a subprocess for the next `--updates` updates, trains the session as far, and
prints one JSON line per configuration: the largest absolute difference to the
session of the batch losses, the weights and the optimizer state, for torch and,
as the reference measured in the same run, for NumPy (which should be 0: the same
bits). torch is not a dependency of the project: without it the script says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from app.nn.optimizers import SLOTS
from app.training import take_home
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession

# name: (configuration, hyperparameters, updates before the export, what to do first)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], int, str | None]] = {
    "sgd": ({}, {"optimizer": "sgd", "lr": 0.1}, 37, None),
    "momentum": ({}, {"optimizer": "momentum"}, 37, None),
    "nesterov": ({"dataset": "moons", "activation": "leaky_relu"}, {"optimizer": "nesterov"}, 31, None),
    "adam": ({"hidden": [5, 3], "activation": "relu"}, {"optimizer": "adam", "lr": 0.01}, 23, None),
    "rmsprop": ({"dataset": "xor", "activation": "sigmoid"}, {"optimizer": "rmsprop", "lr": 0.01}, 19, None),
    "dropout": ({"hidden": [6, 4]}, {"optimizer": "momentum", "dropout": 0.3}, 26, None),
    "l2": ({"dataset": "gauss"}, {"optimizer": "adam", "regularization": "l2", "reg_rate": 0.01}, 29, None),
    "l1_stop_at_zero": ({"dataset": "mammals", "hidden": [4]},
                        {"optimizer": "momentum", "regularization": "l1", "reg_rate": 0.01}, 40, None),
    "frozen_neuron": ({"hidden": [4, 2]}, {"optimizer": "adam", "lr": 0.02}, 12, "freeze"),
    "three_classes": ({"dataset": "spiral3", "hidden": [8, 6], "activation": "relu"},
                      {"optimizer": "adam", "lr": 0.01}, 17, None),
    "regression": ({"dataset": "plane", "hidden": [5]}, {"optimizer": "momentum", "lr": 0.01}, 21, None),
    "half_done_update": ({"hidden": [5, 3]}, {"optimizer": "momentum", "dropout": 0.4}, 14, "phases"),
    "replay": ({"dataset": "gauss"}, {"optimizer": "momentum", "dropout": 0.2}, 25, "replay"),
    "quantization_aware_4_bits": ({"hidden": [6, 4]}, {"optimizer": "adam", "lr": 0.01}, 21, "qat4"),
    "quantization_aware_1_bit": ({"dataset": "xor"}, {"optimizer": "momentum"}, 18, "qat1"),
}


def make(case: str) -> TrainingSession:
    config, hyper, before, action = CASES[case]
    s = TrainingSession(RunConfig().with_changes(config), HyperState(**hyper))
    if action == "qat4":
        s.set_quantization(4, "neuron", aware=True)
    if action == "qat1":
        s.set_quantization(1, "tensor", aware=True)
    if action == "freeze":
        s.freeze(0, "neuron", 0, 1, True)
    s.advance(before)
    if action == "phases":
        s.step_phase()
        s.step_phase()
    if action == "replay":  # fine-tuned from gauss to circle, 3 of every 10 points replayed
        s.fine_tune({"dataset": "circle"}, "current")
        s.set_replay(0.3, 50)
        s.advance(30)
    return s


def run(text: str, folder: Path, lang: str, updates: int) -> dict[str, Any]:
    path, out = folder / f"paramlab_{lang}.py", folder / f"{lang}.json"
    path.write_text(text)
    subprocess.run([sys.executable, str(path), "--updates", str(updates), "--out", str(out)], check=True,
                   capture_output=True, timeout=600, cwd=folder)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def worst(a: Any, b: Any) -> float:
    if isinstance(a, dict):
        return max((worst(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, list) and a and isinstance(a[0], dict):
        return max(worst(x, y) for x, y in zip(a, b, strict=True))
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(x - y))) if x.size else 0.0


def compare(result: dict[str, Any], s: TrainingSession, losses: list[float]) -> dict[str, Any]:
    state = {name: s.model.opt_state.slots[name] for name in SLOTS[s.hyper.optimizer]}
    return {"loss": worst(result["losses"], losses), "params": worst(result["params"], s.params),
            "state": worst(result["state"], state), "same_step": result["step"] == s.step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=10)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print(json.dumps({"error": "torch is not installed here: pip install torch, then run this again"}))
        raise SystemExit(1) from None
    print(json.dumps({"torch": torch.__version__, "numpy": np.__version__, "updates": args.updates}))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case in CASES:
            s = make(case)
            captured = take_home.capture(s)
            results = {lang: run(take_home.render(captured, lang, case), folder, lang, args.updates)
                       for lang in ("torch", "numpy")}
            losses = []
            for _ in range(args.updates):
                s.advance(1)
                losses.append(s.last_update.loss)
            line = {"case": case, "optimizer": s.hyper.optimizer, "from_step": captured.step,
                    "max_abs_diff_torch": compare(results["torch"], s, losses),
                    "max_abs_diff_numpy_reference": compare(results["numpy"], s, losses)}
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
