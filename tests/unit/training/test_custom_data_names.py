"""An uploaded dataset's 48-bit name never overwrites another file's: a text whose
name is taken gets another name of the same form, and finds it again."""

from __future__ import annotations

import numpy as np
import pytest
from support.samples import animals_csv

from app.data.csv_import import DataError
from app.server.storage import MemoryStore
from app.training import custom_data


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def library(store: MemoryStore) -> custom_data.Library:
    lib = custom_data.Library()
    lib.use_store(store)
    return lib


def plant(store: MemoryStore, name: str, text: str) -> None:
    """Put `text` under `name` as if another upload had hashed to it (a collision)."""
    store.put(custom_data.STORE_KIND, name, {"csv": text})


def test_a_name_taken_by_another_file_is_not_overwritten(library, store) -> None:
    mine, theirs = animals_csv(n=60, seed=0), animals_csv(n=60, seed=1)
    taken = custom_data.name_for(mine)
    plant(store, taken, theirs)
    name, _ = library.add(mine)
    assert name != taken and custom_data.is_custom(name) and len(name) == len(taken)
    np.testing.assert_array_equal(library.get(taken).X, custom_data.Library().add(theirs)[1].X)
    np.testing.assert_array_equal(library.get(name).X, custom_data.Library().add(mine)[1].X)
    assert library.add(mine)[0] == name, "the same text finds its name again"


def test_when_every_name_of_a_text_is_taken_the_upload_is_refused(library, store) -> None:
    mine, theirs = animals_csv(n=60, seed=0), animals_csv(n=60, seed=1)
    for attempt in range(custom_data.MAX_ATTEMPTS):
        plant(store, custom_data.name_for(mine, attempt), theirs)
    with pytest.raises(DataError, match="taken by other files"):
        library.add(mine)
    for attempt in range(custom_data.MAX_ATTEMPTS):
        assert store.get(custom_data.STORE_KIND, custom_data.name_for(mine, attempt)) == {"csv": theirs}
