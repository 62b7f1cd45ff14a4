"""Uploaded CSV datasets: named by content, kept in the store, trained like built-in data."""

from __future__ import annotations

import numpy as np
import pytest
from support.samples import animals_csv

from app.data.csv_import import DataError
from app.server.storage import MemoryStore
from app.training import custom_data
from app.training.config import HyperState, RunConfig
from app.training.session import SessionError, TrainingSession


@pytest.fixture
def library() -> custom_data.Library:
    lib = custom_data.Library()
    lib.use_store(MemoryStore())
    return lib


def test_the_same_text_gets_the_same_name_and_another_text_another(library) -> None:
    name, ds = library.add(animals_csv())
    assert custom_data.is_custom(name) and len(name) == len("csv-") + 12
    assert library.add(animals_csv())[0] == name
    assert library.add(animals_csv(seed=1))[0] != name
    assert ds.feature_names == ("size", "colour", "legs") and ds.class_names == ("cat", "dog")


def test_an_upload_is_found_again_through_the_store_alone() -> None:
    store = MemoryStore()
    first = custom_data.Library()
    first.use_store(store)
    name, ds = first.add(animals_csv())
    second = custom_data.Library()  # another process, or this one after a restart
    second.use_store(store)
    again = second.get(name)
    np.testing.assert_array_equal(again.X, ds.X)
    np.testing.assert_array_equal(again.y, ds.y)


def test_an_unknown_name_and_a_bad_file_say_what_is_wrong(library) -> None:
    with pytest.raises(DataError, match="not on this server: upload its CSV file again"):
        library.get("csv-0123456789ab")
    with pytest.raises(DataError, match="only one class"):
        library.add("a,b,label\n1,2,x\n3,4,x\n")
    assert not custom_data.is_custom("circle") and not custom_data.is_custom("csv-XYZ")


def test_a_session_trains_on_an_upload_standardized(monkeypatch, library) -> None:
    monkeypatch.setattr(custom_data, "library", library)
    name, _ = library.add(animals_csv())
    s = TrainingSession(RunConfig(dataset=name), HyperState())
    assert s.data.feature_names == ("size", "colour", "legs") and not s.data.plane
    assert s.data.n("train") == 100 and s.data.n("test") == 100  # every row, split 50/50
    assert s.spec.n_inputs == 3 and s.spec.task == "playground"
    # The constant column is standardized to exactly zero: it cannot act as a second bias.
    assert not s.data.X["train"][:, 2].any()
    before = s.metrics()["train_loss"]
    s.advance(300)
    after = s.metrics()
    assert after["train_loss"] < 0.3 * before and after["test_acc"] > 0.9


def test_a_session_refuses_an_unknown_upload_and_keeps_its_data(monkeypatch, library) -> None:
    monkeypatch.setattr(custom_data, "library", library)
    s = TrainingSession()
    with pytest.raises(SessionError, match="upload its CSV file again"):
        s.configure({"dataset": "csv-0123456789ab"})
    assert s.config.dataset == "circle" and s.advance(5) == 5
