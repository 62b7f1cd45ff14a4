"""docs/protocol.md is the contract outside clients are written from: keep it true."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app import protocol as p

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def sections() -> dict[str, list[dict]]:
    """Map each '### name' section to the JSON examples under it."""
    out: dict[str, list[dict]] = {}
    for block in re.split(r"^### ", DOC, flags=re.M)[1:]:
        name = block.split("\n", 1)[0].strip()
        out[name] = [json.loads(code) for code in re.findall(r"```json\n(.*?)```", block, flags=re.S)]
    return out


SECTIONS = sections()


@pytest.mark.parametrize("kind", sorted(p.CLIENT_MESSAGES))
def test_every_client_message_is_documented_with_a_parsing_example(kind: str) -> None:
    assert kind in SECTIONS, f"docs/protocol.md has no section for {kind}"
    assert SECTIONS[kind], f"the {kind} section has no example"
    for example in SECTIONS[kind]:
        assert example["type"] == kind
        msg = p.parse_client_message(json.dumps(example))
        assert msg.type == kind  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(p.SERVER_MESSAGES))
def test_every_server_message_is_documented_with_a_valid_example(kind: str) -> None:
    assert kind in SECTIONS, f"docs/protocol.md has no section for {kind}"
    assert SECTIONS[kind], f"the {kind} section has no example"
    for example in SECTIONS[kind]:
        p.SERVER_MESSAGES[kind].model_validate(example)


def test_no_documented_section_names_an_unknown_message() -> None:
    known = set(p.CLIENT_MESSAGES) | set(p.SERVER_MESSAGES)
    assert set(SECTIONS) <= known, set(SECTIONS) - known


def test_the_doc_states_the_protocol_version() -> None:
    assert f"Protocol version: **{p.PROTOCOL_VERSION}**" in DOC


def test_every_error_code_is_documented() -> None:
    codes = p.ErrorMessage.model_fields["code"].annotation.__args__  # type: ignore[union-attr]
    for code in codes:
        assert f"`{code}`" in DOC, code
