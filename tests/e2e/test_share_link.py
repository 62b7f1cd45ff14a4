"""A copied link carries the whole configuration: opened in a fresh page, it reproduces the run.

The hash is the page's only memory that travels; everything the server needs to
rebuild the same data and the same initial weights must be in it, including the
fields the page has no control for (the weights' own seed after "New weights",
the validation share, per-layer activations).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def weights(app) -> list[tuple[list, list]]:
    """Every layer's W and b of the frame drawn last, as the page received them."""
    return [(L["W"], L["b"]) for L in app.frame()["layers"]]


def test_a_link_copied_after_new_weights_opens_the_same_weights_to_the_bit(make_app):
    first = make_app().open("dataset=xor&hidden=3,2&seed=7&playing=false")
    before = weights(first)
    first.page.get_by_role("button", name="New weights", exact=True).click()
    # (Rows are typed arrays: compare a number, not JSON text, which differs for them.)
    first.wait(f"paramlab.frame && paramlab.frame.step === 0 && paramlab.frame.layers[0].W[0][0] !== {before[0][0][0][0]!r}")
    drawn = weights(first)
    assert drawn != before, "New weights drew other weights"
    link = first.js("location.href")

    second = make_app()   # a fresh context: no session of its own to resume
    second.page.goto(link)
    second.wait("window.paramlab && paramlab.stats.framesDrawn >= 1")
    assert second.session_id() != first.session_id(), "the link opened a session of its own"
    assert second.frame()["step"] == 0
    assert weights(second) == drawn, "the copied link reproduces the weights shown when it was copied"
    # Same data too, and the server's own word on the configuration.
    assert second.js("paramlab.dataset.train.x") == first.js("paramlab.dataset.train.x")
    assert second.js("paramlab.session.config") == first.js("paramlab.session.config")


def test_a_link_keeps_the_validation_share_and_per_layer_activations(make_app):
    h = "dataset=circle&hidden=3,2&activations=relu,sigmoid&val_ratio=20&playing=false"
    app = make_app().open(h)
    config = app.js("paramlab.session.config")
    assert config["activations"] == ["relu", "sigmoid"] and config["val_ratio"] == 20
    assert app.js("paramlab.session.architecture.activations") == ["relu", "sigmoid"]
    link = app.js("location.hash")
    assert "activations=relu,sigmoid" in link and "val_ratio=20" in link
    again = make_app().open(link[1:])
    assert again.js("paramlab.session.config") == config
    assert weights(again) == weights(app)
    # The layer buttons keep one activation per layer; the Activation menu sets every layer's.
    app.page.get_by_role("button", name="Add layer", exact=True).click()
    app.wait("paramlab.session.config.hidden.length === 3")
    assert app.js("paramlab.session.config.activations") == ["relu", "sigmoid", "sigmoid"]
    app.wait("location.hash.includes('activations=relu,sigmoid,sigmoid')")
    app.page.get_by_role("combobox", name="Activation", exact=True).select_option("leaky_relu")
    app.wait("paramlab.session.config.activation === 'leaky_relu'")
    assert app.js("paramlab.session.config.activations") is None
    assert app.js("paramlab.session.architecture.activations") == ["leaky_relu"] * 3
    assert "activations=" not in app.js("location.hash")


def test_a_link_pasted_into_an_open_tab_applies_the_whole_configuration(make_app):
    first = make_app().open("dataset=xor&hidden=3,2&seed=7&playing=false")
    before = first.frame()["layers"][0]["W"][0][0]
    first.page.get_by_role("button", name="New weights", exact=True).click()
    # New weights draws them from the next seed (8); the link says so once the session did.
    first.wait(f"paramlab.frame && paramlab.frame.layers[0].W[0][0] !== {before!r}"
               " && paramlab.session.config.init_seed === 8 && location.hash.includes('init_seed=8')")
    link = first.js("location.hash")

    other = make_app().open("dataset=circle&hidden=4&playing=false")
    sid = other.session_id()
    other.js("(h) => { location.hash = h; }", link)   # as if pasted into the address bar: a hashchange
    # The frame of the new network (3 and 2 hidden neurons), not one drawn before it was built.
    other.wait("paramlab.frame && paramlab.session.config.dataset === 'xor' && paramlab.frame.layers.length === 3"
               " && paramlab.frame.layers[0].W[0].length === 3")
    assert other.session_id() == sid, "the tab's own session was reconfigured"
    assert other.js("paramlab.session.config") == first.js("paramlab.session.config")
    assert weights(other) == weights(first)
