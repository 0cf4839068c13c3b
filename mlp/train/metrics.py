"""Classification metrics on integer labels: ``y_true, y_pred: (n,)``, and from a confusion matrix.

``classification_report`` gives precision, recall and F1 per class with their macro and weighted averages, and
``top_k_accuracy`` the fraction of rows whose true class is among the ``k`` highest scores: the numbers of
scikit-learn's ``classification_report`` and ``top_k_accuracy_score``. Where a ratio is 0/0 (precision of a class
never predicted, recall of a class with no rows), it is 0, as scikit-learn's default ``zero_division="warn"``
gives (without its warning).

``METRICS`` names the ones ``fit(metrics=[...])`` and ``training.metrics`` record per epoch (``f1_macro``...):
each is a function of the confusion matrix, and higher is better.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.registry import Registry

METRICS: Registry[Callable[[np.ndarray], float]] = Registry("metric")
TOP_K = 5  # top-5 accuracy is reported for models of at least TOP_K_CLASSES classes
TOP_K_CLASSES = 10


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of ``y_pred == y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    return float(np.mean(y_true == y_pred)) if y_true.size else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None,
                     sample_weight: np.ndarray | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as ``j``; ``C: (classes, classes)``; with
    ``sample_weight: (n,)`` the sum of their weights (floats)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    counts = np.bincount(y_true * num_classes + y_pred, weights=sample_weight, minlength=num_classes * num_classes)
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


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` elementwise, 0 where the denominator is 0 (scikit-learn's zero_division)."""
    numerator, denominator = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def class_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Per class, from ``matrix: (classes, classes)`` (rows: true class): ``precision`` ``C[j, j] / sum_i C[i, j]``,
    ``recall`` ``C[i, i] / sum_j C[i, j]``, ``f1`` ``2 tp / (2 tp + fp + fn)`` and ``support`` (true rows), each
    ``(classes,)``; a 0/0 is 0."""
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    return {"precision": _ratio(tp, predicted), "recall": _ratio(tp, support),
            "f1": _ratio(2 * tp, predicted + support), "support": support}


def _averages(scores: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    support = scores["support"]
    total = float(support.sum())
    averages = {}
    for name, weights in (("macro", np.ones_like(support)), ("weighted", support)):
        averages[name] = {key: float(_ratio((scores[key] * weights).sum(), weights.sum()))
                          for key in ("precision", "recall", "f1")} | {"support": total}
    return averages


REPORT_KEYS = {"precision": "precision", "recall": "recall", "f1": "f1-score", "support": "support"}  # scikit-learn's


def _number(key: str, value: float) -> float | int:
    return int(value) if key == "support" else float(value)  # rows are counted: JSON shows 207, not 207.0


def classification_report(matrix: np.ndarray, classes: list[str] | None = None) -> dict[str, Any]:
    """Precision, recall, F1 and support of each class (keyed by its name in ``classes``, else its index as a
    string; the keys ``precision``, ``recall``, ``f1-score``, ``support``), ``accuracy``, and the ``macro avg``
    and ``weighted avg`` of the three (unweighted, and weighted by support): the dict of scikit-learn's
    ``classification_report(output_dict=True)`` with ``labels`` every class."""
    scores = class_scores(matrix)
    names = classes if classes is not None else [str(i) for i in range(len(matrix))]
    report: dict[str, Any] = {name: {REPORT_KEYS[key]: _number(key, values[i]) for key, values in scores.items()}
                              for i, name in enumerate(names)}
    report["accuracy"] = float(_ratio(np.trace(matrix), np.sum(matrix)))
    for average, values in _averages(scores).items():
        report[f"{average} avg"] = {REPORT_KEYS[key]: _number(key, value) for key, value in values.items()}
    return report


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int = TOP_K) -> float:
    """The fraction of rows whose true class is among the ``k`` highest of its ``scores: (n, classes)``; ties
    are broken as scikit-learn's ``top_k_accuracy_score`` breaks them (the higher class index first)."""
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    if not len(y_true):
        return 0.0
    ranked = np.argsort(scores, axis=1, kind="mergesort")[:, ::-1][:, :k]
    return float(np.mean((ranked == y_true[:, None]).any(axis=1)))


def _register(average: str, key: str) -> None:
    METRICS.add(f"{key}_{average}", lambda matrix: _averages(class_scores(matrix))[average][key])


for _average in ("macro", "weighted"):
    for _key in ("precision", "recall", "f1"):
        _register(_average, _key)


def metric_names() -> list[str]:
    """The names ``training.metrics`` accepts: ``f1_macro``, ``precision_weighted``..."""
    return METRICS.names()


def metric_values(names: list[str] | tuple[str, ...], matrix: np.ndarray) -> dict[str, float]:
    """The metrics ``names`` (``METRICS``) of one confusion matrix."""
    return {name: float(METRICS.get(name)(matrix)) for name in names}


def check_metrics(names: Any) -> list[str]:
    """``names`` as registered (``METRICS``): a list of distinct known names, else a ``ValueError`` that names the
    wrong one and the valid ones."""
    if isinstance(names, str) or not isinstance(names, list | tuple):
        raise ValueError(f"metrics must be a list of metric names, e.g. [f1_macro], got {names!r}")
    canonical = [METRICS.canonical(name) for name in names]  # UnknownNameError (a ValueError) names the valid ones
    repeated = next((name for i, name in enumerate(canonical) if name in canonical[:i]), None)
    if repeated is not None:
        raise ValueError(f"metrics names {repeated} twice; name each once")
    return canonical


def higher_is_better(name: str) -> bool:
    """Whether a history entry is better when higher: accuracies and the ``METRICS`` (``val_f1_macro``)."""
    return "acc" in name or name.removeprefix("val_") in METRICS


def class_evaluation(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None,
                     classes: list[str]) -> dict[str, Any]:
    """What ``mlp evaluate`` reports of a classifier on ``n`` rows (``y_true, y_pred: (n,)`` class indices,
    ``scores: (n, classes)`` or ``None``): ``accuracy``, ``correct``, ``rows``, the ``classification_report``
    by class name as ``classes`` with its ``macro avg`` and ``weighted avg``, ``top_5_accuracy`` for at least
    ``TOP_K_CLASSES`` classes (when there are scores), and the ``confusion_matrix`` (a list of rows)."""
    matrix = confusion_matrix(y_true, y_pred, len(classes))
    report = classification_report(matrix, classes)
    result: dict[str, Any] = {"accuracy": report["accuracy"], "correct": int(np.trace(matrix)), "rows": len(y_true),
                              "classes": {name: report[name] for name in classes},
                              "macro avg": report["macro avg"], "weighted avg": report["weighted avg"]}
    if scores is not None and len(classes) >= TOP_K_CLASSES:
        result[f"top_{TOP_K}_accuracy"] = top_k_accuracy(y_true, scores, TOP_K)
    result["confusion_matrix"] = matrix.tolist()
    return result
