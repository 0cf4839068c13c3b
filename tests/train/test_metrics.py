from __future__ import annotations

import numpy as np
import pytest

from mlp.train.metrics import accuracy, confusion_matrix, per_class_accuracy

Y_TRUE = np.array([0, 0, 1, 1, 1, 2])
Y_PRED = np.array([0, 1, 1, 1, 0, 2])


def test_accuracy():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match=r"y_true has shape \(6,\) but y_pred has \(5,\)"):
        accuracy(Y_TRUE, Y_PRED[:5])


def test_confusion_matrix_rows_are_true_classes():
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED), [[1, 1, 0], [1, 2, 0], [0, 0, 1]])
    assert confusion_matrix(Y_TRUE, Y_PRED, num_classes=4).shape == (4, 4)


def test_per_class_accuracy():
    result = per_class_accuracy(Y_TRUE, Y_PRED, num_classes=4)
    np.testing.assert_allclose(result[:3], [0.5, 2 / 3, 1.0])
    assert np.isnan(result[3])  # no samples of class 3
