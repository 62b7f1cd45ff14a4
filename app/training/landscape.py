"""The loss landscape: the training loss over a 2-D slice of parameter space around the
current weights, `theta(a, b) = origin + a * d1 + b * d2`, on an r x r grid.

The two directions are either
- "random": drawn from a normal distribution and normalized per neuron, the method of
  Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets" (their "filter
  normalization"; in a dense layer a neuron's filter is the column of W that feeds it):
  each neuron's incoming weights in the direction get the norm of that neuron's weights
  in the network, so a step of 1 moves every neuron by its own size whatever the scale of
  its layer, and slices of differently scaled networks compare. Biases are not moved
  (their directions are 0), as in the paper;
- "weights": unit vectors on two chosen parameters (a weight or a bias each), so the
  slice is the loss as a function of those two, the others held where they are.

A network with exactly two parameters (no hidden layer, one input: a weight and a bias)
is sliced along those two whatever the mode, and the slice is then the whole landscape:
`exact`. So is a "weights" slice when the two chosen are the only trainable ones.

Speed: a grid point is a whole network. The P points of a chunk go through the network
at once: the first layer's pre-activations are linear in (a, b) and its inputs are the
same for every point, so they are `X @ W + a * (X @ D1) + b * (X @ D2)` (three small
products for the chunk); each later layer multiplies every point's activations by that
point's own weights `W + a * D1 + b * D2` in one batched product (`np.matmul` over
`[P x N x n] @ [P x n x m]`). At a = b = 0 the terms added are exactly 0, so the centre
is the network's own loss to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.nn.activations import ACTIVATIONS
from app.nn.network import NetworkSpec, count_params
from app.nn.network import evaluate as network_evaluate
from app.nn.regularization import penalty as weight_penalty

Params = list[dict[str, np.ndarray]]
Param = tuple[int, str, int, int]  # (layer, "W" or "b", i, j); a bias has i 0
Mode = str  # "random" or "weights"

MODES = ("random", "weights")
SPAN_MAX = 10.0
RESOLUTION_MIN, RESOLUTION_MAX = 5, 61
DIRECTION_STREAM = 5  # the random directions' seed stream (the session's use 0 to 3)
# Floats a chunk of grid points may hold per layer's activations (400 KB): what stays in
# a core's cache. Larger chunks were slower (a 41 x 41 slice of 6 hidden layers of 8:
# 0.09 s at 50,000, 0.2 s at 400,000; with one large product per layer, seconds, as BLAS starts
# threads that wait for a busy machine's cores).
CHUNK_FLOATS = 50_000


@dataclass(frozen=True)
class Landscape:
    """A computed slice. `loss[k][m]` is the training loss at `origin + alphas[m] * d1 +
    betas[k] * d2` (row = beta, column = alpha; NaN where not finite); `loss_penalized` the
    same plus the regularization penalty (None when there is none)."""

    mode: Mode
    origin: np.ndarray             # [n_params], flat (see `flatten`)
    directions: tuple[np.ndarray, np.ndarray]
    alphas: np.ndarray             # [r]
    betas: np.ndarray              # [r]
    loss: np.ndarray               # [r x r]
    loss_penalized: np.ndarray | None
    center_loss: float             # the training loss at the origin, computed directly
    exact: bool
    weights: tuple[Param, Param] | None  # the parameters the directions are along (mode "weights", or exact)


def flatten(params: Params) -> np.ndarray:
    """All weights and biases as one vector: layer by layer, W row-major, then b."""
    return np.concatenate([np.concatenate([p["W"].ravel(), p["b"].ravel()]) for p in params])


def unflatten(like: Params, vector: np.ndarray) -> Params:
    """`vector` (as `flatten` lays it out) cut into arrays shaped like `like`."""
    out: Params = []
    at = 0
    for p in like:
        n_w, n_b = p["W"].size, p["b"].size
        out.append({"W": vector[at:at + n_w].reshape(p["W"].shape).copy(),
                    "b": vector[at + n_w:at + n_w + n_b].copy()})
        at += n_w + n_b
    if at != vector.size:
        raise ValueError(f"the vector has {vector.size} entries; the network has {at} parameters")
    return out


def flat_index(params: Params, param: Param) -> int:
    """The position of one parameter in `flatten(params)`; ValueError naming the bad index."""
    layer, kind, i, j = param
    if not 0 <= layer < len(params):
        raise ValueError(f"layer {layer}: the network has layers 0 to {len(params) - 1}")
    W = params[layer]["W"]
    n_in, n_out = W.shape
    if kind == "W" and not 0 <= i < n_in:
        raise ValueError(f"i {i}: layer {layer}'s weights come from units 0 to {n_in - 1}")
    if not 0 <= j < n_out:
        raise ValueError(f"j {j}: layer {layer} has units 0 to {n_out - 1}")
    if kind not in ("W", "b"):
        raise ValueError(f"kind {kind!r}: a parameter is a weight (W) or a bias (b)")
    offset = sum(p["W"].size + p["b"].size for p in params[:layer])
    return offset + (i * n_out + j if kind == "W" else n_in * n_out + j)


def param_at(params: Params, index: int) -> Param:
    """The parameter at position `index` of `flatten(params)` (the inverse of `flat_index`)."""
    at = index
    for layer, p in enumerate(params):
        n_in, n_out = p["W"].shape
        if at < n_in * n_out:
            return (layer, "W", at // n_out, at % n_out)
        at -= n_in * n_out
        if at < n_out:
            return (layer, "b", 0, at)
        at -= n_out
    raise ValueError(f"index {index}: the network has {index - at} parameters")


def random_directions(params: Params, rng: np.random.Generator) -> tuple[Params, Params]:
    """Two directions drawn from `rng` (d1 over every layer, then d2), normalized per neuron:
    column j of each layer's W direction gets the norm of column j of its W (a neuron whose
    weights are all 0 is not moved); bias directions are 0."""

    def one() -> Params:
        out: Params = []
        for p in params:
            D = rng.standard_normal(p["W"].shape)  # [n_in x n_out]: column j feeds neuron j
            norms = np.linalg.norm(D, axis=0)
            target = np.linalg.norm(p["W"], axis=0)
            D *= np.divide(target, norms, out=np.zeros_like(target), where=norms > 0)
            out.append({"W": D, "b": np.zeros_like(p["b"])})
        return out

    return one(), one()


def unit_direction(params: Params, param: Param) -> np.ndarray:
    """The flat unit vector on one parameter."""
    d = np.zeros(sum(p["W"].size + p["b"].size for p in params))
    d[flat_index(params, param)] = 1.0
    return d


def is_exact(spec: NetworkSpec, params: Params, mode: Mode, weights: Sequence[Param] | None,
             trainable: Params | None) -> bool:
    """Whether the slice is the whole landscape (of what training can move): a network of two
    parameters, or a "weights" slice over the only two trainable ones."""
    if count_params(spec) == 2:
        return True
    if mode != "weights" or weights is None or trainable is None:
        return False
    movable = np.flatnonzero(flatten(trainable).astype(bool))
    chosen = sorted(flat_index(params, w) for w in weights)
    return movable.tolist() == chosen


def compute(spec: NetworkSpec, params: Params, X: np.ndarray, Y: np.ndarray, *, mode: Mode = "random",
            weights: Sequence[Param] | None = None, span: float = 1.0, resolution: int = 41, seed: int = 0,
            regularization: str = "none", reg_rate: float = 0.0, trainable: Params | None = None,
            on_rows: Callable[[int], None] | None = None) -> Landscape:
    """The landscape of the training loss (`X [N x F]`, targets `Y [N x K]`) around `params`
    (not mutated). `mode` "weights" needs `weights`, two different parameters; `span` in
    (0, 10]: the grid runs from -span to span along each direction; `resolution` r, 5 to 61;
    `seed` draws the random directions; `trainable` (masks shaped like params) tells the
    `exact` of a "weights" slice. `on_rows(k)` is called as rows are done."""
    check(mode, span, resolution)
    origin = flatten(params)
    chosen: tuple[Param, Param] | None = None
    if count_params(spec) == 2:  # the two parameters themselves, whatever the mode: the slice is everything
        chosen = (param_at(params, 0), param_at(params, 1))
    elif mode == "weights":
        if weights is None or len(weights) != 2:
            raise ValueError("weights: mode weights needs two parameters, [[layer, i, j], [layer, i, j]]")
        chosen = (weights[0], weights[1])
        if flat_index(params, chosen[0]) == flat_index(params, chosen[1]):
            raise ValueError("weights: the two parameters must be different")
    if chosen is not None:
        d1, d2 = unit_direction(params, chosen[0]), unit_direction(params, chosen[1])
    else:
        D1, D2 = random_directions(params, np.random.default_rng([seed, DIRECTION_STREAM]))
        d1, d2 = flatten(D1), flatten(D2)
    alphas = np.linspace(-span, span, resolution)
    betas = np.linspace(-span, span, resolution)
    loss = grid_losses(spec, params, unflatten(params, d1), unflatten(params, d2), X, Y, alphas, betas, on_rows)
    penalized = None
    if regularization != "none" and reg_rate > 0:
        penalized = loss + penalty_grid(params, unflatten(params, d1), unflatten(params, d2), alphas, betas,
                                        regularization, reg_rate)
    with np.errstate(over="ignore", invalid="ignore"):
        center = network_evaluate(spec, params, X, Y)[0]
    return Landscape(mode=mode, origin=origin, directions=(d1, d2), alphas=alphas, betas=betas, loss=loss,
                     loss_penalized=penalized, center_loss=float(center),
                     exact=is_exact(spec, params, mode, chosen, trainable), weights=chosen)


def check(mode: str, span: float, resolution: int) -> None:
    """Raise ValueError naming a bad mode, span or resolution and what is allowed."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: allowed: {', '.join(MODES)}")
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not (0 < span <= SPAN_MAX):
        raise ValueError(f"span must be a number above 0 and at most {SPAN_MAX:g}, got {span!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or not (
            RESOLUTION_MIN <= resolution <= RESOLUTION_MAX):
        raise ValueError(f"resolution must be an integer from {RESOLUTION_MIN} to {RESOLUTION_MAX}, "
                         f"got {resolution!r}")


def grid_losses(spec: NetworkSpec, params: Params, D1: Params, D2: Params, X: np.ndarray, Y: np.ndarray,
                alphas: np.ndarray, betas: np.ndarray, on_rows: Callable[[int], None] | None = None) -> np.ndarray:
    """The loss at `params + a * D1 + b * D2` for a in `alphas` (columns), b in `betas` (rows):
    `[len(betas) x len(alphas)]`, NaN where it is not finite. The points go through the network
    a chunk at a time (see the module's docstring); `on_rows(k)` when the first k rows are done."""
    r_a, r_b = len(alphas), len(betas)
    b_all, a_all = (m.ravel() for m in np.meshgrid(betas, alphas, indexing="ij"))  # row after row
    per_chunk = max(1, CHUNK_FLOATS // max(1, len(X) * max(spec.layer_sizes[1:])))
    out = np.empty(r_a * r_b)
    rows_told = 0
    for start in range(0, out.size, per_chunk):
        stop = min(out.size, start + per_chunk)
        out[start:stop] = points_losses(spec, params, D1, D2, X, Y, a_all[start:stop], b_all[start:stop])
        if on_rows is not None and stop // r_a > rows_told:
            rows_told = stop // r_a
            on_rows(rows_told)
    out[~np.isfinite(out)] = np.nan
    return out.reshape(r_b, r_a)


def points_losses(spec: NetworkSpec, params: Params, D1: Params, D2: Params, X: np.ndarray, Y: np.ndarray,
                  a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mean loss on `X [N x F]` of each of the P networks `params + a[k] * D1 + b[k] * D2`: `[P]`."""
    a3, b3 = a[:, None, None], b[:, None, None]  # [P x 1 x 1]
    A = X[None]  # [1 x N x F]: the inputs, the same for every point
    n_hidden = len(spec.hidden)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a far point may overflow: NaN, told
        for l, (p, d1, d2) in enumerate(zip(params, D1, D2)):
            if l == 0:  # the inputs are the same for every point: three small products
                Z = a3 * (X @ d1["W"] + d1["b"])[None]  # [P x N x n_1]; summed in place below
                Z += ((X @ p["W"]) + p["b"])[None]
                Z += b3 * (X @ d2["W"] + d2["b"])[None]
            else:  # each point's own weights [P x n_l x n_out]: one batched product
                W = p["W"] + a3 * d1["W"] + b3 * d2["W"]
                Z = np.matmul(A, W)
                Z += (p["b"] + a[:, None] * d1["b"] + b[:, None] * d2["b"])[:, None, :]  # [P x 1 x n_out]
            if l < n_hidden:
                A = ACTIVATIONS[spec.activations[l]].value(Z)
        return mean_losses(spec.task, Z, Y)


def mean_losses(task: str, Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The mean loss over the N samples of each of P networks from the output layer's
    pre-activations `Z [P x N x K]` against `Y [N x K]`: `[P]`, as `app.nn.losses` defines
    each task's loss (the stable forms from z)."""
    if task == "binary":  # log(1 + e^z) - y z
        per_sample = np.sum(np.logaddexp(0.0, Z) - Y * Z, axis=2)
    elif task == "multiclass":  # -sum y log softmax(z)
        shifted = Z - Z.max(axis=2, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
        per_sample = -np.sum(Y * log_p, axis=2)
    elif task in ("playground", "regression"):  # 0.5 * sum (o - t)^2, o = tanh(z) or z
        diff = (np.tanh(Z) if task == "playground" else Z) - Y
        per_sample = 0.5 * np.sum(diff * diff, axis=2)
    elif task == "hinge":  # max(0, 1 - t f), t = +-1, f = z
        per_sample = np.sum(np.maximum(1.0 - Y * Z, 0.0), axis=2)
    else:
        raise ValueError(f"unknown task {task!r}")
    result: np.ndarray = per_sample.mean(axis=1)
    return result


def penalty_grid(params: Params, D1: Params, D2: Params, alphas: np.ndarray, betas: np.ndarray, kind: str,
                 rate: float) -> np.ndarray:
    """The regularization penalty (`app.nn.regularization.penalty`: weights only) at every
    grid point: `[len(betas) x len(alphas)]`."""
    out = np.empty((len(betas), len(alphas)))
    for k, b in enumerate(betas):
        for m, a in enumerate(alphas):
            point = [{"W": p["W"] + a * d1["W"] + b * d2["W"], "b": p["b"]} for p, d1, d2 in zip(params, D1, D2)]
            out[k, m] = weight_penalty(point, kind, rate)
    return out


def as_json(value: float) -> float | None:
    """A loss for the wire: None when it is not finite."""
    return value if math.isfinite(value) else None
