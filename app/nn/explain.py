"""The update rule of one parameter, with its actual numbers, for the UI.

``explain_update`` describes the step that ``optimizers.update`` *would* take
now with these gradients (call it before ``update``, e.g. between the
backward and update phases). The numbers come from running the very same
step function on a copy of that one entry, so the text never disagrees with
the engine.
"""

from __future__ import annotations

import numpy as np

from app.nn.network import Grads, Params
from app.nn.optimizers import SLOTS, STEP_FUNCTIONS, Hyperparams, OptState

UPDATE_FORMULAS: dict[str, str] = {
    "sgd": "w <- w - lr * g",
    "momentum": "v <- mu * v + g; w <- w - lr * v",
    "nesterov": "v <- mu * v + g; w <- w - lr * (g + mu * v)",
    "adam": (
        "t <- t + 1; m <- b1 * m + (1 - b1) * g; v <- b2 * v + (1 - b2) * g^2; "
        "w <- w - lr * m_hat / (sqrt(v_hat) + eps), "
        "m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)"
    ),
    "rmsprop": "s <- rho * s + (1 - rho) * g^2; w <- w - lr * g / (sqrt(s) + eps)",
}


def _f(x: float, digits: int, first: bool = False) -> str:
    text = f"{x:.{digits}g}"
    # Parenthesise negatives inside an expression: "0.9 * (-0.01)".
    return text if first or x >= 0 else f"({text})"


def _index(params: Params, layer: int, kind: str, index: int | tuple[int, int]) -> tuple[int, ...]:
    if not 0 <= layer < len(params):
        raise ValueError(f"layer must be from 0 to {len(params) - 1}, got {layer}")
    if kind not in ("W", "b"):
        raise ValueError(f"kind must be 'W' or 'b', got {kind!r}")
    shape = params[layer][kind].shape
    idx = (index,) if isinstance(index, (int, np.integer)) else tuple(index)
    if len(idx) != len(shape) or not all(0 <= i < n for i, n in zip(idx, shape)):
        raise ValueError(f"index {index!r} is outside {kind} of layer {layer}, shape {shape}")
    return idx


def explain_update(
    params: Params,
    grads: Grads,
    state: OptState,
    hp: Hyperparams,
    layer: int,
    kind: str,
    index: int | tuple[int, int],
    trainable: list[dict[str, np.ndarray]] | None = None,
    digits: int = 4,
) -> str:
    """Human-readable update of ``params[layer][kind][index]`` with numbers.

    ``index`` is ``(i, j)`` for ``W``, ``j`` for ``b``. E.g. for momentum:
    ``"v <- 0.9 * 0.0123 + 0.0456 = 0.0567; w <- 0.5 - 0.03 * 0.0567 = 0.4983"``.
    Nothing is mutated.
    """
    hp.validate()
    idx = _index(params, layer, kind, index)
    sym = "w" if kind == "W" else "b"
    w = float(params[layer][kind][idx])
    if trainable is not None and not trainable[layer][kind][idx]:
        return f"frozen: {sym} stays {_f(w, digits, True)} (no update, optimizer state kept)"
    g = float((grads.dW if kind == "W" else grads.db)[layer][idx])
    old = {n: state.slots[n][layer][kind][idx] for n in SLOTS[hp.optimizer]}
    new = {n: np.array([v]) for n, v in old.items()}
    delta = float(STEP_FUNCTIONS[hp.optimizer](np.array([g]), new, hp, True)[0])
    w_new = w + delta  # Python float addition is the same IEEE double add
    nv = {n: float(v[0]) for n, v in new.items()}

    def f(x: float, first: bool = False) -> str:
        return _f(float(x), digits, first)

    lr = f(hp.lr, True)
    if hp.optimizer == "sgd":
        return f"{sym} <- {f(w, True)} - {lr} * {f(g)} = {f(w_new, True)}"
    if hp.optimizer in ("momentum", "nesterov"):
        mu = f(hp.momentum, True)
        v_text = f"v <- {mu} * {f(old['velocity'])} + {f(g)} = {f(nv['velocity'], True)}"
        if hp.optimizer == "momentum":
            w_text = f"{sym} <- {f(w, True)} - {lr} * {f(nv['velocity'])}"
        else:
            w_text = f"{sym} <- {f(w, True)} - {lr} * ({f(g, True)} + {mu} * {f(nv['velocity'])})"
        return f"{v_text}; {w_text} = {f(w_new, True)}"
    if hp.optimizer == "rmsprop":
        rho, one_m = f(hp.rho, True), f(1.0 - hp.rho, True)
        return (
            f"s <- {rho} * {f(old['s'])} + {one_m} * {f(g)}^2 = {f(nv['s'], True)}; "
            f"{sym} <- {f(w, True)} - {lr} * {f(g)} / (sqrt({f(nv['s'], True)}) + "
            f"{f(hp.eps, True)}) = {f(w_new, True)}"
        )
    t = int(nv["t"])
    b1, b2 = hp.beta1, hp.beta2
    m_hat = nv["m"] / (1.0 - b1**t)
    v_hat = nv["v"] / (1.0 - b2**t)
    return (
        f"t = {t}; m <- {f(b1, True)} * {f(old['m'])} + {f(1.0 - b1, True)} * {f(g)} = "
        f"{f(nv['m'], True)}; v <- {f(b2, True)} * {f(old['v'])} + {f(1.0 - b2, True)} * "
        f"{f(g)}^2 = {f(nv['v'], True)}; m_hat = {f(nv['m'], True)} / (1 - {f(b1, True)}^{t})"
        f" = {f(m_hat, True)}; v_hat = {f(nv['v'], True)} / (1 - {f(b2, True)}^{t}) = "
        f"{f(v_hat, True)}; {sym} <- {f(w, True)} - {lr} * {f(m_hat)} / (sqrt({f(v_hat, True)})"
        f" + {f(hp.eps, True)}) = {f(w_new, True)}"
    )
