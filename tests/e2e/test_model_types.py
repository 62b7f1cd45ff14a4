"""Parameters differ by model type, in Chromium: a hinge run rings its support vectors in the
output view (the frame's `support`), and a linear regression shows the least-squares table
beside its learned weights (the frame's `least_squares`); the task menu offers hinge."""

from __future__ import annotations

from typing import Any

import numpy as np


def test_the_task_menu_offers_hinge(app: Any) -> None:
    app.open("playing=false", frames=1)
    options = app.js("[...document.querySelectorAll('#task option')].map(o => [o.value, o.textContent])")
    assert ["hinge", "Hinge (SVM)"] in options


def test_a_hinge_run_rings_its_support_vectors(app: Any) -> None:
    # A linear SVM: no hidden layer, hinge loss, L2; the classes overlap, so points stay inside the margin.
    app.open("dataset=gauss&noise=30&task=hinge&hidden=&regularization=l2&reg_rate=0.01&lr=0.03", frames=2)
    app.wait("paramlab.frame && paramlab.frame.step > 300", timeout=30000)
    app.pause()
    app.settle()
    frame = app.frame()
    support = frame["support"]
    assert isinstance(support, list) and 0 < len(support) < len(app.js("paramlab.dataset.train.x"))
    assert support == sorted(support)
    # The server's list is what is ringed: one ring per support vector, and they are the points
    # the browser's own forward pass puts on or inside the margin (t f <= 1, within float32 drawing).
    app.wait(f"paramlab.output.supportRings === {len(support)}")
    train = app.js("paramlab.dataset.train")
    out = np.array(app.js("paramlab.predict(paramlab.dataset.train.x)"))[:, 0]
    t = np.where(np.array(train["y"]) > 0, 1.0, -1.0)
    margin = t * out
    inside = set(np.flatnonzero(margin <= 1.0 - 1e-6).tolist())
    outside = set(np.flatnonzero(margin > 1.0 + 1e-6).tolist())
    assert inside <= set(support) and not outside & set(support)
    assert "support vectors" in app.js("document.querySelector('#output .out-caption').textContent")
    # the least-squares table is for linear regression only
    assert app.js("document.getElementById('least-squares').hidden") is True
    app.shot("model_types_hinge_support_vectors")
    assert not app.errors


def test_a_linear_regression_shows_the_least_squares_table(app: Any) -> None:
    app.open("dataset=plane&noise=10&hidden=&lr=0.1&batch_size=50", frames=2)
    app.wait("paramlab.frame && paramlab.frame.step > 600", timeout=30000)
    app.pause()
    app.settle()
    frame = app.frame()
    ls = frame["least_squares"]
    assert ls is not None and ls["ridge"] is None and ls["penalty"] == "none"
    assert frame["support"] is None
    app.wait("!document.getElementById('least-squares').hidden")
    rows = app.js("""[...document.querySelectorAll('#least-squares tbody tr')].map(tr =>
        [...tr.children].map(td => [td.textContent, td.title]))""")
    W, b = frame["layers"][0]["W"], frame["layers"][0]["b"]
    assert len(rows) == len(W) + 1  # a weight per input, then the bias
    expected_learned = [row[0] for row in W] + b
    expected_lsq = [row[0] for row in ls["ordinary"]["W"]] + ls["ordinary"]["b"]
    for row, learned, lsq in zip(rows, expected_learned, expected_lsq, strict=True):
        # each number hoverable: its exact value in the title
        assert float(row[1][1]) == learned and float(row[2][1]) == lsq
        assert len(row[1][0].lstrip("-")) <= 8 and len(row[2][0].lstrip("-")) <= 8  # shown short (4 digits)
    # trained this long, the weights are the regression coefficients to a few digits
    assert np.max(np.abs(np.array(expected_learned) - np.array(expected_lsq))) < 0.05
    assert "least-squares solution" in app.js("document.querySelector('#least-squares .lsq-note').textContent")
    app.js("document.getElementById('least-squares').scrollIntoView()")
    app.shot("model_types_least_squares_table", full_page=False)
    # L2: a ridge column appears
    app.js("paramlab.socket.send({type: 'set_hyper', regularization: 'l2', reg_rate: 0.3})")
    app.wait("paramlab.frame.least_squares && paramlab.frame.least_squares.ridge !== null")
    app.wait("document.querySelectorAll('#least-squares thead th').length === 4")
    assert not app.errors


def test_on_tabular_data_the_strip_rings_the_support_vectors(app: Any) -> None:
    app.open("dataset=mammals&task=hinge&hidden=&regularization=l2&reg_rate=0.3", frames=2)  # a wide margin: points in it
    app.wait("paramlab.frame && paramlab.frame.step > 200", timeout=30000)
    app.pause()
    app.settle()
    support = app.frame()["support"]
    assert isinstance(support, list) and len(support) > 0
    app.wait(f"paramlab.output.supportRings === {len(support)}")
    assert "support vectors" in app.js("document.querySelector('#output .out-caption').textContent")
    assert not app.errors
