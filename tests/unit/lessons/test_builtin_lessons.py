"""Every built-in lesson under lessons/ loads, validates, and names its file."""

from __future__ import annotations

from typing import get_args

import pytest

from app.lessons import format as f
from app.lessons.library import BUILTIN_DIR, load_builtin

FILES = sorted(BUILTIN_DIR.glob("*.yaml"))


def test_there_are_built_in_lessons_and_each_is_a_yaml_file() -> None:
    assert len(FILES) >= 3
    assert sorted(p.name for p in BUILTIN_DIR.iterdir() if p.is_file()) == [p.name for p in FILES]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_built_in_lesson_loads_and_validates(path) -> None:
    lesson = load_builtin(BUILTIN_DIR)[path.stem]
    assert lesson.id == path.stem and lesson.steps
    for step in lesson.steps:
        assert step.card.strip()
        # A step that asks for something names the control and can notice it.
        if step.action is not None:
            assert step.highlight is not None, (path.stem, step.title)
            assert step.action.notice is not None, (path.stem, step.title)


def test_the_built_in_lessons_together_teach_ideas_of_the_list() -> None:
    taught = {idea for lesson in load_builtin(BUILTIN_DIR).values() for idea in lesson.ideas}
    assert taught <= set(f.IDEAS) and {"parameters-vs-hyperparameters", "learning-rate",
                                       "weights-and-relevance"} <= taught


def test_the_name_lists_and_their_types_agree() -> None:
    assert set(get_args(f.IdeaName)) == set(f.IDEAS) and len(f.IDEAS) == 19
    assert set(get_args(f.PanelName)) == set(f.PANELS)
    assert set(get_args(f.ControlName)) == set(f.CONTROLS)


