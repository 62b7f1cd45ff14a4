"""The quantized model beside the full-precision one: what a frame and an epoch row show of it.

With quantization on (`quantization.Setting.bits` > 0) every state of a session
has a quantized copy of its weights (`quantization.quantize`): its loss and
accuracy on the training and test splits, its size in bytes before and after,
and per layer the scales and the number of levels in use, from which the page
snaps each weight to its level (`docs/protocol.md`). It is computed once per
state (`ReportCache`, keyed as the metrics are), whatever the number of
clients and frame formats.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from app.nn import fast
from app.nn.network import NetworkSpec
from app.nn.quantization import Setting, quantize
from app.training.data_setup import PreparedData

Params = list[dict[str, np.ndarray]]
Report = dict[str, Any]
Key = tuple[int, int]  # (step, version), as the metrics cache's
# The epoch row's columns of the quantized model (None while quantization is off).
EPOCH_COLUMNS = ("quant_train_acc", "quant_test_acc", "quant_test_loss")


def report(spec: NetworkSpec, params: Params, data: PreparedData, Y: dict[str, np.ndarray],
           setting: Setting) -> Report | None:
    """The frame's `quantized` object for the weights `params` (None when `setting` is off):
    the setting, `train_loss`, `train_acc`, `test_loss`, `test_acc` of the quantized model
    (None for an empty split, a non-finite loss, and the accuracy of a regression),
    `bytes_before`, `bytes_after`, `scales` (per layer: one per tensor or per output
    neuron) and `levels` (per layer: distinct codes in use)."""
    if not setting.on:
        return None
    q = quantize(params, setting.bits, setting.granularity)
    out: Report = setting.to_dict()
    for split in ("train", "test"):
        loss: float | None = None
        acc: float | None = None
        if data.n(split) > 0:
            # The compiled kernel when it is ready (the same bits as `network.evaluate`, a few times
            # cheaper: with quantization on, every epoch's end measures the quantized model).
            value, acc = fast.evaluate(spec, q.params, data.X[split], Y[split])
            loss = value if math.isfinite(value) else None
        out[f"{split}_loss"], out[f"{split}_acc"] = loss, acc
    out["bytes_before"], out["bytes_after"] = q.bytes_before, q.bytes_after
    out["scales"] = [s.tolist() for s in q.scales]
    out["levels"] = q.levels
    return out


def epoch_columns(quantized: Report | None) -> dict[str, float | None]:
    """The epoch row's `quant_*` columns from a `report` (all None when off)."""
    if quantized is None:
        return dict.fromkeys(EPOCH_COLUMNS)
    return {"quant_train_acc": quantized["train_acc"], "quant_test_acc": quantized["test_acc"],
            "quant_test_loss": quantized["test_loss"]}


class ReportCache:
    """The report of one state of a session, computed once (as `metrics.MetricsCache`)."""

    def __init__(self) -> None:
        self._key: Key | None = None
        self._value: Report | None = None

    def get(self, key: Key, compute: Callable[[], Report | None]) -> Report | None:
        if self._key != key:
            self._key, self._value = key, compute()
        return self._value

    def carry(self, old: Key, new: Key) -> None:
        """The report of state `old` (if it is the one kept) holds for state `new` too."""
        if self._key == old:
            self._key = new
