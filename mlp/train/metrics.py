"""Classification metrics on integer labels: ``y_true, y_pred: (n,)``."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of ``y_pred == y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    return float(np.mean(y_true == y_pred)) if y_true.size else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as ``j``; ``C: (classes, classes)``."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def class_accuracies(matrix: np.ndarray) -> np.ndarray:
    """Each class's accuracy (its recall) from a confusion matrix: ``C[i, i] / sum_j C[i, j]``, NaN for a class
    with no samples."""
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(matrix) / support, np.nan)


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Recall of each class, ``C[i, i] / sum_j C[i, j]`` (NaN for a class with no samples)."""
    return class_accuracies(confusion_matrix(y_true, y_pred, num_classes))


def most_confident_mistakes(y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray | None,
                            k: int) -> np.ndarray:
    """The indices of at most ``k`` wrong predictions, the most confident first (``confidence: (n,)``, the
    probability given to the predicted class; ``None``: in row order), and ties in row order."""
    wrong = np.flatnonzero(y_pred != y_true)
    if confidence is None:
        return wrong[:k]
    return wrong[np.argsort(-confidence[wrong], kind="stable")[:k]]
