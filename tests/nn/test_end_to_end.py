"""Tiny end-to-end runs with a hand-written SGD loop (the real trainer is ``mlp.fit``)."""

from __future__ import annotations

import numpy as np

from mlp import Dense, Loss, ReLU, Sequential, SoftmaxCrossEntropy, Tanh
from mlp.data import two_spirals


def sgd_train(model: Sequential, loss: Loss, x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> float:
    """Full-batch gradient descent, W <- W - lr dL/dW; returns the final training accuracy."""
    for _ in range(steps):
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward())
        for name, param in model.params.items():
            param -= lr * model.grads[name]
    return float(np.mean(model.predict(x).argmax(axis=1) == y))


def test_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = Sequential([Dense(2, 8), Tanh(), Dense(8, 2)], seed=0)
    assert sgd_train(model, SoftmaxCrossEntropy(), x, y, lr=0.5, steps=500) == 1.0


def test_two_spirals():
    x, y = two_spirals(200, seed=0)
    model = Sequential([Dense(2, 64), ReLU(), Dense(64, 64), ReLU(), Dense(64, 2)], seed=0)
    loss = SoftmaxCrossEntropy()
    assert sgd_train(model, loss, x, y, lr=0.5, steps=3000) == 1.0
    assert loss.forward(model.predict(x), y) < 0.05
