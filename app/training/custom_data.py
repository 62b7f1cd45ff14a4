"""Datasets people upload as CSV, named by their content.

An upload is parsed once (`app.data.csv_import`, which says exactly what is
wrong with a bad file) and gets a name made from a hash of its text,
`csv-<12 hex digits>`. A configuration names it like a built-in dataset
(`dataset: "csv-1f3a..."`), so a session, its snapshot, a fork and a shared
link carry 18 characters instead of the data, and the same file uploaded
twice is one dataset. The text is kept in the server's store (when it has
one), so sessions come back with their data after a restart and on any
process that shares the store.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from typing import Any, Protocol

from app.data.csv_import import DataError, parse_csv
from app.data.dataset import Dataset

PREFIX = "csv-"
NAME_PATTERN = r"^csv-[0-9a-f]{12}$"
_NAME = re.compile(NAME_PATTERN)
STORE_KIND = "dataset"
CACHE_SIZE = 64  # parsed datasets kept in memory; the rest are parsed again from the store


class TextStore(Protocol):
    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None: ...
    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...


def is_custom(name: str) -> bool:
    """True for the name of an uploaded dataset (whether or not it is known here)."""
    return bool(_NAME.match(name))


def name_for(text: str) -> str:
    """The dataset name of this CSV text: the same text, the same name."""
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


class Library:
    """The uploaded datasets this process knows, backed by a store if given."""

    def __init__(self) -> None:
        self._store: TextStore | None = None
        self._texts: dict[str, str] = {}  # without a store: every upload, for the process's life
        self._parsed: OrderedDict[str, Dataset] = OrderedDict()
        self._lock = threading.Lock()

    def use_store(self, store: TextStore | None) -> None:
        """Keep uploads in `store` from now on (the server calls this at start)."""
        with self._lock:
            self._store = store
            self._parsed.clear()

    def add(self, text: str) -> tuple[str, Dataset]:
        """Parse `text` and keep it; returns its name and the dataset. Raises DataError."""
        dataset = parse_csv(text)
        name = name_for(text)
        with self._lock:
            if self._store is not None:
                self._store.put(STORE_KIND, name, {"csv": text})
            else:
                self._texts[name] = text
            self._remember(name, dataset)
        return name, dataset

    def get(self, name: str) -> Dataset:
        """The dataset called `name`. Raises DataError when it is unknown."""
        with self._lock:
            if name in self._parsed:
                self._parsed.move_to_end(name)
                return self._parsed[name]
            text = self._text(name)
        if text is None:
            raise DataError(f"dataset {name!r} is not on this server: upload its CSV file again")
        dataset = parse_csv(text)
        with self._lock:
            self._remember(name, dataset)
        return dataset

    def _text(self, name: str) -> str | None:
        if self._store is not None:
            doc = self._store.get(STORE_KIND, name)
            return None if doc is None else str(doc["csv"])
        return self._texts.get(name)

    def _remember(self, name: str, dataset: Dataset) -> None:
        self._parsed[name] = dataset
        self._parsed.move_to_end(name)
        while len(self._parsed) > CACHE_SIZE:
            self._parsed.popitem(last=False)


library = Library()
