"""What a student does at each built-in lesson step, through the page's own controls (for test_lesson_walk).

DRIVERS[(lesson id, step index from 0)] is a function of the App (tests/e2e/conftest.py) that does the step's
action as a student would: click a button, move a slider through its input element, click a parameter in the
network view, type in a lab's field. Every step whose action the page notices must have one; a new built-in
lesson brings its drivers here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Driver = Callable[[Any], None]


def click(selector: str) -> Driver:
    return lambda app: app.page.click(selector)


def set_slider(app: Any, selector: str, value: float) -> None:
    """Move a range input as a drag does: its value, then input and change events."""
    app.page.eval_on_selector(selector, """(el, v) => { el.value = String(v);
        el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); }""",
                              value)


def slider(selector: str, value: float, then_play: bool = False) -> Driver:
    def drive(app: Any) -> None:
        set_slider(app, selector, value)
        if then_play:
            play(app)
    return drive


def choose(selector: str, value: str, then_play: bool = False) -> Driver:
    def drive(app: Any) -> None:
        app.page.select_option(selector, value)
        if then_play:
            play(app)
    return drive


def play(app: Any) -> None:
    """Press Play unless the page plays already (the button toggles: what it does is the page's own state's,
    which a frame of the run before a step's rebuild may not show yet), and wait for a frame that plays."""
    # (a rebuild leaves the page without a frame until the new run's first: "not yet", not an error)
    app.wait("paramlab.frame && paramlab.state.playing === paramlab.frame.playing")
    app.js("""(() => { const s = paramlab.socket; if (s.__spied) return; s.__spied = []; const orig = s.send.bind(s);
      s.send = (m) => { s.__spied.push(m.type); return orig(m); }; })()""")
    if not app.js("paramlab.state.playing"):
        app.page.click("#play")
    try:
        app.wait("paramlab.frame && paramlab.frame.playing === true")
    except TimeoutError:
        seen = app.js("({state: paramlab.state.playing, frame: paramlab.frame.playing, step: paramlab.frame.step,"
                      " button: document.querySelector('#play').textContent, lesson: paramlab.lesson.step,"
                      " banner: document.querySelector('#banner-err').textContent, sent: paramlab.socket.__spied.slice(-15)})")
        raise AssertionError(f"Play did not play: {seen}") from None


def press(selector: str, times: int) -> Driver:
    def drive(app: Any) -> None:
        for _ in range(times):
            before = app.js("paramlab.frame.step")
            app.page.click(selector)
            app.wait(f"paramlab.frame.step > {before}")
    return drive


def wait_until(app: Any, predicate: str, timeout: float = 60000) -> None:
    app.wait(f"paramlab.frame && ({predicate})", timeout=timeout)


def edit_parameter(app: Any, key: str, value: str | None = None, frozen: bool | None = None,
                   layer_frozen: bool | None = None) -> None:
    """Open the editor of a weight, bias or neuron of the network view (data-key) from the keyboard (Tab to it,
    Enter), as the lesson card may lie over it at this window size; tick or untick Frozen (or Freeze layer) with
    Space, type a value and press Enter (Set), or Escape."""
    app.page.focus(f'#network [data-key="{key}"]')
    app.page.keyboard.press("Enter")
    form = app.page.locator("form.editor")
    for name, want in (("frozen", frozen), ("layerFrozen", layer_frozen)):
        box = form.locator(f'input[name="{name}"]')
        if want is not None and box.is_checked() != want:
            box.focus()
            app.page.keyboard.press("Space")
    if value is not None:
        form.locator('input[name="value"]').fill(value)
        form.locator('input[name="value"]').press("Enter")
    else:
        form.locator("button.close").focus()
        app.page.keyboard.press("Enter")


def job_run(part: str) -> Driver:
    """Press Run in a part of the cross-validation and tuning lab (the part is found by its heading: the
    vocabulary's #lj-cv and #lj-search match no element of the page)."""
    return lambda app: app.page.click(f".lj-part:has(#h-{part}) .lj-run")


def biases_take_away(app: Any) -> None:
    edit_parameter(app, "b:0:0", value="0", frozen=True)
    play(app)


def search_small_grid(app: Any) -> None:
    # A small grid keeps the walk short; the step asks for the default one, which works the same way.
    app.page.fill("#lj-s-lr", "0.01, 0.1, 1")
    app.page.fill("#lj-s-mom", "0, 0.9")
    app.page.fill("#lj-s-epochs", "10")
    job_run("lj-search")(app)


def pick_best_cell(app: Any) -> None:
    app.wait("document.querySelectorAll('#lab-jobs .hm-cell').length >= 6", timeout=90000)
    app.page.locator("#lab-jobs .hm-cell").first.click()
    play(app)


def fine_tune(rotate: str, dx: str, wait_first: str | None = None) -> Driver:
    def drive(app: Any) -> None:
        if wait_first:
            wait_until(app, wait_first)
        app.page.fill("#tl-rotate", rotate)
        app.page.fill("#tl-dx", dx)
        app.page.fill("#tl-dy", "0")
        app.page.click("#tl-fine-tune")
    return drive


def freeze_then_fine_tune(app: Any) -> None:
    wait_until(app, "paramlab.frame.metrics.test_acc >= 0.9")
    edit_parameter(app, "n:1:0", layer_frozen=True)
    fine_tune("45", "0")(app)


def cross_validate(app: Any) -> None:
    app.page.fill("#lj-cv-k", "5")
    job_run("lj-cv")(app)


def quant_bits(bits: int) -> Driver:
    return lambda app: app.page.check(f'input[name="quant-bits"][value="{bits}"]')


def quant_aware(app: Any) -> None:
    app.page.check("#quant-aware")
    play(app)


def remove_columns(app: Any) -> None:
    app.page.locator("#columns input[type=checkbox]").nth(1).uncheck()   # has_gills, the second column
    play(app)


DRIVERS: dict[tuple[str, int], Driver] = {
    ("parameters-and-hyperparameters", 0): play,
    ("parameters-and-hyperparameters", 1): slider("#lr", -1),   # the slider is log10: 0.1
    ("parameters-and-hyperparameters", 2): click("#add-layer"),
    ("learning-rate", 0): play,
    ("learning-rate", 1): lambda app: None,   # the setup plays: the class watches
    ("learning-rate", 2): slider("#lr", 0.6),   # 10^0.6, about 4
    ("learning-rate", 3): play,
    ("mammal-or-fish", 0): play,
    ("mammal-or-fish", 1): click("#imp-measure"),
    ("mammal-or-fish", 2): remove_columns,
    ("activations", 0): play,
    ("activations", 1): choose("#activation", "relu"),
    ("activations", 2): play,
    ("biases", 0): play,
    ("biases", 1): biases_take_away,
    ("biases", 2): lambda app: edit_parameter(app, "b:0:0", frozen=False),
    ("forward-and-backprop", 0): click("#next-phase"),
    ("forward-and-backprop", 1): click("#next-phase"),
    ("forward-and-backprop", 2): click("#next-phase"),
    ("forward-and-backprop", 3): click("#next-phase"),
    ("momentum", 0): press("#step", 10),
    ("momentum", 1): play,
    ("momentum", 2): slider("#momentum", 0.9, then_play=True),
    ("momentum", 3): slider("#momentum", 0.99, then_play=True),
    ("batch-size-and-epochs", 0): play,
    ("batch-size-and-epochs", 1): slider("#batch_size", 50, then_play=True),
    ("batch-size-and-epochs", 2): click("#step"),
    ("initialisation", 0): play,
    ("initialisation", 1): choose("#init", "uniform", then_play=True),
    ("initialisation", 2): choose("#init", "glorot", then_play=True),
    ("overfitting", 0): play,
    ("overfitting", 1): play,
    ("overfitting", 2): slider("#dropout", 0.2, then_play=True),
    ("overfitting", 3): choose("#reg_rate", "0.01", then_play=True),
    ("overfitting", 4): lambda app: (app.page.check("#es-on"), play(app)),
    ("cross-validation-and-tuning", 0): play,
    ("cross-validation-and-tuning", 1): cross_validate,
    ("cross-validation-and-tuning", 2): search_small_grid,
    ("cross-validation-and-tuning", 3): pick_best_cell,
    ("transfer", 0): play,
    ("transfer", 1): fine_tune("0", "1.5"),
    ("transfer", 2): fine_tune("45", "0", wait_first="paramlab.frame.metrics.test_acc >= 0.9"),
    ("transfer", 3): slider("#rp-share", 0.3),
    ("transfer", 4): freeze_then_fine_tune,
    ("quantization", 0): play,
    ("quantization", 1): quant_bits(8),
    ("quantization", 2): quant_bits(2),
    ("quantization", 3): quant_aware,
    ("model-types", 0): play,
    ("model-types", 1): play,
}
