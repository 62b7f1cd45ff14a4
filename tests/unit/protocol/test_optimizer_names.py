"""Adding an optimizer touches the engine, the fast kernel, the rule text and the docs; each is checked here."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
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
        "engine hyperparameters read (HYPER_OF)": name in optimizers.HYPER_OF,
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


HYPERPARAMS_FIELDS = {f.name for f in fields(optimizers.Hyperparams)}


def unknown_hyperparameters(table: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """The names in `table` that are not fields of the engine's Hyperparams, by optimizer."""
    return {name: bad for name, read in table.items() if (bad := [f for f in read if f not in HYPERPARAMS_FIELDS])}


def test_every_optimizer_names_the_hyperparameters_it_reads_and_only_fields_of_hyperparams() -> None:
    assert set(optimizers.HYPER_OF) == set(p.OPTIMIZERS)
    assert unknown_hyperparameters(dict(optimizers.HYPER_OF)) == {}
    assert all("lr" in read and len(set(read)) == len(read) for read in optimizers.HYPER_OF.values())


def test_a_hyperparameter_that_hyperparams_lacks_is_caught() -> None:
    table = {**optimizers.HYPER_OF, "adam": ("lr", "beta1", "beta_two")}
    assert unknown_hyperparameters(table) == {"adam": ["beta_two"]}


class ReadsRecorded(optimizers.Hyperparams):
    """Hyperparams that note the name of every field a step function reads."""

    def __getattribute__(self, name: str) -> Any:
        if name in HYPERPARAMS_FIELDS:
            object.__getattribute__(self, "read").add(name)
        return object.__getattribute__(self, name)


def fields_read(name: str) -> set[str]:
    """The Hyperparams fields optimizer `name`'s step function reads in one step, frozen entries or not."""
    read: set[str] = set()
    for mask in (True, np.array([[True, False], [False, True]])):
        hp = ReadsRecorded(optimizer=name)
        object.__setattr__(hp, "read", set())
        slots = {slot: np.zeros((2, 2), dtype=np.int64 if slot == "t" else np.float64) for slot in optimizers.SLOTS[name]}
        optimizers.STEP_FUNCTIONS[name](np.full((2, 2), 0.5), slots, hp, mask)
        read |= object.__getattribute__(hp, "read") - {"optimizer"}
    return read


@pytest.mark.parametrize("name", p.OPTIMIZERS)
def test_the_table_says_what_the_step_function_reads(name: str) -> None:
    assert fields_read(name) == set(optimizers.HYPER_OF[name])


def test_the_recorder_sees_a_read() -> None:
    hp = ReadsRecorded()
    object.__setattr__(hp, "read", set())
    assert hp.rho == 0.99
    assert object.__getattribute__(hp, "read") == {"rho"}
