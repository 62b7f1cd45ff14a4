"""The NumPy script's text; `@@NAME@@` marks what `take_home.render` fills in.

Its functions perform the engine's operations (app/nn/network.py, losses.py,
activations.py, optimizers.py, regularization.py, dropout.py, batches.py) in
the engine's order, so that the script continues a run to the bit.
"""

TEMPLATE = r'''"""Paramlab session @@SESSION@@ at step @@STEP@@ (epoch @@EPOCH@@), as a NumPy script.

The network, its current weights, its training data, the optimizer's state and
the random generators' positions are all in this file: training on from here
gives the numbers the server would have given (same mini-batches, same dropout
masks, same bits).
Data: @@DATA_NOTE@@.

Run it:             python @@FILE@@ --updates 100 [--out params.json]
In a notebook:      %run @@FILE@@     then  train(100); params; predict(X_TRAIN[:5])
Needs Python 3.10+ and NumPy.
"""

import argparse
import base64
import json
import math

import numpy as np


def unpack(text, shape, dtype):
    """An array from base64 of its little-endian bytes (exact to the bit)."""
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(shape).copy()


# ---------------------------------------------------------------- the session, as exported

@@EMBEDDED@@

step, epoch = STEP, EPOCH
batch_rng = np.random.Generator(np.random.PCG64())
batch_rng.bit_generator.state = BATCH_RNG_STATE
dropout_rng = np.random.Generator(np.random.PCG64())
dropout_rng.bit_generator.state = DROPOUT_RNG_STATE


# ---------------------------------------------------------------- the network
# A batch X is [N x D]. Layer l computes Z = A @ W + b, then its activation
# (hidden layers, times the dropout mask while training) or the task's output.

def sigmoid(z):
    e = np.exp(-np.abs(z))  # exp of -|z| only: no overflow
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


# name: (activation, its derivative given z and a)
ACTIVATION = {
    "linear": (lambda z: z.copy(), lambda z, a: np.ones_like(z)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(np.float64)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z, a: np.where(z > 0, 1.0, 0.01)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "sigmoid": (sigmoid, lambda z, a: a * (1.0 - a)),
}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


# The output layer of each task
OUTPUT = {"binary": sigmoid, "playground": np.tanh, "multiclass": softmax, "regression": lambda z: z.copy(),
          "hinge": lambda z: z.copy()}


def batch_loss(out, Y, z):
    """The mean loss over the batch (z: the output layer's pre-activation, for a stable log)."""
    if TASK == "binary":  # cross-entropy of sigmoid(z): log(1 + e^z) - y z
        return float(np.mean(np.sum(np.logaddexp(0.0, z) - Y * z, axis=1)))
    if TASK == "multiclass":  # cross-entropy of softmax(z)
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-np.mean(np.sum(Y * log_p, axis=1)))
    if TASK == "hinge":  # the linear SVM's loss, targets -1 / +1
        return float(np.mean(np.sum(np.maximum(1.0 - Y * out, 0.0), axis=1)))
    diff = out - Y  # playground (tanh output) and regression: half the squared error
    return float(0.5 * np.mean(np.sum(diff * diff, axis=1)))


def loss_grad(out, Y):
    """dLoss/dZ of the output layer, already divided by the batch size N."""
    if TASK == "playground":
        return (out - Y) * (1.0 - out * out) / out.shape[0]
    if TASK == "hinge":  # -t strictly inside the margin; at the kink the subgradient 0
        return np.where(1.0 - Y * out > 0.0, -Y, 0.0) / out.shape[0]
    return (out - Y) / out.shape[0]  # sigmoid + cross-entropy, softmax + cross-entropy, linear + square


def forward(params, X, masks=None):
    """Outputs [N x K] and what backward needs: pre-activations Z, layer inputs A, activations H."""
    A = X
    Zs, As, Hs = [], [X], [X]
    for l, layer in enumerate(params):
        Z = A @ layer["W"]
        Z += layer["b"]
        if l < len(HIDDEN):
            H = ACTIVATION[ACTIVATIONS[l]][0](Z)
            A = H * masks[l] if masks is not None else H
        else:
            H = A = OUTPUT[TASK](Z)
        Zs.append(Z)
        Hs.append(H)
        As.append(A)
    return A, (Zs, As, Hs, masks)


def predict(X):
    """The network's outputs for inputs X [N x D] (no dropout)."""
    return forward(params, np.asarray(X, dtype=np.float64))[0]


def backward(params, cache, Y):
    """Gradients of the mean batch loss: one {'W': dW, 'b': db} per layer."""
    Zs, As, Hs, masks = cache
    grads = [None] * len(params)
    dZ = loss_grad(As[-1], Y)
    for l in range(len(params) - 1, -1, -1):
        grads[l] = {"W": As[l].T @ dZ, "b": dZ.sum(axis=0)}
        if l > 0:
            dA = dZ @ params[l]["W"].T
            if masks is not None:
                dA *= masks[l - 1]
            dA *= ACTIVATION[ACTIVATIONS[l - 1]][1](Zs[l - 1], Hs[l])
            dZ = dA
    return grads


def add_penalty_grad(params, grads):
    """L2: + rate * W; L1: + rate * sign(W). Weights only, never biases."""
    kind, rate = HYPER["regularization"], HYPER["reg_rate"]
    if kind == "none" or rate == 0:
        return
    for layer, g in zip(params, grads):
        g["W"] += rate * layer["W"] if kind == "l2" else rate * np.sign(layer["W"])


def quantized(params):
    """Quantization-aware training (straight-through estimator): the forward and backward passes run
    on each W snapped to a grid of 2^(bits-1) - 1 levels a side (one bit: +-scale), one scale per
    tensor or per neuron; their gradient updates the full-precision weights. Biases stay as they are."""
    bits, axis = QUANTIZE["bits"], 0 if QUANTIZE["granularity"] == "neuron" else None
    out = []
    for layer in params:
        W = layer["W"]
        absw = np.abs(W)
        if bits == 1:
            scale = np.atleast_1d(absw.mean(axis=axis))
            codes = np.where(W >= 0, 1, -1).astype(np.int8)
        else:
            levels = 2 ** (bits - 1) - 1
            scale = np.atleast_1d(absw.max(axis=axis) / levels)
            safe = np.where(scale > 0, scale, 1.0)  # an all-zero group: codes 0
            codes = np.clip(np.rint(W / safe), -levels, levels).astype(np.int8)
        out.append({"W": codes * scale, "b": layer["b"].copy()})
    return out


def dropout_masks(n):
    """Inverted dropout: a unit is kept (scaled by 1/(1-rate)) when its uniform draw is >= rate."""
    rate = HYPER["dropout"]
    if rate <= 0 or not HIDDEN:
        return None
    scale = 1.0 / (1.0 - rate)
    return [np.where(dropout_rng.random((n, h)) >= rate, scale, 0.0) for h in HIDDEN]


# ---------------------------------------------------------------- the optimizer
# Each rule advances its state where `mask` is True (trainable) and returns the step to add to w.
# The forms are PyTorch's (torch.optim.SGD, SGD(nesterov=True), Adam, RMSprop).

def step_of(g, s, mask):
    h = HYPER
    name = h["optimizer"]
    if name == "sgd":  # w <- w - lr g
        return -h["lr"] * g
    if name in ("momentum", "nesterov"):  # v <- mu v + g
        v = s["velocity"]
        np.multiply(v, h["momentum"], out=v, where=mask)
        np.add(v, g, out=v, where=mask)
        if name == "momentum":  # w <- w - lr v
            return -h["lr"] * v
        return -h["lr"] * (g + h["momentum"] * v)  # w <- w - lr (g + mu v)
    if name == "adam":  # bias-corrected moments; t counts each entry's own steps
        m, v, t = s["m"], s["v"], s["t"]
        np.add(t, 1, out=t, where=mask)
        np.multiply(m, h["beta1"], out=m, where=mask)
        np.add(m, (1.0 - h["beta1"]) * g, out=m, where=mask)
        np.multiply(v, h["beta2"], out=v, where=mask)
        np.add(v, (1.0 - h["beta2"]) * g * g, out=v, where=mask)
        tt = t if mask is True else np.maximum(t, 1)
        step_size = h["lr"] / (1.0 - np.power(h["beta1"], tt))
        denom = np.sqrt(v) / np.sqrt(1.0 - np.power(h["beta2"], tt)) + h["eps"]
        return -step_size * (m / denom)
    sq = s["s"]  # rmsprop: s <- rho s + (1 - rho) g^2;  w <- w - lr g / (sqrt(s) + eps)
    np.multiply(sq, h["rho"], out=sq, where=mask)
    np.add(sq, (1.0 - h["rho"]) * g * g, out=sq, where=mask)
    return -h["lr"] * (g / (np.sqrt(sq) + h["eps"]))


def update(params, grads):
    """One optimizer step, in place. With L1, a weight the step carries across zero stops at
    exactly 0 and its momentum is cleared (so L1's zeros stay zeros)."""
    stop_at_zero = HYPER["regularization"] == "l1" and HYPER["reg_rate"] > 0
    for l, layer in enumerate(params):
        for kind in ("W", "b"):
            mask = True
            if trainable is not None and not trainable[l][kind].all():
                mask = trainable[l][kind]
            slots = {name: values[l][kind] for name, values in state.items()}
            delta = step_of(grads[l][kind], slots, mask)
            w = layer[kind]
            old = w.copy()
            np.add(w, delta, out=w, where=mask)
            if stop_at_zero and kind == "W":
                crossed = ((old > 0) & (w < 0)) | ((old < 0) & (w > 0))
                w[crossed] = 0.0
                for name in ("velocity", "m"):
                    if name in slots:
                        slots[name][crossed] = 0.0


# ---------------------------------------------------------------- training

def replayed_per_batch(batch_size):
    """How many remembered points a batch holds: round(share * size), at most size - 1 and the pool."""
    if REPLAY_POOL == 0:
        return 0
    return max(0, min(round(REPLAY_SHARE * batch_size), batch_size - 1, REPLAY_POOL))


def next_batch():
    """The next mini-batch; a new epoch is a fresh permutation of the training points."""
    if not batches_left:
        n = N_NEW
        old = replayed_per_batch(HYPER["batch_size"])
        size = min(HYPER["batch_size"] - old, n)
        if size >= n:
            new = [np.arange(n, dtype=np.int64)]  # full batch: nothing drawn
        else:
            perm = batch_rng.permutation(n).astype(np.int64)
            new = [perm[i:i + size] for i in range(0, n, size)]
        if old:  # replay: each batch gets `old` distinct rows of the buffer, drawn batch after batch
            new = [np.concatenate([idx, n + batch_rng.choice(REPLAY_POOL, old, replace=False)]) for idx in new]
        batches_left.extend(new)
    return batches_left.pop(0)


def train(n):
    """Run n updates; returns their batch losses (before each update, without the penalty)."""
    global step, epoch, drawn_masks
    losses = []
    for _ in range(n):
        idx = next_batch()
        masks = drawn_masks if drawn_masks is not None else dropout_masks(len(idx))
        drawn_masks = None
        at = quantized(params) if QUANTIZE is not None else params  # the weights the passes run on
        out, cache = forward(at, X_TRAIN[idx], masks)
        loss = batch_loss(out, Y_TRAIN[idx], cache[0][-1])
        grads = backward(at, cache, Y_TRAIN[idx])
        add_penalty_grad(params, grads)  # the penalty is on the full-precision weights
        update(params, grads)
        step += 1
        if not batches_left:
            epoch += 1
        losses.append(loss)
        if not math.isfinite(loss):
            print(f"step {step}: the loss is {loss}: the run diverged")
            break
    return losses


def as_lists(layers):
    return [{k: v.tolist() for k, v in layer.items()} for layer in layers]


def main():
    parser = argparse.ArgumentParser(description="Train this Paramlab network on from where it was exported.")
    parser.add_argument("--updates", type=int, default=10, help="how many updates to run (default 10)")
    parser.add_argument("--out", help="write the params, optimizer state and losses to this JSON file")
    args = parser.parse_args()
    if args.updates < 0:
        parser.error("--updates must be 0 or more")
    losses = train(args.updates)
    every = max(1, len(losses) // 10)
    for i, loss in enumerate(losses):
        if len(losses) <= 20 or (i + 1) % every == 0:
            print(f"step {STEP + i + 1}: batch loss {loss:.6f}")
    print(f"{len(losses)} updates run: now at step {step}, epoch {epoch}")
    if args.out:
        doc = {"step": step, "epoch": epoch, "losses": losses, "params": as_lists(params),
               "state": {name: as_lists(values) for name, values in state.items()}}
        with open(args.out, "w") as f:
            json.dump(doc, f)


if __name__ == "__main__":
    main()
'''
