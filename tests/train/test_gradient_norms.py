"""GradientNorms: per-layer gradient norms and update ratios, recorded while training."""

from __future__ import annotations

import numpy as np
import pytest

from mlp import SGD, Dense, ReLU, Sequential, Sigmoid, SoftmaxCrossEntropy, fit
from mlp.nn.functional import one_hot, softmax
from mlp.train.callbacks.gradient_norms import GradientNorms


def test_records_every_nth_batch_of_each_epoch():
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 3), dtype=np.float32), rng.integers(0, 2, 40)
    norms = GradientNorms(every=2)
    model = Sequential([Dense(3, 4), ReLU(), Dense(4, 2)], seed=0)
    fit(model, SoftmaxCrossEntropy(), SGD(0.1), x, y, epochs=2, batch_size=8, callbacks=[norms], verbose=0)
    # 5 batches an epoch: batches 1, 3 and 5 are recorded, at 8, 24 and 40 of 40 samples.
    assert norms.history["epoch"] == pytest.approx([0.2, 0.6, 1.0, 1.2, 1.6, 2.0])
    assert norms.history.keys() == ["epoch", "0.W/grad_norm", "0.W/update_ratio", "2.W/grad_norm",
                                    "2.W/update_ratio"]


def test_values_are_the_gradient_norm_and_the_relative_step():
    """One full batch of plain SGD: dW = X.T (Y - T) / n and the step is lr dW, so the ratio is lr ||dW|| / ||W||."""
    rng = np.random.default_rng(1)
    x, y = rng.random((16, 5)), rng.integers(0, 3, 16)
    model = Sequential([Dense(5, 3, dtype=np.float64)], seed=0)
    w = model.params["0.W"].copy()
    norms = GradientNorms(every=1)
    fit(model, SoftmaxCrossEntropy(), SGD(0.5), x, y, epochs=1, batch_size=16, shuffle=False, callbacks=[norms],
        verbose=0)
    grad = x.T @ (softmax(x @ w) - one_hot(y, 3)) / 16
    record = norms.history.records[0]
    assert record["0.W/grad_norm"] == pytest.approx(np.linalg.norm(grad), rel=1e-12)
    assert record["0.W/update_ratio"] == pytest.approx(0.5 * np.linalg.norm(grad) / np.linalg.norm(w), rel=1e-9)


def test_a_deep_sigmoid_network_shows_the_vanishing_gradient():
    """Each sigmoid layer multiplies the delta by f'(A) <= 1/4, so the first layer gets the smallest gradient."""
    rng = np.random.default_rng(2)
    x, y = rng.random((256, 20), dtype=np.float32), rng.integers(0, 4, 256)
    layers = [layer for _ in range(5) for layer in (Dense(20, 20, "glorot_uniform"), Sigmoid())]
    model = Sequential([*layers, Dense(20, 4, "glorot_uniform")], seed=0)
    norms = GradientNorms(every=1)
    fit(model, SoftmaxCrossEntropy(), SGD(0.1), x, y, epochs=1, batch_size=64, callbacks=[norms], verbose=0)
    first, last = norms.history.records[0]["0.W/grad_norm"], norms.history.records[0]["10.W/grad_norm"]
    assert first < last / 20


@pytest.mark.parametrize("every", [0, -1, 1.5, True])
def test_every_must_be_a_positive_integer(every):
    with pytest.raises(ValueError, match=f"^GradientNorms every must be a positive integer, got {every!r}$"):
        GradientNorms(every=every)
