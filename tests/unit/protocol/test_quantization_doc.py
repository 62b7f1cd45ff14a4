"""docs/protocol.md's quantization and relevance examples, against the protocol: the `quantize` and
`importance` requests parse, the `importance` answer (a `json answer` block: its type is also the
request's) has the answer's shape, and a drifted copy of it is caught."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app import protocol as p

DOC = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text()


def _section(name: str) -> str:
    for block in re.split(r"^### ", DOC, flags=re.M)[1:]:
        if block.split("\n", 1)[0].strip() == name:
            return block
    raise AssertionError(f"docs/protocol.md has no section {name}")


def _blocks(name: str, fence: str) -> list[dict[str, Any]]:
    return [json.loads(code) for code in re.findall(rf"```{fence}\n(.*?)```", _section(name), flags=re.S)]


def test_the_quantize_examples_parse_and_say_what_they_show() -> None:
    parsed = [p.parse_client_message(json.dumps(example)) for example in _blocks("quantize", "json")]
    assert [(m.bits, m.granularity, m.aware) for m in parsed] == [  # type: ignore[attr-defined]
        (4, "neuron", False), (2, "tensor", True), (0, "tensor", False)]


def test_the_importance_request_parses_and_its_answer_has_the_answers_shape() -> None:
    (request,) = _blocks("importance", "json")
    assert p.parse_client_message(json.dumps(request)).repeats == 5  # type: ignore[attr-defined]
    (answer,) = _blocks("importance", "json answer")
    p.check_server_message(answer)
    for drift in ({"split": "train"}, {"metric": "auc"}, {"baseline": "0.9"}, {"extra": 1}):
        with pytest.raises(ValidationError):
            p.check_server_message({**answer, **drift})
    row = copy.deepcopy(answer)
    row["inputs"][0]["constant"] = "yes"
    with pytest.raises(ValidationError):
        p.check_server_message(row)


def test_the_documented_frame_carries_a_quantized_model_that_follows_the_rule() -> None:
    frame = next(f for f in _blocks("frame", "json") if f["quantized"] is not None)
    q, W = frame["quantized"], frame["layers"][0]["W"]
    levels = 2 ** (q["bits"] - 1) - 1
    assert q["granularity"] == "neuron"
    assert q["scales"][0] == [max(abs(row[j]) for row in W) / levels for j in range(len(W[0]))]
    n_w, n_b = len(W) * len(W[0]), len(frame["layers"][0]["b"])
    assert q["bytes_before"] == 4 * (n_w + n_b)
    assert q["bytes_after"] == -(-n_w * q["bits"] // 8) + 4 * len(q["scales"][0]) + 4 * n_b
