"""Task sequences: fine-tuning from the current weights or from scratch, forgetting measured on the
previous task's test points, replay batches, and the moved (rotated, shifted) and chosen-column data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.data import features
from app.nn.network import evaluate
from app.training.build import build, initial_weights
from app.training.config import HyperState, RunConfig
from app.training.errors import SessionError
from app.training.persist import fork_session, restore_session, session_state
from app.training.session import TrainingSession

Params = list[dict[str, np.ndarray]]


def trained(dataset: str = "gauss", epochs: int = 4, **hyper: float) -> TrainingSession:
    s = TrainingSession(RunConfig(dataset=dataset, hidden=(4, 2)), HyperState(lr=0.1, **hyper))  # type: ignore[arg-type]
    for _ in range(epochs):
        s.step_epoch()
    return s


def same(a: Params, b: Params) -> bool:
    return all(np.array_equal(x["W"], y["W"]) and np.array_equal(x["b"], y["b"]) for x, y in zip(a, b, strict=True))


def copy_of(params: Params) -> Params:
    return [{k: v.copy() for k, v in layer.items()} for layer in params]


# ------------------------------------------------------------------ fine-tune and scratch


def test_fine_tuning_starts_from_the_previous_weights_to_the_bit_and_records_the_task() -> None:
    s = trained()
    before, steps = copy_of(s.params), s.step
    s.fine_tune({"rotate": 90}, "current")
    assert same(s.params, before) and s.step == 0
    tasks = s.tasks.to_list()
    assert [t["start"] for t in tasks] == ["new", "current"]
    assert tasks[0]["trained_steps"] == steps and tasks[1]["trained_steps"] is None
    assert tasks[1]["rotate"] == 90.0 and tasks[1]["kept"] == [0, 1, 2] and tasks[1]["reinitialized"] == []
    assert tasks[1]["note"] == "every layer starts from the current weights"


def test_scratch_starts_from_the_fresh_draw_which_current_gives_its_reinitialized_layers() -> None:
    current = trained()
    scratch = fork_session(current)
    carried = current.fine_tune({"dataset": "spiral3"}, "current")  # new classes: the last layer redrawn
    scratch.fine_tune({"dataset": "spiral3"}, "scratch")
    fresh = initial_weights(scratch.config, scratch.spec)
    assert same(scratch.params, fresh)  # scratch: exactly the draw of the new configuration
    assert carried.reinitialized == (2,)
    for l in carried.reinitialized:  # ... which "current" gave the layer it could not keep
        assert np.array_equal(current.params[l]["W"], scratch.params[l]["W"])
        assert np.array_equal(current.params[l]["b"], scratch.params[l]["b"])
    assert not np.array_equal(current.params[0]["W"], scratch.params[0]["W"])  # the kept layer is A's
    record = scratch.tasks.to_list()[-1]
    assert record["start"] == "scratch" and record["kept"] == [] and record["reinitialized"] == [0, 1, 2]
    scratch.step_epoch()
    scratch.reset()  # a restart of the task goes back to the same draw and keeps the sequence
    assert same(scratch.params, fresh) and len(scratch.tasks.records) == 2


def test_fine_tuning_keeps_the_frozen_masks_of_the_layers_kept() -> None:
    s = trained()
    s.freeze(0, "layer", 0, 0, True)
    s.fine_tune({"shift": [1.5, -1]})
    assert not s.model.trainable[0]["W"].any() and s.model.trainable[1]["W"].all()
    before = s.params[0]["W"].copy()
    s.step_epoch()
    assert np.array_equal(s.params[0]["W"], before)


def test_configure_and_new_weights_start_a_new_sequence_and_a_same_weights_reset_keeps_it() -> None:
    s = trained()
    s.fine_tune({"rotate": 45})
    s.reset(same_weights=True)
    assert len(s.tasks.records) == 2 and s.tasks.old is not None
    s.reset(same_weights=False)
    assert [t["start"] for t in s.tasks.to_list()] == ["new"] and s.tasks.old is None
    s.fine_tune({"rotate": 45})
    s.configure({"rotate": 30})
    assert [t["start"] for t in s.tasks.to_list()] == ["new"] and s.tasks.to_list()[0]["rotate"] == 30.0


def test_the_model_export_carries_the_tasks_and_frozen_masks_and_imports_back() -> None:
    s = trained()
    s.fine_tune({"rotate": 90})
    s.freeze(1, "neuron", 0, 1, True)
    doc = s.export_model()
    assert [t["start"] for t in doc["tasks"]] == ["new", "current"]
    assert doc["trainable"][1]["W"][0][1] is False
    other = TrainingSession(RunConfig(dataset="gauss", hidden=(4, 2)))
    other.import_model(doc)
    assert same(other.params, s.params) and [t["start"] for t in other.tasks.to_list()] == ["new"]


# ------------------------------------------------------------------ forgetting


def test_old_task_acc_at_step_0_is_the_previous_network_s_accuracy_on_a_s_test_points() -> None:
    s = trained("xor", epochs=6)
    a_test_acc = s.metrics()["test_acc"]
    a_test_loss = s.metrics()["test_loss"]
    s.fine_tune({"rotate": 45})
    rows = s.history.since(-1, 0)["epochs"]
    assert rows["step"] == [0] and rows["epoch"] == [0]
    assert rows["old_task_acc"] == [a_test_acc]
    assert rows["old_task_loss"][0] == pytest.approx(a_test_loss, rel=1e-12)
    assert rows["test_acc"][0] != a_test_acc  # B is another task: the same network does differently on it
    s.step_epoch()
    rows = s.history.since(-1, 0)["epochs"]
    assert len(rows["old_task_acc"]) == 2 and rows["old_task_acc"][1] is not None


def test_old_task_points_go_through_the_new_network_s_features() -> None:
    s = trained("circle")
    a = s.data
    s.fine_tune({"features": ["x1", "x2", "x1_sq"], "rotate": 30})
    old = s.tasks.old
    assert old is not None
    assert np.array_equal(old.X_test, features.transform(a.raw["test"], ["x1", "x2", "x1_sq"]))
    _, acc = evaluate(s.spec, s.params, old.X_test, old.Y_test)
    assert s.history.since(-1, 0)["epochs"]["old_task_acc"] == [acc]


def test_no_comparable_previous_task_gives_null_rows_and_refuses_replay() -> None:
    s = trained()
    with pytest.raises(SessionError, match=r"fine-tune .* first") as first:
        s.set_replay(0.3, 50)
    assert first.value.code == "invalid"
    s.fine_tune({"dataset": "spiral3"})  # 3 classes after 2: not comparable
    assert s.tasks.old is None and s.tasks.replay_dict() == {"share": 0.0, "buffer": 100, "available": 0}
    s.step_epoch()
    rows = s.history.since(-1, 0)["epochs"]
    assert rows["old_task_acc"] == [None] and rows["old_task_loss"] == [None]
    with pytest.raises(SessionError, match="same inputs and classes"):
        s.set_replay(0.3, 50)


# ------------------------------------------------------------------ replay


# round() is Python's, half to even (0.5 * 5 = 2.5 gives 2), and a batch keeps one new point at least.
@pytest.mark.parametrize("share, batch_size, old", [(0.3, 10, 3), (0.5, 7, 4), (0.5, 5, 2), (0.9, 4, 3), (0.9, 2, 1)])
def test_replay_batches_hold_the_asked_share_of_old_samples(share: float, batch_size: int, old: int) -> None:
    s = trained(batch_size=batch_size)
    s.fine_tune({"rotate": 90})
    n = s.data.n("train")
    s.set_replay(share, 40)
    s.queue.refill(s.hyper.batch_size)
    epoch = list(s.queue)
    new_seen = np.concatenate([b[b < n] for b in epoch])
    assert np.array_equal(np.sort(new_seen), np.arange(n))  # one pass over B's training points
    for b in epoch:
        replayed = b[b >= n]
        assert len(replayed) == old and len(set(replayed.tolist())) == old  # no repeats within a batch
        assert replayed.min() >= n and replayed.max() < n + 40  # from the buffer of 40
    assert all(len(b) == batch_size for b in epoch[:-1])


def test_the_buffer_is_the_first_points_of_a_seeded_permutation_of_a_s_training_points() -> None:
    s = trained()
    a = s.data
    s.fine_tune({"rotate": 90})
    old = s.tasks.old
    assert old is not None and old.available == a.n("train")
    order = np.random.default_rng([s.config.seed, 4]).permutation(a.n("train"))
    assert np.array_equal(old.X_pool, a.X["train"][order])
    X, _ = s.tasks.train_arrays(s.data.X["train"], s.Y["train"])
    assert np.array_equal(X[s.data.n("train"):][:5], a.X["train"][order[:5]])  # rows appended after B's


def test_fast_and_reference_paths_give_the_same_bits_with_replay_on() -> None:
    runs = []
    for use_fast in (True, False):
        s = trained(dropout=0.2)
        s.fast = use_fast
        s.fine_tune({"rotate": 60})
        s.set_replay(0.4, 60)
        s.advance(7)
        s.set_hyper({"batch_size": 8})  # the rest of the epoch is cut again, with its share
        for _ in range(3):
            s.step_epoch()
        runs.append(s)
    fast_run, reference = runs
    assert same(fast_run.params, reference.params)
    assert fast_run.history.since(-1, 0) == reference.history.since(-1, 0)


def test_replay_changes_are_logged_and_metrics_stay_on_the_new_task() -> None:
    s = trained()
    s.fine_tune({"rotate": 90})
    logged = s.set_replay(0.3, 50)
    assert [(c["field"], c["old"], c["new"]) for c in logged] == [("replay_share", 0.0, 0.3),
                                                                   ("replay_buffer", 100, 50)]
    assert s.set_replay(0.3, 60) == [{"step": 0, "field": "replay_buffer", "old": 50, "new": 60}]
    s.step_epoch()
    m = s.metrics()
    loss, acc = evaluate(s.spec, s.params, s.data.X["test"], s.Y["test"])
    assert m["test_acc"] == acc and m["test_loss"] == pytest.approx(loss, rel=1e-12)


def test_replay_remembers_a_better_than_fine_tuning_alone() -> None:
    """The experiment a class runs: A's accuracy after B, with and without replay."""
    results = {}
    for share in (0.0, 0.5):
        s = trained("xor", epochs=10)
        s.fine_tune({"rotate": 45})
        if share:
            s.set_replay(share, 250)
        for _ in range(10):
            s.step_epoch()
        results[share] = s.history.since(-1, 0)["epochs"]["old_task_acc"][-1]
    assert results[0.5] > results[0.0]


def test_a_fork_with_replay_continues_exactly_as_the_original() -> None:
    s = trained()
    s.fine_tune({"rotate": 90})
    s.set_replay(0.5, 30)
    s.advance(5)  # mid-epoch: the rest of the epoch holds buffer indices
    copy = fork_session(s)
    assert copy.tasks.to_list() == s.tasks.to_list() and copy.tasks.replay_dict() == s.tasks.replay_dict()
    for run in (s, copy):
        run.step_epoch()
        run.step_epoch()
    assert same(s.params, copy.params)
    assert s.history.since(-1, 0) == copy.history.since(-1, 0)


# ------------------------------------------------------------------ moved and chosen data


def test_rotation_and_shift_move_the_raw_points_before_the_split() -> None:
    a = build(RunConfig(dataset="gauss")).data
    b = build(RunConfig(dataset="gauss", rotate=90, shift=(1.0, -0.5))).data
    for split in ("train", "test"):
        expected = np.column_stack([-a.raw[split][:, 1], a.raw[split][:, 0]]) + [1.0, -0.5]
        assert np.allclose(b.raw[split], expected, rtol=0, atol=1e-12)
        assert np.array_equal(a.y[split], b.y[split])


def test_rotate_shift_and_columns_are_refused_where_they_do_not_apply() -> None:
    s = TrainingSession()
    for changes, text in (({"dataset": "mammals", "rotate": 10}, "rotate must be 0"),
                          ({"dataset": "mammals", "shift": [0, 1]}, "shift \\[0, 0\\]"),
                          ({"columns": ["x1"]}, "columns must be null"),
                          ({"dataset": "mammals", "columns": ["wings"]}, "allowed: vertebrate, has_gills")):
        with pytest.raises(SessionError, match=text):
            s.configure(changes)
        assert s.config.dataset == "circle"  # the session as it was


def test_columns_choose_the_tabular_inputs_by_name() -> None:
    s = TrainingSession(RunConfig(dataset="mammals"))
    every = s.data.X["train"]
    s.configure({"columns": ["lays_eggs", "has_gills"]})
    assert s.spec.n_inputs == 2 and s.data.feature_names == ("lays_eggs", "has_gills")
    assert s.data.columns is not None and s.data.columns[:2] == ("vertebrate", "has_gills")
    assert np.array_equal(s.data.X["train"], every[:, [2, 1]])
    s.configure({"dataset": "circle"})  # a new dataset drops the choice
    assert s.config.columns is None
    s.configure({"dataset": "mammals", "columns": ["has_gills"]})
    s.fine_tune({"columns": None})  # every column again: new inputs, the first layer redrawn
    assert s.tasks.to_list()[-1]["reinitialized"] == [0] and s.tasks.old is None
    assert s.data.X["train"].shape[1] == 6


def test_a_stored_state_keeps_the_tasks_and_buffer_as_json_and_an_older_state_restores_without() -> None:
    s = trained()
    s.fine_tune({"rotate": 90})
    s.set_replay(0.3, 30)
    s.advance(4)
    state = json.loads(json.dumps(session_state(s)))  # strict JSON: what a snapshot or a saved run stores
    restored = restore_session(state)
    assert restored.tasks.to_list() == s.tasks.to_list() and restored.tasks.replay_dict() == s.tasks.replay_dict()
    assert restored.tasks.old is not None and s.tasks.old is not None
    assert np.array_equal(restored.tasks.old.X_pool, s.tasks.old.X_pool)
    plain = trained()
    older = session_state(plain)
    del older["tasks"]  # stored before task sequences
    again = restore_session(older)
    assert [t["start"] for t in again.tasks.to_list()] == ["new"] and again.tasks.old is None
    del state["tasks"]  # its batches index buffer rows it would not have: refused, not half restored
    with pytest.raises(ValueError, match="index points"):
        restore_session(state)


def test_step_by_step_mode_trains_replay_batches_as_the_runs_do() -> None:
    runs = []
    for phases in (True, False):
        s = trained()
        s.fine_tune({"rotate": 90})
        s.set_replay(0.5, 20)
        if phases:
            for _ in range(4 * 3):  # forward, loss, backward, update: three updates phase by phase
                s.step_phase()
        else:
            s.advance(3)
        runs.append(s)
    assert same(runs[0].params, runs[1].params)


def test_a_diverged_run_is_not_carried_to_a_new_task_but_can_start_one_from_scratch() -> None:
    s = TrainingSession(RunConfig(dataset="plane", hidden=(8, 8)), HyperState(optimizer="sgd", lr=10))
    s.advance(200)
    assert s.diverged is not None
    with pytest.raises(SessionError, match="roll back first") as refused:
        s.fine_tune({"rotate": 30})
    assert refused.value.field == "start" and s.config.rotate == 0 and s.diverged is not None
    s.fine_tune({"rotate": 30}, "scratch")
    assert s.diverged is None and all(np.isfinite(p["W"]).all() for p in s.params)
    assert [t["start"] for t in s.tasks.to_list()] == ["new", "scratch"]
