"""Record reference trajectories with PyTorch (float64) for test_golden.py.

Run by hand, with torch installed (not a project dependency):

    pip install torch==2.13.0
    python tests/golden/make_golden.py            # every case
    python tests/golden/make_golden.py hinge_linear hinge_tanh   # only these

For every network below and every optimizer (sgd, momentum, nesterov, adam,
rmsprop) with and without L2 (and, on the first network, with L1), it runs
200 full-batch steps from the stored initial weights with torch.optim, the
learning rate changed at step 100 and momentum / betas / alpha at step 150,
and writes ``golden_<case>.json``: data, initial weights, schedule, the loss
before every step, the params every 10 steps and the final optimizer state.

The losses are written here independently of app/nn, from torch primitives:
binary = binary_cross_entropy_with_logits, playground = 0.5*sum_k (tanh(z)-t)^2
averaged over samples, multiclass = cross_entropy, regression =
0.5*sum_k (z-t)^2 averaged over samples, hinge = relu(1 - t z) averaged over
samples (relu, whose gradient at 0 is 0: the engine's subgradient at the kink;
clamp(min=0) would pass the gradient there); L2 = rate/2 * sum W^2 and
L1 = rate * sum |W| over weights only; with L1, a weight a step carries across
zero is then set to exactly 0 and its momentum cleared (the engine's rule,
app/nn/optimizers.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

STEPS = 200
EVERY = 10
LR_CHANGE_AT = 100
MOMENTUM_CHANGE_AT = 150
OUT_DIR = Path(__file__).parent

CASES: list[dict[str, Any]] = [
    {"name": "playground_tanh", "n_inputs": 2, "hidden": [4, 2],
     "activations": ["tanh", "tanh"], "n_outputs": 1, "task": "playground", "n": 40,
     "regs": [("none", 0.0), ("l2", 0.01), ("l1", 0.003)]},
    {"name": "binary_tanh", "n_inputs": 2, "hidden": [4, 2],
     "activations": ["tanh", "tanh"], "n_outputs": 1, "task": "binary", "n": 40,
     "regs": [("none", 0.0), ("l2", 0.01)]},
    {"name": "multiclass_relu", "n_inputs": 2, "hidden": [8, 6],
     "activations": ["relu", "relu"], "n_outputs": 3, "task": "multiclass", "n": 45,
     "regs": [("none", 0.0), ("l2", 0.01)]},
    {"name": "regression_mixed", "n_inputs": 3, "hidden": [6, 4],
     "activations": ["sigmoid", "leaky_relu"], "n_outputs": 2, "task": "regression", "n": 30,
     "regs": [("none", 0.0), ("l2", 0.01)]},
    # No hidden layer and L2: a linear support vector machine.
    {"name": "hinge_linear", "n_inputs": 2, "hidden": [], "activations": [], "n_outputs": 1,
     "task": "hinge", "n": 40, "regs": [("none", 0.0), ("l2", 0.01)]},
    {"name": "hinge_tanh", "n_inputs": 2, "hidden": [4], "activations": ["tanh"], "n_outputs": 1,
     "task": "hinge", "n": 40, "regs": [("none", 0.0), ("l2", 0.01)]},
]

# (hyperparameters at step 0, changes at LR_CHANGE_AT, changes at MOMENTUM_CHANGE_AT)
SCHEDULES: dict[str, tuple[dict[str, float], dict[str, float], dict[str, float]]] = {
    "sgd": ({"lr": 0.1}, {"lr": 0.05}, {}),
    "momentum": ({"lr": 0.05, "momentum": 0.9}, {"lr": 0.02}, {"momentum": 0.5}),
    "nesterov": ({"lr": 0.05, "momentum": 0.9}, {"lr": 0.02}, {"momentum": 0.5}),
    "adam": ({"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, {"lr": 0.003},
             {"beta1": 0.8, "beta2": 0.99}),
    "rmsprop": ({"lr": 0.005, "rho": 0.99, "eps": 1e-8}, {"lr": 0.002}, {"rho": 0.95}),
}

ACT = {
    "linear": lambda z: z,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def make_data(case: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Inputs X [N x D] and the target matrix Y [N x K] for the case's task."""
    n, d = case["n"], case["n_inputs"]
    X = rng.normal(size=(n, d))
    task = case["task"]
    if task == "playground":
        Y = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)[:, None]
    elif task == "hinge":  # a tilted line, with some points on its wrong side: labels +-1
        Y = np.where(X[:, 0] + 0.5 * X[:, 1] + 0.4 * rng.normal(size=n) > 0, 1.0, -1.0)[:, None]
    elif task == "binary":
        Y = (X[:, 0] ** 2 + X[:, 1] ** 2 < 1.0).astype(float)[:, None]
    elif task == "multiclass":
        labels = (np.arctan2(X[:, 1], X[:, 0]) + np.pi) // (2 * np.pi / 3)
        Y = np.eye(case["n_outputs"])[np.minimum(labels.astype(int), 2)]
    else:
        Y = np.stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], X[:, 0] - 0.5 * X[:, 2]], axis=1)
    return X, Y


def make_params(case: dict[str, Any], rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Glorot-uniform weights and small random (non-zero) biases."""
    sizes = [case["n_inputs"], *case["hidden"], case["n_outputs"]]
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        a = np.sqrt(6.0 / (n_in + n_out))
        params.append({"W": rng.uniform(-a, a, size=(n_in, n_out)),
                       "b": rng.normal(0.0, 0.1, size=n_out)})
    return params


def data_loss(case: dict[str, Any], z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    task = case["task"]
    if task == "binary":
        return F.binary_cross_entropy_with_logits(z, Y)
    if task == "playground":
        return 0.5 * ((torch.tanh(z) - Y) ** 2).sum(dim=1).mean()
    if task == "hinge":
        return torch.relu(1.0 - Y * z).sum(dim=1).mean()
    if task == "multiclass":
        return F.cross_entropy(z, Y.argmax(dim=1))
    return 0.5 * ((z - Y) ** 2).sum(dim=1).mean()


def make_optimizer(name: str, tensors: list[torch.Tensor], hp: dict[str, float]
                   ) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(tensors, lr=hp["lr"])
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(tensors, lr=hp["lr"], momentum=hp["momentum"],
                               nesterov=name == "nesterov")
    if name == "adam":
        return torch.optim.Adam(tensors, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                                eps=hp["eps"], foreach=False)
    return torch.optim.RMSprop(tensors, lr=hp["lr"], alpha=hp["rho"], eps=hp["eps"],
                               foreach=False)


def set_hp(opt: torch.optim.Optimizer, name: str, hp: dict[str, float]) -> None:
    """Change hyperparameters between steps, as a slider would."""
    for group in opt.param_groups:
        group["lr"] = hp["lr"]
        if name in ("momentum", "nesterov"):
            group["momentum"] = hp["momentum"]
        if name == "adam":
            group["betas"] = (hp["beta1"], hp["beta2"])
        if name == "rmsprop":
            group["alpha"] = hp["rho"]


def snapshot(tensors: list[torch.Tensor]) -> list[list[Any]]:
    return [t.detach().numpy().tolist() for t in tensors]


def final_state(name: str, opt: torch.optim.Optimizer, tensors: list[torch.Tensor]
                ) -> dict[str, Any]:
    """Optimizer state in the engine's slot names (velocity; m, v, t; s)."""
    keys = {"momentum": {"velocity": "momentum_buffer"},
            "nesterov": {"velocity": "momentum_buffer"},
            "adam": {"m": "exp_avg", "v": "exp_avg_sq", "t": "step"},
            "rmsprop": {"s": "square_avg"}}.get(name, {})
    out: dict[str, Any] = {}
    for slot, key in keys.items():
        values = []
        for t in tensors:
            value = opt.state[t][key]
            values.append(int(value.item()) if slot == "t" else value.detach().numpy().tolist())
        out[slot] = values
    return out


def stop_at_zero(opt: torch.optim.Optimizer, weights: list[torch.Tensor], before: list[torch.Tensor]) -> None:
    """L1's rule in the engine: a weight the step carried across zero is set to exactly 0
    and its momentum (SGD's momentum buffer, Adam's first moment) cleared."""
    with torch.no_grad():
        for W, old in zip(weights, before, strict=True):
            crossed = ((old > 0) & (W < 0)) | ((old < 0) & (W > 0))
            W[crossed] = 0.0
            state = opt.state[W]
            for key in ("momentum_buffer", "exp_avg"):
                if state.get(key) is not None:
                    state[key][crossed] = 0.0


def run(case: dict[str, Any], X: np.ndarray, Y: np.ndarray, params: list[dict[str, np.ndarray]],
        optimizer: str, reg: str, rate: float) -> dict[str, Any]:
    tensors = []
    for p in params:
        tensors += [torch.tensor(p["W"], dtype=torch.float64, requires_grad=True),
                    torch.tensor(p["b"], dtype=torch.float64, requires_grad=True)]
    Xt = torch.tensor(X, dtype=torch.float64)
    Yt = torch.tensor(Y, dtype=torch.float64)
    start, at_lr, at_mom = SCHEDULES[optimizer]
    hp = dict(start)
    opt = make_optimizer(optimizer, tensors, hp)
    losses, totals, snaps = [], [], {"0": snapshot(tensors)}
    n_hidden = len(case["hidden"])
    for step in range(STEPS):
        if step == LR_CHANGE_AT:
            hp.update(at_lr)
            set_hp(opt, optimizer, hp)
        if step == MOMENTUM_CHANGE_AT:
            hp.update(at_mom)
            set_hp(opt, optimizer, hp)
        opt.zero_grad()
        a = Xt
        for l in range(n_hidden + 1):
            z = a @ tensors[2 * l] + tensors[2 * l + 1]
            a = ACT[case["activations"][l]](z) if l < n_hidden else z
        loss = data_loss(case, z, Yt)
        weights = tensors[0::2]
        if reg == "l2":
            pen = rate / 2 * sum((W * W).sum() for W in weights)
        elif reg == "l1":
            pen = rate * sum(W.abs().sum() for W in weights)
        else:
            pen = torch.zeros((), dtype=torch.float64)
        total = loss + pen
        total.backward()
        before = [W.detach().clone() for W in weights]
        opt.step()
        if reg == "l1" and rate > 0:
            stop_at_zero(opt, weights, before)
        losses.append(loss.item())
        totals.append(total.item())
        if (step + 1) % EVERY == 0:
            snaps[str(step + 1)] = snapshot(tensors)
    schedule = [{"step": 0, **start}, {"step": LR_CHANGE_AT, **at_lr}]
    if at_mom:
        schedule.append({"step": MOMENTUM_CHANGE_AT, **at_mom})
    return {"optimizer": optimizer, "reg": reg, "rate": rate, "schedule": schedule,
            "losses": losses, "losses_with_penalty": totals, "params": snaps,
            "final_state": final_state(optimizer, opt, tensors)}


def amplification(case: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                  params: list[dict[str, np.ndarray]], optimizer: str, reg: str, rate: float,
                  reference: dict[str, Any]) -> float:
    """How much a 1e-13 nudge of the initial weights grows over the run.

    A chaotic trajectory (one that amplifies round-off by many orders of
    magnitude) cannot be compared at 1e-9 by any two correct
    implementations, so such runs are rejected here instead of being stored.
    """
    nudge = np.random.default_rng(7)
    nudged = [{k: v + 1e-13 * nudge.choice([-1.0, 1.0], size=v.shape) for k, v in p.items()}
              for p in params]
    other = run(case, X, Y, nudged, optimizer, reg, rate)
    worst = 0.0
    for key, snap in reference["params"].items():
        for a, b in zip(snap, other["params"][key]):
            worst = max(worst, float(np.max(np.abs(np.array(a) - np.array(b)))))
    return worst / 1e-13


MAX_AMPLIFICATION = 1e3  # round-off of 1e-16 then stays far below the 1e-9 tolerance


def main(names: list[str]) -> None:
    torch.set_num_threads(1)
    unknown = set(names) - {case["name"] for case in CASES}
    if unknown:
        raise SystemExit(f"unknown case {sorted(unknown)}; known: {', '.join(c['name'] for c in CASES)}")
    for seed, case in enumerate(CASES):
        if names and case["name"] not in names:
            continue  # its seed stays its index, so a case comes out the same alone or with all
        rng = np.random.default_rng(1000 + seed)
        X, Y = make_data(case, rng)
        params = make_params(case, rng)
        runs = []
        for opt in SCHEDULES:
            for reg, rate in case["regs"]:
                reference = run(case, X, Y, params, opt, reg, rate)
                gain = amplification(case, X, Y, params, opt, reg, rate, reference)
                if gain > MAX_AMPLIFICATION:
                    raise SystemExit(f"{case['name']} {opt}/{reg}: round-off grows {gain:.3g}x; "
                                     "pick a calmer schedule")
                reference["amplification"] = gain
                runs.append(reference)
        doc = {
            "torch_version": torch.__version__,
            "steps": STEPS,
            "every": EVERY,
            "spec": {k: case[k] for k in ("n_inputs", "hidden", "activations", "n_outputs",
                                          "task")},
            "X": X.tolist(),
            "Y": Y.tolist(),
            "init": [{"W": p["W"].tolist(), "b": p["b"].tolist()} for p in params],
            "runs": runs,
        }
        path = OUT_DIR / f"golden_{case['name']}.json"
        path.write_text(json.dumps(doc, separators=(",", ":")))
        print(f"{path.name}: {len(runs)} runs, final loss / round-off gain: "
              + ", ".join(f"{r['optimizer']}/{r['reg']}={r['losses'][-1]:.4f}/"
                          f"{r['amplification']:.3g}" for r in runs))


if __name__ == "__main__":
    main(sys.argv[1:])
