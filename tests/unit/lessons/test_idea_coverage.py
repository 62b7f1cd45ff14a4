"""The built-in lessons together teach every idea of issue 15, each with a step that asks for something."""

from __future__ import annotations

from app.lessons import format as f
from app.lessons.library import BUILTIN_DIR, load_builtin


def test_every_idea_is_taught_by_a_built_in_lesson() -> None:
    taught = {idea for lesson in load_builtin(BUILTIN_DIR).values() for idea in lesson.ideas}
    missing = [idea for idea in f.IDEAS if idea not in taught]
    assert not missing, f"no built-in lesson teaches {missing}"


def test_every_idea_has_a_lesson_with_a_step_that_notices_an_action() -> None:
    lessons = load_builtin(BUILTIN_DIR).values()
    for idea in f.IDEAS:
        noticing = [lesson.id for lesson in lessons if idea in lesson.ideas
                    and any(step.action is not None and step.action.notice is not None for step in lesson.steps)]
        assert noticing, f"{idea}: no lesson teaching it has a step whose action the page notices"


def test_each_built_in_lesson_has_three_to_six_steps() -> None:
    for lesson in load_builtin(BUILTIN_DIR).values():
        assert 3 <= len(lesson.steps) <= 6, (lesson.id, len(lesson.steps))
