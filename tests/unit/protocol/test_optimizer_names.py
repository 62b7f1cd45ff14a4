"""Adding an optimizer touches the engine, the fast kernel, the rule text and the docs; each is checked here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import protocol as p
from app.nn import fast, optimizers

ROOT = Path(__file__).resolve().parents[3]
RULES = (ROOT / "static" / "js" / "rules.js").read_text()
DOC = (ROOT / "docs" / "optimizers.md").read_text()


def places(name: str, rules: str = RULES, doc: str = DOC) -> dict[str, bool]:
    """Where optimizer `name` is implemented, shown and documented."""
    return {
        "engine step": name in optimizers.STEP_FUNCTIONS,
        "engine slots": name in optimizers.SLOTS,
        "fast-kernel code": name in fast.OPTIMIZER_CODES,
        "rule text in static/js/rules.js": re.search(rf'case "{re.escape(name)}"\s*:', rules) is not None,
        "row in docs/optimizers.md": re.search(rf"^\| `{re.escape(name)}`", doc, flags=re.M) is not None,
    }


@pytest.mark.parametrize("name", p.OPTIMIZERS)
def test_every_optimizer_has_an_engine_branch_a_kernel_a_rule_text_and_a_doc_row(name: str) -> None:
    missing = [where for where, found in places(name).items() if not found]
    assert not missing, f"optimizer {name!r} has no {', '.join(missing)}"


def test_the_check_fails_for_a_name_missing_somewhere() -> None:
    assert not any(places("lion").values())
    without_rule = RULES.replace('case "adam"', 'case "adam_old"')
    assert not places("adam", rules=without_rule)["rule text in static/js/rules.js"]
    without_row = DOC.replace("| `adam` |", "| adam |")
    assert not places("adam", doc=without_row)["row in docs/optimizers.md"]


def test_the_fast_kernel_codes_are_distinct() -> None:
    assert set(fast.OPTIMIZER_CODES) == set(p.OPTIMIZERS)
    assert len(set(fast.OPTIMIZER_CODES.values())) == len(fast.OPTIMIZER_CODES)
