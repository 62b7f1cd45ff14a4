"""Pure numpy engine: network, activations, losses, optimizers, regularization,
dropout, freezing masks, quantization. No I/O; randomness only from an
explicit ``np.random.Generator``. See docs/architecture.md for the contract."""
