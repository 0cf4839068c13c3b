"""Stability for extreme inputs and dtype preservation (pytest runs with warnings as errors)."""

from __future__ import annotations

import numpy as np
import pytest

from mlp import (
    ELU,
    BinaryCrossEntropy,
    CrossEntropy,
    Dense,
    Dropout,
    Identity,
    LeakyReLU,
    MeanSquaredError,
    MulticlassHinge,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Softplus,
    Tanh,
)

EXTREME = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]], dtype=np.float32)
ACTIVATIONS = [Identity, ReLU, LeakyReLU, ELU, Sigmoid, Tanh, Softplus, Softmax]
LOSSES = [SoftmaxCrossEntropy, CrossEntropy, BinaryCrossEntropy, MeanSquaredError, MulticlassHinge]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_are_finite_for_extreme_inputs(activation, dtype):
    layer = activation()
    x = EXTREME.astype(dtype)
    y = layer.forward(x)
    g = layer.backward(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(g))


def test_extreme_values_are_right():
    assert Sigmoid().forward(EXTREME).tolist() == [[0.0, pytest.approx(9.357623e-14), 0.5, 1.0, 1.0]]
    assert Softplus().forward(EXTREME)[0, [0, 2, 4]].tolist() == [0.0, pytest.approx(np.log(2)), 1000.0]
    np.testing.assert_array_equal(Softmax().forward(EXTREME)[0], [0, 0, 0, 0, 1])
    assert ELU().forward(EXTREME)[0, 0] == -1.0


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_are_finite_for_extreme_inputs(loss, dtype):
    out = EXTREME.astype(dtype) if loss is not CrossEntropy else np.array([[0.0, 1.0, 0.0, 0.0, 0.0]], dtype)
    target = np.array([0])  # the worst class for the large positive logits
    if loss is BinaryCrossEntropy or loss is MeanSquaredError:
        target = np.array([[1, 0, 1, 0, 0]])
    instance = loss()
    value = instance.forward(out, target)
    grad = instance.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad))


def test_cross_entropy_losses_have_the_right_size_at_the_extremes():
    # logit 1000 on the wrong class: the loss is 2000 (= 1000 - (-1000)), not inf
    assert SoftmaxCrossEntropy().forward(EXTREME, np.array([0])) == pytest.approx(2000.0)
    # probability 0 on the right class: clipped at 1e-7, so -log(1e-7)
    assert CrossEntropy().forward(np.array([[0.0, 1.0]]), np.array([0])) == pytest.approx(-np.log(1e-7))
    assert BinaryCrossEntropy().forward(np.array([[-1000.0, 1000.0]]), np.array([[1.0, 0.0]])) == 1000.0


ALL_LAYERS = [lambda: Dense(5, 3), lambda: Dropout(0.5, rng=0), *ACTIVATIONS]


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_layers_keep_float32_in_forward_and_backward(make):
    layer = make()
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


@pytest.mark.parametrize("loss", LOSSES)
def test_losses_keep_float32(loss):
    rng = np.random.default_rng(0)
    out = rng.random((6, 4)).astype(np.float32)
    instance = loss()
    value = instance.forward(out, rng.integers(0, 4, 6))
    assert isinstance(value, float)
    assert instance.backward().dtype == np.float32


def test_network_computes_in_float32_by_default():
    model = Sequential([Dense(5, 4), ReLU(), Dense(4, 3)], seed=0)
    x64 = np.random.default_rng(0).standard_normal((8, 5))  # float64 input is converted at the first layer
    out = model.forward(x64, training=True)
    loss = SoftmaxCrossEntropy()
    loss.forward(out, np.zeros(8, dtype=int))
    model.backward(loss.backward())
    assert out.dtype == np.float32
    assert {p.dtype for p in model.params.values()} == {np.dtype(np.float32)}
    assert {g.dtype for g in model.grads.values()} == {np.dtype(np.float32)}


def test_float64_networks_work_too():
    model = Sequential([Dense(5, 4, dtype=np.float64), Tanh(), Dense(4, 3, dtype=np.float64)], seed=0)
    assert model.forward(np.ones((2, 5), dtype=np.float32)).dtype == np.float64
    model.astype(np.float32)
    assert model.forward(np.ones((2, 5))).dtype == np.float32
