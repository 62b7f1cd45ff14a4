"""docs/protocol.md lists the same error codes as the protocol: the `error` section's table has one
row per `ErrorCode`, no more and no fewer, each saying when it is sent and what a client does, and
the HTTP API's status table names only codes that exist. The quota code and the try-again-later code
stay apart."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from app import protocol as p

DOC = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text()
CODES = set(typing.get_args(p.ErrorCode))


def _section(name: str) -> str:
    for block in re.split(r"^### ", DOC, flags=re.M)[1:]:
        if block.split("\n", 1)[0].strip() == name:
            return block
    raise AssertionError(f"docs/protocol.md has no section {name}")


def _rows(text: str, header: str) -> list[list[str]]:
    """The cells of the markdown table that starts with the line `header` in `text`."""
    lines = text.split("\n")
    start = lines.index(header)
    rows = []
    for line in lines[start + 2:]:  # past the header and its |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_error_section_has_one_row_per_code_of_the_protocol() -> None:
    rows = _rows(_section("error"), "| code | sent when | what a client does |")
    documented = [re.fullmatch(r"`([a-z_]+)`", row[0]) for row in rows]
    assert all(documented), [row[0] for row in rows]
    names = [m.group(1) for m in documented if m]
    assert len(names) == len(set(names)), names
    assert set(names) == CODES
    for row in rows:
        assert len(row) == 3 and row[1] and row[2], row


def test_the_http_table_names_only_codes_of_the_protocol() -> None:
    rows = _rows(DOC, "| status | code | when |")
    named = {re.match(r"`([a-z_]+)`", row[1]).group(1) for row in rows}  # type: ignore[union-attr]
    assert named <= CODES, named - CODES
    assert {"limit", "unavailable"} <= named  # both 503s are told apart


def test_unavailable_is_its_own_code_not_a_kind_of_limit() -> None:
    rows = {row[0]: row for row in _rows(_section("error"), "| code | sent when | what a client does |")}
    assert "shared store" in rows["`unavailable`"][1] and "again" in rows["`unavailable`"][2]
    assert "shared store" not in rows["`limit`"][1]  # the store being down is not a quota
