"""Datasets people upload as CSV, named by their content.

An upload is parsed once (`app.data.csv_import`, which says exactly what is
wrong with a bad file) and gets a name made from a hash of its text,
`csv-<12 hex digits>`. A configuration names it like a built-in dataset
(`dataset: "csv-1f3a..."`), so a session, its snapshot, a fork and a shared
link carry 18 characters instead of the data, and the same file uploaded
twice is one dataset. The text is kept in the server's store (when it has
one), so sessions come back with their data after a restart and on any
process that shares the store.

Twelve hex digits are 48 bits: two different files may share them (by chance
after millions of uploads, or on purpose: a collision costs about 2**24
hashes). A name taken by another text is never overwritten: the upload gets
the next name of its probe sequence (`name_for(text, attempt)`), which the
same text finds again the same way.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Protocol

from app.data.csv_import import DataError, parse_csv
from app.data.dataset import Dataset
from app.data.datasets import UPLOADED_NAME_PATTERN, UPLOADED_PREFIX, is_uploaded

PREFIX = UPLOADED_PREFIX
NAME_PATTERN = UPLOADED_NAME_PATTERN
STORE_KIND = "dataset"
CACHE_SIZE = 64  # parsed datasets kept in memory; the rest are parsed again from the store
# Names tried for one text before an upload is refused: more than one is already
# a 48-bit collision, more than a few means someone is making them on purpose.
MAX_ATTEMPTS = 8


class TextStore(Protocol):
    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None: ...
    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...


is_custom = is_uploaded


def name_for(text: str, attempt: int = 0) -> str:
    """The dataset name of this CSV text: the same text, the same name. Attempt
    `k` > 0 is the name to try when the first `k` are taken by other texts."""
    salt = b"" if attempt == 0 else f"{attempt}\n".encode("ascii")
    return PREFIX + hashlib.sha256(salt + text.encode("utf-8")).hexdigest()[:12]


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
        with self._lock:
            for attempt in range(MAX_ATTEMPTS):
                name = name_for(text, attempt)
                kept = self._text(name)
                if kept is None or kept == text:
                    break  # a free name, or this very text uploaded before
            else:
                raise DataError("this file's name is taken by other files on this server; "
                                "change the file a little (add a blank line) and upload it again")
            # Written again when already there: the upload's age counts from its last use.
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
