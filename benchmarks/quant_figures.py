"""The compression and relevance lab's figures at the default seed: what a class sees.

Every experiment drives the engine (`TrainingSession`) directly, as the page
drives it over the websocket, from the default configuration (500 points, half
for training, momentum 0.9, learning rate 0.03, batches of 10, seed 1) unless
said otherwise. Accuracies, losses and sizes are exact and the same on every
run on this machine; only `cost` is a timing (noisy on a shared machine).

One JSON line per figure, each with the reference it is read against,
measured in the same run:

- `bits`: a trained network's test accuracy quantized to 8, 4, 2 and 1 bits,
  per tensor and per neuron, and its size in bytes before and after, against
  the full-precision accuracy.
- `qat`: from that network quantized to 2 bits, the quantized test accuracy
  over a few epochs of quantization-aware fine-tuning, against the same epochs
  of plain training (from the same start, a fork) quantized afterwards.
- `relevance`: on the mammal-or-fish data, "vertebrate" flagged constant, its
  largest gradient (exactly 0), its weight norm under L1 epoch by epoch down to
  exactly 0 against without L1, and every input's permutation importance.
- `frame_bytes`: a binary and a JSON frame of the default network with
  quantization off and at 4 bits per neuron.
- `cost`: updates a second training aware (reference path) against plain
  training on the reference and on the compiled path; and the default network
  on the compiled path with quantization off and on (not aware: the quantized
  model is measured at every epoch's end).

    python benchmarks/quant_figures.py
    python benchmarks/quant_figures.py --epochs 60 --qat-epochs 10
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from app import protocol as p
from app.server import messages
from app.server.registry import Client, LiveSession
from app.training import relevance
from app.training.config import HyperState, RunConfig
from app.training.persist import fork_session
from app.training.session import TrainingSession

# A network with room for bits to matter: the spiral, two hidden layers of 8.
SPIRAL = {"dataset": "spiral", "hidden": [8, 8], "noise": 0}
SPIRAL_HYPER = {"optimizer": "adam", "lr": 0.01}


def emit(figure: dict[str, Any]) -> None:
    print(json.dumps(figure), flush=True)


def r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def trained(config: dict[str, Any], epochs: int, hyper: dict[str, Any] | None = None) -> TrainingSession:
    s = TrainingSession(RunConfig().with_changes(config), HyperState(**(hyper or {})))
    for _ in range(epochs):
        s.step_epoch()
    return s


def quantized(s: TrainingSession, bits: int, granularity: str, aware: bool = False) -> dict[str, Any]:
    s.set_quantization(bits, granularity, aware)
    report = s.quantized()
    assert report is not None
    return report


def bits_figure(name: str, s: TrainingSession) -> dict[str, Any]:
    rows = []
    for bits in (8, 4, 2, 1):
        row: dict[str, Any] = {"bits": bits}
        for granularity in ("tensor", "neuron"):
            q = quantized(s, bits, granularity)
            row[granularity] = {"test_acc": r(q["test_acc"]), "test_loss": r(q["test_loss"]),
                                "bytes_after": q["bytes_after"], "levels": q["levels"]}
        rows.append(row)
    s.set_quantization(0)
    return {"figure": "bits", "network": name, "step": s.step, "full_precision_test_acc": r(s.metrics()["test_acc"]),
            "bytes_before": quantized(s, 8, "tensor")["bytes_before"], "rows": rows}


def qat_figure(s: TrainingSession, bits: int, epochs: int) -> dict[str, Any]:
    start = quantized(s, bits, "tensor")
    plain = fork_session(s)  # the same start, trained on without awareness
    s.set_quantization(bits, "tensor", aware=True)
    aware_curve, plain_curve = [], []
    for _ in range(epochs):
        s.step_epoch()
        plain.step_epoch()
        aware_curve.append(r(quantized(s, bits, "tensor", aware=True)["test_acc"]))
        plain_curve.append(r(quantized(plain, bits, "tensor")["test_acc"]))
    return {"figure": "qat", "bits": bits, "granularity": "tensor", "start_quantized_test_acc": r(start["test_acc"]),
            "start_full_precision_test_acc": r(s.history.since(-1, 0)["epochs"]["test_acc"][-epochs - 1]),
            "aware_quantized_test_acc": aware_curve, "reference_plain_then_quantized_test_acc": plain_curve,
            "aware_full_precision_test_acc": r(s.metrics()["test_acc"])}


def relevance_figure(epochs: int) -> dict[str, Any]:
    config = {"dataset": "mammals", "n_points": 200, "val_ratio": 20}
    hyper = {"lr": 0.1, "batch_size": 16}
    l1 = TrainingSession(RunConfig().with_changes(config),
                         HyperState(**hyper, regularization="l1", reg_rate=0.01))
    plain = TrainingSession(RunConfig().with_changes(config), HyperState(**hyper))
    names = list(plain.data.feature_names)
    j = names.index("vertebrate")
    flags = relevance.constant_inputs(plain.data.X["train"])
    largest = {"vertebrate": 0.0, "others": 0.0}  # |gradient| of the first layer's weights, without a penalty
    norms_l1, norms_plain, zero_at = [], [], None
    for epoch in range(1, epochs + 1):
        for _ in range(plain.updates_left_in_epoch()):
            plain.advance(1)
            dW = np.abs(plain.last_update.grads[0]["W"])
            largest["vertebrate"] = max(largest["vertebrate"], float(dW[j].max()))
            largest["others"] = max(largest["others"], float(np.delete(dW, j, axis=0).max()))
        l1.step_epoch()
        norm = float(np.linalg.norm(l1.params[0]["W"][j]))
        norms_l1.append(r(norm))
        norms_plain.append(r(float(np.linalg.norm(plain.params[0]["W"][j]))))
        if norm == 0.0 and zero_at is None:
            zero_at = epoch
    split = relevance.held_out_split(plain.data)
    answer = relevance.importance(plain.spec, plain.params, names, flags, plain.data.X[split], plain.Y[split], split,
                                  5, plain.config.seed)
    return {"figure": "relevance", "data": "mammals", "epochs": epochs, "constant_inputs": dict(zip(names, flags)),
            "largest_gradient_without_penalty": {"vertebrate": largest["vertebrate"],
                                                 "reference_other_inputs": r(largest["others"])},
            "vertebrate_weight_norm_l1_0.01": norms_l1, "vertebrate_weight_norm_zero_at_epoch": zero_at,
            "reference_vertebrate_weight_norm_without_l1": norms_plain,
            "importance": {"split": answer["split"], "metric": answer["metric"], "baseline": r(answer["baseline"]),
                           "inputs": {row["name"]: {"importance": r(row["importance"]), "spread": r(row["spread"]),
                                                    "weight_norm": r(row["weight_norm"])}
                                      for row in answer["inputs"]}}}


def frame_bytes_figure() -> dict[str, Any]:
    """Frames of a page that draws (no optional parts) at an epoch's end, with quantization off and on;
    `off_fields`: what the quantization fields (`quantized`: null, the null quant_* of the epoch row)
    cost in the frame with quantization off, the frame measured again without them."""
    s = trained({}, 2)
    live = LiveSession("id", s)
    live.playing = True
    sizes: dict[str, int] = {}
    for label, bits in (("off", 0), ("4_bits_neuron", 4)):
        s.set_quantization(bits, "neuron")
        for frames in ("binary", "json"):
            client = Client(30, frames, frozenset())
            messages.frame_bytes(live, client)  # the first frame carries the whole history
            s.step_epoch()  # the next carries one epoch row, as while training
            data = messages.frame_bytes(live, client)
            sizes[f"{frames}_{label}"] = len(data)
            if frames == "json" and bits == 0:
                frame = json.loads(data)
                del frame["quantized"]
                for column in ("quant_train_acc", "quant_test_acc", "quant_test_loss"):
                    del frame["history"]["epochs"][column]
                sizes["json_off_without_quantization_fields"] = len(p.encode(frame))
    return {"figure": "frame_bytes", "network": "default (4-2)", "bytes": sizes,
            "off_fields": sizes["json_off"] - sizes["json_off_without_quantization_fields"]}


def updates_per_second(s: TrainingSession, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += s.advance(50)
    return done / (time.perf_counter() - start)


def cost_figure(seconds: float) -> dict[str, Any]:
    out: dict[str, float] = {}
    for label, fast, bits in (("compiled_plain", True, 0), ("reference_plain", False, 0), ("aware_4_bits", True, 4)):
        s = TrainingSession(RunConfig().with_changes(SPIRAL), HyperState(**SPIRAL_HYPER))
        s.fast = fast
        if bits:
            s.set_quantization(bits, "neuron", aware=True)
        s.advance(100)  # warm: compiled kernels, caches
        out[label] = round(updates_per_second(s, seconds))
    # The quantized model is measured at every epoch's end: on the default network at full speed
    # (an epoch every 25 updates) that is the cost of quantization being on.
    default: dict[str, float] = {}
    for label, bits in (("off", 0), ("4_bits_neuron", 4)):
        s = TrainingSession(RunConfig(), HyperState())
        s.set_quantization(bits, "neuron")
        s.advance(500)
        default[label] = round(updates_per_second(s, seconds))
    return {"figure": "cost", "network": "spiral 8-8, Adam", "updates_per_second": out,
            "default_network_compiled_updates_per_second": default, "note": "timings on a shared machine: noisy"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs the networks train before quantization")
    parser.add_argument("--qat-epochs", type=int, default=8)
    parser.add_argument("--relevance-epochs", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=2.0, help="per timing of `cost`")
    args = parser.parse_args()
    default = trained({}, args.epochs)
    emit(bits_figure("default circle 4-2 tanh", default))
    spiral = trained(SPIRAL, args.epochs, SPIRAL_HYPER)
    emit(bits_figure("spiral 8-8 tanh, Adam", spiral))
    emit(qat_figure(spiral, 2, args.qat_epochs))
    emit(relevance_figure(args.relevance_epochs))
    emit(frame_bytes_figure())
    emit(cost_figure(args.seconds))


if __name__ == "__main__":
    main()
