"""Numerically stable elementwise and row-wise functions shared by layers and losses.

Every function keeps the dtype of its input (float32 stays float32) and is safe for inputs of
any magnitude: no overflow warnings, no NaN for +-1000.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic function ``s = 1 / (1 + exp(-a))``, elementwise.

    Two-branch form: with ``e = exp(-|a|)`` (never overflows), ``s = 1 / (1 + e)`` for ``a >= 0``
    and ``s = e / (1 + e)`` for ``a < 0``.
    """
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0, e) / (1.0 + e)


def softplus(a: np.ndarray) -> np.ndarray:
    """``log(1 + exp(a))``, elementwise, computed as ``max(a, 0) + log1p(exp(-|a|))``."""
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


def _classes_first(a: np.ndarray) -> np.ndarray:
    """A C-ordered floating-point copy of ``a.T``: ``(classes, batch)`` for ``a: (batch, classes)``."""
    return a.T.astype(a.dtype if a.dtype.kind == "f" else np.float64, order="C")


def log_softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax(a) = a - logsumexp(a)`` for ``a: (batch, classes)``.

    Subtracting the row maximum first keeps ``exp`` in ``(0, 1]``. The sums and maxima over the classes run on a
    transposed copy ``(classes, batch)``: NumPy reduces a short inner axis (10 classes) one row at a time, several
    times slower than it combines whole rows of the batch.
    """
    t = _classes_first(a)
    t -= t.max(axis=0)
    t -= np.log(np.exp(t).sum(axis=0))
    return t.T.copy()


def softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise ``softmax(a)_j = exp(a_j) / sum_k exp(a_k)`` for ``a: (batch, classes)``, reduced over the classes
    as ``log_softmax`` does."""
    t = _classes_first(a)
    t -= t.max(axis=0)
    np.exp(t, out=t)
    t /= t.sum(axis=0)
    return t.T.copy()


def check_labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``labels: (batch,)`` as given, checked to be integer class labels in ``[0, num_classes)``.

    Raises ``ValueError`` naming the offending label when one is outside ``[0, num_classes)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":  # signed or unsigned integers
        raise ValueError(f"class labels must be a 1-D integer array, got {labels.dtype} of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(
            f"class label {bad} is outside [0, {num_classes}): the network has {num_classes} outputs; "
            f"give the last layer as many units as there are classes"
        )
    return labels


def one_hot(labels: np.ndarray, num_classes: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """``T[n, labels[n]] = 1``, zeros elsewhere: ``labels: (batch,)`` -> ``T: (batch, num_classes)``.

    Raises ``ValueError`` naming the offending label when one is outside ``[0, num_classes)`` (``check_labels``).
    """
    labels = check_labels(labels, num_classes)
    T = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    T[np.arange(labels.shape[0]), labels] = 1
    return T
