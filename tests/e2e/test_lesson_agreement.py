"""The page reads a lesson's conditions and fills its `then` texts exactly as the reference does.

app/lessons/conditions.py (`values_from`, `evaluate`) and format.py (`fill_then`)
are the reference; static/js/lesson/conditions.js is what the page runs. Both
are given the same frames and session messages (numbers typed as the server
types them: floats where its models say float) and must give the same truth
values and the same characters.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from app.lessons import conditions
from app.lessons.format import fill_then

pytestmark = pytest.mark.e2e

MODULE = "/static/js/lesson/conditions.js"

SESSION: dict[str, Any] = {
    "type": "session", "config": {"dataset": "circle", "noise": 10.0, "train_ratio": 50.0, "val_ratio": 20.0,
                                  "n_points": 500, "activation": "tanh", "init": "uniform", "seed": 7},
    "architecture": {"n_inputs": 2, "hidden": [4, 2], "task": "playground", "total_params": 25},
    "tasks": [{"index": 0}, {"index": 1}], "quantization": {"bits": 4, "granularity": "tensor", "aware": False},
}
BARE_SESSION: dict[str, Any] = {"type": "session", "config": {}, "architecture": {}, "tasks": [], "quantization": None}


def frame(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "frame", "step": 412, "epoch": 8, "playing": True, "phase": None, "diverged": None, "trouble": None,
        "hyper": {"lr": 3.0, "momentum": 0.9, "batch_size": 10, "optimizer": "sgd", "regularization": "none",
                  "reg_rate": 0.0, "dropout": 0.0, "beta1": 0.9, "beta2": 0.999, "rho": 0.99},
        "metrics": {"train_loss": 0.04213, "test_loss": 0.125, "val_loss": None, "train_acc": 0.975, "test_acc": 1.0,
                    "val_acc": None, "batch_loss": 2.5, "train_loss_penalized": 0.0421},
        "quantized": None, "early_stopping": None,
    }
    base.update(over)
    return base


FRAMES = [
    (frame(), SESSION),
    (frame(step=0, epoch=0, playing=False, phase="backward", hyper={"lr": 0.001, "momentum": 0.0, "batch_size": 1,
                                                                   "optimizer": "momentum"}), SESSION),
    (frame(diverged={"reason": "nan"}, trouble={"kind": "growing", "since_step": 3},
           metrics={"train_loss": math.inf, "test_loss": math.nan, "train_acc": 0.5, "test_acc": 0.0}), SESSION),
    (frame(trouble={}, quantized={"bits": 4, "test_acc": 0.88, "train_acc": 0.9},
           early_stopping={"best_epoch": 12, "stopped_epoch": 22}), SESSION),
    (frame(hyper=None, metrics=None), BARE_SESSION),
    ({"type": "frame"}, {"type": "session"}),
]

CONDITIONS = [
    "step >= 300", "step >= 412", "step > 412", "epoch == 8", "playing", "not playing", "playing == true",
    "phase == 'backward'", "phase == null", "phase != null", "diverged", "not diverged",
    "diverged or trouble == 'growing'", "trouble == null", "trouble != 'stuck'",
    "hyper.lr >= 3 and not diverged", "hyper.lr >= 3", "hyper.lr < 0.01", "hyper.momentum >= 0.9",
    "hyper.batch_size == 10", "hyper.optimizer == 'sgd' or hyper.optimizer == \"momentum\"",
    "hyper.regularization != 'l2'", "metrics.test_acc >= 0.95", "metrics.val_loss < 1", "metrics.val_loss == null",
    "metrics.train_loss < 0.1", "metrics.train_loss == null", "metrics.test_loss > -1",
    "metrics.train_loss >= 0 or metrics.test_loss >= 0", "config.dataset == 'circle'", "config.noise > 5",
    "config.val_ratio >= 20 and config.train_ratio == 50", "config.task == 'playground'", "params > 20",
    "layers >= 2", "layers == 0", "tasks == 2", "tasks == 1", "quantized.bits >= 4", "quantized.bits == 0",
    "quantized.bits == null", "quantized.test_acc >= 0.8", "early_stopping.stopped_epoch > early_stopping.best_epoch",
    "early_stopping.best_epoch == null", "not (step >= 1 and epoch >= 1) or playing",
    "(step < 1 or epoch < 1) and not playing", "not not diverged", "step >= 1e2", "hyper.lr >= -1",
    "config.seed == 7", "config.init == 'uniform' and config.activation != 'relu'",
]

THEN_TEXTS = [
    "After {step} updates the training loss is {metrics.train_loss:.3f}.",
    "{metrics.test_acc:.0%} of the test points; {metrics.train_acc:.1%} of the training ones.",
    "At a learning rate of {hyper.lr:g} (exactly {hyper.lr}) the loss is {metrics.train_loss}.",
    "{hyper.lr:.2e} {metrics.batch_loss:.0f} {metrics.test_loss:.2f} {metrics.val_loss:.3f} {metrics.val_loss}",
    "{playing} {diverged} {phase} {trouble} {trouble:.2f} {hyper.optimizer} {hyper.optimizer:g}",
    "{params} weights and biases in {layers} layers; {tasks} tasks; {quantized.bits} bits; {config.seed}",
    "{config.noise} {config.noise:g} {config.train_ratio:.1f} {config.dataset} {config.task} {hyper.batch_size}",
    "{{literal braces}} around {step:g} and {epoch:.2e}; {{{step}}}",
    "{early_stopping.best_epoch} {early_stopping.stopped_epoch:.0f} {quantized.test_acc:.1%} {quantized.train_acc}",
    "- a list item with {metrics.train_loss:.6f}\n- and **bold {step}**\n\nA paragraph: `{hyper.momentum:g}`.",
]

SPECS = ["", "g"] + [f".{n}{t}" for t in "fge%" for n in range(7)]
# Ties, where JS's own toFixed and toExponential round away from zero and Python to even; the places where
# Python's repr and JS's String switch to an exponent; the smallest and largest doubles.
SPECIAL_NUMBERS = [0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 1.0625, 1.25e-05, 0.0001, 0.00001, 1e-7, 123456.5,
                   9.5, 0.95, 0.995, 9.9999995, 1e15, 1e16, 1.5e16, 1e21, 1e22, 3.0, 100.0, 1234567.0, 0.1, 0.2, 0.3,
                   1 / 3, 2 / 3, math.pi, -math.e, 5e-324, 1.7976931348623157e308, 0.045, 0.0045, 1e-05, 12.5, 0.615,
                   math.inf, -math.inf]


def numbers() -> list[float]:
    rng = random.Random(15)
    drawn = [rng.uniform(-1, 1) * 10 ** rng.randint(-9, 18) for _ in range(150)]
    drawn += [rng.randint(-10**6, 10**6) / 2 ** rng.randint(0, 12) for _ in range(100)]   # dyadic: exact ties
    return SPECIAL_NUMBERS + drawn


@pytest.fixture
def page(app):
    app.open("playing=false")
    app.js(f"import('{MODULE}').then((m) => {{ window.__lc = m; }})")
    app.wait("window.__lc !== undefined")
    return app


def test_the_page_reads_every_condition_name_and_no_other(page):
    names = list(conditions.VARIABLES)
    known = page.js("(names) => names.filter((n) => __lc.reader(n) !== null)", names)
    assert known == names
    # A name the reference does not have is no name for the page either.
    assert page.js("['hyper', 'config', 'metrics.', 'frame.step', 'weights'].map((n) => __lc.reader(n))") == [None] * 5


def test_conditions_hold_on_the_same_frames_in_the_page_and_in_the_reference(page):
    trees = [conditions.to_json(conditions.parse(text)) for text in CONDITIONS]
    cases = list(FRAMES)
    expected = [[conditions.evaluate(conditions.parse(text), conditions.values_from(f, s)) for text in CONDITIONS]
                for f, s in cases]
    # The page's two ways: from the values (as values_from gives them) and compiled over the messages.
    got = page.js("""([cases, trees, names]) => cases.map(([f, s]) => {
        const values = __lc.valuesFrom(f, s, names);
        return trees.map((t) => [__lc.evaluate(t, values), __lc.compile(t)(f, s)]);
    })""", [cases, trees, list(conditions.VARIABLES)])
    for (f, _), want, have in zip(cases, expected, got, strict=True):
        for text, w, (by_values, compiled) in zip(CONDITIONS, want, have, strict=True):
            assert (by_values, compiled) == (w, w), f"{text!r} on frame step={f.get('step')}"
    # The cases mean something: each frame makes some conditions true and some false.
    assert all(any(row) and not all(row) for row in expected)


def test_values_from_gives_the_same_values_in_the_page(page):
    got = page.js("([cases, names]) => cases.map(([f, s]) => __lc.valuesFrom(f, s, names))",
                  [FRAMES, list(conditions.VARIABLES)])
    for (f, s), have in zip(FRAMES, got, strict=True):
        want = conditions.values_from(f, s)
        assert set(have) == set(want)
        for name, w in want.items():
            h = have[name]
            if isinstance(w, float) and math.isnan(w):
                assert isinstance(h, float) and math.isnan(h), name
            else:
                # A number stays a number (the page has one kind: 3 and 3.0 are the same to it), a bool a bool.
                assert h == w and isinstance(h, bool) == isinstance(w, bool), (name, h, w)


def test_then_texts_are_filled_with_the_same_characters(page):
    cases = [(text, conditions.values_from(f, s)) for text in THEN_TEXTS for f, s in FRAMES]
    got = page.js("(cases) => cases.map(([text, values]) => __lc.fillThen(text, values))", cases)
    for (text, values), have in zip(cases, got, strict=True):
        assert have == fill_then(text, values), text


def test_every_number_format_a_lesson_may_write_gives_pythons_characters(page):
    nums = numbers()
    text = " ".join("{metrics.train_loss" + (f":{spec}" if spec else "") + "}" for spec in SPECS)
    ints = " ".join("{step" + (f":{spec}" if spec else "") + "}" for spec in SPECS)
    want = [fill_then(text, {"metrics.train_loss": x}) for x in nums]
    int_values = [0, 1, 7, 412, 10**6, 123456789, -3]
    want_ints = [fill_then(ints, {"step": n}) for n in int_values]
    have, have_ints = page.js("""([text, nums, ints, intValues]) => [
        nums.map((x) => __lc.fillThen(text, {"metrics.train_loss": x})),
        intValues.map((n) => __lc.fillThen(ints, {step: n}))]""", [text, nums, ints, int_values])
    for x, w, h in zip(nums, want, have, strict=True):
        assert h.split(" ") == w.split(" "), f"{x!r}: {list(zip(SPECS, h.split(' '), w.split(' ')))}"
    assert have_ints == want_ints


def test_the_format_cases_catch_what_the_browser_writes_differently(page):
    """Meta: the numbers above include those where JS's own formatting differs from Python's, so the
    comparison fails for a page that used toFixed, toExponential or String."""
    native = page.js("[(0.125).toFixed(2), (2.5).toFixed(0), (1.25e-05).toExponential(1), String(3.0), String(1e-05), String(1e16)]")
    python = [format(0.125, ".2f"), format(2.5, ".0f"), format(1.25e-05, ".1e"), str(3.0), str(1e-05), str(1e16)]
    assert all(n != p for n, p in zip(native, python, strict=True)), list(zip(native, python, strict=True))
    assert {0.125, 2.5, 1.25e-05, 3.0, 1e-05, 1e16} <= set(numbers())
