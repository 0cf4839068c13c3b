"""Where an independent float64 computation disagreed with ``mlp``: softmax cross-entropy on multi-hot targets,
ELU's derivative far below zero, the multiclass hinge on soft targets, and early stopping's patience."""

from __future__ import annotations

import numpy as np
import pytest

from mlp import ELU, Dense, EarlyStopping, MulticlassHinge, ReLU, Sequential, SoftmaxCrossEntropy, fit
from mlp.data import two_spirals
from mlp.nn.functional import log_softmax, softmax
from mlp.nn.gradcheck import check_loss
from mlp.nn.optim import SGD
from mlp.runs.config import ConfigError, resolve
from mlp.train.callbacks import Callback


def test_softmax_cross_entropy_gradient_holds_for_targets_that_do_not_sum_to_one(rng):
    z = rng.standard_normal((5, 4))
    multi_hot = np.array([[1, 1, 0, 0], [0, 0, 0, 1], [1, 1, 1, 0], [0.5, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float64)
    loss = SoftmaxCrossEntropy()
    loss.forward(z, multi_hot)
    # the true gradient of -sum T log softmax(Z) / N, written out: (Y rowsum(T) - T) / N
    expected = (softmax(z) * multi_hot.sum(axis=1, keepdims=True) - multi_hot) / len(z)
    np.testing.assert_allclose(loss.backward(), expected, rtol=1e-12)
    assert loss.forward(z, multi_hot) == pytest.approx(-(multi_hot * log_softmax(z)).sum() / len(z), rel=1e-12)
    assert check_loss(SoftmaxCrossEntropy(), z, multi_hot).passed


def test_softmax_cross_entropy_keeps_y_minus_t_for_distributions(rng):
    z = rng.standard_normal((6, 3))
    soft = softmax(rng.standard_normal((6, 3)))
    loss = SoftmaxCrossEntropy()
    loss.forward(z, soft)
    np.testing.assert_allclose(loss.backward(), (softmax(z) - soft) / 6, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("a", [-1.0, -30.0, -40.0, -80.0])
def test_elu_derivative_keeps_its_digits_far_below_zero(a):
    elu = ELU(alpha=0.7)
    x = np.array([[a]])
    elu.forward(x)
    derivative = elu.backward(np.ones_like(x))[0, 0]
    exact = 0.7 * np.exp(a)
    assert abs(derivative - exact) <= 1e-14 * exact


def test_elu_derivative_stays_in_float32():
    elu = ELU()
    x = np.array([[-50.0, 2.0]], dtype=np.float32)
    elu.forward(x)
    assert elu.backward(np.ones_like(x)).dtype == np.float32


def test_multiclass_hinge_refuses_soft_and_multi_hot_targets():
    scores = np.zeros((2, 3))
    for targets in ([[0.2, 0.8, 0.0], [1, 0, 0]], [[1, 1, 0], [0, 0, 1]]):
        with pytest.raises(ValueError, match=r"MulticlassHinge takes class labels or one-hot rows"):
            MulticlassHinge().forward(scores, np.array(targets, dtype=float))
    assert MulticlassHinge().forward(scores, np.array([2, 0])) == pytest.approx(2.0)


def test_the_config_name_hinge_is_refused_as_ambiguous():
    layers = {"model": {"layers": [{"dense": 10}]}}
    with pytest.raises(ConfigError, match=r"loss hinge is ambiguous: Keras' hinge is binary .* write "
                                          r"`loss: multiclass_hinge`"):
        resolve({"loss": "hinge", **layers})
    assert resolve({"loss": "multiclass_hinge", **layers})["loss"] == "multiclass_hinge"


@pytest.mark.parametrize("patience", [1, 3, 5])
def test_early_stopping_stops_after_patience_epochs_without_improvement_as_keras_does(patience):
    class Flat(Callback):  # the monitored loss improves in epoch 1 only
        def on_epoch_end(self, state, logs):
            logs["val_loss"] = 1.0

    x, y = two_spirals(40)
    model = Sequential([Dense(2, 8), ReLU(), Dense(8, 2)], seed=0)
    history = fit(model, SoftmaxCrossEntropy(), SGD(0.01), x, y, epochs=50, validation_split=0.25, verbose=0,
                  callbacks=[Flat(), EarlyStopping(patience=patience)])
    assert len(history) == 1 + patience  # Keras: the patience-th epoch without improvement is the last
    assert history.ending.status == "stopped"
    assert history.ending.headline == (f"early stopping: val_loss has not improved for {patience} epochs "
                                       f"(best 1.0000 at epoch 1)")
