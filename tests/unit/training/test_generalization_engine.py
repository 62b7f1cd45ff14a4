"""The generalization lab's engine: early stopping, trials, cross-validation and search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.training.build import build
from app.training.config import HyperState, RunConfig
from app.training.cross_validation import CrossValidation, FoldResult, check_k, cross_validate, fold_data
from app.training.early_stopping import EarlyStopping, StopRule
from app.training.search import best, grid, outcomes_csv, random_draws, search
from app.training.session import SessionError, TrainingSession
from app.training.trials import Cancelled, TrialResult, run_trial

# Noisy XOR with few training points and a validation split: the validation loss
# turns up within a few epochs, so early stopping has something to stop.
OVERFIT = RunConfig(dataset="xor", noise=50, train_ratio=10, val_ratio=20, hidden=(8, 8), seed=3)
FAST_HYPER = {"lr": 0.1, "momentum": 0.9, "batch_size": 5}


def flat(session: TrainingSession) -> np.ndarray:
    return np.concatenate([p[k].ravel() for p in session.params for k in ("W", "b")])


# ---------------------------------------------------------------- the watch


@pytest.mark.parametrize("bad", [{"patience": 0}, {"patience": "5"}, {"patience": True}, {"metric": "test_loss"},
                                 {"min_delta": -1.0}, {"min_delta": float("nan")}, {"min_delta": "0"},
                                 {"max_epochs": 0}, {"max_epochs": 2.0}, {"max_epochs": "9"}])
def test_a_stop_rule_refuses_bad_values_and_says_what_is_allowed(bad) -> None:
    with pytest.raises(ValueError, match=r"patience|metric|min_delta|max_epochs"):
        StopRule(**bad)


def test_the_watch_stops_after_patience_epochs_without_a_better_loss() -> None:
    watch: EarlyStopping[str] = EarlyStopping(StopRule(patience=2))
    losses = [1.0, 0.8, 0.9, 0.85, 0.7]
    answers = [watch.epoch_end(e, e * 10, {"val_loss": v}, lambda e=e: f"state {e}") for e, v in enumerate(losses, 1)]
    assert answers == [False, False, False, True, True]  # stays stopped: 0.7 comes too late
    assert watch.best is not None and (watch.best.epoch, watch.best.value, watch.best.state) == (2, 0.8, "state 2")
    assert watch.stopped == (4, 40) and watch.reason == "patience"
    assert watch.epochs_saved() is None  # no budget


def test_a_budget_stops_at_max_epochs_and_a_patience_stop_saves_the_rest_of_it() -> None:
    budget: EarlyStopping[int] = EarlyStopping(StopRule(patience=5, max_epochs=3))
    assert [budget.epoch_end(e, e, {"val_loss": 1.0 / e}, lambda e=e: e) for e in (1, 2, 3)] == [False, False, True]
    assert budget.reason == "max_epochs" and budget.epochs_saved() == 0
    early: EarlyStopping[int] = EarlyStopping(StopRule(patience=1, max_epochs=100))
    assert [early.epoch_end(e, e, {"val_loss": 1.0}, lambda e=e: e) for e in (1, 2)] == [False, True]
    assert early.reason == "patience" and early.epochs_saved() == 98
    assert early.to_dict()["epochs_saved"] == 98 and early.to_dict()["best_epoch"] == 1


def test_an_accuracy_improves_upwards_and_min_delta_asks_for_a_real_gain() -> None:
    watch: EarlyStopping[int] = EarlyStopping(StopRule(patience=1, metric="val_acc", min_delta=0.05))
    assert not watch.epoch_end(1, 1, {"val_acc": 0.5}, lambda: 1)
    assert not watch.epoch_end(2, 2, {"val_acc": 0.6}, lambda: 2)
    assert watch.epoch_end(3, 3, {"val_acc": 0.62}, lambda: 3)  # +0.02 is not more than 0.05
    assert watch.best is not None and watch.best.state == 2


def test_a_missing_metric_is_no_improvement() -> None:
    watch: EarlyStopping[int] = EarlyStopping(StopRule(patience=2))
    assert not watch.epoch_end(1, 1, {"val_loss": None}, lambda: 1)
    assert watch.epoch_end(2, 2, {"val_loss": float("nan")}, lambda: 2)
    assert watch.best is None


# ------------------------------------------------------- in a live session


def test_a_session_stops_at_the_epoch_patience_runs_out_and_trains_no_more() -> None:
    s = TrainingSession(OVERFIT, HyperState(**FAST_HYPER))
    s.set_early_stopping(StopRule(patience=5))
    for _ in range(300):
        s.step_epoch()
        if s.stopped_early:
            break
    watch = s.early_stopping
    assert watch is not None and watch.stopped is not None and watch.best is not None
    assert s.epoch == watch.stopped[0] == watch.best.epoch + 5
    step = s.step
    assert s.advance(100) == 0 and s.step == step


def test_restore_best_brings_back_the_best_epoch_to_the_bit() -> None:
    s = TrainingSession(OVERFIT, HyperState(**FAST_HYPER))
    s.set_early_stopping(StopRule(patience=5))
    while not s.stopped_early:
        s.step_epoch()
    watch = s.early_stopping
    assert watch is not None and watch.best is not None
    best_epoch, best_step, best_value = watch.best.epoch, watch.best.step, watch.best.value
    # The same run, without the watch, trained just to the best epoch.
    twin = TrainingSession(OVERFIT, HyperState(**FAST_HYPER))
    for _ in range(best_epoch):
        twin.step_epoch()
    assert not np.array_equal(flat(s), flat(twin))  # the stop came later: the weights moved on
    assert s.restore_best() == best_step
    assert (s.step, s.epoch) == (twin.step, twin.epoch) == (best_step, best_epoch)
    assert np.array_equal(flat(s), flat(twin))
    for mine, theirs in zip(s.model.opt_state.slots["v"], twin.model.opt_state.slots["v"], strict=True):
        assert np.array_equal(mine["W"], theirs["W"]) and np.array_equal(mine["b"], theirs["b"])  # velocity too
    assert s.metrics()["val_loss"] == best_value
    assert s.history.epochs.steps[-1] == best_step  # the epochs after the best are gone from the chart
    assert not s.stopped_early and s.advance(1) == 1  # and training goes on from there


def test_restore_best_without_a_best_state_is_refused() -> None:
    s = TrainingSession(OVERFIT, HyperState(**FAST_HYPER))
    with pytest.raises(SessionError, match="no best state"):
        s.restore_best()


# ------------------------------------------------------------------- trials


def test_trials_from_one_build_start_from_the_same_weights_and_leave_it_untouched() -> None:
    built = build(OVERFIT)
    before = [{k: v.copy() for k, v in layer.items()} for layer in built.params]
    a = run_trial(OVERFIT, HyperState(**FAST_HYPER), built, 4)
    b = run_trial(OVERFIT, HyperState(**FAST_HYPER), built, 4)
    assert a.curve == b.curve and a.final == b.final
    assert all(np.array_equal(p[k], q[k]) for p, q in zip(built.params, before, strict=True) for k in p)
    # ... and the same curve as the live session trained from those weights.
    live = TrainingSession(OVERFIT, HyperState(**FAST_HYPER))
    rows = []
    for _ in range(4):
        live.step_epoch()
        rows.append(live.metrics()["val_loss"])
    assert a.curve["val_loss"] == rows


def test_a_trial_with_early_stopping_ends_on_its_best_epoch() -> None:
    result = run_trial(OVERFIT, HyperState(**FAST_HYPER), build(OVERFIT), 300, stop=StopRule(patience=5))
    assert result.stopped_epoch is not None and result.best_epoch is not None
    assert result.epochs == result.stopped_epoch == result.best_epoch + 5
    assert result.final["val_loss"] == min(v for v in result.curve["val_loss"] if v is not None)


def test_a_trial_can_be_cancelled_between_epochs() -> None:
    seen: list[int] = []
    with pytest.raises(Cancelled):
        run_trial(OVERFIT, HyperState(**FAST_HYPER), build(OVERFIT), 50, cancelled=lambda: len(seen) >= 3,
                  progress=seen.append)
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("epochs", [0, 2001, "5", 2.0, True])
def test_a_trial_refuses_a_bad_epoch_count(epochs) -> None:
    with pytest.raises(ValueError, match="epochs must be an integer from 1 to 2000"):
        run_trial(OVERFIT, HyperState(), build(OVERFIT), epochs)


# ---------------------------------------------------------- cross-validation


@pytest.mark.parametrize("k", [2, 5, 10])
def test_folds_hold_out_every_pool_point_exactly_once(k: int) -> None:
    built = build(OVERFIT)
    n_pool = built.data.n("train") + built.data.n("val")
    cv = cross_validate(OVERFIT, HyperState(**FAST_HYPER), built, k, 2)
    held = np.sort(np.concatenate([f.val_index for f in cv.folds]))
    assert len(cv.folds) == k
    assert np.array_equal(held, np.arange(n_pool))
    sizes = [len(f.val_index) for f in cv.folds]
    assert max(sizes) - min(sizes) <= 1


def test_each_fold_trains_on_the_other_folds_and_is_scored_on_its_own() -> None:
    built = build(OVERFIT)
    pool_x = np.concatenate([built.data.raw["train"], built.data.raw["val"]])
    held = np.array(cross_validate(OVERFIT, HyperState(**FAST_HYPER), built, 3, 1).folds[1].val_index)
    rest = np.setdiff1d(np.arange(len(pool_x)), held)
    data, _ = fold_data(built.data, built.Y, rest, held)
    assert np.array_equal(data.raw["val"], pool_x[held]) and np.array_equal(data.raw["train"], pool_x[rest])
    assert np.array_equal(data.raw["test"], built.data.raw["test"])  # the test points stay out of it


def test_the_summary_is_the_mean_and_sample_spread_of_the_fold_scores() -> None:
    cv = cross_validate(OVERFIT, HyperState(**FAST_HYPER), build(OVERFIT), 4, 2)
    scores = np.array(cv.scores, dtype=float)
    summary = cv.summary()
    assert summary["mean"] == pytest.approx(scores.mean()) and summary["std"] == pytest.approx(scores.std(ddof=1))
    lines = cv.to_csv().splitlines()
    assert lines[0] == "fold,points,epochs,val_loss" and len(lines) == 5


@pytest.mark.parametrize("k", [1, 11, "5", 3.0, True])
def test_k_out_of_range_is_refused(k) -> None:
    with pytest.raises(ValueError, match="from 2 to 10"):
        check_k(k, 500)


def test_a_diverged_fold_leaves_no_mean() -> None:
    ok = TrialResult(hyper={}, curve={}, epochs=1, final={"val_loss": 0.5})
    blown = TrialResult(hyper={}, curve={}, epochs=1, diverged=True, final={"val_loss": 0.1})
    assert CrossValidation(2, "val_loss", [FoldResult(0, [0], ok), FoldResult(1, [1], ok)]).summary() == \
        {"mean": 0.5, "std": 0.0}
    assert CrossValidation(2, "val_loss", [FoldResult(0, [0], ok), FoldResult(1, [1], blown)]).summary() == \
        {"mean": None, "std": None}


# -------------------------------------------------------------------- search


def test_a_grid_search_covers_its_grid_once_each() -> None:
    space = {"lr": [0.01, 0.1, 1.0], "momentum": [0.0, 0.5, 0.9]}
    outcomes = search(OVERFIT, HyperState(**FAST_HYPER), build(OVERFIT), grid(space), 2)
    seen = [(o.values["lr"], o.values["momentum"]) for o in outcomes]
    assert seen == list(itertools.product(space["lr"], space["momentum"]))
    assert all(o.trial.hyper["lr"] == o.values["lr"] and o.trial.hyper["momentum"] == o.values["momentum"]
               for o in outcomes)


def test_every_search_trial_is_the_live_run_with_its_values() -> None:
    trials = grid({"lr": [0.03, 0.3], "momentum": [0.0, 0.9]})
    outcomes = search(OVERFIT, HyperState(**FAST_HYPER), build(OVERFIT), trials, 3)
    for o in outcomes:
        live = TrainingSession(OVERFIT, HyperState(**{**FAST_HYPER, **o.values}))
        for _ in range(3):
            live.step_epoch()
        assert o.trial.final == live.metrics()
    winner = best(outcomes)
    assert winner is not None
    assert winner.trial.score() == min(o.trial.score() for o in outcomes if o.trial.score() is not None)
    csv = outcomes_csv(outcomes).splitlines()
    assert csv[0] == "trial,lr,momentum,epochs,val_loss,diverged" and len(csv) == 5


def test_random_search_is_seeded_and_stays_in_its_ranges() -> None:
    a = random_draws({"lr": [0.001, 1.0], "momentum": [0.0, 0.99]}, 20, seed=7)
    assert a == random_draws({"lr": [0.001, 1.0], "momentum": [0.0, 0.99]}, 20, seed=7)
    assert a != random_draws({"lr": [0.001, 1.0], "momentum": [0.0, 0.99]}, 20, seed=8)
    assert all(0.001 <= t["lr"] <= 1.0 and 0.0 <= t["momentum"] <= 0.99 for t in a)
    logs = np.log10([t["lr"] for t in random_draws({"lr": [0.001, 1.0]}, 100, seed=1)])
    assert (logs < -1.5).sum() > 30  # log-uniform: half the draws below 10^-1.5, not 3 %


@pytest.mark.parametrize("space", [{}, {"seed": [1]}, {"lr": []}, {"lr": "0.1"}, {"lr": ["0.1"]}, {"lr": [True]},
                                   {"lr": [20.0]}, {"batch_size": [2.5]}, {"lr": [0.1] * 13},
                                   {"lr": [0.1] * 11, "momentum": [0.5] * 10}])
def test_a_bad_grid_is_refused_with_what_is_allowed(space) -> None:
    with pytest.raises(ValueError, match=r"allowed|values|at most|needs"):
        grid(space)


def test_a_search_needs_a_validation_split() -> None:
    config = RunConfig(val_ratio=0)
    with pytest.raises(ValueError, match="validation"):
        search(config, HyperState(), build(config), grid({"lr": [0.1]}), 1)


def test_training_and_validation_shares_over_100_percent_are_refused_in_plain_words() -> None:
    s = TrainingSession(RunConfig())
    with pytest.raises(SessionError, match=r"training share \(90 %\) and the validation share \(40 %\) add up to more"):
        s.configure({"train_ratio": 90, "val_ratio": 40})
    assert (s.config.train_ratio, s.config.val_ratio) == (50, 0)  # nothing changed
