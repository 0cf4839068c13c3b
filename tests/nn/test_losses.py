"""Loss values and gradients on small hand-worked examples; target handling and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from mlp import BinaryCrossEntropy, CrossEntropy, MeanSquaredError, MulticlassHinge, ShapeError, SoftmaxCrossEntropy
from mlp.nn.functional import one_hot


def test_softmax_cross_entropy_by_hand():
    logits = np.array([[0.0, np.log(3.0)]])  # softmax = [1/4, 3/4]
    loss = SoftmaxCrossEntropy()
    assert loss.forward(logits, np.array([1])) == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(loss.backward(), [[0.25, -0.25]])  # Y - T


def test_output_delta_is_y_minus_t_over_n():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    Y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.backward(), (Y - one_hot(labels, 3, np.float64)) / 4, rtol=1e-12)


def test_cross_entropy_by_hand():
    loss = CrossEntropy()
    assert loss.forward(np.array([[0.25, 0.75], [0.5, 0.5]]), np.array([1, 0])) == pytest.approx(
        -(np.log(0.75) + np.log(0.5)) / 2
    )
    np.testing.assert_allclose(loss.backward(), [[0, -1 / 0.75 / 2], [-1 / 0.5 / 2, 0]])


def test_binary_cross_entropy_by_hand():
    loss = BinaryCrossEntropy()
    z = np.array([[0.0], [np.log(3.0)]])  # sigmoid = 1/2, 3/4
    assert loss.forward(z, np.array([1, 0])) == pytest.approx((np.log(2) - np.log(0.25)) / 2)
    np.testing.assert_allclose(loss.backward(), [[(0.5 - 1) / 2], [0.75 / 2]])


def test_mean_squared_error_by_hand():
    loss = MeanSquaredError()
    assert loss.forward(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [3.0, 5.0]])) == pytest.approx(5 / 4)
    np.testing.assert_allclose(loss.backward(), [[0, 1.0], [0, -0.5]])  # 2 (Y - T) / (N k)
    assert not loss.classification


def test_multiclass_hinge_by_hand():
    # cs231n's example: scores for (cat, car, frog), true class cat: max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9
    loss = MulticlassHinge()
    assert loss.forward(np.array([[3.2, 5.1, -1.7]]), np.array([0])) == pytest.approx(2.9)
    np.testing.assert_allclose(loss.backward(), [[-1, 1, 0]])


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy, CrossEntropy, MulticlassHinge, MeanSquaredError])
def test_labels_and_one_hot_targets_agree(loss):
    rng = np.random.default_rng(0)
    out, labels = rng.random((5, 4)) + 0.1, rng.integers(0, 4, 5)
    a, b = loss(), loss()
    assert a.forward(out, labels) == b.forward(out, one_hot(labels, 4, np.float64))
    np.testing.assert_array_equal(a.backward(), b.backward())


def test_labels_skip_the_one_hot_matrix_and_give_its_numbers():
    """SoftmaxCrossEntropy picks the labels' entries instead of multiplying by a one-hot T: the same delta to the
    last bit, the same loss up to the order of the float32 sum, with and without row weights."""
    rng = np.random.default_rng(1)
    out, labels = rng.standard_normal((200, 10)).astype(np.float32) * 4, rng.integers(0, 10, 200)
    for weights in (None, rng.random(200)):
        a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
        value = a.forward(out, labels, weights)
        assert value == pytest.approx(b.forward(out, one_hot(labels, 10), weights), rel=1e-6)
        np.testing.assert_array_equal(a.backward(), b.backward())


def test_target_errors_are_clear():
    out = np.zeros((3, 4))
    with pytest.raises(ShapeError, match="target has 2 rows but the output has 3; give one target per input row"):
        SoftmaxCrossEntropy().forward(out, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"class label 7 is outside \[0, 4\): the network has 4 outputs"):
        SoftmaxCrossEntropy().forward(out, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match=r"must hold integer class labels, got float64; convert labels"):
        SoftmaxCrossEntropy().forward(out, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"target shape \(3, 2\) does not match the output shape \(3, 4\)"):
        MeanSquaredError().forward(out, np.zeros((3, 2)))
    with pytest.raises(ShapeError, match=r"output must be 2-D \(batch, outputs\), got shape \(3,\)"):
        MeanSquaredError().forward(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"CrossEntropy eps must be in \(0, 1\)"):
        CrossEntropy(eps=0)


def test_regression_target_fits_a_single_output():
    loss = MeanSquaredError()
    assert loss.forward(np.array([[1.0], [2.0]]), np.array([0.0, 0.0])) == pytest.approx(2.5)


def test_half_squared_error_by_hand():
    from mlp.nn.losses import HalfSquaredError

    loss = HalfSquaredError()
    assert loss.forward(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])) == pytest.approx(
        (0.5 * (1 + 4) + 0.5 * 1) / 2)  # summed over the outputs, averaged over the rows
    np.testing.assert_allclose(loss.backward(), [[0.5, 1.0], [0.0, -0.5]])  # (Y - T) / N


def test_poisson_deviance_by_hand_and_its_prediction():
    from mlp.nn.losses import PoissonDeviance

    loss = PoissonDeviance()
    z, t = np.array([[0.0], [np.log(2.0)]]), np.array([[1.0], [0.0]])
    # exp(z) - t z + t log t - t: row 1: 1 - 0 + 0 - 1 = 0 (a perfect fit), row 2: 2
    assert loss.forward(z, t) == pytest.approx(1.0)
    np.testing.assert_allclose(loss.backward(), [[0.0], [1.0]])  # (exp(Z) - T) / N
    np.testing.assert_allclose(loss.predictions(z), [[1.0], [2.0]])
    with pytest.raises(ValueError, match=r"^the poisson loss takes targets >= 0 \(counts or rates\), got -1; use "):
        loss.forward(z, np.array([[1.0], [-1.0]]))


def test_binary_cross_entropy_summed_over_the_outputs():
    rng = np.random.default_rng(0)
    z, t = rng.standard_normal((4, 3)), rng.integers(0, 2, (4, 3))
    mean, total = BinaryCrossEntropy(), BinaryCrossEntropy(outputs="sum")
    assert total.forward(z, t) == pytest.approx(3 * mean.forward(z, t))
    np.testing.assert_allclose(total.backward(), 3 * mean.backward())
    with pytest.raises(ValueError, match=r"^BinaryCrossEntropy outputs must be 'mean' or 'sum', got 'max'$"):
        BinaryCrossEntropy(outputs="max")
