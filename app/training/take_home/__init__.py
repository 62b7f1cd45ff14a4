"""Take it home as code: a session as a self-contained Python script (NumPy or PyTorch).

The script rebuilds the network (layers, activations, task and loss, dropout,
L1/L2 with L1's stop at zero, frozen masks, the optimizer and its state,
replay's mixed batches, quantization-aware training), carries the current
weights, the training data as the network sees it, the mini-batches left in
this epoch and the positions of the batch and dropout generators, and trains
on exactly as the server would: the same batches, the
same dropout draws and, for the NumPy script, the same bits (its functions
perform the engine's operations in the engine's order; tests/unit/training/
test_take_home.py holds it to the session). The PyTorch script takes its
gradients from autograd, so it agrees to round-off (benchmarks/take_home_torch.py).

Two steps, so that a server reads the session between training turns and
renders off the event loop: `capture` copies what the script needs (small
arrays), `render` writes the script from that copy.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.nn.optimizers import SLOTS
from app.training.session import TrainingSession
from app.training.take_home import numpy_template, torch_template

LANGS = ("numpy", "torch")
TEMPLATES = {"numpy": numpy_template.TEMPLATE, "torch": torch_template.TEMPLATE}
# Arrays up to this many numbers are written as Python lists (readable); larger ones as base64
# of their little-endian bytes (compact). Both give back every bit.
LIST_LIMIT = 64
NAME_CHARS = 40  # of a column or class name in the script's header
HYPER_FIELDS = ("optimizer", "lr", "momentum", "beta1", "beta2", "eps", "rho", "batch_size", "regularization",
                "reg_rate", "dropout")

Params = list[dict[str, np.ndarray]]


class NotExportable(Exception):
    """The session is in a state the script cannot continue (the message says why and what to do)."""


@dataclass(frozen=True)
class Capture:
    """What a script is made of, copied out of a session at one moment."""

    step: int
    epoch: int
    dataset: str
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] | None
    hidden: tuple[int, ...]
    activations: tuple[str, ...]
    task: str
    hyper: dict[str, Any]
    params: Params
    slots: dict[str, Params]               # the optimizer's own slots (velocity; m, v, t; s)
    trainable: Params | None               # None: every parameter trainable
    X: np.ndarray                          # training inputs [N x F], as the network sees them (replay buffer after)
    Y: np.ndarray                          # training targets [N x K]
    n_new: int                             # the current task's training points (the first rows of X, Y)
    replay_share: float                    # replay: the share of each batch drawn from the buffer ...
    replay_pool: int                       # ... of this many rows after the first n_new
    batches_left: list[np.ndarray]         # the rest of this epoch, front first
    drawn_masks: list[np.ndarray] | None   # dropout masks the first batch already drew (a half-done update)
    quantize: dict[str, Any] | None        # quantization-aware training: {"bits", "granularity"}; None: off
    batch_rng: dict[str, Any]              # bit_generator.state of the batch order's generator
    dropout_rng: dict[str, Any]            # and of the dropout masks' generator


def refusal(s: TrainingSession) -> str | None:
    """Why `s` cannot be exported as a script now (a sentence saying what to do), or None."""
    if s.diverged is not None:
        return "the run diverged: roll it back (the rollback message or the page's Roll back) and export then"
    return None


def capture(s: TrainingSession) -> Capture:
    """Copy what the script needs out of `s` (cheap: the arrays are small); NotExportable when
    `s` cannot be continued by a script (see `refusal`)."""
    why = refusal(s)
    if why is not None:
        raise NotExportable(why)
    model = s.model
    pending = s.step_by_step.pending
    # An update half done in step-by-step mode: its batch comes first, and the dropout masks its
    # forward phase drew are used again (the server finishes it with those very masks).
    front = [pending.idx.copy()] if pending is not None else []
    drawn = None
    if pending is not None and pending.cache is not None and pending.cache.masks is not None:
        drawn = [m.copy() for m in pending.cache.masks]
    batches_left = front + [np.array(b, dtype=np.int64) for b in s.queue]
    # Replay: the buffer's rows follow the current task's training points; a batch index n_new + i is row i of
    # the buffer. The rows are written when batches can draw them, or when a batch of this epoch holds some.
    X, Y = s.tasks.train_arrays(s.data.X["train"], s.Y["train"])
    n_new, share, pool = s.queue.n_train, s.queue.replay_share, s.queue.replay_pool
    rows = max([n_new + (pool if share > 0 else 0)] + [int(b.max()) + 1 for b in batches_left if b.size])
    names = SLOTS[s.hyper.optimizer]
    trainable = model.trainable
    frozen = any(not m.all() for layer in trainable for m in layer.values())
    return Capture(
        step=s.step, epoch=s.epoch, dataset=s.config.dataset, feature_names=tuple(s.data.feature_names),
        class_names=s.data.class_names, hidden=tuple(s.spec.hidden), activations=tuple(s.spec.activations),
        task=s.spec.task, hyper={name: getattr(s.hyper, name) for name in HYPER_FIELDS},
        params=_copy(model.params),
        slots={name: _copy(model.opt_state.slots[name]) for name in names},
        trainable=_copy(trainable) if frozen else None,
        X=np.array(X[:rows], dtype=np.float64), Y=np.array(Y[:rows], dtype=np.float64),
        n_new=n_new, replay_share=float(share) if share > 0 else 0.0, replay_pool=int(pool) if share > 0 else 0,
        batches_left=batches_left,
        drawn_masks=drawn,
        quantize=({"bits": s.quantization.bits, "granularity": s.quantization.granularity}
                  if s.quantization.aware and s.quantization.bits > 0 else None),
        batch_rng=_rng_state(s.queue.rng), dropout_rng=_rng_state(s.dropout_rng))


def _copy(params: Params) -> Params:
    return [{k: v.copy() for k, v in layer.items()} for layer in params]


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state = dict(rng.bit_generator.state)
    return {**state, "state": dict(state["state"])}


def render(c: Capture, lang: str, session_id: str) -> str:
    """The script in `lang` ("numpy" or "torch") for the captured session `session_id`."""
    if lang not in TEMPLATES:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    values = {
        "SESSION": _plain(session_id, 64),
        "STEP": str(c.step),
        "EPOCH": str(c.epoch),
        "FILE": f"paramlab_{_plain(session_id, 64)}.py",
        "DATA_NOTE": _data_note(c),
        "EMBEDDED": _embedded(c),
    }
    text = TEMPLATES[lang]
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    return text


def _data_note(c: Capture) -> str:
    n = c.X.shape[0]
    classes = f", classes {', '.join(map(_plain, c.class_names))}" if c.class_names else ""
    return (f"dataset {_plain(c.dataset)}: {n} training points, inputs {', '.join(map(_plain, c.feature_names))}"
            f"{classes}; task {c.task}")


def _plain(name: str, limit: int = NAME_CHARS) -> str:
    """A name (an uploaded file's column or class: anyone's text) fit for the script's docstring: no
    quote, backslash or line break can end the docstring early and put code in the student's script."""
    return re.sub(r"[^\w .,:;()+\-/%]", "?", name)[:limit]


def _embedded(c: Capture) -> str:
    """The assignments of the captured values, as the script's "the session" section."""
    lines = [
        f"STEP = {c.step}  # updates the server had run",
        f"EPOCH = {c.epoch}  # epochs it had completed",
        f"HIDDEN = {list(c.hidden)!r}  # neurons per hidden layer",
        f"ACTIVATIONS = {list(c.activations)!r}  # one per hidden layer",
        f"TASK = {c.task!r}",
        f"FEATURES = {list(c.feature_names)!r}  # the network's inputs, in order",
        f"QUANTIZE = {c.quantize!r}  # quantization-aware training (None: off)",
        "HYPER = {",
        *(f"    {name!r}: {_scalar(value)}," for name, value in c.hyper.items()),
        "}",
        "",
        "# Training data as the network sees it (after the feature transforms or the standardization).",
        f"X_TRAIN = {_array(c.X)}",
        f"Y_TRAIN = {_array(c.Y)}  # targets [N x K] as the loss reads them",
        *_replay_lines(c),
        "",
        "# The current weights: one {'W': [n_in x n_out], 'b': [n_out]} per layer.",
        "params = [",
        *(f"    {{'W': {_array(layer['W'])},\n     'b': {_array(layer['b'])}}}," for layer in c.params),
        "]",
        "",
        f"# The optimizer's state ({c.hyper['optimizer']}), shaped like the weights.",
        "state = {",
        *_slot_lines(c.slots),
        "}",
        "",
    ]
    if c.trainable is None:
        lines.append("trainable = None  # nothing frozen")
    else:
        lines += ["# Frozen parameters are False here: they keep their value, their optimizer state stands still.",
                  "trainable = [",
                  *(f"    {{'W': {_array(m['W'])},\n     'b': {_array(m['b'])}}}," for m in c.trainable),
                  "]"]
    lines += [
        "",
        "# The mini-batches left in this epoch (row indices into X_TRAIN), front first.",
        "batches_left = [",
        *(f"    {_array(b)}," for b in c.batches_left),
        "]",
    ]
    if c.drawn_masks is not None:
        lines += ["# The first of them is an update the page left half done: the dropout masks it drew already.",
                  "drawn_masks = [", *(f"    {_array(m)}," for m in c.drawn_masks), "]"]
    else:
        lines.append("drawn_masks = None")
    lines += [
        "",
        "# Where the two random generators stand (numpy PCG64): the next epoch's order, the next dropout masks.",
        f"BATCH_RNG_STATE = {c.batch_rng!r}",
        f"DROPOUT_RNG_STATE = {c.dropout_rng!r}",
    ]
    return "\n".join(lines)


def _replay_lines(c: Capture) -> list[str]:
    if c.X.shape[0] == c.n_new and c.replay_share == 0:
        return [f"N_NEW = {c.n_new}  # training points (an epoch is one pass over them)",
                "REPLAY_SHARE, REPLAY_POOL = 0.0, 0  # no replay"]
    return [f"N_NEW = {c.n_new}  # the current task's training points: an epoch is one pass over them",
            "# Replay: rows N_NEW onwards are remembered points of the previous task; each batch mixes in",
            "# round(REPLAY_SHARE * batch size) of the first REPLAY_POOL of them.",
            f"REPLAY_SHARE, REPLAY_POOL = {c.replay_share!r}, {c.replay_pool}"]


def _slot_lines(slots: dict[str, Params]) -> list[str]:
    if not slots:
        return ["    # plain SGD keeps no state"]
    lines = []
    for name, layers in slots.items():
        lines.append(f"    {name!r}: [")
        lines += [f"        {{'W': {_array(m['W'])},\n         'b': {_array(m['b'])}}}," for m in layers]
        lines.append("    ],")
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot write {value!r} into a script")
    return repr(value)


_DTYPES = {np.dtype(np.float64): ("np.float64", "<f8"), np.dtype(np.int64): ("np.int64", "<i8"),
           np.dtype(np.bool_): ("np.bool_", "|b1")}


def _array(a: np.ndarray) -> str:
    """Python source that gives back `a` exactly: a list for a small array, else base64 of its bytes."""
    a = np.asarray(a)
    if a.dtype not in _DTYPES:
        a = a.astype(np.int64) if np.issubdtype(a.dtype, np.integer) else a.astype(np.float64)
    name, code = _DTYPES[a.dtype]
    if a.dtype == np.float64 and not np.isfinite(a).all():
        raise ValueError("cannot write non-finite numbers into a script")
    if a.size <= LIST_LIMIT and a.ndim > 0 and 0 not in a.shape:
        return f"np.array({a.tolist()!r}, dtype={name})"
    raw = np.ascontiguousarray(a, dtype=np.dtype(code)).tobytes()
    return f"unpack({base64.b64encode(raw).decode('ascii')!r}, {a.shape!r}, {code!r})"
