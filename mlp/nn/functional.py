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


def log_softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax(a) = a - logsumexp(a)`` for ``a: (batch, classes)``.

    Subtracting the row maximum first keeps ``exp`` in ``(0, 1]``.
    """
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise ``softmax(a)_j = exp(a_j) / sum_k exp(a_k)`` for ``a: (batch, classes)``."""
    e = np.exp(a - a.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def one_hot(labels: np.ndarray, num_classes: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """``T[n, labels[n]] = 1``, zeros elsewhere: ``labels: (batch,)`` -> ``T: (batch, num_classes)``.

    Raises ``ValueError`` naming the offending label when one is outside ``[0, num_classes)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"class labels must be a 1-D integer array, got {labels.dtype} of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(
            f"class label {bad} is outside [0, {num_classes}): the network has {num_classes} outputs; "
            f"give the last layer as many units as there are classes"
        )
    T = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    T[np.arange(labels.shape[0]), labels] = 1
    return T
