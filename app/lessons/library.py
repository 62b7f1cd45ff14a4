"""The lessons a server offers: the built-in files under `lessons/`, and those teachers upload.

An upload is kept as its text, under an id made from a hash of it
(`lesson-<12 hex digits>`), the way an uploaded CSV is (`custom_data.py`):
the same file gets the same id, a link `/?lesson=<id>` works on any server
process sharing the store, and a name taken by another text is never
overwritten (the next name of the probe sequence is tried). The text is
validated again when read back, so a lesson stored by an older server is
checked by today's rules.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

from app.lessons.format import UPLOADED_PREFIX, Lesson
from app.lessons.loader import LessonError, load_file, parse_lesson

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "lessons"
UPLOADED_PATTERN = rf"^{UPLOADED_PREFIX}[0-9a-f]{{12}}$"
# Uploaded lessons share the datasets' kind of document: the store's sweep then keeps them as long as
# uploaded data (PARAMLAB_DATASET_DAYS) and trims them with it; their keys never look like a dataset's.
STORE_KIND = "dataset"
CACHE_SIZE = 64
MAX_ATTEMPTS = 8


class TextStore(Protocol):
    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None: ...
    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...


def load_builtin(directory: Path = BUILTIN_DIR) -> dict[str, Lesson]:
    """Every `*.yaml` lesson in `directory` by id, in file-name order; raises LessonError for a bad one."""
    if not directory.is_dir():
        return {}
    return {lesson.id: lesson for lesson in (load_file(path) for path in sorted(directory.glob("*.yaml")))}


def id_for(text: str, attempt: int = 0) -> str:
    salt = b"" if attempt == 0 else f"{attempt}\n".encode("ascii")
    return UPLOADED_PREFIX + hashlib.sha256(salt + text.encode("utf-8")).hexdigest()[:12]


class Uploaded:
    """Teachers' lessons, kept in `store` (or in memory for the process's life without one)."""

    def __init__(self, store: TextStore | None) -> None:
        self._store = store
        self._texts: dict[str, str] = {}
        self._parsed: OrderedDict[str, Lesson] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, text: str, source: str = "the lesson file") -> tuple[str, Lesson]:
        """Validate `text` and keep it; returns its id and the lesson. Raises LessonError."""
        lesson = parse_lesson(text, source)
        with self._lock:
            for attempt in range(MAX_ATTEMPTS):
                lesson_id = id_for(text, attempt)
                kept = self._text(lesson_id)
                if kept is None or kept == text:
                    break
            else:
                raise LessonError(source, None, None, "this file's id is taken by other files on this server; "
                                  "change the file a little (add a blank line) and upload it again")
            if self._store is not None:
                self._store.put(STORE_KIND, lesson_id, {"lesson": text})
            else:
                self._texts[lesson_id] = text
            self._remember(lesson_id, lesson)
        return lesson_id, lesson

    def get(self, lesson_id: str) -> Lesson | None:
        """The lesson uploaded as `lesson_id`, None when unknown (or gone with its age)."""
        with self._lock:
            if lesson_id in self._parsed:
                self._parsed.move_to_end(lesson_id)
                return self._parsed[lesson_id]
            text = self._text(lesson_id)
        if text is None:
            return None
        lesson = parse_lesson(text, lesson_id)
        with self._lock:
            self._remember(lesson_id, lesson)
        return lesson

    def _text(self, lesson_id: str) -> str | None:
        if self._store is not None:
            doc = self._store.get(STORE_KIND, lesson_id)
            return None if doc is None or "lesson" not in doc else str(doc["lesson"])
        return self._texts.get(lesson_id)

    def _remember(self, lesson_id: str, lesson: Lesson) -> None:
        self._parsed[lesson_id] = lesson
        self._parsed.move_to_end(lesson_id)
        while len(self._parsed) > CACHE_SIZE:
            self._parsed.popitem(last=False)
