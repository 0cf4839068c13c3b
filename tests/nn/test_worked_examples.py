"""The worked examples of the classic backprop lecture, run through our layers."""

from __future__ import annotations

import numpy as np
import pytest

from mlp import Dense, Sequential, Sigmoid


def test_add_then_multiply_gate():
    """f(x, y, z) = (x + y) z at x=-2, y=5, z=-4: df/dx = df/dy = z = -4, df/dz = x + y = 3.

    Built as q = Dense(2, 1) with W = [1, 1] (the add gate) and f = Dense(1, 1, bias=False) with
    W = [z] (the multiply gate): the gradient w.r.t. that weight is df/dz.
    """
    add = Dense(2, 1, dtype=np.float64)
    add.params["W"][:] = [[1.0], [1.0]]
    multiply = Dense(1, 1, bias=False, dtype=np.float64)
    multiply.params["W"][:] = [[-4.0]]
    net = Sequential([add, multiply])

    f = net.forward(np.array([[-2.0, 5.0]]))
    grad_xy = net.backward(np.ones_like(f), input_grad=True)

    assert f.item() == -12.0
    np.testing.assert_array_equal(grad_xy, [[-4.0, -4.0]])  # the add gate passes -4 to both inputs
    assert multiply.grads["W"].item() == 3.0  # df/dz = x + y
    assert add.grads["W"].ravel().tolist() == [8.0, -20.0]  # "input times delta": x * -4, y * -4


def test_sigmoid_neuron():
    """sigma(w0 x0 + w1 x1 + w2) with w = [2, -3, -3], x = [-1, -2]: output 0.73,
    dw = [-0.20, -0.39, 0.20], dx = [0.39, -0.59]."""
    neuron = Dense(2, 1, dtype=np.float64)
    neuron.params["W"][:] = [[2.0], [-3.0]]
    neuron.params["b"][:] = [-3.0]
    net = Sequential([neuron, Sigmoid()])

    out = net.forward(np.array([[-1.0, -2.0]]))
    dx = net.backward(np.ones_like(out), input_grad=True)

    assert out.item() == pytest.approx(0.73, abs=0.005)
    dw = [*neuron.grads["W"].ravel(), neuron.grads["b"].item()]
    np.testing.assert_allclose(np.round(dw, 2), [-0.20, -0.39, 0.20])
    np.testing.assert_allclose(np.round(dx.ravel(), 2), [0.39, -0.59])
    # the exact values behind the rounded ones: s(1) (1 - s(1)) = 0.19661...
    local = out.item() * (1 - out.item())
    np.testing.assert_allclose(dw, [-local, -2 * local, local], rtol=1e-15)
