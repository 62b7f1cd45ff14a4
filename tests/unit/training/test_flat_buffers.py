"""The session's flat buffers (app.nn.fast.Buffers) and cheap rollback points
(rollback.Checkpoint): the model's arrays become views of flat vectors that the
fast path trains in place; every control that edits or replaces arrays still
works, and the numbers stay those of the numpy reference path, bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from typing import Any

import numpy as np
import pytest

from app.nn import fast
from app.nn.batches import epoch_batches
from app.nn.model import Model
from app.nn.network import NetworkSpec
from app.nn.optimizers import Hyperparams
from app.training import persist
from app.training.config import HyperState, RunConfig
from app.training.session import TrainingSession


def _big(**hyper: Any) -> TrainingSession:
    """A network that diverges at lr 10 (as in test_training_divergence)."""
    return TrainingSession(RunConfig(dataset="plane", hidden=[8] * 6), HyperState(**hyper))


@pytest.fixture(autouse=True)
def fast_ready() -> None:
    if not fast.available():
        pytest.fail(f"fast path unavailable: {fast.reason()}")


def _same_model(a: Model, b: Model) -> None:
    """Params, every optimizer slot, masks and counters: the same bits."""
    assert (a.step, a.epoch, a.optimizer) == (b.step, b.epoch, b.optimizer)
    groups = [(a.params, b.params), (a.trainable, b.trainable)]
    groups += [(a.opt_state.slots[n], b.opt_state.slots[n]) for n in b.opt_state.slots]
    assert set(a.opt_state.slots) == set(b.opt_state.slots)
    for x, y in groups:
        for p, q in zip(x, y, strict=True):
            for k in ("W", "b"):
                assert p[k].dtype == q[k].dtype and p[k].shape == q[k].shape
                np.testing.assert_array_equal(p[k], q[k])


def _same_session(fst: TrainingSession, ref: TrainingSession) -> None:
    _same_model(fst.model, ref.model)
    for l in range(len(ref.params)):
        for k in ("W", "b"):
            np.testing.assert_array_equal(fst.last_update.grads[l][k], ref.last_update.grads[l][k])
            np.testing.assert_array_equal(fst.last_update.deltas[l][k], ref.last_update.deltas[l][k])
    assert fst.history.to_csv() == ref.history.to_csv()
    assert fst.metrics() == ref.metrics()
    assert fst.diverged == ref.diverged


def _is_flat(s: TrainingSession) -> bool:
    """Whether the session's params are views of its flat vector (the no-copy path is on)."""
    arrays = [p[k] for p in s.params for k in ("W", "b")]
    flat = arrays[0].base
    return (flat is not None and flat.ndim == 1 and flat.size == sum(a.size for a in arrays)
            and all(a.base is flat for a in arrays))


def test_train_run_with_buffers_gives_the_same_bits_and_copies_nothing() -> None:
    spec = NetworkSpec(2, (4, 2), ("tanh", "tanh"), 1, "playground")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    Y = np.where(X[:, :1] * X[:, 1:] > 0, 1.0, -1.0)
    a, b = Model.create(spec, np.random.default_rng(1)), Model.create(spec, np.random.default_rng(1))
    buffers = fast.Buffers()
    batch_a, batch_b = np.random.default_rng(2), np.random.default_rng(2)
    for round_, opt in enumerate(["momentum", "adam", "adam", "rmsprop", "sgd"]):
        hp = Hyperparams(optimizer=opt, lr=0.05)
        if round_ == 2:  # edits in place, and arrays replaced by new ones
            for m in (a, b):
                m.params[0]["W"][0, 0] = 0.5
                m.params[1]["b"] = m.params[1]["b"] + 0.25
                m.trainable[0]["b"][1] = False
                m.opt_state.slots["m"][0]["W"] = m.opt_state.slots["m"][0]["W"] * 0.5
        ra = fast.train_run(spec, a.params, a.opt_state, a.trainable, hp, X, Y, epoch_batches(60, 10, batch_a))
        W = b.params[0]["W"]
        rb = fast.train_run(spec, b.params, b.opt_state, b.trainable, hp, X, Y, epoch_batches(60, 10, batch_b),
                            buffers=buffers)
        np.testing.assert_array_equal(ra.losses, rb.losses)
        _same_model(a, b)
        for l in range(2):
            for k in ("W", "b"):
                np.testing.assert_array_equal(ra.grads[l][k], rb.grads[l][k])
                np.testing.assert_array_equal(ra.deltas[l][k], rb.deltas[l][k])
        # From the first run on, the arrays are views of the flat vectors and stay the same objects.
        flat = buffers.flat("params", b.params)
        assert flat is not None and np.shares_memory(b.params[0]["W"], flat)
        if round_ not in (0, 2):
            assert b.params[0]["W"] is W
    # Arrays the kernel cannot take as they are (another dtype) are copied in and out, never rebound.
    c = Model.create(spec, np.random.default_rng(1))
    c.trainable = [{k: v.astype(np.int8) for k, v in layer.items()} for layer in c.trainable]
    masks = [layer["W"] for layer in c.trainable]
    fast.train_run(spec, c.params, c.opt_state, c.trainable, Hyperparams(), X, Y, [np.arange(10)],
                   buffers=fast.Buffers())
    assert all(layer["W"] is m for layer, m in zip(c.trainable, masks))


def test_checkpoint_restores_the_same_bits_as_a_copy() -> None:
    s = TrainingSession()
    s.set_hyper({"optimizer": "adam"})
    s.freeze(0, "neuron", 0, 1, True)
    s.advance(60)
    copy = deepcopy(s.model)
    s.set_hyper({"lr": 0.02})  # a user's change: the rollback point is the model as it is
    assert s.rollback_point is not None
    point = s.rollback_point.model
    s.advance(60)  # the checkpoint does not move with the model
    restored = point.restore()
    _same_model(restored, copy)
    assert point.to_dict() == copy.to_dict()
    restored.params[0]["W"][0, 0] = 99.0  # each restore has arrays of its own
    _same_model(point.restore(), copy)


CONTROLS: list[tuple[str, Callable[[TrainingSession], Any]]] = [
    ("set_param", lambda s: s.set_param(0, "W", 1, 2, 0.75)),
    ("set_bias", lambda s: s.set_param(1, "b", 0, 1, -0.5)),
    ("freeze", lambda s: s.freeze(0, "neuron", 0, 1, True)),
    ("unfreeze", lambda s: s.freeze(0, "neuron", 0, 1, False)),
    ("optimizer", lambda s: s.set_hyper({"optimizer": "adam", "lr": 0.01})),
    ("import", lambda s: s.import_model(s.export_model())),
    ("reset", lambda s: s.reset(same_weights=True)),
    ("new_weights", lambda s: s.reset(same_weights=False)),
    ("configure", lambda s: s.configure({"hidden": [5, 3]})),
]


@pytest.mark.parametrize("name, control", CONTROLS, ids=[c[0] for c in CONTROLS])
def test_controls_that_edit_or_replace_arrays_keep_the_reference_bits(name: str, control: Any) -> None:
    fst, ref = TrainingSession(), TrainingSession()
    fst.fast, ref.fast = True, False
    for s in (fst, ref):
        s.set_hyper({"optimizer": "momentum"})
        s.advance(40)
    assert _is_flat(fst)
    for s in (fst, ref):
        control(s)
    _same_session(fst, ref)
    for s in (fst, ref):
        s.advance(60)
    _same_session(fst, ref)
    assert _is_flat(fst)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_rollback_to_a_checkpoint_then_on_is_the_reference() -> None:
    fst, ref = _big(optimizer="momentum", lr=0.001), _big(optimizer="momentum", lr=0.001)
    fst.fast, ref.fast = True, False
    for s in (fst, ref):
        s.advance(100)
        s.set_hyper({"lr": 10.0})
        s.advance(5000)
    assert fst.diverged is not None and fst.diverged == ref.diverged
    assert fst.rollback() == ref.rollback()
    _same_session(fst, ref)
    for s in (fst, ref):
        s.set_hyper({"lr": 0.01})
        s.advance(75)
    _same_session(fst, ref)
    assert _is_flat(fst)
    # A second divergence rolls back to the same point again (the checkpoint is not consumed).
    for s in (fst, ref):
        s.set_hyper({"lr": 10.0})
        s.advance(5000)
        assert s.diverged is not None
        s.rollback()
    _same_session(fst, ref)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fork_and_restore_of_a_flat_session_continue_the_same_run() -> None:
    s = _big(optimizer="rmsprop", lr=0.001)
    s.advance(90)
    fork = persist.fork_session(s)
    assert fork.model.params[0]["W"] is not s.model.params[0]["W"]
    for x in (s, fork):
        x.advance(110)
    _same_model(fork.model, s.model)
    assert fork.history.to_csv() == s.history.to_csv()
    # A diverged session is stored as its rollback point and comes back from it.
    s.set_hyper({"optimizer": "sgd", "lr": 10.0})
    s.advance(5000)
    assert s.diverged is not None
    back = persist.restore_session(persist.session_state(s))
    _same_model(back.model, s.rollback_point.model.restore())
    assert back.rollback() == s.rollback()
    _same_model(back.model, s.model)


def test_settings_and_data_are_checked_again_when_they_change() -> None:
    """Buffers remember the last settings and training set checked; a change is checked anew."""
    spec = NetworkSpec(2, (3,), ("tanh",), 1, "playground")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 2)), np.ones((20, 1))
    model = Model.create(spec, np.random.default_rng(1))
    buffers = fast.Buffers()

    def run(hp: Hyperparams, X_: np.ndarray = X, **kw: Any) -> Any:
        return fast.train_run(spec, model.params, model.opt_state, model.trainable, hp, X_, Y,
                              [np.arange(10)], buffers=buffers, **kw)

    run(Hyperparams(lr=0.1))
    with pytest.raises(ValueError, match="lr"):
        run(Hyperparams(lr=-1.0))
    with pytest.raises(ValueError, match="regularization"):
        run(Hyperparams(lr=0.1), reg_kind="l3")
    with pytest.raises(ValueError, match="dropout rate"):
        run(Hyperparams(lr=0.1), dropout_rate=0.95, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="X must be"):
        run(Hyperparams(lr=0.1), X_=rng.normal(size=(20, 3)))
    # The evaluation reads the flat params and gives numpy's numbers.
    from app.nn import network

    assert fast.evaluate(spec, model.params, X, Y, buffers) == network.evaluate(spec, model.params, X, Y)
    model.params[0]["W"][0, 0] += 1.0  # an edit in place is seen
    assert fast.evaluate(spec, model.params, X, Y, buffers) == network.evaluate(spec, model.params, X, Y)
    model.params[0]["W"] = model.params[0]["W"] * 2.0  # and so is a new array
    assert fast.evaluate(spec, model.params, X, Y, buffers) == network.evaluate(spec, model.params, X, Y)
