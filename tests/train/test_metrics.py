from __future__ import annotations

import numpy as np
import pytest

from mlp.train.metrics import accuracy, confusion_matrix, most_confident_mistakes, per_class_accuracy

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


def test_the_most_confident_mistakes_come_first_and_ties_keep_row_order():
    # rows 1 and 4 are wrong (Y_PRED differs); row 4's prediction was the more confident
    confidence = np.array([0.9, 0.6, 0.8, 0.7, 0.95, 0.5])
    assert most_confident_mistakes(Y_TRUE, Y_PRED, confidence, 5).tolist() == [4, 1]
    assert most_confident_mistakes(Y_TRUE, Y_PRED, confidence, 1).tolist() == [4]
    assert most_confident_mistakes(Y_TRUE, Y_PRED, np.full(6, 0.5), 5).tolist() == [1, 4]
    assert most_confident_mistakes(Y_TRUE, Y_PRED, None, 5).tolist() == [1, 4]  # no probabilities: row order
    assert most_confident_mistakes(Y_TRUE, Y_TRUE, confidence, 5).tolist() == []
