"""More parameters or fewer: the params panel gives the model's size in bytes and the multiply-adds of one
update next to its parameter count, and places it on a scale up to the largest language models."""

from __future__ import annotations

from typing import Any


def count_multiply_adds(sizes: list[int], batch: int) -> int:
    """The matrix products of one update, layer by layer, for `batch` examples."""
    total = 0
    for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        total += batch * n_in * n_out          # forward: a @ W
        total += batch * n_in * n_out          # backward: the weights' gradient, a.T @ delta
        if layer > 0:
            total += batch * n_in * n_out      # backward: the error sent to the layer before, delta @ W.T
    return total


def shown(app: Any) -> dict[str, Any]:
    return app.js("""() => ({bytes: document.querySelector('#model-bytes').title,
        macs: document.querySelector('#model-macs').title,
        macsText: document.querySelector('#model-macs').textContent,
        marks: [...document.querySelectorAll('.scale-mark')].map((m) => [m.classList.contains('this'), m.title,
                                                                       parseFloat(m.style.left)])})""")


def test_size_and_multiply_adds_follow_the_network_and_the_batch(app: Any) -> None:
    app.open("dataset=spiral&hidden=8,6&batch_size=10&playing=false", frames=1)
    arch = app.js("paramlab.session.architecture")
    sizes = [arch["n_inputs"], *arch["hidden"], arch["n_outputs"]]
    n = arch["total_params"]
    assert n == sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    s = shown(app)
    assert s["bytes"].startswith(f"{n} parameters × 8 bytes = {n * 8} bytes")
    assert s["macs"].startswith(f"{count_multiply_adds(sizes, 10)} = batch 10")
    assert s["macsText"].startswith(f"{count_multiply_adds(sizes, 10):,}")
    # The batch slider changes the cost of an update, not the size.
    app.page.locator("#batch_size").fill("25")
    app.page.locator("#batch_size").dispatch_event("change")
    app.wait("paramlab.frame && paramlab.frame.hyper.batch_size === 25")
    app.wait(f"document.querySelector('#model-macs').title.startsWith('{count_multiply_adds(sizes, 25)} = batch 25')")
    assert shown(app)["bytes"] == s["bytes"]


def test_the_scale_places_this_network_below_every_reference_model(app: Any) -> None:
    app.open("hidden=4,2&playing=false", frames=1)
    marks = shown(app)["marks"]
    this = [m for m in marks if m[0]]
    refs = [m for m in marks if not m[0]]
    assert len(this) == 1 and len(refs) >= 4
    assert all(this[0][2] < left for _, _, left in refs)
    lefts = [left for _, _, left in refs]
    assert lefts == sorted(lefts) and lefts[0] >= 0 and lefts[-1] <= 100
    assert any("175,000,000,000 parameters" in title for _, title, _ in refs)
    app.shot("model_scale", full_page=False)
