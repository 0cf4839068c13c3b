"""Layer construction, initialization statistics, dropout behaviour and error messages."""

from __future__ import annotations

import numpy as np
import pytest

from mlp import ELU, Dense, Dropout, LeakyReLU, ReLU, Sigmoid
from mlp.nn.init import get_initializer, normal


@pytest.mark.parametrize(
    ("init", "std"),
    [("he_normal", np.sqrt(2 / 400)), ("he_uniform", np.sqrt(2 / 400)), ("glorot_uniform", np.sqrt(2 / 700)),
     ("glorot_normal", np.sqrt(2 / 700)), ("xavier", np.sqrt(2 / 700)), (normal(0.05), 0.05)],
)
def test_initializer_scales(init, std):
    W = Dense(400, 300, init=init, rng=0).params["W"]
    assert W.dtype == np.float32
    assert W.std() == pytest.approx(std, rel=0.02)
    assert abs(W.mean()) < 0.05 * std


def test_uniform_initializers_respect_their_limits():
    W = Dense(400, 300, init="glorot_uniform", rng=0).params["W"]
    limit = np.sqrt(6 / 700)
    assert -limit <= W.min() < -0.99 * limit and 0.99 * limit < W.max() <= limit


def test_bias_starts_at_zero_and_can_be_left_out():
    assert not Dense(3, 2, rng=0).params["b"].any()
    assert "b" not in Dense(3, 2, bias=False, rng=0).params
    assert repr(Dense(3, 2, bias=False)) == "Dense(3, 2, bias=False)"


def test_same_seed_same_weights():
    np.testing.assert_array_equal(Dense(5, 4, rng=1).params["W"], Dense(5, 4, rng=1).params["W"])
    assert not np.array_equal(Dense(5, 4, rng=1).params["W"], Dense(5, 4, rng=2).params["W"])


def test_construction_errors():
    with pytest.raises(ValueError, match="Dense out_features must be a positive integer, got 0"):
        Dense(3, 0)
    with pytest.raises(ValueError, match=r"Dense in_features must be a positive integer, got 2\.5"):
        Dense(2.5, 3)
    with pytest.raises(ValueError, match=r"unknown initializer 'kaiming'; valid names: glorot, glorot_normal"):
        get_initializer("kaiming")
    with pytest.raises(ValueError, match=r"Dropout p must be in \[0, 1\), got 1"):
        Dropout(1)
    with pytest.raises(ValueError, match="LeakyReLU alpha must be >= 0"):
        LeakyReLU(-1)
    with pytest.raises(ValueError, match="ELU alpha must be > 0"):
        ELU(0)
    with pytest.raises(ValueError, match=r"normal\(std\) needs std > 0"):
        normal(0)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"Dense\(2, 2\).backward called before forward"):
        Dense(2, 2).backward(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match=r"Sigmoid\(\).backward called before forward"):
        Sigmoid().backward(np.ones((1, 2)))


def test_relu_passes_or_blocks_the_gradient():
    relu = ReLU()
    relu.forward(np.array([[-1.0, 2.0, 0.0]]))
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 5.0, 0.0]])


def test_dropout_is_inverted_in_training_and_identity_in_evaluation():
    x = np.ones((1000, 100), dtype=np.float32)
    layer = Dropout(0.3, rng=0)
    y = layer.forward(x, training=True)
    kept = y != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)  # survivors scaled so that E[y] = x
    assert y.mean() == pytest.approx(1.0, abs=0.01)
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), y)  # same mask on the way back
    assert layer.forward(x) is x
    assert layer.backward(x) is x


def test_dropout_draws_a_new_mask_each_step():
    layer = Dropout(0.5, rng=0)
    x = np.ones((4, 8))
    assert not np.array_equal(layer.forward(x, training=True), layer.forward(x, training=True))
