"""The PyTorch script's text; `@@NAME@@` marks what `take_home.render` fills in.

The forward pass and the losses are written with torch primitives and the
gradients come from autograd; the optimizer rules are written out with torch
ops (per-entry frozen masks, per-entry Adam step counts and L1's stop at zero
are the engine's, which torch.optim does not do), in the forms torch.optim
uses. The batch order and the dropout masks come from the same numpy
generators as the server's, so the run is the server's to round-off.
"""

TEMPLATE = r'''"""Paramlab session @@SESSION@@ at step @@STEP@@ (epoch @@EPOCH@@), as a PyTorch script.

The network, its current weights, its training data, the optimizer's state and
the random generators' positions are all in this file: training on from here
follows the server's run (same mini-batches, same dropout masks; the numbers
agree to round-off, since autograd sums in its own order). Tensors are float64.
Data: @@DATA_NOTE@@.

Run it:             python @@FILE@@ --updates 100 [--out params.json]
In a notebook:      %run @@FILE@@     then  train(100); params; predict(X_TRAIN[:5])
Needs Python 3.10+, PyTorch and NumPy (NumPy draws the batch order and the dropout
masks, with the server's generators).
"""

import argparse
import base64
import json
import math

import numpy as np
import torch
import torch.nn.functional as F


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


def tensors(layers, dtype=torch.float64):
    return [{k: torch.as_tensor(np.asarray(v)).to(dtype) for k, v in layer.items()} for layer in layers]


# Everything as torch tensors: the weights are leaves autograd differentiates.
X_TRAIN = torch.from_numpy(X_TRAIN)
Y_TRAIN = torch.from_numpy(Y_TRAIN)
params = tensors(params)
for layer in params:
    for w in layer.values():
        w.requires_grad_(True)
# Adam's step counts t (one per entry) are kept as float64 too: exact counts, and beta ** t in float64.
state = {name: tensors(values) for name, values in state.items()}
trainable = tensors(trainable, torch.bool) if trainable is not None else None
drawn_masks = [torch.from_numpy(m) for m in drawn_masks] if drawn_masks is not None else None


# ---------------------------------------------------------------- the network
# A batch X is [N x D]. Layer l computes z = a @ W + b, then its activation
# (hidden layers, times the dropout mask while training).

ACTIVATION = {
    "linear": lambda z: z,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}
# The output layer of each task
OUTPUT = {"binary": torch.sigmoid, "playground": torch.tanh, "multiclass": lambda z: torch.softmax(z, dim=1),
          "regression": lambda z: z}


def forward(params, X, masks=None):
    """The output layer's pre-activation z [N x K]."""
    a = X
    for l, layer in enumerate(params):
        z = a @ layer["W"] + layer["b"]
        if l < len(HIDDEN):
            a = ACTIVATION[ACTIVATIONS[l]](z)
            if masks is not None:
                a = a * masks[l]
    return z


def predict(X):
    """The network's outputs for inputs X [N x D] (no dropout)."""
    with torch.no_grad():
        return OUTPUT[TASK](forward(params, torch.as_tensor(X, dtype=torch.float64)))


def data_loss(z, Y):
    """The mean loss over the batch, from the output layer's pre-activation z."""
    if TASK == "binary":
        return F.binary_cross_entropy_with_logits(z, Y)
    if TASK == "multiclass":
        return -(Y * torch.log_softmax(z, dim=1)).sum(dim=1).mean()
    if TASK == "hinge":  # the linear SVM's loss; relu's gradient at the kink is 0, as the engine's
        return torch.relu(1.0 - Y * z).sum(dim=1).mean()
    out = torch.tanh(z) if TASK == "playground" else z
    return 0.5 * ((out - Y) ** 2).sum(dim=1).mean()  # half the squared error


def penalty(params):
    """L2: rate/2 * sum W^2; L1: rate * sum |W| (its gradient sign(W), 0 at 0). Weights only."""
    kind, rate = HYPER["regularization"], HYPER["reg_rate"]
    if kind == "none" or rate == 0:
        return 0.0
    if kind == "l2":
        return rate / 2 * sum((layer["W"] * layer["W"]).sum() for layer in params)
    return rate * sum(layer["W"].abs().sum() for layer in params)


@torch.no_grad()
def quantized(W):
    """W snapped to a grid of 2^(bits-1) - 1 levels a side (one bit: +-scale), one scale per tensor or
    per neuron (column)."""
    bits, per_neuron = QUANTIZE["bits"], QUANTIZE["granularity"] == "neuron"
    absw = W.abs()
    if bits == 1:
        scale = absw.mean(dim=0) if per_neuron else absw.mean()
        return torch.where(W >= 0, torch.ones_like(W), -torch.ones_like(W)) * scale
    levels = 2 ** (bits - 1) - 1
    scale = (absw.amax(dim=0) if per_neuron else absw.max()) / levels
    safe = torch.where(scale > 0, scale, 1.0)  # an all-zero group: codes 0
    return torch.clamp(torch.round(W / safe), -levels, levels) * scale  # round: half to even


def straight_through(params):
    """Quantization-aware training: the passes run on the quantized weights, and their gradient goes
    straight through to the full-precision ones (the rounding counted as the identity). Biases stay."""
    return [{"W": layer["W"] + (quantized(layer["W"]) - layer["W"]).detach(), "b": layer["b"]} for layer in params]


def dropout_masks(n):
    """Inverted dropout: a unit is kept (scaled by 1/(1-rate)) when its uniform draw is >= rate."""
    rate = HYPER["dropout"]
    if rate <= 0 or not HIDDEN:
        return None
    scale = 1.0 / (1.0 - rate)
    return [torch.from_numpy(np.where(dropout_rng.random((n, h)) >= rate, scale, 0.0)) for h in HIDDEN]


# ---------------------------------------------------------------- the optimizer
# torch.optim's rules (SGD, SGD(nesterov=True), Adam, RMSprop) written out, so that frozen
# entries keep their value and their state, each entry counts its own Adam steps, and L1
# stops a weight at zero: `keep(mask, new, old)` takes `new` only where trainable.

def keep(mask, new, old):
    return new if mask is None else torch.where(mask, new, old)


def step_of(g, s, mask):
    """Advance the optimizer's state `s` of one tensor; returns the step to add to it."""
    h = HYPER
    name = h["optimizer"]
    if name == "sgd":  # w <- w - lr g
        return -h["lr"] * g
    if name in ("momentum", "nesterov"):  # v <- mu v + g
        v = s["velocity"] = keep(mask, s["velocity"] * h["momentum"] + g, s["velocity"])
        if name == "momentum":  # w <- w - lr v
            return -h["lr"] * v
        return -h["lr"] * (g + h["momentum"] * v)  # w <- w - lr (g + mu v)
    if name == "adam":  # bias-corrected moments
        t = s["t"] = keep(mask, s["t"] + 1, s["t"])
        m = s["m"] = keep(mask, s["m"] * h["beta1"] + (1.0 - h["beta1"]) * g, s["m"])
        v = s["v"] = keep(mask, s["v"] * h["beta2"] + (1.0 - h["beta2"]) * g * g, s["v"])
        t = t.clamp(min=1)  # a frozen entry that never stepped: its (discarded) step stays finite
        step_size = h["lr"] / (1.0 - h["beta1"] ** t)
        denom = v.sqrt() / (1.0 - h["beta2"] ** t).sqrt() + h["eps"]
        return -step_size * (m / denom)
    sq = s["s"] = keep(mask, s["s"] * h["rho"] + (1.0 - h["rho"]) * g * g, s["s"])  # rmsprop
    return -h["lr"] * (g / (sq.sqrt() + h["eps"]))


@torch.no_grad()
def update(params, grads):
    """One optimizer step, in place. With L1, a weight the step carries across zero stops at
    exactly 0 and its momentum is cleared (so L1's zeros stay zeros)."""
    stop_at_zero = HYPER["regularization"] == "l1" and HYPER["reg_rate"] > 0
    for l, layer in enumerate(params):
        for kind in ("W", "b"):
            mask = trainable[l][kind] if trainable is not None else None
            slots = {name: values[l][kind] for name, values in state.items()}
            delta = step_of(grads[l][kind], slots, mask)
            for name, value in slots.items():
                state[name][l][kind] = value
            w = layer[kind]
            old = w.clone()
            w.copy_(keep(mask, w + delta, w))
            if stop_at_zero and kind == "W":
                crossed = ((old > 0) & (w < 0)) | ((old < 0) & (w > 0))
                w[crossed] = 0.0
                for name in ("velocity", "m"):
                    if name in state:
                        state[name][l][kind][crossed] = 0.0


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
    return torch.from_numpy(np.asarray(batches_left.pop(0), dtype=np.int64))


def train(n):
    """Run n updates; returns their batch losses (before each update, without the penalty)."""
    global step, epoch, drawn_masks
    losses = []
    for _ in range(n):
        idx = next_batch()
        masks = drawn_masks if drawn_masks is not None else dropout_masks(len(idx))
        drawn_masks = None
        at = straight_through(params) if QUANTIZE is not None else params  # the weights the passes run on
        z = forward(at, X_TRAIN[idx], masks)
        loss = data_loss(z, Y_TRAIN[idx])
        leaves = [layer[kind] for layer in params for kind in ("W", "b")]
        flat = torch.autograd.grad(loss + penalty(params), leaves)
        grads = [{"W": flat[2 * l], "b": flat[2 * l + 1]} for l in range(len(params))]
        update(params, grads)
        step += 1
        if not batches_left:
            epoch += 1
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            print(f"step {step}: the loss is {losses[-1]}: the run diverged")
            break
    return losses


def as_lists(layers):
    return [{k: v.detach().tolist() for k, v in layer.items()} for layer in layers]


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
