"""The fast path: runs of training updates in one compiled call (numba).

On networks of a few neurons numpy spends nearly all its time in the ~1 us
overhead of each call, not in arithmetic. ``train_run`` therefore hands a
whole run of consecutive mini-batch updates to one compiled kernel
(``app.nn.fast_kernels``) and copies the parameters and optimizer state in
and out once per run. It computes what the numpy reference computes
(forward, loss, backward, penalty gradient, ``optimizers.update`` with the
trainable masks, dropout masks from the same generator draws) in the same
floating-point order, calling numpy's own BLAS and SIMD loops where numpy
does, so that both give the same bits: ``tests/unit/nn/test_fast.py`` and
``tests/unit/training/test_fast_session.py`` hold it to the reference with
``np.array_equal`` (parameters, optimizer state, gradients, deltas, losses,
over 1,000 updates of every activation, task, optimizer and regularization,
with dropout and freezing). The numpy path stays the readable reference and
the fallback.

``evaluate`` does the same for ``network.evaluate`` (a session's metrics at
every epoch end: a forward pass over a whole split, its loss and accuracy),
bit for bit too (``tests/unit/nn/test_fast_evaluate.py``).

``available()`` says whether the kernel could be imported, compiled and
checked against numpy; ``reason()`` says why not. The first compilation takes
seconds and is then cached on disk (numba ``cache=True``); ``warm_up()`` does
it ahead of use.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.nn import network
from app.nn.dropout import MAX_DROPOUT
from app.nn.freezing import Masks
from app.nn.network import Array, NetworkSpec, Params
from app.nn.optimizers import Hyperparams, OptState
from app.nn.regularization import REGULARIZATIONS

ACTIVATION_CODES = {"linear": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sigmoid": 4}
TASK_CODES = {"binary": 0, "playground": 1, "multiclass": 2, "regression": 3, "hinge": 4}
OPTIMIZER_CODES = {"sgd": 0, "momentum": 1, "nesterov": 2, "adam": 3, "rmsprop": 4}
REG_CODES = {"none": 0, "l1": 1, "l2": 2}
# Optimizer slots the kernel reads and writes, as (S1, S2, St).
_SLOTS: dict[str, tuple[str | None, str | None, str | None]] = {
    "sgd": (None, None, None),
    "momentum": ("velocity", None, None),
    "nesterov": ("velocity", None, None),
    "adam": ("m", "v", "t"),
    "rmsprop": ("s", None, None),
}


@dataclass
class _Backend:
    kernels: ModuleType
    fp: NDArray[np.int64]  # fast_kernels.FP_* addresses


_lock = threading.Lock()
_backend: _Backend | None = None
_status = "unknown"  # unknown -> compiling -> ready | failed
_reason: str | None = None


def _load() -> None:
    """Import, compile and check the kernel once (thread-safe); sets the status."""
    with _lock:
        if _status not in ("ready", "failed"):
            _load_locked()


def _load_locked() -> None:
    global _backend, _status, _reason
    _status = "compiling"
    try:
        from app.nn import fast_kernels, numpy_abi

        backend = _Backend(fast_kernels, numpy_abi.entry_points())
        _self_test(backend)
    except Exception as exc:  # ImportError, numba's errors, a missing symbol, a wrong result
        _status, _reason = "failed", f"{type(exc).__name__}: {exc}".strip()
        return
    _backend, _status = backend, "ready"


def available(wait: bool = True) -> bool:
    """True when the compiled kernel works. Compiles it on first use (seconds
    without the on-disk cache); with ``wait=False`` returns False instead of
    waiting while another thread compiles it."""
    if _status == "ready":
        return True
    if _status == "failed":
        return False
    if not wait and _status == "compiling":
        return False
    _load()
    return _status == "ready"


def reason() -> str | None:
    """Why the fast path is unavailable (None when available or not tried yet)."""
    return _reason


def warm_up() -> bool:
    """Import, compile and check the kernel now; returns ``available()``."""
    return available(wait=True)


def warm_up_in_background(done: Callable[[bool], None] | None = None) -> threading.Thread:
    """``warm_up()`` in a daemon thread, then ``done(available())``. Until it
    has finished, ``available(wait=False)`` is False, so callers that must not
    block (the server's event loop) keep to the numpy path meanwhile."""
    global _status
    with _lock:
        if _status == "unknown":
            _status = "compiling"

    def run() -> None:
        with _lock:
            if _status == "compiling":
                _load_locked()
        if done is not None:
            done(_status == "ready")

    thread = threading.Thread(target=run, name="paramlab-fast-warm-up", daemon=True)
    thread.start()
    return thread


def disable(why: str) -> None:
    """Mark the fast path unavailable, with the reason (tests, or a caller that
    cannot use it)."""
    global _backend, _status, _reason
    with _lock:
        _backend, _status, _reason = None, "failed", why


def reset() -> None:
    """Forget the outcome of loading so that the next ``available()`` retries."""
    global _backend, _status, _reason
    with _lock:
        _backend, _status, _reason = None, "unknown", None


@dataclass
class RunResult:
    """What ``train_run`` did: ``done`` updates (fewer than asked when a loss
    became non-finite), their batch ``losses [done]``, and the gradients
    (penalty included) and deltas of the last one, shaped like the params.
    ``dropped``: with dropout, the units dropped for the first sample of the
    last update's batch, one boolean vector per hidden layer (None without)."""

    done: int
    losses: NDArray[np.float64]
    grads: Params
    deltas: Params
    dropped: list[NDArray[np.bool_]] | None = None


@dataclass(frozen=True)
class _Layout:
    sizes: NDArray[np.int64]
    acts: NDArray[np.int64]
    shapes: tuple[tuple[int, ...], ...]  # W0, b0, W1, b1, ...
    bounds: tuple[tuple[int, int], ...]
    n_hidden_units: int
    n_params: int


_layouts_by_id: dict[int, tuple[NetworkSpec, _Layout]] = {}


def layout(spec: NetworkSpec) -> _Layout:
    """Where each of ``spec``'s arrays lies in one flat vector of its params (W0, b0,
    W1, b1, ... in order, each row-major): their shapes and ``[start, end)`` bounds.
    Looked up by identity first (hashing a spec costs more than the lookup: every
    run and evaluation asks)."""
    seen = _layouts_by_id.get(id(spec))
    if seen is not None and seen[0] is spec:
        return seen[1]
    if len(_layouts_by_id) >= 1024:
        _layouts_by_id.clear()
    lay = _layout_of(spec)
    _layouts_by_id[id(spec)] = (spec, lay)
    return lay


@lru_cache(maxsize=256)
def _layout_of(spec: NetworkSpec) -> _Layout:
    sizes = spec.layer_sizes
    shapes: list[tuple[int, ...]] = []
    bounds: list[tuple[int, int]] = []
    o = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        for shape in ((n_in, n_out), (n_out,)):
            size = n_in * n_out if len(shape) == 2 else n_out
            shapes.append(shape)
            bounds.append((o, o + size))
            o += size
    acts = [ACTIVATION_CODES[a] for a in spec.activations] or [0]
    return _Layout(np.array(sizes, dtype=np.int64), np.array(acts, dtype=np.int64),
                   tuple(shapes), tuple(bounds), sum(spec.hidden), o)


def _pack(arrays: list[dict[str, NDArray[Any]]], dtype: type) -> NDArray[Any]:
    flat = np.concatenate([a[k].ravel() for a in arrays for k in ("W", "b")])
    return flat.astype(dtype, copy=False)


def _unpack(flat: NDArray[Any], arrays: list[dict[str, NDArray[Any]]], lay: _Layout) -> None:
    """Copy ``flat`` back into ``arrays`` in place (their identity is kept)."""
    i = 0
    for a in arrays:
        for k in ("W", "b"):
            start, end = lay.bounds[i]
            a[k][...] = flat[start:end].reshape(lay.shapes[i])
            i += 1


def param_views(flat: Array, lay: _Layout) -> Params:
    """Arrays shaped like the params (``W [n_in x n_out]``, ``b [n_out]`` per layer) that
    are views of ``flat [lay.n_params]``, laid out as ``lay`` says: writing one writes
    ``flat``. Works for any dtype (params, optimizer slots, trainable masks)."""
    b = lay.bounds
    return [{"W": flat[b[2 * l][0]:b[2 * l][1]].reshape(lay.shapes[2 * l]),
             "b": flat[b[2 * l + 1][0]:b[2 * l + 1][1]]} for l in range(len(b) // 2)]


class Buffers:
    """Flat vectors that one model's arrays live in, so that runs copy nothing.

    ``train_run(..., buffers=b)`` works on the params, the optimizer's slots
    in use and the trainable masks in place, as views of flat vectors: the
    first run (and the first after an array was replaced: a new optimizer
    state, a restored model, an edit that assigned a new array) copies the
    values into a new flat vector and rebinds the model's dicts to views of
    it; later runs only check, by identity, that the arrays are still those
    views. The values are copied, never changed: the same bits. Arrays are
    rebound in place in the caller's dicts, so anyone holding an array from
    before the first run holds a copy from then on.

    The gradients and deltas a run returns are views of two vectors that the
    next run overwrites. The last ``X``, ``Y`` checked are remembered, so the
    same training set is not checked again, and so are the settings of the
    last run and the splits ``evaluate`` was given. One ``Buffers`` per model (per
    session); not thread-safe.
    """

    def __init__(self) -> None:
        # key ("params", a slot name, "mask") -> (the list of layers, each layer's (W, b) views, the flat vector)
        self._groups: dict[str, tuple[list[dict[str, NDArray[Any]]], tuple[tuple[NDArray[Any], NDArray[Any]], ...],
                                      NDArray[Any]]] = {}
        self._lay: _Layout | None = None
        self._out: tuple[Array, Array, Params, Params] | None = None  # G, D and their views
        self._data: tuple[Any, ...] | None = None  # X, Y as given, then as used, and the spec
        self._run: tuple[tuple[Any, ...], _Layout, tuple[int, int, Array, bool]] | None = None  # checked settings
        self._eval: dict[int, tuple[Any, ...]] = {}  # id(X) -> X, Y, spec, and X, Y as evaluate uses them

    def flat(self, key: str, layers: list[dict[str, NDArray[Any]]]) -> NDArray[Any] | None:
        """The flat vector ``layers`` are views of, or None when they are not (any more)."""
        group = self._groups.get(key)
        if group is None or group[0] is not layers or len(layers) != len(group[1]):
            return None
        for layer, (W, b) in zip(layers, group[1]):
            if layer["W"] is not W or layer["b"] is not b:
                return None
        return group[2]

    def bind(self, key: str, layers: list[dict[str, NDArray[Any]]], lay: _Layout, dtype: type
             ) -> NDArray[Any] | None:
        """The flat vector of ``layers``, made (and ``layers`` rebound to views of it) if need be;
        None when their shapes or dtype are not the network's (then nothing is rebound)."""
        flat = self.flat(key, layers)
        if flat is not None:
            return flat
        arrays = [layer[k] for layer in layers for k in ("W", "b")]
        if len(arrays) != len(lay.shapes) or any(
                a.shape != shape or a.dtype != dtype for a, shape in zip(arrays, lay.shapes)):
            return None  # not what the kernel takes as it is: copied in and out instead
        flat = np.empty(lay.n_params, dtype=dtype)
        for (start, end), a in zip(lay.bounds, arrays):
            flat[start:end] = a.ravel()
        views = param_views(flat, lay)
        for layer, view in zip(layers, views):
            layer["W"], layer["b"] = view["W"], view["b"]
        self._groups[key] = (layers, tuple((view["W"], view["b"]) for view in views), flat)
        return flat

    def out(self, lay: _Layout) -> tuple[Array, Array, Params, Params]:
        """``G``, ``D`` for a run, and their views shaped like the params."""
        if self._out is None or self._lay is not lay:
            G, D = np.zeros(lay.n_params), np.zeros(lay.n_params)
            self._out, self._lay = (G, D, param_views(G, lay), param_views(D, lay)), lay
        return self._out


def train_run(
    spec: NetworkSpec,
    params: Params,
    state: OptState,
    trainable: Masks,
    hp: Hyperparams,
    X: Array,
    Y: Array,
    batches: list[NDArray[np.int64]],
    reg_kind: str = "none",
    reg_rate: float = 0.0,
    dropout_rate: float = 0.0,
    rng: np.random.Generator | None = None,
    buffers: Buffers | None = None,
) -> RunResult:
    """One update per index array of ``batches``, on ``X [N x F]``, ``Y [N x K]``.

    The same as, for each batch ``idx``: ``Model.compute_grads(X[idx], Y[idx],
    reg_kind, reg_rate, dropout_rate, rng)`` then ``optimizers.update(params,
    grads, state, hp, trainable)``, stopping after an update whose loss is not
    finite. Mutates ``params`` and the optimizer's slots of ``state`` in place
    (same arrays) and draws the dropout masks from ``rng`` as the reference
    does (for the updates that ran, no more). Raises ``RuntimeError`` when the
    fast path is unavailable, ``ValueError`` on bad arguments.

    With ``buffers`` (one per model, see ``Buffers``) nothing is copied in or
    out: the arrays become views of flat vectors kept from run to run, and
    the result's ``grads`` and ``deltas`` are overwritten by the next run.
    """
    if not available():
        raise RuntimeError(f"fast path unavailable: {_reason}")
    assert _backend is not None
    return _train_run(_backend, spec, params, state, trainable, hp, X, Y, batches,
                      reg_kind, reg_rate, dropout_rate, rng, buffers)


def _settings(hp: Hyperparams, reg_kind: str, reg_rate: float, dropout_rate: float, lay: _Layout
              ) -> tuple[int, int, NDArray[np.float64], bool]:
    """Check a run's hyperparameters; returns the kernel's optimizer and
    regularization codes, its ``hyper`` vector and whether dropout is on."""
    hp.validate()
    if reg_kind not in REGULARIZATIONS or not math.isfinite(reg_rate) or reg_rate < 0:
        raise ValueError(f"bad regularization {reg_kind!r} at rate {reg_rate!r}")
    dropping = dropout_rate != 0 and lay.n_hidden_units > 0
    if dropping and not 0.0 <= dropout_rate <= MAX_DROPOUT:
        raise ValueError(f"dropout rate must be from 0 to {MAX_DROPOUT}, got {dropout_rate!r}")
    scale = 1.0 / (1.0 - dropout_rate) if dropping else 1.0
    hyper = np.array([hp.lr, hp.momentum, hp.beta1, hp.beta2, hp.eps, hp.rho, reg_rate,
                      dropout_rate if dropping else 0.0, scale], dtype=np.float64)
    return OPTIMIZER_CODES[hp.optimizer], REG_CODES[reg_kind], hyper, dropping


def _train_run(
    backend: _Backend,
    spec: NetworkSpec,
    params: Params,
    state: OptState,
    trainable: Masks,
    hp: Hyperparams,
    X: Array,
    Y: Array,
    batches: list[NDArray[np.int64]],
    reg_kind: str,
    reg_rate: float,
    dropout_rate: float,
    rng: np.random.Generator | None,
    buffers: Buffers | None = None,
) -> RunResult:
    lay = layout(spec)
    # The settings are checked once for as long as they stay the same (with buffers).
    key = (hp.optimizer, hp.lr, hp.momentum, hp.beta1, hp.beta2, hp.eps, hp.rho, reg_kind, reg_rate,
           dropout_rate)
    run = buffers._run if buffers is not None else None
    if run is None or run[1] is not lay or run[0] != key:
        run = (key, lay, _settings(hp, reg_kind, reg_rate, dropout_rate, lay))
        if buffers is not None:
            buffers._run = run
    opt_code, reg_code, hyper, dropping = run[2]
    data = buffers._data if buffers is not None else None
    if data is not None and data[0] is X and data[1] is Y and data[4] is spec:
        X, Y = data[2], data[3]  # checked by an earlier run
    else:
        X_in, Y_in = X, Y
        X = np.ascontiguousarray(X, dtype=np.float64)
        Y = np.ascontiguousarray(Y, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != spec.n_inputs or Y.shape != (X.shape[0], spec.n_outputs):
            raise ValueError(f"X must be [N x {spec.n_inputs}] and Y [N x {spec.n_outputs}], "
                             f"got {X.shape} and {Y.shape}")
        if buffers is not None:
            buffers._data = (X_in, Y_in, X, Y, spec)
    n_updates = len(batches)
    lengths = np.fromiter(map(len, batches), dtype=np.int64, count=n_updates)
    if n_updates == 0 or lengths.min() < 1:
        raise ValueError("every batch needs at least one index")
    starts = np.zeros(n_updates + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    idx = np.concatenate(batches).astype(np.int64, copy=False)
    if idx.min() < 0 or idx.max() >= X.shape[0]:
        raise ValueError(f"batch indices must be from 0 to {X.shape[0] - 1}")

    U = np.empty(0)
    rng_state: Mapping[str, Any] | None = None
    if dropping:
        if rng is None:
            raise ValueError("dropout needs an rng for its masks")
        rng_state = rng.bit_generator.state
        # make_masks draws rng.random((n, h)) per hidden layer per update: one
        # stream of doubles, so one draw of them all gives the same numbers.
        U = rng.random(int(starts[-1]) * lay.n_hidden_units)

    names = _SLOTS[hp.optimizer]
    # The flat vectors the kernel works on; those that are not the arrays'
    # own storage (no buffers, or arrays it cannot take as they are) are
    # copies, written back afterwards.
    groups = [("params", params, np.float64)] + [
        (name, state.slots[name], dt) for name, dt in zip(names, (np.float64, np.float64, np.int64)) if name]
    flats: list[NDArray[Any]] = []
    copies = []
    for name, layers, dtype in groups:
        flat = buffers.bind(name, layers, lay, dtype) if buffers is not None else None
        if flat is None:
            flat = _pack(layers, dtype)
            copies.append((flat, layers))
        flats.append(flat)
    P = flats[0]
    slot_flats = iter(flats[1:])
    S1 = next(slot_flats) if names[0] else np.empty(0)
    S2 = next(slot_flats) if names[1] else np.empty(0)
    St = next(slot_flats) if names[2] else np.empty(0, dtype=np.int64)
    mask = buffers.bind("mask", trainable, lay, np.bool_) if buffers is not None else None
    if mask is None:
        mask = _pack(trainable, np.bool_)
    any_frozen = not mask.all()
    losses = np.empty(n_updates)
    if buffers is not None:
        G, D, grads, deltas = buffers.out(lay)
    else:
        G, D = np.empty_like(P), np.empty_like(P)
        grads, deltas = param_views(G, lay), param_views(D, lay)
    done = int(backend.kernels.train_run(
        X, Y, idx, starts, lay.sizes, lay.acts, TASK_CODES[spec.task],
        opt_code, reg_code, hyper, backend.fp,
        P, S1, S2, St, mask, any_frozen, U, losses, G, D))

    for flat, layers in copies:
        _unpack(flat, layers, lay)
    if dropping and done < n_updates:
        assert rng is not None and rng_state is not None
        rng.bit_generator.state = rng_state  # take back the draws of the updates not run
        rng.random(int(starts[done]) * lay.n_hidden_units)
    dropped = first_row_drops(U, int(starts[done - 1]), int(lengths[done - 1]), spec.hidden, dropout_rate) \
        if dropping and done else None
    return RunResult(done, losses[:done], grads, deltas, dropped)


def first_row_drops(U: NDArray[np.float64], start: int, n: int, hidden: Sequence[int], rate: float
                    ) -> list[NDArray[np.bool_]]:
    """The units dropped for the first sample of the update whose batch starts at sample
    `start` of the run and holds `n` samples: its draws are laid out as `make_masks` draws
    them (per update, layer after layer, `[n x h]` row-major), a unit dropped when its draw
    is below `rate`."""
    offset = start * sum(hidden)
    out = []
    for h in hidden:
        out.append(U[offset:offset + h] < rate)
        offset += n * h
    return out


def evaluate(spec: NetworkSpec, params: Params, X: Array, Y: Array, buffers: Buffers | None = None
             ) -> tuple[float, float | None]:
    """``network.evaluate``: mean loss and accuracy (None for regression) on
    ``X [N x F]`` against ``Y [N x K]``, the same bits, in one compiled call.

    Falls back to ``network.evaluate`` itself when the kernel is not ready
    (without waiting for a compilation in progress) and for inputs it does
    not take: an empty ``X``, shapes that do not fit the spec (the reference
    raises or broadcasts as numpy does), or an ``X`` that is not C-contiguous
    (numpy's matrix product then calls BLAS with other arguments).

    With ``buffers`` (see ``Buffers``) the params are read from their flat
    vector when they have one, and an ``X``, ``Y`` pair is checked once.
    """
    if buffers is not None and available(wait=False):
        seen = buffers._eval.get(id(X))
        if seen is not None and seen[0] is X and seen[1] is Y and seen[2] is spec:
            if seen[3] is None:  # the kernel does not take them
                return network.evaluate(spec, params, X, Y)
            flat = buffers.flat("params", params)
            if flat is None:
                flat = _pack(params, np.float64)
            assert _backend is not None
            lay = layout(spec)
            loss, acc = _backend.kernels.evaluate(seen[3], seen[4], lay.sizes, lay.acts, TASK_CODES[spec.task],
                                                  _backend.fp, flat)
            return loss, None if spec.task == "regression" else acc
        Xa = np.asarray(X, dtype=np.float64)
        fits = _fits(spec, Xa, Y)
        if fits:  # what _evaluate makes of them, kept
            Xa = Xa if Xa.flags.writeable else Xa.copy()
            Ya = np.require(Y, np.float64, ("C", "W"))
        buffers._eval[id(X)] = (X, Y, spec, Xa if fits else None, Ya if fits else None)
        return evaluate(spec, params, X, Y, buffers)
    X = np.asarray(X, dtype=np.float64)
    if not (available(wait=False) and _fits(spec, X, Y)):
        return network.evaluate(spec, params, X, Y)
    assert _backend is not None
    return _evaluate(_backend, spec, params, X, Y)


def _fits(spec: NetworkSpec, X: Array, Y: Array) -> bool:
    """Whether ``evaluate``'s kernel takes ``X`` and ``Y`` as they are."""
    return (X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == spec.n_inputs and X.flags.c_contiguous
            and np.shape(Y) == (X.shape[0], spec.n_outputs))


def _evaluate(backend: _Backend, spec: NetworkSpec, params: Params, X: Array, Y: Array
              ) -> tuple[float, float | None]:
    lay = layout(spec)
    # numba compiles anew for read-only arrays: copy those (the values and the
    # strides BLAS sees stay the same).
    X = X if X.flags.writeable else X.copy()
    Y = np.require(Y, np.float64, ("C", "W"))
    loss, acc = backend.kernels.evaluate(X, Y, lay.sizes, lay.acts, TASK_CODES[spec.task], backend.fp,
                                         _pack(params, np.float64))
    return loss, None if spec.task == "regression" else acc


def _self_test(backend: _Backend) -> None:
    """Check the kernel and numpy's entry points against numpy itself: the
    loops and matrix products bit for bit, and a few updates of a network."""
    from app.nn.model import Model

    k = backend.kernels
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(scale=4.0, size=61), [0.0, -1e-300, 30.0, -30.0]])
    with np.errstate(all="ignore"):
        for which, ufunc in ((k.FP_TANH, np.tanh), (k.FP_EXP, np.exp), (k.FP_LOG, np.log)):
            if not np.array_equal(k.probe_unary(backend.fp, which, x), ufunc(x), equal_nan=True):
                raise RuntimeError(f"numpy's {ufunc.__name__} loop does not give numpy's results")
    # The kernel evaluates power on a few distinct counts where numpy takes
    # whole arrays: the value of an element must not depend on its neighbours.
    t = np.arange(1, 66, dtype=np.int64)
    whole = np.power(0.999, t)
    one_by_one = np.array([k.probe_power(backend.fp, 0.999, np.array([float(i)]))[0] for i in t])
    if not (np.array_equal(k.probe_power(backend.fp, 0.999, t.astype(np.float64)), whole)
            and np.array_equal(one_by_one, whole)):
        raise RuntimeError("numpy's power loop does not give numpy's results")
    for m, n, p in ((5, 3, 4), (1, 3, 4), (5, 3, 1), (1, 3, 1), (5, 1, 4)):
        a, b = rng.normal(size=(m, n)), rng.normal(size=(n, p))
        for a_, b_ in ((a, b), (np.ascontiguousarray(a.T).T, b), (a, np.ascontiguousarray(b.T).T)):
            got = k.probe_matmul(backend.fp, a_.ravel(order="K"), *a_.strides, b_.ravel(order="K"),
                                 *b_.strides, m, n, p)
            if not np.array_equal(got.reshape(m, p), a_ @ b_):
                raise RuntimeError(
                    f"the kernel's matrix product ({m}x{n} @ {n}x{p}) differs from numpy's")

    spec = NetworkSpec(2, (3,), ("tanh",), 1, "playground")
    X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 0.5], [-1.0, -2.0]])
    Y = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    hp = Hyperparams(optimizer="adam", lr=0.1)
    ref = Model.create(spec, np.random.default_rng(1))
    fast = Model.create(spec, np.random.default_rng(1))
    for _ in range(3):
        ref.train_step(X, Y, hp, "l2", 0.01)
    result = _train_run(backend, spec, fast.params, fast.opt_state, fast.trainable, hp, X, Y,
                        [np.arange(4)] * 3, "l2", 0.01, 0.0, None)
    same = all(np.array_equal(p[k_], q[k_]) for p, q in zip(fast.params, ref.params) for k_ in "Wb")
    if result.done != 3 or not same:
        raise RuntimeError("the compiled kernel's training step differs from numpy's")
    # The evaluation kernel: on the network just trained, and on a softmax one
    # (exp, log, argmax) with sigmoid units.
    multi = NetworkSpec(2, (3,), ("sigmoid",), 3, "multiclass")
    cases = [(spec, fast.params, Y),
             (multi, Model.create(multi, np.random.default_rng(2)).params, np.eye(3)[[0, 1, 2, 1]])]
    for spec_, params, Y_ in cases:
        if _evaluate(backend, spec_, params, X, Y_) != network.evaluate(spec_, params, X, Y_):
            raise RuntimeError(f"the compiled evaluation ({spec_.task}) differs from numpy's")
