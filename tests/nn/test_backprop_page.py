"""docs/backprop.md: its one-loop backward pass is the one ``Sequential.backward`` computes, bit for bit, and it
shows the lectures' numbers. (That each of its Python blocks prints what the page shows below it, the worked
examples' numbers among them, is checked with every page's blocks: ``tests/docs/test_code_blocks.py``.)"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mlp import CrossEntropy, Dense, Dropout, Sequential, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh
from mlp.nn.activations import activation_names
from mlp.nn.layer import LAYERS

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "backprop.md").read_text()
BLOCK = re.compile(r"```(?P<lang>\w*)\n(?P<code>.*?)```", re.S)
LOOP = next(m["code"] for m in BLOCK.finditer(PAGE) if "def backprop(" in m["code"])


@pytest.fixture(scope="module")
def page() -> dict:
    """The names the page's loop block defines: ``forward(model, X) -> Z`` and
    ``backprop(model, Z, delta) -> (grads, dL/dX)``."""
    namespace: dict = {}
    exec(compile(LOOP, "docs/backprop.md", "exec"), namespace)
    return namespace


def test_the_loop_is_at_most_15_lines():
    function = re.search(r"^def backprop\(.*?^    return .*?$", LOOP, re.S | re.M)
    assert function is not None and len(function[0].splitlines()) <= 15, function


def network(activation: str, softmax_layer: bool, dtype: type) -> Sequential:
    """Input dropout, then dense layers of widths 5 -> 7 -> 6 -> 4 -> 3 with ``activation``, dropout, tanh and
    sigmoid between them, and a softmax layer at the end if ``softmax_layer``."""
    layers = [Dropout(0.2), Dense(5, 7), LAYERS.find(activation)(), Dropout(0.5), Dense(7, 6), Tanh(),
              Dense(6, 4), Sigmoid(), Dense(4, 3)]
    return Sequential(layers + [Softmax()] * softmax_layer, seed=0).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("softmax_layer", [False, True], ids=["softmax-cross-entropy", "softmax-layer"])
@pytest.mark.parametrize("activation", activation_names())
def test_the_pages_loop_gives_the_gradients_of_sequential_backward_bit_for_bit(page, activation, softmax_layer,
                                                                               dtype):
    rng = np.random.default_rng(1)
    X, T = rng.standard_normal((16, 5)).astype(dtype), rng.integers(0, 3, 16)
    model = network(activation, softmax_layer, dtype)
    for layer in model:  # nonzero biases, so that the b of one layer reaches the next
        if isinstance(layer, Dense):
            layer.params["b"][:] = rng.standard_normal(layer.params["b"].shape)
    loss = CrossEntropy() if softmax_layer else SoftmaxCrossEntropy()

    Z = page["forward"](model, X)
    loss.forward(Z[-1], T)
    grads, dX = page["backprop"](model, Z, loss.backward())
    expected_dX = model.backward(loss.backward(), input_grad=True)
    with_input_grad = {key: grad.copy() for key, grad in model.grads.items()}
    model.backward(loss.backward())  # as training calls it: stops at the first dense layer

    assert grads.keys() == model.grads.keys()
    for key, grad in grads.items():
        assert grad.dtype == dtype and np.any(grad), key
        assert np.array_equal(grad, model.grads[key]) and np.array_equal(grad, with_input_grad[key]), key
    assert dX.dtype == dtype and np.array_equal(dX, expected_dX)
    assert np.any(model[0].mask == 0) and np.any(model[3].mask == 0)  # the dropout layers did drop units


@pytest.mark.parametrize("numbers", [
    "q = 3.0  f = -12.0\ndf/dx, df/dy = [-4.0, -4.0]\ndf/dz = 3.0\n",    # (x + y) z at x = -2, y = 5, z = -4
    "output 0.73, local gradient s (1 - s) = 0.1966\ndw0, dw1, dw2 = -0.20 -0.39 0.20\ndx0, dx1 = 0.39 -0.59\n",
])
def test_the_page_shows_the_lectures_numbers(numbers):
    assert f"```text\n{numbers}```" in PAGE
