from __future__ import annotations

import numpy as np
import pytest

from mlp import CrossEntropy, Dense, Dropout, ReLU, Sequential, ShapeError, Softmax, SoftmaxCrossEntropy, Tanh


def test_widths_are_checked_when_the_network_is_built():
    with pytest.raises(ShapeError) as err:
        Sequential([Dense(784, 512), ReLU(), Dense(256, 10)])
    assert str(err.value) == (
        "layer 2 Dense(256, 10) expects 256 input features, but layer 0 Dense(784, 512) outputs 512; "
        "make the widths agree (e.g. Dense(512, ...))"
    )


def test_width_error_names_the_layer_that_set_the_width():
    with pytest.raises(ShapeError, match=r"^layer 4 Dense\(256, 2\) expects 256 input features, but layer 2 "
                                         r"Dense\(512, 512\) outputs 512;"):
        Sequential([Dense(2, 512), ReLU(), Dense(512, 512), ReLU(), Dense(256, 2)])


def test_wrong_input_width_names_the_layer_at_the_first_forward():
    model = Sequential([Dense(784, 512), ReLU(), Dense(512, 10)])
    with pytest.raises(ShapeError, match=r"^layer 0: Dense\(784, 512\) expects input of shape \(batch, 784\), "
                                         r"got \(3, 100\)$"):
        model.forward(np.zeros((3, 100)))
    with pytest.raises(ShapeError, match=r"got \(784,\)"):
        model.forward(np.zeros(784))  # a single image must be given as one row


def test_layers_must_be_layers():
    with pytest.raises(TypeError, match=r"layer 1 is 'relu', not an mlp Layer"):
        Sequential([Dense(2, 2), "relu"])
    with pytest.raises(ValueError, match="at least one layer"):
        Sequential([])


def test_container_protocol_and_parameter_views():
    layers = [Dense(4, 3), ReLU(), Dense(3, 2)]
    model = Sequential(layers)
    assert len(model) == 3 and list(model) == layers and model[2] is layers[2]
    assert list(model.params) == ["0.W", "0.b", "2.W", "2.b"]
    assert model.params["2.W"] is layers[2].params["W"]  # views, not copies: optimizers update in place
    assert model.num_params() == 4 * 3 + 3 + 3 * 2 + 2
    assert model.in_features == 4 and model.output_size(None) == 2


def test_backward_fills_the_gradient_arrays_in_place():
    model = Sequential([Dense(4, 3), ReLU(), Dense(3, 2)], seed=0)
    grads = model.grads
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(np.ones((5, 4)), training=True), np.array([0, 1, 0, 1, 1]))
    model.backward(loss.backward())
    assert all(grads[k] is v for k, v in model.grads.items())
    assert np.any(grads["2.W"] != 0)


class CountingDense(Dense):
    """Counts the products with W.T, i.e. the input gradients computed."""

    input_grads = 0

    def backward(self, grad_out, input_grad=True):
        result = super().backward(grad_out, input_grad)
        CountingDense.input_grads += result is not None
        return result


def test_first_layer_skips_the_input_gradient():
    model = Sequential([CountingDense(4, 3), ReLU(), CountingDense(3, 2)], seed=0)
    out = model.forward(np.ones((5, 4)))
    assert model.backward(np.ones_like(out)) is None
    assert CountingDense.input_grads == 1  # only the second layer's Delta @ W.T
    assert model[0].grads["W"].any()  # the first layer's weight gradient is still computed
    assert model.backward(np.ones_like(out), input_grad=True).shape == (5, 4)


def test_backward_stops_at_the_first_layer_with_parameters(monkeypatch):
    """Input dropout needs no backward pass: below the first Dense layer there is only dL/dX."""
    monkeypatch.setattr(CountingDense, "input_grads", 0)
    model = Sequential([Dropout(0.2), CountingDense(4, 3), ReLU(), CountingDense(3, 2)], seed=0)
    out = model.forward(np.ones((5, 4)), training=True)
    assert model.backward(np.ones_like(out)) is None
    assert CountingDense.input_grads == 1
    assert model[1].grads["W"].any()
    assert model.backward(np.ones_like(out), input_grad=True).shape == (5, 4)
    assert CountingDense.input_grads == 3


def test_seed_fixes_the_whole_network():
    def build(seed):
        return Sequential([Dense(6, 5), Dropout(0.5), Dense(5, 2)], seed=seed)

    a, b, c = build(3), build(3), build(4)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["0.W"], c.params["0.W"])
    x = np.ones((4, 6), dtype=np.float32)
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))  # same dropout masks


def test_no_global_rng_is_used():
    np.random.seed(0)  # noqa: NPY002 -- the legacy global RNG is what must stay untouched
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    model = Sequential([Dense(6, 5), Dropout(0.5), Dense(5, 2)], seed=1)
    model.forward(np.ones((3, 6)), training=True)
    Dense(3, 3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_predict_in_batches_equals_one_forward():
    model = Sequential([Dense(6, 5), ReLU(), Dropout(0.5), Dense(5, 3)], seed=0)
    x = np.random.default_rng(0).standard_normal((103, 6)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x, batch_size=10), model.forward(x))  # eval: no dropout
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        model.predict(x, batch_size=0)


def test_summary_lists_layers_shapes_and_parameters():
    lines = []
    Sequential([Dense(784, 512), ReLU(), Dropout(0.2), Dense(512, 10), Softmax()]).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0].split() == ["#", "Layer", "Output", "shape", "Params"]
    assert "Dense(784, 512)  (None, 512)   401,920" in text
    assert "Dropout(p=0.2)" in text and "5,130" in text
    assert lines[-1] == "Total params: 407,050"


def test_softmax_layer_with_cross_entropy_equals_fused_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((16, 8)), rng.integers(0, 5, 16)

    def build(*tail):
        return Sequential([Dense(8, 6, dtype=np.float64), Tanh(), Dense(6, 5, dtype=np.float64), *tail], seed=9)

    with_softmax, logits = build(Softmax()), build()
    separate, fused = CrossEntropy(), SoftmaxCrossEntropy()
    loss_a = separate.forward(with_softmax.forward(x), labels)
    loss_b = fused.forward(logits.forward(x), labels)
    dx_a = with_softmax.backward(separate.backward(), input_grad=True)
    dx_b = logits.backward(fused.backward(), input_grad=True)

    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    np.testing.assert_allclose(dx_a, dx_b, rtol=1e-6, atol=1e-12)
    for key in logits.grads:
        np.testing.assert_allclose(with_softmax.grads[key], logits.grads[key], rtol=1e-6, atol=1e-12)
