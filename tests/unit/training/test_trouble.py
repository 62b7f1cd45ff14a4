"""Trouble explained: saturation and dead units on constructed networks, oscillation and growth on
constructed loss sequences, on classification as on regression; nothing said of a healthy run."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from app.nn.network import NetworkSpec, init_params
from app.training import trouble
from app.training.session import TrainingSession
from app.training.trouble import TroubleWatch, diagnose, unit_states

X = np.random.default_rng(0).uniform(-1, 1, (64, 2))
Y = np.where(X[:, :1] * X[:, 1:] > 0, 1.0, -1.0)  # xor's signs
FLAT = np.full(trouble.WINDOW, 1.06) + np.random.default_rng(1).normal(0, 0.01, trouble.WINDOW)


def _network(activation: str, task: str = "binary", scale: float = 1.0, bias: float = 0.0
             ) -> tuple[NetworkSpec, list[dict[str, np.ndarray]]]:
    spec = NetworkSpec(2, (4, 3), (activation, activation), 1, task)
    params = init_params(spec, "glorot", np.random.default_rng(2))
    for p in params[:-1]:
        p["W"] *= scale
        p["b"][:] = bias
    return spec, params


@pytest.mark.parametrize("task", ["binary", "regression"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_a_flat_loss_with_saturated_units_is_stuck(activation: str, task: str) -> None:
    spec, params = _network(activation, task, scale=1e4)
    saturated, saturating, _, _ = unit_states(spec, params, X)
    assert saturating == 7 and saturated >= 6
    found = diagnose(FLAT, 500, spec, params, X, Y, lr=10)
    assert found is not None and found.kind == "stuck" and found.since_step == 500 - trouble.WINDOW
    assert f"{saturated / saturating:.0%} of the hidden units are saturated" in found.message
    assert "stayed at 1.06 for 200 updates" in found.message
    assert "lower the learning rate (now 10)" in found.advice


def test_units_saturated_on_few_points_are_not_counted() -> None:
    spec, params = _network("tanh", scale=1.0)
    assert unit_states(spec, params, X)[0] == 0
    assert diagnose(FLAT, 500, spec, params, X, Y, lr=0.03) is None  # flat, but the units work


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_a_flat_loss_with_dead_relus_is_dead(task: str) -> None:
    spec, params = _network("relu", task, bias=-100.0)
    _, _, dead, relus = unit_states(spec, params, X)
    assert (dead, relus) == (7, 7)
    found = diagnose(FLAT, 400, spec, params, X, Y, lr=0.5)
    assert found is not None and found.kind == "dead"
    assert "7 of the 7 ReLU units (100%) are dead" in found.message
    alive = _network("relu", task)
    assert diagnose(FLAT, 400, *alive, X, Y, lr=0.5) is None
    leaky = _network("leaky_relu", task, bias=-100.0)
    assert unit_states(*leaky, X)[2:] == (0, 0)  # a leaky ReLU is never dead


def test_an_alternating_loss_oscillates_and_noise_does_not() -> None:
    spec, params = _network("tanh")
    i = np.arange(trouble.WINDOW)
    zigzag = 0.8 + 0.3 * (-1.0) ** i
    found = diagnose(zigzag, 1000, spec, params, X, Y, lr=3)
    assert found is not None and found.kind == "oscillating" and "100% of its steps change direction" in found.message
    noise = 0.8 + np.random.default_rng(3).normal(0, 0.2, trouble.WINDOW)
    assert trouble.oscillation(noise) < trouble.SIGN_CHANGES  # noise changes direction about 2 times in 3
    assert diagnose(noise, 1000, spec, params, X, Y, lr=3) is None
    falling_zigzag = zigzag * np.exp(-i / 50)
    assert diagnose(falling_zigzag, 1000, spec, params, X, Y, lr=3) is None  # it comes down: progress


def test_a_loss_that_grows_for_many_updates_is_growing() -> None:
    spec, params = _network("tanh")
    i = np.arange(trouble.WINDOW)
    growing = 0.5 * np.exp(i / 150) + np.random.default_rng(4).normal(0, 0.01, trouble.WINDOW)
    found = diagnose(growing, 900, spec, params, X, Y, lr=1)
    assert found is not None and found.kind == "growing" and found.message.startswith("the loss has grown")
    assert diagnose(growing[::-1], 900, spec, params, X, Y, lr=1) is None
    assert diagnose(growing[:-1], 900, spec, params, X, Y, lr=1) is None  # not a full window yet


def test_the_watch_keeps_the_start_of_a_trouble_while_it_lasts() -> None:
    spec, params = _network("tanh", scale=1e4)
    watch = TroubleWatch()
    watch.record(FLAT.tolist())
    first = watch.judge((500, 1), 500, spec, params, X, Y, 10)
    step = 500 + trouble.JUDGE_EVERY  # judged again once the run has gone that far
    watch.record(FLAT[:trouble.JUDGE_EVERY].tolist())
    later = watch.judge((step, 2), step, spec, params, X, Y, 10)
    assert first is not None and later is not None
    assert later.since_step == first.since_step == 300 and f"for {step - 300} updates" in later.message


def test_lr_10_on_the_default_problem_is_stuck_with_saturated_units(make_session: Callable[..., TrainingSession]
                                                                     ) -> None:
    s = make_session({"lr": 10})
    assert (s.config.dataset, s.config.hidden, s.config.activation) == ("circle", (4, 2), "tanh")
    while s.step < 400 and s.trouble() is None:
        s.advance(25)
    found = s.trouble()
    assert found is not None and found.kind == "stuck" and s.step <= 400
    assert "saturated (|tanh| > 0.99" in found.message


@pytest.mark.parametrize("config", [{}, {"dataset": "xor"}, {"dataset": "plane"}, {"activation": "relu"}])
def test_nothing_is_flagged_on_a_healthy_run(make_session: Callable[..., TrainingSession], config: dict) -> None:
    s = make_session(**config)
    for _ in range(160):  # 4,000 updates, judged as every frame would
        s.advance(25)
        assert s.trouble() is None, (s.step, s.trouble())


def test_a_saturated_output_on_the_wrong_side_is_stuck_on_the_playground_task() -> None:
    spec, params = _network("relu", "playground")
    params[-1]["W"][:] = 0.0
    params[-1]["b"][:] = 50.0  # the output is +1 everywhere: wrong wherever the target is -1
    found = diagnose(FLAT, 700, spec, params, X, Y, lr=1)
    wrong = float(np.mean(Y < 0))
    assert found is not None and found.kind == "stuck"
    assert f"output is saturated (|tanh| > 0.99) on 100% of the probe points, on the wrong side on {wrong:.0%}" \
        in found.message
    assert diagnose(FLAT, 700, spec, params, X, np.ones_like(Y), lr=1) is None  # saturated and right: converged
    binary = _network("relu", "binary")
    binary[1][-1]["b"][:] = 50.0
    assert diagnose(FLAT, 700, *binary, X, Y, lr=1) is None  # a sigmoid output under cross-entropy keeps its gradient


def test_trouble_from_the_start_advises_a_reset_not_a_rewind() -> None:
    spec, params = _network("tanh", scale=1e4)
    found = diagnose(FLAT, trouble.WINDOW, spec, params, X, Y, lr=10)
    assert found is not None and found.since_step == 0
    assert "reset the weights (it went wrong from the start)" in found.advice and "rewind" not in found.advice


def test_a_trouble_no_longer_found_is_still_said_for_a_while_then_cleared() -> None:
    """A verdict near its thresholds comes and goes on a noisy loss: it is held, with its start,
    for `CLEAR_AFTER` updates after it was last found, and then dropped."""
    spec, params = _network("tanh", scale=1e4)
    watch = TroubleWatch()
    watch.record(FLAT.tolist())
    first = watch.judge((500, 1), 500, spec, params, X, Y, 10)
    assert first is not None and first.kind == "stuck"
    falling = np.linspace(1.0, 0.1, trouble.WINDOW)
    assert diagnose(falling, 600, spec, params, X, Y, 10) is None
    watch.record(falling.tolist())
    held = watch.judge((500 + trouble.CLEAR_AFTER - 1, 2), 500 + trouble.CLEAR_AFTER - 1, spec, params, X, Y, 10)
    assert held == first
    # Judged again only once the run has gone JUDGE_EVERY updates further: then it is cleared.
    held_step = 500 + trouble.CLEAR_AFTER - 1
    assert watch.judge((held_step + 1, 3), held_step + 1, spec, params, X, Y, 10) == first
    cleared = held_step + trouble.JUDGE_EVERY
    assert watch.judge((cleared, 4), cleared, spec, params, X, Y, 10) is None


def test_a_playing_run_is_judged_again_every_judge_every_updates_and_a_paused_one_at_every_change() -> None:
    spec, params = _network("tanh", scale=1e4)
    watch = TroubleWatch()
    watch.record(FLAT.tolist())
    first = watch.judge((500, 1), 500, spec, params, X, Y, 10)
    assert first is not None and "now 10" in first.advice
    # Paused (the same step), a new learning rate is judged at once: the advice names it.
    assert "now 0.5" in watch.judge((500, 2), 500, spec, params, X, Y, 0.5).advice
    # A few updates on, the verdict is kept as it was, whatever the rate.
    assert "now 0.5" in watch.judge((505, 3), 505, spec, params, X, Y, 0.1).advice
    assert "now 0.1" in watch.judge((500 + trouble.JUDGE_EVERY, 4), 500 + trouble.JUDGE_EVERY, spec, params, X, Y,
                                    0.1).advice


def test_the_advice_names_the_step_the_trouble_began() -> None:
    spec, params = _network("tanh", scale=1e4)
    watch = TroubleWatch()
    watch.record(FLAT.tolist())
    watch.judge((500, 1), 500, spec, params, X, Y, 10)
    watch.record(FLAT[:100].tolist())
    later = watch.judge((600, 2), 600, spec, params, X, Y, 10)
    assert later is not None and later.since_step == 300 and "before 300" in later.advice



def test_the_watch_keeps_the_last_window_of_losses_whatever_the_runs_it_is_given() -> None:
    """Runs of every length, across the buffer's wrap, leave exactly the last `WINDOW` losses, in order."""
    watch, seen = TroubleWatch(), []
    rng = np.random.default_rng(5)
    for size in [1, 25, 7, trouble.WINDOW - 3, 3, trouble.WINDOW + 40, 0, 25, 25, 199, 2, trouble.WINDOW]:
        run = rng.normal(size=size).tolist()
        watch.record(run)
        seen += run
        assert watch.losses.tolist() == seen[-trouble.WINDOW:]
    watch.clear()
    assert watch.losses.tolist() == []
    watch.record([1.0, 2.0])
    assert watch.losses.tolist() == [1.0, 2.0]
