from __future__ import annotations

import numpy as np
import pytest

from mlp.train.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    higher_is_better,
    metric_names,
    metric_values,
    most_confident_mistakes,
    per_class_accuracy,
    top_k_accuracy,
)

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


def _sklearn_report(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> dict:
    metrics = pytest.importorskip("sklearn.metrics")
    with __import__("warnings").catch_warnings():  # its default zero_division warns, then gives 0: as mlp does
        __import__("warnings").simplefilter("ignore")
        return metrics.classification_report(y_true, y_pred, labels=list(range(classes)),
                                             target_names=[f"c{i}" for i in range(classes)], output_dict=True)


@pytest.mark.parametrize("seed", range(6))
def test_the_report_equals_scikit_learns_with_classes_never_predicted_or_absent(seed):
    rng = np.random.default_rng(seed)
    classes = 7
    y_true = rng.integers(0, 5, 200)  # classes 5 and 6 have no rows
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, 200))
    y_pred[y_pred == 4] = 0  # class 4 is never predicted
    ours = classification_report(confusion_matrix(y_true, y_pred, classes), [f"c{i}" for i in range(classes)])
    theirs = _sklearn_report(y_true, y_pred, classes)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if isinstance(value, dict):
            assert ours[key] == pytest.approx(value, abs=1e-12), key
        else:
            assert ours[key] == pytest.approx(value, abs=1e-12), key
    assert ours["c4"]["precision"] == 0 and ours["c5"] == {"precision": 0, "recall": 0, "f1-score": 0, "support": 0}


def test_the_per_epoch_metrics_are_the_reports_averages():
    matrix = confusion_matrix(Y_TRUE, Y_PRED, 4)
    report = classification_report(matrix)
    values = metric_values(metric_names(), matrix)
    assert set(values) == {f"{key}_{average}" for key in ("precision", "recall", "f1")
                           for average in ("macro", "weighted")}
    for name, value in values.items():
        key, average = name.split("_")
        assert value == report[f"{average} avg"][{"f1": "f1-score"}.get(key, key)]
    assert higher_is_better("val_f1_macro") and higher_is_better("accuracy") and not higher_is_better("val_loss")


@pytest.mark.parametrize("seed", range(4))
def test_top_k_accuracy_equals_scikit_learns_with_ties(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, (300, 12)).astype(float)  # many ties
    y_true = rng.integers(0, 12, 300)
    for k in (1, 5):
        assert top_k_accuracy(y_true, scores, k) == pytest.approx(
            metrics.top_k_accuracy_score(y_true, scores, k=k, labels=list(range(12))), abs=1e-12)
