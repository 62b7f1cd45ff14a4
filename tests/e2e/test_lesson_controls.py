"""Every panel and control a lesson may name is an element of the real page: a step that locks or highlights
it reaches it (a selector that matches nothing would highlight nothing, silently)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("table", ["panels", "controls"])
def test_every_name_a_lesson_may_use_is_an_element_of_the_page(app: Any, table: str) -> None:
    app.open("playing=false")
    names = app.js("fetch('/api/lessons').then((r) => r.json()).then((j) => j.vocabulary)")[table]
    missing = app.js("(names) => Object.entries(names).filter(([, sel]) => !document.querySelector(sel))"
                     ".map(([name, sel]) => `${name}: ${sel}`)", names)
    assert len(names) > 10 and missing == []
