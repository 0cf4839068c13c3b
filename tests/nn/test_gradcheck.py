"""Gradient checks of every layer, activation and loss (float64, eps=1e-4, relative error < 1e-6)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import away_from_zero

from mlp import (
    ELU,
    BinaryCrossEntropy,
    CrossEntropy,
    Dense,
    Dropout,
    Identity,
    Layer,
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
from mlp.nn.functional import softmax
from mlp.nn.gradcheck import (
    EPS,
    TOL,
    check_layer,
    check_loss,
    check_model,
    numerical_gradient,
    randomize_biases,
    relative_error,
)

SHAPES = [(1, 1), (4, 3), (7, 10)]
CLASS_SHAPES = [(1, 2), (4, 3), (7, 10)]  # classification needs at least two classes
ACTIVATIONS = [Identity(), ReLU(), LeakyReLU(0.1), ELU(0.7), Sigmoid(), Tanh(), Softplus(), Softmax()]


def test_defaults_are_the_documented_ones():
    assert EPS == 1e-4
    assert TOL == 1e-6


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (8, 2)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("init", ["he_normal", "glorot_uniform"])
def test_dense(rng, shape, bias, init):
    n_in, n_out = shape
    layer = Dense(n_in, n_out, init=init, bias=bias, rng=rng, dtype=np.float64)
    if bias:  # a non-zero bias, so that the check sees it used
        layer.params["b"][:] = rng.standard_normal(n_out)
    result = check_layer(layer, rng.standard_normal((6, n_in)))
    assert set(result.errors) == ({"input", "W", "b"} if bias else {"input", "W"})
    assert result.passed, str(result)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: type(a).__name__)
def test_activation(rng, shape, activation):
    x = away_from_zero(rng, shape) * 2
    result = check_layer(activation, x)
    assert result.passed, str(result)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.9])
def test_dropout_with_fixed_mask(rng, p):
    layer = Dropout(p, rng=3)
    result = check_layer(layer, rng.standard_normal((5, 8)), training=True)
    assert result.passed, str(result)


@pytest.mark.parametrize("shape", CLASS_SHAPES)
def test_softmax_cross_entropy(rng, shape):
    logits = rng.standard_normal(shape) * 3
    labels = rng.integers(0, shape[1], shape[0])
    assert check_loss(SoftmaxCrossEntropy(), logits, labels).passed
    soft = softmax(rng.standard_normal(shape))  # soft (non one-hot) targets
    assert check_loss(SoftmaxCrossEntropy(), logits, soft).passed


@pytest.mark.parametrize("shape", [(1, 2), (4, 3), (6, 5)])
def test_cross_entropy_on_probabilities(rng, shape):
    # Probabilities of at least 1 / (2k - 1) > 0.1: the truncation error of centered differences
    # on -log y is eps^2 / (3 y^2), which would exceed 1e-6 for y below 0.06.
    probs = 1 + rng.random(shape)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = rng.integers(0, shape[1], shape[0])
    assert check_loss(CrossEntropy(), probs, labels).passed
    assert check_loss(CrossEntropy(), probs, softmax(rng.standard_normal(shape))).passed


@pytest.mark.parametrize("shape", SHAPES)
def test_binary_cross_entropy(rng, shape):
    logits = rng.standard_normal(shape) * 3
    assert check_loss(BinaryCrossEntropy(), logits, rng.integers(0, 2, shape).astype(float)).passed
    assert check_loss(BinaryCrossEntropy(), logits, rng.random(shape)).passed


@pytest.mark.parametrize("shape", SHAPES)
def test_mean_squared_error(rng, shape):
    assert check_loss(MeanSquaredError(), rng.standard_normal(shape), rng.standard_normal(shape)).passed


@pytest.mark.parametrize("shape", [(4, 3), (7, 10)])
def test_multiclass_hinge_away_from_the_kinks(rng, shape):
    labels = rng.integers(0, shape[1], shape[0])
    scores = rng.standard_normal(shape) * 3
    # move every margin s_j - s_y + 1 at least 0.05 away from 0, where the hinge has its kink
    margins = scores - scores[np.arange(shape[0]), labels][:, None] + 1
    close = np.abs(margins) < 0.05
    close[np.arange(shape[0]), labels] = False
    scores[close] += 0.1
    assert check_loss(MulticlassHinge(), scores, labels).passed


@pytest.mark.parametrize(
    ("activation", "init"),
    [(ReLU, "he_normal"), (LeakyReLU, "he_normal"), (ELU, "he_normal"), (Softplus, "he_normal"),
     (Tanh, "glorot_uniform"), (Sigmoid, "glorot_uniform")],
)
def test_whole_network(rng, activation, init):
    model = Sequential(
        [Dense(6, 5, init, dtype=np.float64), activation(), Dropout(0.2), Dense(5, 5, init, dtype=np.float64),
         activation(), Dense(5, 4, "glorot_uniform", dtype=np.float64)],
        seed=7,
    )
    randomize_biases(model, rng)
    x = rng.standard_normal((9, 6))
    result = check_model(model, SoftmaxCrossEntropy(), x, rng.integers(0, 4, 9))
    assert set(result.errors) == {"input", "0.W", "0.b", "3.W", "3.b", "5.W", "5.b"}
    assert result.passed, str(result)


def test_remaining_error_is_the_estimates_truncation(rng):
    """The error left over scales like the centered difference's O(eps^2) truncation: 10x larger eps,
    about 100x larger error. It belongs to the numerical estimate; backprop is exact to rounding."""
    model = Sequential([Dense(6, 5, dtype=np.float64), Tanh(), Dense(5, 4, dtype=np.float64)], seed=1)
    randomize_biases(model, rng)
    x, t = 3 * rng.standard_normal((9, 6)), rng.integers(0, 4, 9)
    coarse = check_model(model, SoftmaxCrossEntropy(), x, t, eps=1e-3).errors
    default = check_model(model, SoftmaxCrossEntropy(), x, t, eps=1e-4).errors
    assert max(coarse.values()) > 30 * max(default.values())


def test_subsampled_check_covers_big_layers(rng):
    layer = Dense(300, 200, rng=rng, dtype=np.float64)
    result = check_layer(layer, rng.standard_normal((4, 300)), max_entries=50)
    assert result.passed, str(result)


class WrongSigmoid(Sigmoid):
    """A deliberately broken backward: forgets the (1 - s) factor."""

    def df(self, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        return z


class DenseWithoutTranspose(Dense):
    """A deliberately broken backward: gradient of W off by a factor of 2."""

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        result = super().backward(grad_out, input_grad)
        self.grads["W"] *= 2
        return result


def test_checker_catches_wrong_gradients(rng):
    broken = check_layer(WrongSigmoid(), rng.standard_normal((3, 4)))
    assert not broken.passed
    assert "FAIL" in str(broken)
    result = check_layer(DenseWithoutTranspose(3, 2, rng=rng, dtype=np.float64), rng.standard_normal((4, 3)))
    assert result.errors["W"] > 0.3
    assert result.errors["input"] < TOL
    assert not result.passed


def test_gradient_checks_refuse_float32(rng):
    with pytest.raises(TypeError, match=r"need float64.*astype\(np.float64\)"):
        check_layer(Dense(3, 2, rng=rng), rng.standard_normal((2, 3)))


def test_numerical_gradient_of_a_known_function():
    w = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(lambda: float(np.sum(w**3)), w)
    np.testing.assert_allclose(grad, 3 * w**2, rtol=1e-7)
    np.testing.assert_array_equal(w, [1.0, -2.0, 3.0])  # restored exactly


def test_relative_error_definition():
    assert relative_error(np.array([1.0, 0.0]), np.array([1.1, 0.0])) == pytest.approx(0.1 / 1.1)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    # entries far below the array's largest gradient are measured against 1e-3 of it ...
    assert relative_error(np.array([1.0, 1e-6]), np.array([1.0, 2e-6])) == pytest.approx(1e-6 / 1e-3)
    # ... unless an explicit tiny is given
    assert relative_error(np.array([1.0, 1e-6]), np.array([1.0, 2e-6]), tiny=1e-12) == pytest.approx(0.5)


class SlightlyWrongDense(Dense):
    """A backward that is off by 1e-5 of the largest entry, in the smallest entry of dW."""

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        result = super().backward(grad_out, input_grad)
        W = self.grads["W"]
        W[np.unravel_index(np.argmin(np.abs(W)), W.shape)] += 1e-5 * np.abs(W).max()
        return result


def test_checker_catches_small_errors_in_small_entries(rng):
    result = check_layer(SlightlyWrongDense(4, 3, rng=rng, dtype=np.float64), rng.standard_normal((5, 4)))
    assert result.errors["W"] >= 0.99e-5  # the error is 1e-5 of the largest entry, relative to at most that
    assert not result.passed


def test_layer_base_requires_forward():
    with pytest.raises(NotImplementedError):
        Layer().forward(np.zeros((1, 1)))
