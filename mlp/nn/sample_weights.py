"""Row weights: how much each training row counts, from per-row ``sample_weight`` and per-class ``class_weight``.

A loss given weights ``w: (batch,)`` is the weighted mean ``sum_n w_n loss_n / sum_n w_n`` (``mlp.nn.losses``), so
a weight of 2 counts a row as if it were there twice, and 0 leaves it out. ``class_weight`` multiplies the weight
of every row of a class: ``"balanced"`` is scikit-learn's rule, ``n / (classes * count(class))``, which makes
every class present weigh the same in total.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlp.messages import quoted
from mlp.nn.layer import ShapeError

BALANCED = "balanced"


def row_weights(weights: Any, rows: int, what: str = "sample_weight") -> np.ndarray:
    """``weights`` checked as one finite, non-negative number per row: ``(rows,)`` float64."""
    w = np.asarray(weights)
    if w.ndim != 1 or len(w) != rows:
        raise ShapeError(f"{what} must hold one weight per row ({rows}), got shape {w.shape}")
    if not (np.issubdtype(w.dtype, np.number) or w.dtype == np.bool_) or np.issubdtype(w.dtype, np.complexfloating):
        raise ValueError(f"{what} must be real numbers, got {w.dtype}")
    w = w.astype(np.float64, copy=False)
    bad = ~(np.isfinite(w) & (w >= 0))
    if bad.any():
        raise ValueError(f"{what} must be finite and >= 0; row {int(np.argmax(bad))} is {w[bad][0]}")
    return w


def check_class_weight(class_weight: Any) -> None:
    """``None``, ``"balanced"`` or a mapping ``{class: weight}`` of finite weights >= 0; else ``ValueError``."""
    if class_weight is None or class_weight == BALANCED:
        return
    if not isinstance(class_weight, Mapping):
        raise ValueError(f"class_weight must be {BALANCED!r} or a mapping {{class: weight}}, "
                         f"got {quoted(class_weight)}")
    for label, weight in class_weight.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float | np.number) or not 0 <= weight < np.inf:
            raise ValueError(f"class_weight[{label!r}] must be a number >= 0, got {quoted(weight)}")


def class_weights(labels: np.ndarray, class_weight: str | Mapping[Any, float], classes: int) -> np.ndarray:
    """The weight of each of ``classes`` classes ``(classes,)`` for rows of class indices ``labels: (n,)``.

    ``"balanced"``: ``n / (present * count_c)`` for the ``present`` classes that have rows (scikit-learn's
    ``compute_class_weight``), 1 for classes without rows. A mapping: its weight for the classes it names (keys
    are class indices), 1 for the others.
    """
    check_class_weight(class_weight)
    if isinstance(class_weight, str):
        counts = np.bincount(labels, minlength=classes).astype(np.float64)
        present = np.count_nonzero(counts)
        return np.where(counts > 0, len(labels) / (present * np.maximum(counts, 1)), 1.0)
    weights = np.ones(classes)
    for label, weight in class_weight.items():
        index = int(label) if isinstance(label, int | np.integer) and not isinstance(label, bool) else -1
        if not 0 <= index < classes:
            raise ValueError(f"class_weight names class {label!r}, but the classes are 0 to {classes - 1}")
        weights[index] = weight
    return weights


def single_labels(labels: np.ndarray) -> np.ndarray:
    """One class index per row from ``Loss.target_labels`` (a single binary output gives ``(n, 1)``), or
    ``ValueError`` for rows of several labels (multi-label targets have no single class to weigh)."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError("class_weight needs one class per row; these targets have several labels per row: "
                         "give sample_weight instead")
    return labels.astype(np.int64, copy=False)


def class_weight_by_index(class_weight: Any, classes: list[str] | None) -> Any:
    """A config's ``class_weight`` for ``fit``: a mapping's keys, class names as the data has them (``setosa``,
    ``7``), become class indices; ``"balanced"`` and ``None`` stay."""
    if not isinstance(class_weight, Mapping):
        return class_weight
    names = [str(name) for name in classes or []]
    unknown = [label for label in class_weight if str(label) not in names]
    if unknown:
        label = unknown[0]
        hint = (f" (YAML reads an unquoted yes, no, on, off as true or false: quote the name, "
                f"'{'yes' if label else 'no'}')" if isinstance(label, bool) else "")
        raise ValueError(f"training.class_weight names class {label!r}, which the data does not have; its "
                         f"classes are {', '.join(names)}{hint}")
    return {names.index(str(label)): weight for label, weight in class_weight.items()}


def tally(hits: np.ndarray, weights: np.ndarray | None) -> tuple[float, float]:
    """Correct and counted predictions for ``hits: (batch,)`` or ``(batch, k)``: counts, or with row
    ``weights: (batch,)`` the weights of the rows (each of a row's ``k`` entries counts its row's weight)."""
    if weights is None:
        return int(hits.sum()), hits.size
    per_row = hits.reshape(len(hits), -1)
    return float(per_row.sum(axis=1) @ weights), float(weights.sum() * per_row.shape[1])
