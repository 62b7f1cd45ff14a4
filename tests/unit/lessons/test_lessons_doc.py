"""docs/lessons.md is the writer's guide: its example loads, and its lists are the code's lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.lessons import conditions
from app.lessons import format as f
from app.lessons.loader import parse_lesson

DOC = (Path(__file__).resolve().parents[3] / "docs" / "lessons.md").read_text()


def test_the_complete_example_is_a_valid_lesson() -> None:
    example = re.search(r"```yaml\n(.*?)```", DOC, flags=re.S)
    assert example is not None
    lesson = parse_lesson(example.group(1), "example.yaml")
    assert lesson.id == "momentum-first-look" and len(lesson.steps) == 2
    assert lesson.steps[1].action is not None and lesson.steps[1].action.notice is not None


@pytest.mark.parametrize("names", [list(f.IDEAS), list(f.PANELS), list(f.CONTROLS), list(conditions.VARIABLES)],
                         ids=["ideas", "panels", "controls", "variables"])
def test_every_name_is_documented(names: list[str]) -> None:
    for name in names:
        assert f"`{name}`" in DOC, name


def test_the_grammar_in_the_doc_is_the_one_in_the_code() -> None:
    grammar = re.search(r"```\nexpr .*?```", DOC, flags=re.S)
    assert grammar is not None
    for line in grammar.group(0).strip("`\n").splitlines():
        rule = line.split(":=")[0].strip()
        assert rule in (conditions.__doc__ or ""), rule


@pytest.mark.parametrize("text, values, shown", [
    ("{step}", {"step": 412}, "412"),
    ("{hyper.lr:g}", {"hyper.lr": 0.3}, "0.3"),
    ("{metrics.train_loss:.3f}", {"metrics.train_loss": 0.04213}, "0.042"),
    ("{metrics.test_acc:.1%}", {"metrics.test_acc": 0.975}, "97.5%"),
    ("{hyper.lr:.2e}", {"hyper.lr": 0.3}, "3.00e-01"),
    ("{metrics.val_acc:.0%} and {{braces}}", {}, "– and {braces}"),
    ("{playing}", {"playing": True}, "true"),
])
def test_then_is_filled_as_the_doc_shows(text: str, values: dict, shown: str) -> None:
    assert f.fill_then(text, values) == shown

